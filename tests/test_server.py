"""The synthesis MCP server in memory (FastMCP client): every tool and resource on the bundled example
catalog, a bad input for each, and the safety rules (paths, allow-lists, sizes), with the server serving
on after."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.exceptions import McpError

from graph_toucan import __version__
from graph_toucan.errors import GraphToucanError
from graph_toucan.llm import LLM, Budget, OfflineBackend, ScriptedBackend
from graph_toucan.pipeline import PipelineConfig, run_pipeline
from graph_toucan.records import Conversation
from graph_toucan.resources import server_module
from graph_toucan.store import Store
from tests.conftest import FIXTURES, script

synthesis = server_module("synthesis")

TOOLS = {
    "import_catalog",
    "search_tools",
    "describe_tool",
    "annotate_tools",
    "build_graph",
    "graph_neighbors",
    "sample_fsp",
    "run_mock_tool",
    "translate_fsp",
    "augment_refusal",
    "export_dataset",
    "dataset_stats",
    "get_conversation",
    "list_paths",
    "build_mocks",
    "make_pairs",
    "list_conversations",
    "evaluate_model",
}
WEATHER = FIXTURES / "catalogs" / "us_weather_tools.json"
HOTELS = "Hotel Booking Server/search-hotels"


class Heard:
    """Progress notifications of one call."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float | None, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message))


def server(workspace: Path, make_llm: Any = None, **config: Any) -> Any:
    """The server over ``workspace``; ``make_llm`` builds its teacher (default: offline)."""
    return synthesis.create_server(synthesis.ServerConfig(workspace=workspace, **config), make_llm)


async def call(client: Client, name: str, /, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    return result.structured_content


async def refused(client: Client, name: str, /, **arguments: Any) -> str:
    """The error text of a call that must fail, after checking the server still answers."""
    result = await client.call_tool(name, arguments, raise_on_error=False)
    assert result.is_error, f"{name} accepted {arguments}"
    still = await client.call_tool("search_tools", {"limit": 1}, raise_on_error=False)
    assert not still.is_error
    return result.content[0].text


async def _build(workspace: Path) -> dict[str, Any]:
    async with Client(server(workspace)) as client:
        return {
            "import": await call(client, "import_catalog"),
            "annotate": await call(client, "annotate_tools"),
            "build": await call(client, "build_graph"),
        }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A workspace with the example catalog imported, annotated and its graph built, via the server."""
    workspace = tmp_path_factory.mktemp("built")
    return workspace, asyncio.run(_build(workspace))


@pytest.fixture
def workspace(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    """A private copy of the built workspace."""
    copy = tmp_path / "ws"
    shutil.copytree(built[0], copy)
    return copy


@pytest.fixture(scope="module")
def synthesized(built: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built workspace after the offline pipeline (``graph-toucan run --n 5``): every mock, five
    accepted translations, a refusal variant and preference pairs."""
    workspace = tmp_path_factory.mktemp("synthesized") / "ws"
    shutil.copytree(built[0], workspace)
    store = Store.open(workspace)
    try:
        asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), PipelineConfig(n=5)))
    finally:
        store.close()
    return workspace


@pytest.fixture
def synth(synthesized: Path, tmp_path: Path) -> Path:
    """A private copy of the synthesized workspace."""
    copy = tmp_path / "synth"
    shutil.copytree(synthesized, copy)
    return copy


def stored(workspace: Path, **filters: Any) -> list[Conversation]:
    """The workspace's conversations, read beside the server."""
    store = Store.open(workspace)
    try:
        return list(store.conversations(**filters))
    finally:
        store.close()


# -- listing --------------------------------------------------------------------------------------------


async def test_tools_are_listed_with_truthful_annotations_and_schemas(tmp_path):
    async with Client(server(tmp_path / "ws")) as client:
        tools = {t.name: t for t in await client.list_tools()}
        assert set(tools) == TOOLS
        hints = {
            name: (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint)
            for name, a in ((n, t.annotations) for n, t in tools.items())
        }
        assert hints == {
            "import_catalog": (False, True, True, True),  # changed tools replace stored ones; live servers
            "search_tools": (True, False, True, False),
            "describe_tool": (True, False, True, False),
            "annotate_tools": (False, False, True, False),  # only fills what is missing; offline teacher
            "build_graph": (False, True, True, False),  # replaces the saved graph
            "graph_neighbors": (True, False, True, False),
            "sample_fsp": (False, False, True, False),  # adds paths; the same seed adds nothing
            "run_mock_tool": (False, False, True, False),
            "translate_fsp": (False, False, True, False),  # same path, teacher and seed: the same id
            "augment_refusal": (False, False, True, False),  # seeded by the source: the same id
            "export_dataset": (False, True, True, False),  # replaces the files in its folder
            "dataset_stats": (True, False, True, False),
            "get_conversation": (True, False, True, False),
            "list_paths": (True, False, True, False),
            "build_mocks": (False, False, True, False),  # keeps mocks already built
            "make_pairs": (False, False, True, False),  # skips conversations paired before
            "list_conversations": (True, False, True, False),
            "evaluate_model": (False, False, True, True),  # resumes; the model under test may be remote
        }
        for tool in tools.values():
            assert tool.description and tool.output_schema["type"] == "object"
        sample = tools["sample_fsp"].input_schema["properties"]
        assert sample["count"]["maximum"] == 1000 and sample["count"]["minimum"] == 1
        assert tools["run_mock_tool"].input_schema["required"] == ["tool", "arguments"]
        translate = tools["translate_fsp"].input_schema["properties"]
        inline = translate["path"]["properties"]  # optional: its type and a null default, no anyOf
        assert inline["turns"]["maxItems"] == 20 and "id" in inline  # sample_fsp's paths are accepted
        assert translate["attempts"]["maximum"] == 10
        assert tools["augment_refusal"].input_schema["properties"]["kind"]["enum"] == [
            "miss-func",
            "miss-params",
            "irrelevance",
        ]
        assert "$ref" not in json.dumps(tools["translate_fsp"].output_schema)
        for tool in tools.values():  # older clients send a list or object as a string for anyOf-null
            assert '{"type": "null"}' not in json.dumps(tool.input_schema), tool.name
        assert sample["start"]["type"] == "array" and sample["start"]["default"] is None
        assert client.server_info.version == __version__ and client.server_info.name == "graph-toucan"


