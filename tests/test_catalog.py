"""Catalog import on real inputs: the TOUCAN catalog (folder and derived JSONL), the bundled example slice,
OpenAI / MCP tools/list / BFCL fixtures made from real TOUCAN tools, malformed inputs, and a killed import."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from graph_toucan.catalog import ImportReport, detect_format, import_entries, read_catalog
from graph_toucan.errors import CatalogError
from graph_toucan.records import ServerStatus
from graph_toucan.store import DB_NAME, Store, UpsertCounts
from tests.conftest import missing, toucan_catalog

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "toucan" / "mcp_servers"
FIXTURES = HERE / "fixtures" / "catalogs"

# The two usable TOUCAN servers that list one tool name twice (the first occurrence is kept).
DUPLICATES = {
    (
        "0070.@samihalawa_visual-ui-debug-agent-mcp_labeled.json",
        "Automated UI Debuger and Tester",
        "batch_screenshot_urls",
    ),
    (
        "0554.@jimpick_mcp-json-db-collection-server_labeled.json",
        "JSON Document Collection Server",
        "connect_json_doc_database_to_cloud",
    ),
}


def _toucan() -> Path:
    """The full catalog's server folder (the test skips without it, see tests/conftest.py)."""
    return toucan_catalog() / "mcp_servers"


def _toucan_jsonl() -> Path:
    path = toucan_catalog() / "derived" / "toucan_server_catalog.jsonl"
    if not path.is_file():
        missing(f"needs {path}, the derived JSONL of the TOUCAN catalog")
    return path


def _import(store: Store, path: Path, fmt: str | None = None, **kwargs: Any) -> ImportReport:
    return import_entries(store, read_catalog(path, fmt, **kwargs))


