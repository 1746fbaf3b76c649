"""Tool annotation on the bundled example catalog: three tags, a class and an output schema per tool,
offline and with a scripted teacher; echo fields dropped; schemas inferred from probe examples;
resumable reruns; invalid teacher answers retried, then reported."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from graph_toucan.annotate import (
    OUTPUT_SCHEMA,
    TOOL_CLASS,
    annotate_tools,
    drop_echoes,
    needs_annotation,
    offline_class,
    schema_inputs,
)
from graph_toucan.catalog import import_entries, read_catalog
from graph_toucan.errors import StageFailed
from graph_toucan.fields import name_tokens
from graph_toucan.llm import LLM, OfflineBackend, ScriptedBackend
from graph_toucan.output_design import design_schema
from graph_toucan.records import Tool, ToolExample
from graph_toucan.schema import check_schema, leaf_fields
from graph_toucan.store import Store
from tests.conftest import EXAMPLE

CALC_FILE = EXAMPLE / "0765.@mzdz_calc-mcp-server_labeled.json"
CALC = "计算器(Calc MCP)"


def fresh_store(path: Path) -> Store:
    store = Store(path / "gt.db")
    import_entries(store, read_catalog(EXAMPLE))
    return store


@pytest.fixture(scope="module")
def annotated(tmp_path_factory) -> tuple[Store, dict]:
    """The example catalog annotated offline once for the module, with the report of that run."""
    store = fresh_store(tmp_path_factory.mktemp("annotated"))
    steps: list[int] = []
    report = asyncio.run(annotate_tools(store, LLM(OfflineBackend(), store), progress=steps.append))
    yield store, {"report": report, "steps": steps}
    store.close()


@pytest.fixture
def store(tmp_path):
    db = fresh_store(tmp_path)
    yield db
    db.close()


def tool_named(store: Store, ref: str) -> Tool:
    tool = store.get_tool(ref)
    assert tool is not None, ref
    return tool


def input_names(tool: Tool) -> set[tuple[str, ...]]:
    return {name_tokens(n) for n in (tool.input_schema.get("properties") or {})}


# -- the whole example catalog, offline -------------------------------------------------------------


def test_every_example_tool_gets_three_tags_a_class_and_an_object_schema(annotated):
    store, run = annotated
    report = run["report"]
    tools = store.tools()
    assert len(tools) == 98
    assert (report.tools, report.annotated, report.already, report.failed) == (98, 98, 0, [])
    assert report.from_examples == 0
    assert sum(run["steps"]) == 98  # the progress callback saw every tool once
    for tool in tools:
        assert not needs_annotation(tool), tool.ref
        assert len(tool.tags) == 3 and len(set(tool.tags)) == 3, (tool.ref, tool.tags)
        assert all(t == t.strip().lower() and 1 <= len(t.split()) <= 3 for t in tool.tags), tool.tags
        assert tool.tool_class in ("computation", "query", "action")
        schema = tool.output_schema
        assert schema["type"] == "object" and schema["properties"], tool.ref
        check_schema(schema)
        assert set(schema.get("required", [])) <= set(schema["properties"]), tool.ref
        assert leaf_fields(schema), tool.ref


def test_offline_annotation_is_deterministic(annotated, tmp_path):
    store, _ = annotated
    other = fresh_store(tmp_path)
    asyncio.run(annotate_tools(other, LLM(OfflineBackend(), other)))
    first = {t.id: (t.tags, t.tool_class, t.output_schema) for t in store.tools()}
    second = {t.id: (t.tags, t.tool_class, t.output_schema) for t in other.tools()}
    assert first == second
    other.close()


# Hand-checked against docs/method.md section 2: computation uses no outside information, query reads an
# outside source and changes nothing, action changes outside state.
HAND_CHECKED_CLASSES = {
    f"{CALC}/add": "computation",
    f"{CALC}/sqrt": "computation",
    f"{CALC}/evaluate_expression": "computation",
    "Cooking Units Converter/convert_temperature": "computation",
    "Cooking Units Converter/convert_weight": "computation",
    "Terminal Controller/write_file": "action",
    "Terminal Controller/execute_command": "action",
    "Terminal Controller/read_file": "query",
    "Terminal Controller/list_directory": "query",
    "Hotel Booking Server/book-hotel": "action",
    "Hotel Booking Server/search-hotels": "query",
    "United States Weather/get_current_weather": "query",
    "Weather/get-forecast": "query",
    "FrankfurterMCP/convert_currency_latest": "query",  # live exchange rates: an outside source
    "CoinGecko MCP Server/coingecko_price": "query",
    "Markdown Downloader/download_markdown": "action",  # saves a file
    "Markdown Downloader/set_download_directory": "action",
    # "Get the current download directory": reads a setting, changes nothing.
    "Markdown Downloader/get_download_directory": "query",
    # Polygon area and distance from given coordinates: pure geometry, no outside source.
    "ZealGeo Spatial Processing Server/mcp_geo_calculate_area": "computation",
    "ZealGeo Spatial Processing Server/mcp_geo_calculate_distance": "computation",
    # Converts coordinates between reference systems (BD09, GCJ02, WGS84): a unit conversion.
    "ZealGeo Spatial Processing Server/mcp_geo_convert": "computation",
}


@pytest.mark.parametrize("ref", sorted(HAND_CHECKED_CLASSES))
def test_hand_checked_classes(annotated, ref):
    store, _ = annotated
    tool = tool_named(store, ref)
    assert tool.tool_class == HAND_CHECKED_CLASSES[ref], (ref, tool.description[:120])


def test_offline_class_uses_the_read_only_hint_and_numeric_inputs():
    def cls(name, description="", props=None, read_only=None):
        tool = {"name": name, "description": description, "read_only": read_only}
        tool["input_schema"] = {"type": "object", "properties": props or {}}
        return offline_class({"tool": tool}).tool_class

    assert cls("delete_note", "Delete a note", {"note_id": {"type": "string"}}) == "action"
    # The server says the tool changes nothing: an action verb alone does not make it an action.
    assert cls("open_preview", "Open a preview", {"id": {"type": "string"}}, read_only=True) == "query"
    # A math verb over numbers is computation even when the description mentions a price.
    numbers = {"a": {"type": "number"}, "b": {"type": "integer"}}
    assert cls("multiply", "Multiply two stock prices", numbers) == "computation"
    # The same verb over a live source is a query.
    assert (
        cls("convert_price", "Convert with the latest market rate", {"pair": {"type": "string"}}) == "query"
    )
    # Arithmetic words over numbers, or lists of them, compute; over anything else they store.
    assert cls("sum", "Sum the numbers", {"numbers": {"type": "array", "items": {"type": "number"}}}) == (
        "computation"
    )
    assert cls("add_note", "Add a new note", {"content": {"type": "string"}}) == "action"
    assert cls(
        "add_heading", "Add a heading", {"filename": {"type": "string"}, "level": {"type": "integer"}}
    ) == ("action")
    # Other compute words over text compute, unless the tool reads what it counts.
    assert cls("count_words", "Count the words of a text", {"text": {"type": "string"}}) == "computation"
    assert (
        cls("get_chunk_count", "Get the number of chunks of a file", {"path": {"type": "string"}}) == "query"
    )


# The offline output schema describes what the tool returns: its object, not the filter it is
# called with, and a search returns a list of items with ids that later tools can ask for.
SCHEMA_CASES = [
    ("Hotel Booking Server/search-hotels", {"hotels[].hotel_id", "hotels[].name"}, set()),
    ("Hotel Booking Server/find-place", {"places[].latitude", "places[].longitude"}, set()),
    ("CoinGecko MCP Server/coingecko_list", {"coins[].coin_id", "coins[].symbol"}, set()),
    ("United States Weather/get_current_weather", {"temperature", "conditions"}, {"location"}),
    ("WhereAmI/get_location", {"latitude", "longitude", "city"}, set()),
    ("Terminal Controller/execute_command", {"stdout", "exit_code"}, {"command"}),
    # "Find articles by location": the articles, not a location.
    ("Google News and Trends/get_news_by_location", {"title", "url"}, {"latitude", "longitude"}),
    # "Get weather information for a specified city between start and end dates".
    ("Weather MCP Server/get_weather_by_datetime_range", {"temperature"}, set()),
]


def test_a_create_returns_what_its_name_makes_and_a_count_returns_a_number():
    """ "add_note: Adds a note to the task" makes a note, not a task; counting words (whose
    description mentions C:\\Users) gives a count, not a list of users."""

    def fields(name, description, tool_class, props=None):
        schema = {"type": "object", "properties": props or {"text": {"type": "string"}}}
        return set(design_schema(name, description, schema, tool_class)["properties"])

    assert fields("add_note", "Adds a note to the task.", "action") == {"note_id", "status"}
    assert fields("count_words", "Counts the words of a file under C:\\Users\\...", "computation") == {
        "count"
    }
    assert fields("get_transaction_count", "Get the transaction count of a wallet", "query") == {"count"}


@pytest.mark.parametrize(
    ("ref", "must_have", "must_not_have"), SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES]
)
def test_offline_output_schema_describes_the_result(annotated, ref, must_have, must_not_have):
    store, _ = annotated
    tool = tool_named(store, ref)
    leaves = {f.path for f in leaf_fields(tool.output_schema)}
    bare = {p.rsplit(".", 1)[-1].replace("[]", "") for p in leaves}
    for wanted in must_have:
        assert wanted in (leaves if "[]" in wanted else bare), (ref, sorted(leaves))
    assert not (must_not_have & bare), (ref, sorted(leaves))


def test_search_tools_return_items_with_ids(annotated):
    """A search or list tool returns records with an id, so that a details tool can be called next
    (e.g. airbnb_search -> airbnb_listing_details(id))."""
    store, _ = annotated
    missing = []
    for ref in (
        "Hotel Booking Server/search-hotels",
        "CoinGecko MCP Server/coingecko_list",
        "Airbnb Search and Listing Server/airbnb_search",
    ):
        leaves = [f.path for f in leaf_fields(tool_named(store, ref).output_schema)]
        if not any("[]." in p and p.endswith("_id") for p in leaves):
            missing.append((ref, leaves))
    assert not missing, missing


# -- echo fields ------------------------------------------------------------------------------------


def test_no_output_field_repeats_an_input_of_the_same_name(annotated):
    store, _ = annotated
    echoes = {}
    for tool in store.tools():
        props = tool.output_schema["properties"]
        same = [p for p in props if name_tokens(p) in input_names(tool)]
        # drop_echoes keeps a schema whole when every field would go; that never happens here.
        assert len(same) < len(props), tool.ref
        if same:
            echoes[tool.ref] = same
    assert echoes == {}


def test_drop_echoes_matches_names_by_tokens_and_cleans_required():
    inputs = {"type": "object", "properties": {"hotelId": {"type": "string"}, "query": {"type": "string"}}}
    schema = {
        "type": "object",
        "properties": {
            "hotel_id": {"type": "string"},
            "Query": {"type": "string"},
            "price": {"type": "number"},
        },
        "required": ["hotel_id", "price"],
    }
    kept, dropped = drop_echoes(schema, inputs)
    # the hotel id passes through (a later call needs it); the restated query goes
    assert sorted(dropped) == ["Query"]
    assert kept["properties"] == {"hotel_id": {"type": "string"}, "price": {"type": "number"}}
    assert kept["required"] == ["hotel_id", "price"]
    assert schema["properties"].keys() == {"hotel_id", "Query", "price"}  # the input is not mutated
    # Nothing but echoes: the schema is kept whole rather than left empty.
    only = {"type": "object", "properties": {"hotel_id": {"type": "string"}}}
    assert drop_echoes(only, inputs) == (only, [])
    # No inputs at all: nothing to drop.
    assert drop_echoes(schema, {}) == (schema, [])


# -- output schema from probe examples --------------------------------------------------------------

OBSERVATION = {
    "location": "40.7128,-74.0060",
    "station": {"id": "KNYC", "name": "Central Park"},
    "temperature": {"value": 21.5, "unit": "C"},
    "conditions": "Partly Cloudy",
    "humidity": 54,
    "observed_at": "2025-06-01T12:51:00Z",
}


async def test_output_schema_follows_real_examples_and_drops_echoes(store):
    tool = tool_named(store, "United States Weather/get_current_weather")
    second = {k: v for k, v in OBSERVATION.items() if k != "humidity"} | {
        "wind": {"speed": 12.0, "direction": "NW"}
    }
    store.add_example(
        ToolExample(
            tool_id=tool.id, arguments={"location": "40.7128,-74.0060"}, result=json.dumps(OBSERVATION)
        )
    )
    store.add_example(
        ToolExample(tool_id=tool.id, arguments={"location": "34.05,-118.24"}, structured=second)
    )
    store.add_example(
        ToolExample(tool_id=tool.id, arguments={"location": "x"}, result="Error: bad location", is_error=True)
    )

    report = await annotate_tools(store, LLM(OfflineBackend(), store), tools=[tool])

    assert (report.annotated, report.from_examples, report.echoes_dropped) == (1, 1, 1)
    schema = tool_named(store, tool.ref).output_schema
    check_schema(schema)
    props = schema["properties"]
    # genson's structure of the two results, less the echoed "location" input
    assert set(props) == {"station", "temperature", "conditions", "humidity", "observed_at", "wind"}
    assert props["temperature"]["type"] == "object"
    assert props["temperature"]["properties"]["value"]["type"] == "number"
    assert props["temperature"]["properties"]["unit"]["type"] == "string"
    assert props["humidity"]["type"] == "integer"
    assert props["station"]["properties"].keys() == {"id", "name"}
    # fields present in only one example are optional; the error example added nothing
    assert set(schema["required"]) == {"station", "temperature", "conditions", "observed_at"}
    assert all(p.get("description") for p in props.values())
    assert {f.path for f in leaf_fields(schema)} >= {"station.id", "temperature.value", "wind.speed"}


async def test_list_results_are_wrapped_as_an_object(store):
    tool = tool_named(store, "CoinGecko MCP Server/coingecko_trending")
    coins = [{"id": "bitcoin", "symbol": "btc", "market_cap_rank": 1}, {"id": "pepe", "symbol": "pepe"}]
    store.add_example(ToolExample(tool_id=tool.id, arguments={}, result=json.dumps(coins)))
    inputs = schema_inputs(tool, "query", store.examples(tool.id))
    assert inputs["examples"][0]["result"] == coins  # JSON text is shown to the teacher as data
    await annotate_tools(store, LLM(OfflineBackend(), store), tools=[tool])
    schema = tool_named(store, tool.ref).output_schema
    assert schema["properties"]["result"]["type"] == "array"
    assert {f.path for f in leaf_fields(schema)} == {
        "result[].id",
        "result[].symbol",
        "result[].market_cap_rank",
    }


def test_schema_inputs_show_at_most_four_good_examples(store):
    tool = tool_named(store, "Time MCP Server/get_timestamp")
    for i in range(6):
        store.add_example(
            ToolExample(tool_id=tool.id, arguments={"time": f"2025-01-0{i + 1}"}, result=str(1735689600 + i))
        )
    shown = schema_inputs(tool, "computation", store.examples(tool.id))
    assert len(shown["examples"]) == 4
    assert shown["inferred_schema"]["properties"]["result"]["type"] == "integer"


# -- resumability -----------------------------------------------------------------------------------


async def test_rerun_annotates_nothing_and_a_changed_tool_is_annotated_again(store, tmp_path):
    offline = LLM(OfflineBackend(), store)
    first = await annotate_tools(store, offline)
    assert (first.annotated, first.already) == (98, 0)
    before = {t.id: t for t in store.tools()}

    again = await annotate_tools(store, LLM(OfflineBackend(), store))
    assert (again.tools, again.annotated, again.already, again.failed) == (98, 0, 98, [])

    # Re-import the calculator with a new description for `add`.
    changed_dir = tmp_path / "changed"
    changed_dir.mkdir()
    data = json.loads(CALC_FILE.read_text(encoding="utf-8"))
    for raw in data["metadata"]["remote_server_response"]["tools"]:
        if raw["name"] == "add":
            raw["description"] = "Add two numbers and return their sum."
    (changed_dir / CALC_FILE.name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    shutil.copy(EXAMPLE / "0967.@kukapay_whereami-mcp_labeled.json", changed_dir)
    counts = import_entries(store, read_catalog(changed_dir)).counts
    assert (counts.updated, counts.new) == (1, 0)

    add = tool_named(store, f"{CALC}/add")
    assert needs_annotation(add) and not add.tags and add.tool_class is None and add.output_schema is None
    assert not needs_annotation(tool_named(store, f"{CALC}/subtract"))  # unchanged tools keep theirs

    third = await annotate_tools(store, LLM(OfflineBackend(), store))
    assert (third.annotated, third.already) == (1, 97)
    add = tool_named(store, f"{CALC}/add")
    assert add.description == "Add two numbers and return their sum."
    assert add.tool_class == "computation" and len(add.tags) == 3
    assert {t.id: t for t in store.tools() if t.id != add.id} == {
        k: v for k, v in before.items() if k != add.id
    }


# -- a scripted teacher -----------------------------------------------------------------------------

TAGS = '{"tags": ["weather", "current conditions", "retrieval"]}'
CLASS = '{"tool_class": "query", "reason": "reads a weather service"}'
PARAMS = '{"classes": {"location": "user"}}'  # get_current_weather's one parameter
SCHEMA = json.dumps(
    {
        "output_schema": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The location asked for"},
                "temperature": {"type": "number", "description": "Air temperature in Celsius"},
                "conditions": {"type": "string", "description": "Sky and precipitation"},
            },
            "required": ["location", "temperature"],
        }
    }
)


def last_message(request: dict) -> str:
    return request["messages"][-1]["content"]


async def test_junk_class_answer_is_retried_with_feedback_and_accepted(store):
    tool = tool_named(store, "United States Weather/get_current_weather")
    backend = ScriptedBackend(
        [TAGS, "I think it is a query tool.", '{"tool_class": "lookup"}', CLASS, SCHEMA, PARAMS]
    )
    llm = LLM(backend, store, backoff_s=0)

    report = await annotate_tools(store, llm, tools=[tool])

    assert (report.annotated, report.failed, report.echoes_dropped) == (1, [], 1)
    annotated = tool_named(store, tool.ref)
    assert annotated.tags == ["weather", "current conditions", "retrieval"]
    assert annotated.tool_class == "query"
    # the teacher's "location" restates the input of the same name and is dropped
    assert set(annotated.output_schema["properties"]) == {"temperature", "conditions"}
    assert annotated.output_schema["required"] == ["temperature"]
    assert len(backend.requests) == 6  # tags, three for the class, schema, parameter classes
    assert "no JSON object" in last_message(backend.requests[2])
    assert "Input should be 'computation', 'query' or 'action'" in last_message(backend.requests[3])
    assert backend.requests[3]["messages"][-2] == {"role": "assistant", "content": '{"tool_class": "lookup"}'}


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
        {"type": "object", "properties": {}},
        {"type": "object", "properties": {"x": {"type": "strnig"}}},
    ],
    ids=["array", "no-properties", "invalid-type"],
)
async def test_invalid_output_schema_is_reported_and_retried_on_rerun(store, bad):
    tool = tool_named(store, "United States Weather/get_current_weather")
    junk = json.dumps({"output_schema": bad})
    backend = ScriptedBackend([TAGS, CLASS, junk, junk, junk])
    llm = LLM(backend, store, backoff_s=0)

    with pytest.raises(StageFailed) as caught:  # the only tool failed: the stage is an error
        await annotate_tools(store, llm, tools=[tool])

    reason = str(caught.value)
    assert "every one of the 1 tools" in reason and tool.ref in reason
    assert "output_schema" in reason and "never validated" in reason
    assert len(backend.requests) == 5  # one try for tags and class, three for the schema
    assert "Your answer could not be used" in last_message(backend.requests[3])
    left = tool_named(store, tool.ref)
    assert needs_annotation(left) and left.output_schema is None and not left.tags

    # A rerun asks again for the schema only (tags and class come from the call log).
    rerun_backend = ScriptedBackend([SCHEMA, PARAMS])
    rerun = await annotate_tools(store, LLM(rerun_backend, store, backoff_s=0), tools=[tool])
    assert (rerun.annotated, rerun.failed) == (1, [])
    assert len(rerun_backend.requests) == 2  # the output schema and the parameter classes
    assert "`get_current_weather`" in rerun_backend.requests[0]["messages"][0]["content"]
    done = tool_named(store, tool.ref)
    assert done.tool_class == "query" and set(done.output_schema["properties"]) == {
        "temperature",
        "conditions",
    }


async def test_a_failing_tool_does_not_stop_the_others(store):
    """Tools are annotated in one batch; the one whose answers never validate is reported, the
    others are written."""
    weather = tool_named(store, "United States Weather/get_current_weather")
    forecast = tool_named(store, "Weather/get-forecast")

    def answer(request):
        text = request["messages"][0]["content"]
        if "You label tools" in text:
            return TAGS
        if "You classify tools" in text:
            return CLASS
        if "who can supply its value" in text:
            schema = json.loads(text.split("Input schema:\n", 1)[1].split("\n\nFor every parameter", 1)[0])
            return json.dumps({"classes": dict.fromkeys(schema.get("properties") or {}, "user")})
        if "`get-forecast`" in text:
            return '{"output_schema": {"type": "string"}}'
        return SCHEMA

    backend = ScriptedBackend([answer] * 20)
    report = await annotate_tools(store, LLM(backend, store, backoff_s=0), tools=[weather, forecast])
    assert report.annotated == 1
    assert [ref for ref, _ in report.failed] == [forecast.ref]
    assert not needs_annotation(tool_named(store, weather.ref))
    assert needs_annotation(tool_named(store, forecast.ref))


def test_tasks_render_their_prompts(store):
    tool = tool_named(store, "Hotel Booking Server/book-hotel")
    prompt = TOOL_CLASS.render(
        {
            "tool": tool.model_dump(
                include={"name", "server_name", "category", "description", "input_schema", "read_only"}
            )
        }
    )
    assert "`book-hotel`" in prompt.user and '"tool_class"' in prompt.user
    prompt = OUTPUT_SCHEMA.render(schema_inputs(tool, "action", []))
    assert "class action" in prompt.user and '"output_schema"' in prompt.user