async def test_a_remote_teacher_makes_the_teacher_tools_open_world(tmp_path):
    app = server(tmp_path / "ws", teacher="anthropic/claude-sonnet-4-5")
    async with Client(app) as client:
        hints = {t.name: t.annotations.open_world_hint for t in await client.list_tools()}
    assert hints["annotate_tools"] and hints["build_graph"] and not hints["search_tools"]
    assert hints["translate_fsp"] and hints["augment_refusal"]
    assert not hints["export_dataset"] and not hints["dataset_stats"] and not hints["get_conversation"]


# -- import_catalog ---------------------------------------------------------------------------------------


async def test_import_catalog_imports_the_bundled_example_once(tmp_path):
    heard = Heard()
    async with Client(server(tmp_path / "ws")) as client:
        first = await client.call_tool("import_catalog", {}, progress_handler=heard)
        again = await call(client, "import_catalog")
    report = first.structured_content
    assert (report["servers"], report["tools_read"], report["new"], report["skipped"]) == (22, 98, 98, 0)
    assert report["source"].endswith("mcp_servers") and report["tools_in_workspace"] == 98
    assert (again["new"], again["unchanged"], again["tools_in_workspace"]) == (0, 98, 98)
    assert [p for p, _, _ in heard.seen] == list(range(1, 23)) and heard.seen[-1][1] == 22


async def test_import_catalog_reads_files_in_the_workspace_and_the_roots(tmp_path):
    workspace, root = tmp_path / "ws", tmp_path / "catalogs"
    root.mkdir()
    shutil.copy(FIXTURES / "catalogs" / "geo_tools_list.json", root / "geo_tools_list.json")
    async with Client(server(workspace, roots=(root,))) as client:
        workspace.mkdir(exist_ok=True)
        shutil.copy(WEATHER, workspace / "weather.json")
        local = await call(client, "import_catalog", path="weather.json", server_name="US Weather")
        rooted = await call(client, "import_catalog", path=str(root / "geo_tools_list.json"))
        found = await call(client, "search_tools", server="US Weather")
    assert local["source"] == str((workspace / "weather.json").resolve())
    assert local["servers"] == 1 and local["new"] == len(json.loads(WEATHER.read_text()))
    assert rooted["servers"] == 1 and rooted["new"] > 0
    assert {t["server"] for t in found["tools"]} == {"US Weather"}


async def test_import_catalog_refuses_paths_outside_the_roots(tmp_path):
    workspace, outside = tmp_path / "ws", tmp_path / "outside"
    outside.mkdir()
    shutil.copy(WEATHER, outside / "weather.json")
    async with Client(server(workspace)) as client:
        await call(client, "search_tools")  # the lifespan made the workspace
        (workspace / "linked.json").symlink_to(outside / "weather.json")
        (workspace / "folder").mkdir()
        (workspace / "folder" / "inner.json").symlink_to(outside / "weather.json")
        (workspace / "away").symlink_to(outside)

        dotted = await refused(client, "import_catalog", path="../outside/weather.json")
        hidden = await refused(client, "import_catalog", path="folder/../../outside/weather.json")
        absolute = await refused(client, "import_catalog", path=str(outside / "weather.json"))
        linked = await refused(client, "import_catalog", path="linked.json")
        via_dir = await refused(client, "import_catalog", path="away/weather.json")
        inner = await refused(client, "import_catalog", path="folder")
        missing = await refused(client, "import_catalog", path="nowhere.json")
        nul = await refused(client, "import_catalog", path="a\x00b")
        assert (await call(client, "search_tools"))["tools_in_workspace"] == 0
    assert "contains '..'" in dotted and "contains '..'" in hidden
    for text in (absolute, linked, via_dir):
        assert "outside the allowed roots" in text and "--root" in text
    assert "inner.json, a link to outside the roots" in inner
    assert "does not exist" in missing and "NUL" in nul


