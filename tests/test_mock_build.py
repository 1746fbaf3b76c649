"""Mock generation: the offline teacher's modules, the check-and-feedback loop with a scripted teacher,
storage, mock folders, and the bundled mocks of the example catalog."""

from __future__ import annotations

import json

import pytest

from graph_toucan.annotate import annotate_tools
from graph_toucan.catalog import import_entries, read_catalog
from graph_toucan.llm import LLM, OfflineBackend, ScriptedBackend
from graph_toucan.mock.build import build_mock, build_mocks, check_mock, mock_key
from graph_toucan.mock.codegen import render_mock, tool_view
from graph_toucan.mock.errors import MockArgumentsError, MockError
from graph_toucan.mock.files import bundled_mock_folder, mock_paths, read_mock_folder, write_mock_folder
from graph_toucan.mock.runtime import MockRuntime
from graph_toucan.mock.sandbox import SandboxPool
from graph_toucan.records import MockTool, Tool
from graph_toucan.store import Store
from tests.conftest import EXAMPLE

NUMBER = {"type": "object", "properties": {"result": {"type": "number"}}, "required": ["result"]}
CONVERTED = {
    "type": "object",
    "properties": {"converted_value": {"type": "number"}, "to_unit": {"type": "string"}},
    "required": ["converted_value"],
}
WEATHER = {
    "type": "object",
    "properties": {
        "location": {"type": "string"},
        "temperature_c": {"type": "number"},
        "periods": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "forecast": {"type": "string"}},
                "required": ["name", "forecast"],
            },
        },
    },
    "required": ["location", "temperature_c", "periods"],
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("catalog") / "gt.db")
    import_entries(store, read_catalog(EXAMPLE))
    return store


def annotated(store: Store, ref: str, tool_class: str, output_schema: dict) -> Tool:
    tool = store.get_tool(ref)
    assert tool is not None, ref
    return tool.model_copy(update={"tool_class": tool_class, "output_schema": output_schema})


def offline_mock(tool: Tool) -> MockTool:
    return MockTool(
        tool=tool, key=mock_key(tool), status="accepted", code=render_mock(tool_view(tool)), teacher="offline"
    )


@pytest.fixture
async def pool():
    async with SandboxPool(workers=2) as started:
        yield started


def _without_enums(schema: dict) -> dict:
    props = {
        name: {k: v for k, v in sub.items() if k != "enum"} for name, sub in schema["properties"].items()
    }
    return schema | {"properties": props}


async def test_offline_computation_mocks_compute_real_answers(catalog, pool):
    tools = [
        annotated(catalog, f"计算器(Calc MCP)/{name}", "computation", NUMBER)
        for name in ("add", "divide", "power", "sqrt", "evaluate_expression")
    ]
    tools += [
        annotated(catalog, f"Cooking Units Converter/{name}", "computation", CONVERTED)
        for name in ("convert_volume", "convert_temperature")
    ]
    runtime = MockRuntime(pool)
    runtime.add([offline_mock(t) for t in tools])
    assert await runtime.call("add", {"a": 2, "b": 3.5}) == {"result": 5.5}
    assert await runtime.call("power", {"base": 2, "exponent": 10}) == {"result": 1024}
    assert await runtime.call("sqrt", {"value": 2.25}) == {"result": 1.5}
    assert await runtime.call("evaluate_expression", {"expression": "2 * (3 + 4) ^ 2 - -1"}) == {"result": 99}
    volume = await runtime.call("convert_volume", {"value": 2, "from_unit": "cup", "to_unit": "ml"})
    assert volume["converted_value"] == pytest.approx(473.176473)
    assert volume["to_unit"] == "ml"  # an output named like an argument repeats it
    hot = await runtime.call("convert_temperature", {"value": 100, "from_unit": "C", "to_unit": "F"})
    assert hot["converted_value"] == 212
    with pytest.raises(MockArgumentsError, match="argument 'b' must not be zero"):
        await runtime.call("divide", {"a": 1, "b": 0})
    with pytest.raises(MockArgumentsError, match="square root of a negative number"):
        await runtime.call("sqrt", {"value": -4})
    parsec = {"value": 1, "from_unit": "parsec", "to_unit": "ml"}
    with pytest.raises(MockArgumentsError, match=r"'parsec' is not one of \['ml', 'l', 'cup'"):
        await runtime.call("convert_volume", parsec)  # the input schema's enum, checked before the sandbox
    with pytest.raises(MockArgumentsError, match="argument 'from_unit' must be one of"):
        await runtime.call("convert_volume", parsec, validate_arguments=False)  # the mock's own check
    free = tools[-2].model_copy(
        update={"name": "convert_any", "input_schema": _without_enums(tools[-2].input_schema)}
    )
    runtime.add([offline_mock(free)])
    assert (await runtime.call("convert_any", {"value": 3, "from_unit": "ft", "to_unit": "cm"}))[
        "converted_value"
    ] == pytest.approx(91.44)
    with pytest.raises(MockArgumentsError, match=r"unknown unit 'parsec'; known units: acre, b, cl, cm"):
        await runtime.call("convert_any", parsec)
    with pytest.raises(MockArgumentsError, match=r"cannot convert length \(ft\) to volume \(ml\)"):
        await runtime.call("convert_any", {"value": 3, "from_unit": "ft", "to_unit": "ml"})
    with pytest.raises(MockArgumentsError, match=r"invalid arguments for .*/add: 'b' is a required property"):
        await runtime.call("add", {"a": 1})