def _remote_tools(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["metadata"]["remote_server_response"]["tools"]


def _by_name(store: Store) -> dict[str, Any]:
    return {t.name: t for t in store.tools()}


# -- the full TOUCAN catalog ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def toucan_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, ImportReport]:
    """The usable TOUCAN folder imported once into a fresh store (full import 1 of 2 in this file)."""
    store = Store(tmp_path_factory.mktemp("toucan") / "gt.db")
    return store, _import(store, _toucan())


@pytest.mark.slow
def test_full_toucan_folder_import_counts_and_duplicate_skips(
    toucan_store: tuple[Store, ImportReport],
) -> None:
    store, report = toucan_store
    assert (report.servers, report.tools_read, report.imported) == (572, 3150, 3148)
    assert report.counts == UpsertCounts(new=3148, updated=0, unchanged=0)
    assert report.repaired == []
    assert {(i.file, i.server, i.tool) for i in report.skipped} == DUPLICATES
    for issue in report.skipped:
        assert issue.problem == "duplicate tool name in this server; the first one was kept"
        assert str(issue).startswith(f"{issue.file} / {issue.server} / {issue.tool}: ")
    assert store.count("servers") == 572
    assert store.count("tools") == 3148
    assert {s.status for s in store.servers()} == {ServerStatus.USABLE}
    # the first of the two same-named tools is the one kept
    for file, server, tool in DUPLICATES:
        first = next(t for t in _remote_tools(_toucan() / file) if t["name"] == tool)
        kept = store.get_tool(f"{server}/{tool}")
        assert kept is not None
        assert kept.description == first["description"].strip()
        assert kept.input_schema == first["input_schema"]


@pytest.mark.slow
def test_toucan_metadata_is_kept(toucan_store: tuple[Store, ImportReport]) -> None:
    store, _ = toucan_store
    exa = next(s for s in store.servers() if s.name == "Exa Search")
    assert exa.qualified_name == "exa"
    assert exa.source == "toucan"
    assert exa.status is ServerStatus.USABLE
    assert exa.primary_label == "Web Search & Research"
    assert exa.secondary_labels == ["Browser Automation", "Database Operations"]
    assert exa.custom_label == "Advanced Web Intelligence"
    assert (exa.usage_rank, exa.usage_count) == (1, 73272)  # "73,272" in the file
    assert exa.license == "MIT"
    assert exa.repository_url == "https://github.com/exa-labs/exa-mcp-server"
    tools = store.tools(server="Exa Search")
    assert len(tools) == 8
    assert {(t.category, t.license, t.source, t.server_id) for t in tools} == {
        ("Web Search & Research", "MIT", "toucan", exa.id)
    }


@pytest.mark.slow
def test_derived_jsonl_gives_the_same_ids_and_a_second_import_is_unchanged(
    toucan_store: tuple[Store, ImportReport],
) -> None:
    """Full import 2 of 2: the derived JSONL into the folder's store. Every server and tool id must
    already be there with the same content, so the second import is all ``unchanged``."""
    store, first = toucan_store
    ids_before = {t.id for t in store.tools()}
    jsonl = _toucan_jsonl()
    assert detect_format(jsonl) == "toucan-jsonl"
    second = _import(store, jsonl)
    assert (second.servers, second.tools_read, second.imported) == (572, 3150, 3148)
    assert second.counts == UpsertCounts(new=0, updated=0, unchanged=3148)
    assert {(i.file, i.server, i.tool) for i in second.skipped} == {
        ("toucan_server_catalog.jsonl:26", "Automated UI Debuger and Tester", "batch_screenshot_urls"),
        (
            "toucan_server_catalog.jsonl:165",
            "JSON Document Collection Server",
            "connect_json_doc_database_to_cloud",
        ),
    }
    assert store.count("servers") == 572
    assert store.count("tools") == 3148
    assert {t.id for t in store.tools()} == ids_before
    assert first.counts.new == 3148  # the first report was not changed by the second import


@pytest.mark.slow
def test_tools_invalid_servers_import_with_live_schemas(tmp_path: Path) -> None:
    store = Store(tmp_path / "gt.db")
    report = _import(store, _toucan(), statuses={ServerStatus.TOOLS_INVALID})
    assert (report.servers, report.tools_read, report.imported) == (299, 2894, 2886)
    assert store.count("servers") == 299
    assert store.count("tools") == 2886
    assert {s.status for s in store.servers()} == {ServerStatus.TOOLS_INVALID}
    assert all(s.qualified_name for s in store.servers())
    skips = {(i.file, i.tool): i.problem for i in report.skipped}
    assert len(skips) == 8
    assert skips[("tf_0513.@agentesq_postman-weaviate-mcp-server_labeled.json", "update_object")] == (
        "duplicate tool name in this server; the first one was kept"
    )
    assert skips[("tf_1057.@sylphxltd_pdf-reader-mcp_labeled.json", "read_pdf")].startswith(
        "invalid JSON Schema at properties/sources/items/properties/pages/anyOf/0/items/exclusiveMinimum"
    )
    rubygems = [p for (f, _), p in skips.items() if f == "tf_1846.@6_mcp-server-rubygems_labeled.json"]
    assert len(rubygems) == 6  # a whole schema nested inside "properties"
    assert all(p.startswith("invalid JSON Schema at properties/type:") for p in rubygems)
    assert all(p.endswith("; fix the schema and import again") for p in skips.values() if "JSON Schema" in p)
    assert [str(i) for i in report.repaired] == [
        "tf_0180.@ibproduct_ib-mcp-cache-server_labeled.json / Memory Cache Server / store_data: "
        "type any removed at value"
    ]
    # the live schema is what gets stored, unchanged
    source = _toucan() / "tf_0513.@agentesq_postman-weaviate-mcp-server_labeled.json"
    raw = _remote_tools(source)[0]
    server = json.loads(source.read_text(encoding="utf-8"))["metadata"]["server_name"]
    tool = store.get_tool(f"{server}/{raw['name']}")
    assert tool is not None and tool.input_schema == raw["input_schema"]


@pytest.mark.slow
def test_connect_failed_tools_are_skipped_for_lack_of_a_live_schema(tmp_path: Path) -> None:
    store = Store(tmp_path / "gt.db")
    report = _import(store, _toucan(), statuses={ServerStatus.CONNECT_FAILED})
    assert (report.servers, report.tools_read, report.imported) == (1249, 11532, 0)
    assert len(report.skipped) == 11532
    assert {i.problem for i in report.skipped} == {
        "only crawled from the Smithery page, no live input schema"
    }
    assert all(i.file.startswith("cf_") and i.server and i.tool for i in report.skipped)
    assert store.count("tools") == 0
    assert store.count("servers") == 1249
    assert {s.status for s in store.servers()} == {ServerStatus.CONNECT_FAILED}


# -- the bundled example slice -------------------------------------------------------------------


def test_bundled_example_slice(tmp_path: Path) -> None:
    store = Store(tmp_path / "gt.db")
    assert detect_format(EXAMPLE) == "toucan"
    report = _import(store, EXAMPLE)
    assert (report.servers, report.tools_read, report.imported) == (22, 98, 98)
    assert (report.skipped, report.repaired) == ([], [])
    assert (store.count("servers"), store.count("tools")) == (22, 98)
    labels = {s.id: s.primary_label for s in store.servers()}
    tools = store.tools()
    assert all(t.category for t in tools)
    assert all(t.category == labels[t.server_id] for t in tools)
    assert {t.category for t in tools} >= {"Weather", "Time & Calendar", "Financial Services"}
    # a second import of the same folder changes nothing
    again = _import(store, EXAMPLE)
    assert again.counts == UpsertCounts(new=0, updated=0, unchanged=98)
    assert (store.count("servers"), store.count("tools")) == (22, 98)


# -- OpenAI, MCP tools/list and BFCL fixtures ----------------------------------------------------


def test_openai_tools_list(tmp_path: Path) -> None:
    path = FIXTURES / "us_weather_tools.json"
    given = {f["function"]["name"]: f["function"] for f in json.loads(path.read_text(encoding="utf-8"))}
    assert detect_format(path) == "openai"
    store = Store(tmp_path / "gt.db")
    report = _import(store, path)
    assert (report.servers, report.tools_read, report.imported, report.counts.new) == (1, 4, 4, 4)
    assert (report.skipped, report.repaired) == ([], [])
    (server,) = store.servers()
    assert (server.name, server.qualified_name, server.source) == ("us_weather", "us_weather", "openai")
    tools = _by_name(store)
    assert sorted(tools) == [
        "find_weather_stations",
        "get_current_weather",
        "get_location",
        "get_weather_forecast",
    ]
    forecast = tools["get_weather_forecast"]
    assert forecast.input_schema == given["get_weather_forecast"]["parameters"]
    assert forecast.description == given["get_weather_forecast"]["description"]
    assert (forecast.source, forecast.server_id, forecast.output_schema, forecast.read_only) == (
        "openai",
        server.id,
        None,
        None,
    )
    # a function without "parameters" takes no arguments
    assert tools["get_location"].input_schema == {"type": "object", "properties": {}}
    # the same list wrapped as {"tools": [...]} is detected and gives the same tools
    wrapped = tmp_path / "us_weather_tools.json"
    wrapped.write_text(json.dumps({"tools": json.loads(path.read_text(encoding="utf-8"))}), encoding="utf-8")
    assert detect_format(wrapped) == "openai"
    assert _import(store, wrapped).counts == UpsertCounts(unchanged=4)


def test_mcp_tools_list_result(tmp_path: Path) -> None:
    path = FIXTURES / "geo_tools_list.json"
    given = {t["name"]: t for t in json.loads(path.read_text(encoding="utf-8"))["result"]["tools"]}
    assert detect_format(path) == "mcp"
    store = Store(tmp_path / "gt.db")
    report = _import(store, path, server_name="geo")
    assert (report.servers, report.tools_read, report.imported) == (1, 3, 3)
    assert (report.skipped, report.repaired) == ([], [])
    (server,) = store.servers()
    assert (server.name, server.source) == ("geo", "mcp-list")
    tools = _by_name(store)
    convert = tools["mcp_geo_convert"]
    assert convert.input_schema == given["mcp_geo_convert"]["inputSchema"]
    assert convert.output_schema == given["mcp_geo_convert"]["outputSchema"]
    assert convert.read_only is True
    assert convert.description == given["mcp_geo_convert"]["description"]
    assert (
        tools["mcp_geo_calculate_distance"].read_only,
        tools["mcp_geo_calculate_distance"].output_schema,
    ) == (
        True,
        None,
    )
    assert tools["mcp_geo_calculate_area"].read_only is None  # no annotations: unknown, not False
    # a bare result (not the JSON-RPC response) is detected the same way and gives the same tools
    bare = tmp_path / "geo.json"
    bare.write_text(json.dumps({"tools": list(given.values())}), encoding="utf-8")
    assert detect_format(bare) == "mcp"
    assert _import(store, bare).counts == UpsertCounts(unchanged=3)


def test_bfcl_jsonl_repairs_types_and_keeps_responses(tmp_path: Path) -> None:
    path = FIXTURES / "units_bfcl.jsonl"
    assert detect_format(path) == "bfcl"
    store = Store(tmp_path / "gt.db")
    report = _import(store, path)
    assert (report.servers, report.tools_read, report.imported, report.skipped) == (1, 3, 3, [])
    assert {i.tool: i.problem for i in report.repaired} == {
        "convert_temperature": "type dict -> object; type float -> number at value; "
        "type String -> string at from_unit; type String -> string at to_unit",
        "convert_weight": "type dict -> object; type float -> number at value; "
        "type String -> string at from_unit; type String -> string at to_unit",
        "get_weather_forecast": "type dict -> object; type String -> string at location",
    }
    assert {(i.file, i.server) for i in report.repaired} == {("units_bfcl.jsonl", "units_bfcl")}
    (server,) = store.servers()
    assert (server.name, server.source) == ("units_bfcl", "bfcl")
    tools = _by_name(store)
    temp = tools["convert_temperature"]
    assert temp.input_schema == {
        "type": "object",
        "properties": {
            "value": {"type": "number", "description": "Temperature value to convert"},
            "from_unit": {
                "type": "string",
                "enum": ["C", "F"],
                "description": "Source temperature unit (C or F)",
            },
            "to_unit": {
                "type": "string",
                "enum": ["C", "F"],
                "description": "Target temperature unit (C or F)",
            },
        },
        "required": ["value", "from_unit", "to_unit"],
    }
    assert temp.output_schema is not None
    assert temp.output_schema["type"] == "object"
    assert temp.output_schema["properties"] == {
        "value": {"type": "number", "description": "Temperature in the target unit"},
        "unit": {"type": "string", "enum": ["C", "F"]},
    }
    # a response that is not an object is wrapped as {"result": ...}
    assert tools["convert_weight"].output_schema == {
        "type": "object",
        "properties": {"result": {"type": "number", "description": "Weight in the target unit"}},
    }
    forecast = tools["get_weather_forecast"]
    assert forecast.output_schema is None
    assert forecast.input_schema["properties"]["days"] == {
        "type": "integer",
        "default": 7,
        "description": "Number of days to forecast (1-7, default 7).",
    }
    assert forecast.input_schema["required"] == ["location"]


def test_bfcl_json_list_file(tmp_path: Path) -> None:
    docs = [
        json.loads(line) for line in (FIXTURES / "units_bfcl.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    path = tmp_path / "units.json"
    path.write_text(json.dumps(docs, indent=2), encoding="utf-8")
    assert detect_format(path) == "bfcl"
    report = _import(Store(tmp_path / "gt.db"), path)
    assert (report.tools_read, report.imported, report.skipped) == (3, 3, [])


# -- malformed inputs ----------------------------------------------------------------------------


def _edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data["metadata"]["remote_server_response"]["tools"])
    path.write_text(json.dumps(data), encoding="utf-8")


def test_toucan_folder_with_defects_imports_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "mcp_servers"
    shutil.copytree(EXAMPLE, folder)
    broken = folder / "0166.@turkyden_weather_labeled.json"  # 2 tools
    broken.write_text(broken.read_text(encoding="utf-8")[:500], encoding="utf-8")

    def drop_name(tools: list[dict[str, Any]]) -> None:
        del next(t for t in tools if t["name"] == "relative_time")["name"]

    def bad_type(tools: list[dict[str, Any]]) -> None:
        tools[0]["input_schema"]["properties"]["content"]["type"] = "strin"

    def bad_required(tools: list[dict[str, Any]]) -> None:
        next(t for t in tools if t["name"] == "convert_volume")["input_schema"]["required"] = 5

    def duplicate(tools: list[dict[str, Any]]) -> None:
        tools.append({**tools[0], "description": "a second get_location"})

    _edit(folder / "0039.@yokingma_time-mcp_labeled.json", drop_name)  # 6 tools
    _edit(folder / "1848.@jwalsh_mcp-server-qrcode_labeled.json", bad_type)  # generate-qrcode
    _edit(folder / "2164.@sellisd_mcp-units_labeled.json", bad_required)  # 3 tools
    _edit(folder / "0967.@kukapay_whereami-mcp_labeled.json", duplicate)  # get_location

    store = Store(tmp_path / "gt.db")
    report = _import(store, folder)
    assert report.servers == 21
    assert report.tools_read == 98 - 2 + 1
    assert report.imported == 93
    assert (store.count("servers"), store.count("tools")) == (21, 93)
    issues = {(i.file, i.server, i.tool): i.problem for i in report.skipped}
    assert len(issues) == 5
    problem = issues[("0166.@turkyden_weather_labeled.json", None, None)]
    assert problem.startswith("not readable JSON (") and problem.endswith("); fix or remove the file")
    assert re.search(r"line \d+ column \d+", problem)
    nameless = [t for f, _, t in issues if f == "0039.@yokingma_time-mcp_labeled.json"]
    assert len(nameless) == 1 and nameless[0].startswith("tool #")  # named by its place in the file
    assert issues[("0039.@yokingma_time-mcp_labeled.json", "Time MCP Server", nameless[0])] == (
        "tool has no name; every tool needs a non-empty 'name'"
    )
    assert issues[("1848.@jwalsh_mcp-server-qrcode_labeled.json", "QR Code Server", "generate-qrcode")] == (
        "invalid JSON Schema at properties/content/type: 'strin' is not valid under any of the given schemas; "
        "fix the schema and import again"
    )
    assert issues[("2164.@sellisd_mcp-units_labeled.json", "Cooking Units Converter", "convert_volume")] == (
        "required must be a list of property names, got int; fix the schema and import again"
    )
    assert issues[("0967.@kukapay_whereami-mcp_labeled.json", "WhereAmI", "get_location")] == (
        "duplicate tool name in this server; the first one was kept"
    )
    # the rest of the damaged servers is imported; the first get_location is kept
    assert len(store.tools(server="Time MCP Server")) == 5
    assert sorted(t.name for t in store.tools(server="Cooking Units Converter")) == [
        "convert_temperature",
        "convert_weight",
    ]
    assert store.tools(server="QR Code Server") == []
    location = store.get_tool("WhereAmI/get_location")
    assert location is not None and location.description.startswith("Get detailed location information")


def test_openai_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "weather_tools.json"
    path.write_text(
        '[\n  {"type": "function",\n   "function": {"name": "get_current_weather",}}\n]\n', encoding="utf-8"
    )
    with pytest.raises(CatalogError) as detected:
        read_catalog(path)
    assert str(detected.value) == (
        f"{path} is not valid JSON: Expecting property name enclosed in double quotes at line 3, column 47"
    )
    with pytest.raises(CatalogError, match=r"is not valid JSON: .* at line 3, column 47"):
        _import(Store(tmp_path / "gt.db"), path, "openai")


def test_openai_file_of_the_wrong_shape(tmp_path: Path) -> None:
    path = tmp_path / "weather_tools.json"
    path.write_text(json.dumps({"functions": []}), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"an OpenAI tools file is a JSON list of"):
        _import(Store(tmp_path / "gt.db"), path, "openai")


def test_bfcl_jsonl_with_a_broken_line(tmp_path: Path) -> None:
    lines = (FIXTURES / "units_bfcl.jsonl").read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1][:60]
    path = tmp_path / "units_bfcl.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = Store(tmp_path / "gt.db")
    report = _import(store, path)
    assert (report.servers, report.tools_read, report.imported) == (1, 2, 2)
    (issue,) = report.skipped
    assert (issue.file, issue.server, issue.tool) == ("units_bfcl.jsonl:2", "units_bfcl", None)
    assert issue.problem.startswith("not JSON (") and "at column" in issue.problem
    assert sorted(_by_name(store)) == ["convert_temperature", "get_weather_forecast"]


def test_nonexistent_path_and_unknown_format(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "tools.json"
    with pytest.raises(
        CatalogError, match=r"catalog .*nowhere.*tools\.json does not exist; give a TOUCAN folder"
    ):
        read_catalog(missing)
    with pytest.raises(CatalogError, match=r"unknown catalog format 'csv'; use one of toucan, toucan-jsonl"):
        read_catalog(FIXTURES / "us_weather_tools.json", "csv")


def test_names_differing_only_in_spaces_are_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "time_tools.json"
    path.write_text(
        json.dumps([{"type": "function", "function": {"name": n}} for n in ("get_time", "get_time ")]),
        encoding="utf-8",
    )
    store = Store(tmp_path / "gt.db")
    report = _import(store, path)
    assert store.count("tools") == 1
    assert report.imported == 1
    assert [i.tool for i in report.skipped] == ["get_time"]


def test_a_non_object_output_schema_does_not_stop_the_import(tmp_path: Path) -> None:
    given = json.loads((FIXTURES / "geo_tools_list.json").read_text(encoding="utf-8"))["result"]["tools"]
    given[0] = {**given[0], "outputSchema": True}
    path = tmp_path / "geo.json"
    path.write_text(json.dumps({"tools": given}), encoding="utf-8")
    report = _import(Store(tmp_path / "gt.db"), path)
    assert report.imported >= 2


# -- a killed import resumes ---------------------------------------------------------------------


def _tool_count(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute("select count(*) from tools").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:  # not created or not migrated yet
        return 0


@pytest.mark.slow
def test_killed_import_resumes_without_duplicates(tmp_path: Path) -> None:
    cli = Path(sys.executable).parent / "graph-toucan"
    assert cli.is_file(), f"{cli} missing; install the package into this venv"
    workspace = tmp_path / "ws"
    db = workspace / DB_NAME
    command = [str(cli), "--workspace", str(workspace), "import", str(_toucan()), "--json"]
    env = {k: v for k, v in os.environ.items() if k != "GRAPH_TOUCAN_WORKSPACE"}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 120
        written = 0
        while not 300 <= written < 2500:
            assert proc.poll() is None, f"import ended before it could be killed: {proc.stderr.read()!r}"
            assert time.monotonic() < deadline, "import wrote no tools in 120 s"
            time.sleep(0.02)
            written = _tool_count(db)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()

    partial = _tool_count(db)
    assert 0 < partial < 3148
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["servers"], report["tools_read"], report["imported"], report["skipped"]) == (
        572,
        3150,
        3148,
        2,
    )
    # the servers committed before the kill are found unchanged; only the rest is new
    assert (report["unchanged"], report["new"], report["updated"]) == (partial, 3148 - partial, 0)

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert conn.execute("select count(*) from tools").fetchone()[0] == 3148
        assert conn.execute("select count(*) from servers").fetchone()[0] == 572
        dupes = conn.execute(
            "select server_id, name, count(*) from tools group by server_id, name having count(*) > 1"
        ).fetchall()
        assert dupes == []
        orphans = conn.execute(
            "select count(*) from tools where server_id not in (select id from servers)"
        ).fetchone()[0]
        assert orphans == 0
    finally:
        conn.close()


# -- BFCL's multi_turn_func_doc layout: JSON Lines in .json files ------------------------------------

BFCL_DOCS = HERE / "fixtures" / "bfcl" / "multi_turn_func_doc"


def test_bfcl_func_doc_folder_imports_as_published(tmp_path: Path) -> None:
    """BFCL ships ``multi_turn_func_doc/*.json`` as JSON Lines: each file is one API (a server)."""
    assert detect_format(BFCL_DOCS) == "bfcl"
    assert detect_format(BFCL_DOCS / "message_api.json") == "bfcl"
    store = Store(tmp_path / "gt.db")
    report = _import(store, BFCL_DOCS)
    assert (report.servers, report.tools_read, report.imported, report.skipped) == (4, 17, 17, [])
    servers = {s.name: s for s in store.servers()}
    assert set(servers) == {"message_api", "trading_bot", "travel_booking", "vehicle_control"}
    assert servers["message_api"].overview == (
        "This tool belongs to the Message API, which is used to manage user interactions in a workspace."
    )
    tools = _by_name(store)
    send = tools["send_message"]
    assert send.description.endswith("Tool description: Send a message to a user.")  # as published
    assert send.input_schema["type"] == "object" and send.input_schema["required"] == [
        "receiver_id",
        "message",
    ]
    assert send.output_schema is not None
    assert send.output_schema["properties"]["message_id"] == {
        "type": "integer",
        "description": "ID of the sent message.",
    }
    assert tools["get_stock_info"].output_schema["properties"]["price"]["type"] == "number"  # "float"
    assert tools["get_watchlist"].output_schema["properties"]["watchlist"]["items"] == {"type": "string"}
    # a rerun changes nothing
    assert _import(store, BFCL_DOCS).counts == UpsertCounts(unchanged=17)


def test_bfcl_json_lines_file_with_a_json_extension(tmp_path: Path) -> None:
    store = Store(tmp_path / "gt.db")
    report = _import(store, BFCL_DOCS / "trading_bot.json")
    assert (report.servers, report.imported, report.skipped) == (1, 6, [])
    (server,) = store.servers()
    assert (server.name, server.source) == ("trading_bot", "bfcl")


def test_bfcl_json_lines_file_with_a_broken_line_keeps_the_rest(tmp_path: Path) -> None:
    lines = (BFCL_DOCS / "vehicle_control.json").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "vehicle_control.json"
    path.write_text("\n".join([lines[0], lines[1][:40], lines[2]]) + "\n", encoding="utf-8")
    assert detect_format(path) == "bfcl"
    report = _import(Store(tmp_path / "gt.db"), path)
    assert report.imported == 2
    (issue,) = report.skipped
    assert issue.file == "vehicle_control.json:2" and "not JSON" in issue.problem


def test_a_broken_single_json_document_says_where(tmp_path: Path) -> None:
    path = tmp_path / "tools.json"
    path.write_text('[{"name": "a", "parameters": {}},\n {"name": "b"', encoding="utf-8")
    with pytest.raises(CatalogError, match=r"tools.json is not valid JSON: .* line 2"):
        detect_format(path)