async def test_import_catalog_runs_only_allowed_live_servers(tmp_path):
    time_server = script("mcp-server-time")
    app = server(tmp_path / "ws", allowed_commands=(time_server,))
    async with Client(app) as client:
        other = await refused(client, "import_catalog", command="bash -c 'touch /tmp/pwned'")
        extra = await refused(client, "import_catalog", command=f"{time_server} --local-timezone UTC")
        url = await refused(client, "import_catalog", url="http://127.0.0.1:9/mcp")
        both = await refused(client, "import_catalog", path="x.json", command=time_server)
        live = await call(client, "import_catalog", command=time_server)
    assert "not on this server's allow-list" in other and repr(time_server) in other
    assert "--allow-command" in other and "not on this server's allow-list" in extra
    assert "URL" in url and "--allow-url" in url
    assert "give one source" in both
    assert live["servers"] == 1 and live["new"] >= 2 and live["source"] == time_server
    assert not Path("/tmp/pwned").exists()


# -- search_tools and describe_tool ----------------------------------------------------------------------


async def test_search_and_describe_tools(workspace):
    async with Client(server(workspace)) as client:
        hits = await call(client, "search_tools", query="weather forecast", limit=5)
        listed = await call(client, "search_tools", server="Hotel Booking Server")
        detail = await call(client, "describe_tool", tool=HOTELS)
        by_id = await call(client, "describe_tool", tool=detail["tool"]["id"])
        too_long = await refused(client, "search_tools", query="w" * 201)
        no_limit = await refused(client, "search_tools", limit=1000)
        ambiguous = await refused(client, "describe_tool", tool="get_current_weather")
        huge = await refused(client, "describe_tool", tool="x" * 301)
    assert 0 < len(hits["tools"]) <= 5 and hits["tools_in_workspace"] == 98
    assert any("weather" in t["ref"].lower() for t in hits["tools"])
    assert {t["server"] for t in listed["tools"]} == {"Hotel Booking Server"}
    assert all(t["annotated"] and t["mocked"] for t in listed["tools"])
    assert detail["tool"]["name"] == "search-hotels" and detail["mocked"]
    assert "latitude" in detail["tool"]["input_schema"]["properties"]
    assert detail["tool"]["output_schema"] and detail["tool"]["tool_class"] == "query"
    assert by_id == detail
    assert "at most 200 characters" in too_long and "less than or equal to 100" in no_limit
    assert ambiguous == (  # the candidates, so the agent can pick one
        "'get_current_weather' names 2 tools (United States Weather/get_current_weather, "
        "Weather MCP Server/get_current_weather); give one as SERVER/TOOL"
    )
    assert "at most 300 characters" in huge


# -- annotate_tools --------------------------------------------------------------------------------------


async def test_annotate_tools_annotates_once_and_reports_progress(built, tmp_path):
    first = built[1]["annotate"]
    assert (first["tools"], first["annotated"], first["failed"], first["teacher"]) == (98, 98, [], "offline")
    with_inputs = sum(bool(t.input_schema.get("properties")) for t in Store.open(built[0]).tools())
    assert first["llm_calls"] == 3 * 98 + with_inputs  # tags, class, output schema, parameter classes
    heard = Heard()
    async with Client(server(built[0])) as client:
        again = await client.call_tool("annotate_tools", {}, progress_handler=heard)
        unknown = await refused(client, "annotate_tools", server="No Such Server")
        wrong = await refused(client, "annotate_tools", server=["a", "b"])
    assert again.structured_content["already_annotated"] == 98 and again.structured_content["llm_calls"] == 0
    assert heard.seen[-1][:2] == (98, 98)
    assert "no tools of server 'No Such Server'; call import_catalog first" in unknown
    assert "valid string" in wrong
    async with Client(server(tmp_path / "empty")) as client:
        empty = await refused(client, "annotate_tools")
    assert "call import_catalog first" in empty


# -- build_graph, graph_neighbors and the graph resource ----------------------------------------------------


async def test_build_graph_reuses_judgements_and_reports_stages(built):
    first = built[1]["build"]
    assert first["nodes"] == 98 and first["not_annotated"] == 0 and first["failed_judgements"] == []
    assert first["judged_now"] == first["candidate_pairs"] > 0 and sum(first["edges"].values()) > 50
    heard = Heard()
    async with Client(server(built[0])) as client:
        again = await client.call_tool("build_graph", {}, progress_handler=heard)
        crossed = await refused(client, "build_graph", cap=3, floor=5)
        zero = await refused(client, "build_graph", cap=0)
    report = again.structured_content
    assert report["judged_now"] == 0 and report["reused_judgements"] == first["candidate_pairs"]
    assert report["edges"] == first["edges"] and report["llm_calls"] == 0  # answers come from the call log
    progress = [p for p, _, _ in heard.seen]
    assert progress == sorted(progress) and progress[-1] == 2 and heard.seen[-1][1] == 2
    assert [m.split()[0] for _, _, m in heard.seen] == ["filter", "done"]  # nothing left to judge
    assert "floor (5) cannot exceed cap (3)" in crossed
    assert "greater than or equal to 1" in zero