async def test_offline_query_mock_validates_arguments_and_rebuilds_nested_output(catalog, pool):
    tool = annotated(catalog, "United States Weather/get_weather_forecast", "query", WEATHER)
    mock = offline_mock(tool)
    assert "call_external_api(TOOL, **arguments)" in mock.code
    await check_mock(mock.code, tool, pool)
    runtime = MockRuntime(pool)
    runtime.add([mock])
    output = await runtime.call("get_weather_forecast", {"location": "Denver", "days": 3}, conversation="a")
    assert output["location"] == "Denver" and len(output["periods"]) == 3  # days=3: three periods
    assert (
        await runtime.call("get_weather_forecast", {"location": "Denver", "days": 3}, conversation="a")
        == output
    )
    with pytest.raises(MockArgumentsError, match="missing required argument 'location' \\(string\\)"):
        await runtime.call("get_weather_forecast", {}, validate_arguments=False)
    with pytest.raises(MockArgumentsError, match="argument 'location' must be string, got integer 5"):
        await runtime.call("get_weather_forecast", {"location": 5}, validate_arguments=False)


HOSTILE = "import os\ndef main(**arguments):\n    return os.environ"
LAX = """
def main(**arguments):
    flat = call_external_api("get_weather_forecast", **arguments)
    return {"location": flat["location"], "temperature_c": flat["temperature_c"],
            "periods": [{"name": flat["period_0_name"], "forecast": flat["period_0_forecast"]}]}
"""
GOOD = """
def main(**arguments):
    if not isinstance(arguments.get("location"), str):
        raise ValueError("location is required and must be a string")
    flat = call_external_api("get_weather_forecast", **arguments)
    return {"location": flat["location"], "temperature_c": flat["temperature_c"],
            "periods": [{"name": flat[f"period_{i}_name"], "forecast": flat[f"period_{i}_forecast"]} for i in (0, 1)]}
"""


def _reply(code: str) -> str:
    return json.dumps({"code": f"```python\n{code}\n```"})


async def test_build_feeds_each_failure_back_to_the_teacher(catalog, pool, tmp_path):
    tool = annotated(catalog, "United States Weather/get_weather_forecast", "query", WEATHER)
    backend = ScriptedBackend([_reply(HOSTILE), _reply(LAX), _reply(GOOD)])
    llm = LLM(backend, Store(tmp_path / "gt.db"))
    mock = await build_mock(tool, llm, pool, attempts=3)
    assert (mock.status, mock.attempts, mock.teacher) == ("accepted", 3, "scripted/scripted")
    assert mock.code.startswith("def main") and "```" not in mock.code
    second, third = (r["messages"][0]["content"] for r in backend.requests[1:])
    assert "import of 'os'" in second
    assert "accepted a call without its required arguments (location)" in third
    assert "import of 'os'" in third  # every earlier attempt stays in the prompt


async def test_a_tool_whose_mocks_keep_failing_is_recorded_unmockable_and_not_rebuilt(
    catalog, pool, tmp_path
):
    tool = annotated(catalog, "United States Weather/get_weather_forecast", "query", WEATHER)
    store = Store(tmp_path / "gt.db")
    store.upsert_tools([tool])
    store.update_tool(tool)
    llm = LLM(ScriptedBackend([_reply(HOSTILE), _reply(LAX)]), store)
    report = await build_mocks(store, llm, pool, attempts=2)
    assert list(report.unmockable) == [tool.ref]
    assert "accepted a call without its required arguments" in report.unmockable[tool.ref]
    stored = store.get_mock(tool.id, mock_key(tool))
    assert stored is not None and (stored.status, stored.attempts) == ("unmockable", 2)
    again = await build_mocks(store, llm, pool)  # nothing left in the script: a rebuild would fail
    assert again.cached == 1 and not again.failed
    assert read_mock_folder(tmp_path / "mock_tools") == []