async def test_graph_neighbors_and_the_stats_resource(built, tmp_path):
    async with Client(server(built[0])) as client:
        hood = await call(client, "graph_neighbors", tool=HOTELS, limit=2)
        unknown = await refused(client, "graph_neighbors", tool="Nope/nothing")
        stats = json.loads((await client.read_resource("graph-toucan://graph/stats"))[0].text)
        resources = [str(r.uri) for r in await client.list_resources()]
    assert hood["tool"] == HOTELS and hood["tool_class"] == "query"
    assert len(hood["incoming"]) == min(2, hood["incoming_total"]) and hood["incoming_total"] > 0
    edge = hood["incoming"][0]
    assert edge["type"] in ("full", "partial", "prerequisite") and edge["reason"]
    assert all({"output", "input"} == set(m) for m in edge["mapping"])
    assert "no tool 'Nope/nothing' in the graph" in unknown
    assert stats["nodes"] == 98 and stats["edges"] == sum(built[1]["build"]["edges"].values())
    assert resources == ["graph-toucan://graph/stats", "graph-toucan://stats"]
    async with Client(server(tmp_path / "empty")) as client:
        no_graph = await refused(client, "graph_neighbors", tool=HOTELS)
        with pytest.raises(McpError, match="build_graph tool"):
            await client.read_resource("graph-toucan://graph/stats")
    assert "run the build_graph tool first" in no_graph and "graph-toucan" not in no_graph


# -- sample_fsp --------------------------------------------------------------------------------------------


async def test_sample_fsp_returns_planned_paths_reproducibly(workspace):
    heard = Heard()
    async with Client(server(workspace)) as client:
        first = await client.call_tool(
            "sample_fsp", {"count": 8, "seed": 3, "show": 2}, progress_handler=heard
        )
        again = await call(client, "sample_fsp", count=8, seed=3, show=0)
        longer = await call(client, "sample_fsp", count=12, seed=3, show=0)
        single = await call(
            client,
            "sample_fsp",
            count=3,
            seed=3,
            settings={"max_steps": 1, "merge": 0, "insert_short": 0, "insert_long": 0, "split": 0}
            | {"parallel": 0, "second_task": 0},
            start=[HOTELS],
        )
    report = first.structured_content
    assert (report["sampled"], report["new"], report["exhausted"]) == (8, 8, False)
    assert len(report["path_ids"]) == 8 and len(set(report["path_ids"])) == 8
    assert [p["id"] for p in report["paths"]] == report["path_ids"][:2]
    path = report["paths"][0]
    assert path["sampler"] == "graph" and path["seed"] == 3 and path["turns"][0]["calls"]
    assert heard.seen[-1][:2] == (8, 8)
    assert again["path_ids"] == report["path_ids"] and again["new"] == 0 and again["paths"] == []
    assert longer["path_ids"][:8] == report["path_ids"] and longer["new"] == 4
    for planned in single["paths"]:
        calls = [c for turn in planned["turns"] for c in turn["calls"]]
        explicit = [c for c in calls if not c["implicit"]]
        # one step from the search; a hidden helper may give the next tool an id it needs
        assert calls[0]["tool"] == HOTELS and len(explicit) == 2


async def test_sample_fsp_follows_a_rebuilt_graph(workspace):
    async with Client(server(workspace)) as client:
        before = await call(client, "sample_fsp", count=2)
        rebuilt = await call(client, "build_graph", cap=2, floor=0)
        after = await call(client, "sample_fsp", count=2)
    assert rebuilt["judged_now"] == 0  # a subset of the pairs judged before
    assert after["usable_edges"] < before["usable_edges"]
    assert after["usable_edges"] <= sum(rebuilt["edges"].values())


async def test_sample_fsp_refuses_bad_settings(workspace, tmp_path):
    async with Client(server(workspace)) as client:
        too_many = await refused(client, "sample_fsp", count=5000)
        steps = await refused(client, "sample_fsp", settings={"min_steps": 4, "max_steps": 2})
        unknown = await refused(client, "sample_fsp", settings={"walk_length": 3})
        start = await refused(client, "sample_fsp", start=["Nope/nothing"])
        random_start = await refused(client, "sample_fsp", sampler="random", start=[HOTELS])
        baseline = await call(client, "sample_fsp", sampler="random", count=4)
    assert "less than or equal to 1000" in too_many
    assert "min_steps (4) must not exceed max_steps (2)" in steps
    assert "walk_length" in unknown and "Extra inputs are not permitted" in unknown
    assert "Nope/nothing" in start
    assert "only apply to the graph sampler" in random_start
    assert baseline["sampler"] == "random" and baseline["sampled"] == 4
    async with Client(server(tmp_path / "empty")) as client:
        no_graph = await refused(client, "sample_fsp")
    assert "build_graph tool" in no_graph


# -- run_mock_tool ----------------------------------------------------------------------------------------


async def test_run_mock_tool_answers_consistently_within_a_conversation(tmp_path):
    async with Client(server(tmp_path / "ws")) as client:  # an empty workspace: the bundled mocks
        search = await call(
            client,
            "run_mock_tool",
            tool=HOTELS,
            arguments={"latitude": 48.85, "longitude": 2.35},
            conversation="trip-1",
        )
        hotel = search["output"]["hotels"][0]
        details = await call(
            client,
            "run_mock_tool",
            tool="get-hotel-details",
            arguments={"session_id": "s1", "hotel_id": hotel["hotel_id"]},
            conversation="trip-1",
        )
        repeat = await call(
            client,
            "run_mock_tool",
            tool=HOTELS,
            arguments={"latitude": 48.85, "longitude": 2.35},
            conversation="trip-1",
        )
    assert search["mocks"] == "bundled" and search["ref"] == HOTELS and search["tool"] == "search-hotels"
    assert details["output"]["name"] == hotel["name"]  # the hotel found is the hotel described
    assert repeat == search


async def test_run_mock_tool_refuses_bad_calls_and_oversized_arguments(tmp_path):
    async with Client(server(tmp_path / "ws")) as client:
        invalid = await refused(client, "run_mock_tool", tool=HOTELS, arguments={"latitude": "north"})
        unknown = await refused(client, "run_mock_tool", tool="Nope/nothing", arguments={})
        ambiguous = await refused(client, "run_mock_tool", tool="get_current_weather", arguments={})
        big = await refused(client, "run_mock_tool", tool=HOTELS, arguments={"name": "x" * 70_000})
        deep: dict[str, Any] = {}
        for _ in range(30):
            deep = {"a": deep}
        nested = await refused(client, "run_mock_tool", tool=HOTELS, arguments=deep)
        conversation = await refused(
            client, "run_mock_tool", tool=HOTELS, arguments={}, conversation="../../etc"
        )
        fine = await call(client, "run_mock_tool", tool=HOTELS, arguments={"latitude": 1.0, "longitude": 2.0})
    assert "invalid arguments for Hotel Booking Server/search-hotels" in invalid
    assert "no mock of 'Nope/nothing'" in unknown and "call build_mocks for it" in unknown
    assert "graph-toucan" not in unknown  # an MCP tool to call, not a CLI command
    assert "names several mocks" in ambiguous and "use SERVER/TOOL" in ambiguous
    assert "at most 65536 are accepted" in big
    assert "nest deeper than 16 levels" in nested
    assert "should match pattern" in conversation
    assert fine["conversation"] == "default"


async def test_run_mock_tool_prefers_the_workspace_mocks_and_keeps_the_bundled_ones(tmp_path):
    from graph_toucan.mock.files import bundled_mock_folder, read_mock_folder
    from graph_toucan.store import Store

    store = Store.open(tmp_path / "ws")
    weather = [
        m for m in read_mock_folder(bundled_mock_folder()) if m.tool.server_name == "Weather MCP Server"
    ]
    for mock in weather:
        store.add_mock(mock)
    store.close()
    async with Client(server(tmp_path / "ws")) as client:
        weather = "Weather MCP Server/get_current_weather"
        answer = await call(client, "run_mock_tool", tool=weather, arguments={"city": "Oslo"})
        hotels = await call(client, "run_mock_tool", tool=HOTELS, arguments={"latitude": 1, "longitude": 2})
    assert answer["mocks"] == "workspace" and answer["ref"] == weather
    assert hotels["mocks"] == "bundled" and hotels["output"]["hotels"]  # a tool the workspace did not build


# -- translate_fsp ----------------------------------------------------------------------------------------


async def test_translate_fsp_builds_the_path_mocks_and_stores_the_conversation(workspace):
    heard = Heard()
    async with Client(server(workspace)) as client:
        sampled = await call(client, "sample_fsp", count=5, seed=1, show=5)
        results = [await call(client, "translate_fsp", path_id=pid) for pid in sampled["path_ids"]]
        accepted = next(r for r in results if r["status"] == "accepted")
        k = sampled["path_ids"].index(accepted["path_id"])
        again = await client.call_tool(
            "translate_fsp", {"path_id": accepted["path_id"][:8]}, progress_handler=heard
        )
        inline = await call(client, "translate_fsp", path=sampled["paths"][k])  # with its "id" key
    tools = {c["tool_id"] for turn in sampled["paths"][k]["turns"] for c in turn["calls"]}
    conversation = accepted["conversation"]
    assert conversation["id"] == accepted["id"] and conversation["path_id"] == accepted["path_id"]
    assert (accepted["kind"], accepted["teacher"], accepted["seed"], accepted["reasons"]) == (
        "translation",
        "offline",
        1,  # the path's seed, as graph-toucan run translates it
        [],
    )
    assert accepted["checks_passed"] == accepted["checks_total"] > 0 and accepted["calls"] >= len(tools)
    assert len(accepted["mocks"]["built"]) + accepted["mocks"]["already_built"] == len(tools)
    assert all(r["conversation"] is None and r["reasons"] for r in results if r["status"] == "rejected")
    rerun = again.structured_content
    assert rerun["id"] == accepted["id"] and rerun["conversation"] == conversation
    assert rerun["mocks"] == {
        "built": [],
        "already_built": len(tools),
        "unmockable": {},
        "skipped": {},
        "mocks_in_workspace": rerun["mocks"]["mocks_in_workspace"],
    }
    assert rerun["mocks"]["mocks_in_workspace"] >= len(tools)
    assert heard.seen[-1] == (len(tools) + 1, len(tools) + 1, "accepted")
    assert inline["id"] == accepted["id"] and inline["path_id"] == accepted["path_id"]
    assert {c.id for c in stored(workspace)} == {r["id"] for r in results}