async def test_computation_and_query_mocks_keep_to_their_class(catalog, pool):
    add = annotated(catalog, "计算器(Calc MCP)/add", "computation", NUMBER)
    with pytest.raises(MockError, match="computation mock must compute"):
        await check_mock("def main(**a):\n    return call_external_api('add', **a)", add, pool)
    weather = annotated(catalog, "United States Weather/get_weather_forecast", "query", WEATHER)
    with pytest.raises(MockError, match="mocks of query tools must get their values from call_external_api"):
        await check_mock("def main(**a):\n    return {}", weather, pool)
    with pytest.raises(MockError, match="breaks its output schema: 'periods' is a required property"):
        await check_mock(LAX.replace('"periods": [', '"periodz": ['), weather, pool)


async def test_build_over_the_annotated_example_catalog(tmp_path, pool):
    store = Store(tmp_path / "gt.db")
    import_entries(store, read_catalog(EXAMPLE))
    llm = LLM(OfflineBackend(), store)
    await annotate_tools(store, llm)
    report = await build_mocks(store, llm, pool)
    assert report.skipped == {} and report.failed == {}
    assert len(report.accepted) + len(report.unmockable) == 98
    assert len(report.accepted) >= 0.9 * 98, report.unmockable
    on_disk = read_mock_folder(tmp_path / "mock_tools")
    assert sorted(m.tool.ref for m in on_disk) == sorted(report.accepted)
    assert {m.id: m.code for m in on_disk} == {m.id: m.code for m in store.mocks(status="accepted")}
    rerun = await build_mocks(store, llm, pool)
    assert (rerun.cached, rerun.accepted) == (98, [])


def test_mock_folder_paths_are_unique_and_stale_files_go(tmp_path):
    base = {"input_schema": {"type": "object"}, "source": "t", "output_schema": NUMBER, "tool_class": "query"}
    tools = [
        Tool(server_id="a1", server_name="计算器(Calc MCP)", name="add", **base),
        Tool(server_id="b2", server_name="Calc MCP", name="add", **base),
        Tool(server_id="b2", server_name="Calc MCP", name="book hotel!", **base),
    ]
    mocks = [
        MockTool(tool=t, key="k", status="accepted", code="def main(**a):\n    return 1\n", teacher="t")
        for t in tools
    ]
    assert sorted(mock_paths(mocks).values()) == [
        "calc_mcp/add.py",
        "calc_mcp_b2/add.py",
        "calc_mcp_b2/book_hotel.py",
    ]
    write_mock_folder(mocks, tmp_path)
    assert read_mock_folder(tmp_path) == mocks
    write_mock_folder(mocks[:1], tmp_path)
    assert not (tmp_path / "calc_mcp_b2").exists()  # the stale server folder went with its files
    assert sorted(p.name for p in tmp_path.rglob("*.py")) == ["add.py"]
    (tmp_path / "calc_mcp" / "add.py").unlink()
    with pytest.raises(MockError, match=r"lists calc_mcp/add\.py but it cannot be read"):
        read_mock_folder(tmp_path)


async def test_bundled_mocks_cover_the_example_catalog_and_pass_their_checks(catalog, pool):
    bundled = read_mock_folder(bundled_mock_folder())
    by_name = {(m.tool.server_name, m.tool.name): m for m in bundled}
    tools = catalog.tools()
    assert len(tools) == 98
    covered = [t for t in tools if (t.server_name, t.name) in by_name]
    assert len(covered) >= 0.9 * len(tools)
    for tool in covered:
        assert by_name[tool.server_name, tool.name].tool.input_schema == tool.input_schema
    for mock in bundled:
        await check_mock(mock.code, mock.tool, pool)


def test_the_bundled_mock_folder_is_what_a_fresh_build_writes(tmp_path):
    """mock_tools/ must be regenerated when the generator changes: replay (eval, serve-mocks) runs the
    bundled mocks against conversations made with freshly built ones."""
    from typer.testing import CliRunner

    from graph_toucan.cli import app

    runner = CliRunner()
    workspace, out = tmp_path / "ws", tmp_path / "mock_tools"
    for args in (["import"], ["annotate"], ["mock", "build", "--out", str(out)]):
        result = runner.invoke(app, ["--workspace", str(workspace), *args])
        assert result.exit_code == 0, result.output
    bundled = bundled_mock_folder()
    fresh = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    shipped = {p.relative_to(bundled): p.read_bytes() for p in bundled.rglob("*") if p.is_file()}
    stale = sorted(str(k) for k in fresh.keys() | shipped.keys() if fresh.get(k) != shipped.get(k))
    assert not stale, (
        f"mock_tools/ differs from a fresh build in {stale[:5]}; regenerate it with the command in the README"
    )