async def test_translate_fsp_without_mocks_rejects_and_says_why(workspace):
    async with Client(server(workspace)) as client:
        sampled = await call(client, "sample_fsp", count=1, seed=2)
        rejected = await call(
            client, "translate_fsp", path_id=sampled["path_ids"][0], build_missing_mocks=False
        )
    assert rejected["status"] == "rejected" and rejected["conversation"] is None and rejected["mocks"] is None
    assert rejected["reasons"][0].startswith("no accepted mock for ")
    assert [c.id for c in stored(workspace)] == [rejected["id"]]


async def test_translate_fsp_refuses_bad_paths(workspace):
    async with Client(server(workspace)) as client:
        path = (await call(client, "sample_fsp", count=1, show=1))["paths"][0]
        with_calls = next(t for t in path["turns"] if t["calls"])
        stranger = json.loads(json.dumps(path))
        next(t for t in stranger["turns"] if t["calls"])["calls"][0]["tool_id"] = "0" * 16
        neither = await refused(client, "translate_fsp")
        both = await refused(client, "translate_fsp", path_id=path["id"], path=path)
        unknown = await refused(client, "translate_fsp", path_id="0" * 16)
        pattern = await refused(client, "translate_fsp", path_id="../paths")
        foreign = await refused(client, "translate_fsp", path=stranger)
        twice = await refused(client, "translate_fsp", path=path | {"turns": [with_calls, with_calls]})
        long = await refused(client, "translate_fsp", path=path | {"turns": [with_calls] * 21})
        huge = await refused(client, "translate_fsp", path=path | {"padding": "x" * 70_000})
        attempts = await refused(client, "translate_fsp", path_id=path["id"], attempts=0)
    assert "give one of path_id" in neither and "give one of path_id" in both
    assert "no single path matches '0000000000000000'" in unknown and "sample_fsp" in unknown
    assert "should match pattern" in pattern
    assert "0000000000000000" in foreign and "not in the workspace" in foreign and "import_catalog" in foreign
    assert "call ids must be unique within a path" in twice
    assert "at most 20 items" in long
    assert "at most 65536 are accepted" in huge
    assert "greater than or equal to 1" in attempts
    assert stored(workspace) == []


async def test_a_failing_teacher_is_an_error_that_says_retry(synth):
    source = stored(synth, status="accepted", kind="translation")[0]

    def failing(store: Store) -> LLM:
        return LLM(ScriptedBackend([]), store, backoff_s=0)

    def spent(store: Store) -> LLM:
        return LLM(ScriptedBackend([]), store, budget=Budget(max_calls=0))

    async with Client(server(synth, failing)) as client:
        translate = await refused(client, "translate_fsp", path_id=source.path_id)
        augment = await refused(client, "augment_refusal", conversation=source.id, kind="irrelevance")
    async with Client(server(synth, spent)) as client:
        budget = await refused(client, "translate_fsp", path_id=source.path_id)
    assert f"the teacher failed translating path {source.path_id}" in translate
    assert "nothing was stored: call translate_fsp again to retry" in translate
    assert "the teacher failed making the irrelevance variant" in augment
    assert "call augment_refusal again" in augment
    assert "budget of 0 LLM calls spent" in budget and "--max-calls" in budget
    assert {c.teacher for c in stored(synth)} == {"offline"}


# -- augment_refusal --------------------------------------------------------------------------------------


async def test_augment_refusal_makes_and_stores_each_kind(synth):
    sources = stored(synth, status="accepted", kind="translation")
    made: dict[str, dict[str, Any]] = {}
    async with Client(server(synth)) as client:
        for kind in ("miss-func", "miss-params", "irrelevance"):
            for source in sources:
                result = await client.call_tool(
                    "augment_refusal", {"conversation": source.id, "kind": kind}, raise_on_error=False
                )
                if not result.is_error:
                    made[kind] = result.structured_content
                    break
        again = await call(
            client, "augment_refusal", conversation=made["miss-params"]["source_id"][:6], kind="miss-params"
        )
    by_id = {c.id: c for c in sources}
    for kind, variant in made.items():
        source = by_id[variant["source_id"]]
        assert (variant["kind"], variant["status"], variant["reasons"]) == (kind, "accepted", [])
        assert variant["conversation"]["source_id"] == source.id and variant["path_id"] == source.path_id
    assert made["irrelevance"]["calls"] == 0 and made["irrelevance"]["turns"] == 1
    split = made["miss-params"]["conversation"]["turns"]
    assert any(t["split"] and t["split"]["kind"] == "miss-param" for t in split)
    assert made["miss-params"]["turns"] == len(by_id[made["miss-params"]["source_id"]].turns) + 1
    assert again == made["miss-params"]  # seeded by the source: the same variant, stored once
    assert {v["id"] for v in made.values()} <= {c.id for c in stored(synth)}


async def test_augment_refusal_refuses_bad_sources(synth):
    source = stored(synth, status="accepted", kind="translation")[0]
    variant = stored(synth, kind="irrelevance")[0]
    helpers_only = source.model_copy(  # every call a helper: no tool the user asked for to withhold
        update={
            "seed": 4242,
            "turns": [
                t.model_copy(
                    update={"steps": [[c.model_copy(update={"implicit": True}) for c in s] for s in t.steps]}
                )
                for t in source.turns
            ],
        }
    )
    store = Store.open(synth)
    store.add_conversation(helpers_only)
    store.close()
    async with Client(server(synth)) as client:
        kind = await refused(client, "augment_refusal", conversation=source.id, kind="miss-everything")
        unknown = await refused(client, "augment_refusal", conversation="0" * 16, kind="irrelevance")
        pattern = await refused(client, "augment_refusal", conversation="not-an-id", kind="irrelevance")
        of_variant = await refused(client, "augment_refusal", conversation=variant.id, kind="miss-func")
        no_place = await refused(client, "augment_refusal", conversation=helpers_only.id, kind="miss-func")
    assert "'miss-func', 'miss-params' or 'irrelevance'" in kind
    assert "no single conversation matches '0000000000000000'" in unknown
    assert "should match pattern" in pattern
    assert (
        f"{variant.id} is accepted, of kind irrelevance" in of_variant
        and "accepted translations" in of_variant
    )
    assert f"{helpers_only.id} has no place for a miss-func variant" in no_place
    assert "try another kind" in no_place


# -- get_conversation and the conversation resource --------------------------------------------------------


async def test_get_conversation_and_its_resource(synth):
    source = stored(synth, status="accepted", kind="translation")[0]
    async with Client(server(synth)) as client:
        shown = await call(client, "get_conversation", conversation=source.id[:6])
        bare = await call(client, "get_conversation", conversation=source.id, transcript=False)
        missing = await refused(client, "get_conversation", conversation="0" * 16)
        short = await refused(client, "get_conversation", conversation="abc")
        templates = [t.uri_template for t in await client.list_resource_templates()]
        read = (await client.read_resource(f"graph-toucan://conversations/{source.id}"))[0]
        with pytest.raises(McpError, match="no single conversation matches 'zzzz'"):
            await client.read_resource("graph-toucan://conversations/zzzz")
    assert shown["conversation"] == source.model_dump(mode="json")
    text = shown["transcript"]
    assert text.startswith(f"conversation {source.id}  accepted  translation  path {source.path_id}")
    assert "\nturn 1 " in text and f"  user: {source.turns[0].user}" in text and "[/]" not in text
    assert f"checks: {len(source.checks)}/{len(source.checks)} passed" in text
    assert bare["transcript"] is None and bare["conversation"] == shown["conversation"]
    assert "no single conversation matches '0000000000000000'" in missing
    assert "should match pattern" in short
    assert templates == ["graph-toucan://conversations/{id}"]
    assert read.mime_type == "application/json" and json.loads(read.text) == shown["conversation"]


# -- export_dataset ----------------------------------------------------------------------------------------


async def test_export_dataset_writes_every_format_with_progress(synth, tmp_path):
    root = tmp_path / "datasets"
    root.mkdir()
    accepted = stored(synth, status="accepted")
    heard = Heard()
    async with Client(server(synth, roots=(root,))) as client:
        first = await client.call_tool(
            "export_dataset", {"out": "export", "validation_share": 0.5, "seed": 3}, progress_handler=heard
        )
        again = await call(client, "export_dataset", out="export", validation_share=0.5, seed=3)
        rooted = await call(client, "export_dataset", out=str(root / "sft"), formats=["openai"])
    report = first.structured_content
    assert report["out"] == str((synth / "export").resolve())
    assert report["formats"] == ["trl", "openai", "dpo", "sharegpt", "hermes"]
    assert sum(report["conversations"].values()) == len(accepted) and report["skipped_total"] == 0
    assert report["conversations"]["validation"] > 0 and report["conversations"]["train"] > 0
    for fmt in ("openai", "sharegpt", "hermes"):
        assert report["rows"][fmt] == report["conversations"]
    assert sum(report["rows"]["dpo"].values()) > 0  # the pipeline's preference pairs
    assert report["kinds"]["translation"] == 5 and report["teachers"] == {"offline": len(accepted)}
    assert all(Path(f).is_file() for f in report["files"])
    assert (synth / "export" / "README.md").is_file() and (synth / "export" / "stats" / "stats.md").is_file()
    assert heard.seen[-1][:2] == (len(accepted), len(accepted))
    assert {k: v for k, v in again.items() if k != "seconds"} == {
        k: v for k, v in report.items() if k != "seconds"
    }
    assert rooted["formats"] == ["openai"] and (root / "sft" / "openai" / "train.jsonl").is_file()


async def test_export_dataset_refuses_bad_folders_and_settings(synth, workspace, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    async with Client(server(synth)) as client:
        itself = await refused(client, "export_dataset", out=".")
        (synth / "away").symlink_to(outside)
        dotted = await refused(client, "export_dataset", out="../export")
        absolute = await refused(client, "export_dataset", out=str(outside / "export"))
        linked = await refused(client, "export_dataset", out="away/export")
        deep = await refused(client, "export_dataset", out="a/b/export")
        fmt = await refused(client, "export_dataset", out="export", formats=["csv"])
        none = await refused(client, "export_dataset", out="export", formats=[])
        share = await refused(client, "export_dataset", out="export", validation_share=1.0)
    assert "is the workspace or an allowed root itself" in itself and "'export'" in itself
    assert "contains '..'" in dotted
    assert "outside the allowed roots" in absolute and "outside the allowed roots" in linked
    assert "the folder of 'a/b/export' does not exist" in deep
    assert "'trl', 'openai', 'dpo', 'sharegpt' or 'hermes'" in fmt and "at least 1 item" in none
    assert "less than or equal to 0.99" in share
    assert list(outside.iterdir()) == [] and not (synth / "export").exists()
    async with Client(server(workspace)) as client:
        empty = await refused(client, "export_dataset", out="export")
    assert (
        "no accepted conversations to export" in empty and "the sample_fsp and translate_fsp tools" in empty
    )


# -- evaluate_model ----------------------------------------------------------------------------------------


async def test_evaluate_model_scores_the_reference_at_100_percent_and_resumes(synth):
    heard = Heard()
    async with Client(server(synth)) as client:
        await call(client, "export_dataset", out="export", formats=["trl"], validation_share=0.5)
        first = await client.call_tool(
            "evaluate_model", {"data": "export", "out": "eval", "split": "all"}, progress_handler=heard
        )
        again = await call(client, "evaluate_model", data="export", out="eval", split="all")
        model = await refused(client, "evaluate_model", data="export", out="eval", model="gpt-4")
        clash = await refused(client, "evaluate_model", data="export", out="eval", split="train")
        outside = await refused(client, "evaluate_model", data="/etc", out="eval2")
    report = first.structured_content
    accepted = stored(synth, status="accepted")
    assert report["accuracy"] == 1.0 and report["conversations"] == len(accepted) and report["complete"]
    assert report["accuracy_by_kind"]["translation"] == 1.0 and report["checks"]["calls"] == 1.0
    assert heard.seen[-1][:2] == (len(accepted), len(accepted))
    assert again["scored_now"] == 0 and again["resumed"] == len(accepted) and again["accuracy"] == 1.0
    assert (synth / "eval" / "report.md").is_file() and (synth / "eval" / "eval.db").is_file()
    assert "should match pattern" in model or "String should match" in model
    assert "holds an eval of another split" in clash
    assert "outside the allowed roots" in outside


# -- dataset_stats and the statistics resource ---------------------------------------------------------------


async def test_dataset_stats_and_the_markdown_resource(synth, workspace):
    conversations = stored(synth)
    async with Client(server(synth)) as client:
        report = await call(client, "dataset_stats")
        offline = await call(client, "dataset_stats", teacher="offline", markdown=True)
        nobody = await refused(client, "dataset_stats", teacher="nobody")
        long = await refused(client, "dataset_stats", teacher="x" * 201)
        page = (await client.read_resource("graph-toucan://stats"))[0]
    graph = report["samplers"]["graph"]
    assert graph["conversations"] == sum(c.status == "accepted" for c in conversations)
    assert graph["rejected"] == sum(c.status == "rejected" for c in conversations)
    assert graph["kinds"]["translation"]["count"] == 5
    assert (report["tools_total"], report["servers_total"], report["teacher"]) == (98, 22, None)
    assert report["markdown"] is None and report["call_log"]["total"]["calls"] > 0
    assert offline["teacher"] == "offline"
    assert offline["markdown"].startswith("# Dataset statistics (teacher offline)")
    assert "no conversations stored for teacher 'nobody'" in nobody and "translate_fsp tools first" in nobody
    assert "at most 200 characters" in long
    assert page.mime_type == "text/markdown" and page.text.startswith("# Dataset statistics\n")
    assert "## Comparison" in page.text and "## Figures by sampler" in page.text
    async with Client(server(workspace)) as client:
        with pytest.raises(McpError, match="translate_fsp tool"):
            await client.read_resource("graph-toucan://stats")


# -- serving rules ---------------------------------------------------------------------------------------


def test_http_off_loopback_needs_a_token():
    assert synthesis.is_loopback("127.0.0.1") and synthesis.is_loopback("::1")
    assert synthesis.is_loopback("localhost") and not synthesis.is_loopback("0.0.0.0")
    assert not synthesis.is_loopback("example.org")
    with pytest.raises(GraphToucanError, match="without a token"):
        asyncio.run(synthesis.serve(synthesis.ServerConfig(), http=("0.0.0.0", 8765)))


def test_roots_must_exist(tmp_path):
    with pytest.raises(GraphToucanError, match="is not a folder"):
        server(tmp_path / "ws", roots=(tmp_path / "missing",))


def test_library_messages_name_the_tool_to_call():
    message = "no dependency graph at x; run 'graph-toucan graph build' first"
    assert synthesis.agent_message(message) == "no dependency graph at x; run the build_graph tool first"
    assert synthesis.agent_message("see 'graph-toucan mock build'") == "see the build_mocks tool"
    assert synthesis.agent_message("as 'tools list' shows it") == "as the search_tools tool shows it"
    assert synthesis.agent_message("no conversations stored; run 'graph-toucan run --n 100' first") == (
        "no conversations stored; run the sample_fsp and translate_fsp tools first"
    )
    assert synthesis.agent_message("see 'graph-toucan nonsense'") == "see 'graph-toucan nonsense'"
