"""The tool dependency graph on the bundled example catalog: hand-checked edges that must exist (with
their mapping) and pairs that must not; incremental rebuilds; bad input (empty, huge and cyclic
schemas, a judge whose answers do not validate); candidate pruning; the exports and statistics."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from graph_toucan.annotate import annotate_tools
from graph_toucan.catalog import import_entries, read_catalog
from graph_toucan.errors import GraphToucanError, StageFailed
from graph_toucan.fields import USER_SUPPLIED, name_tokens
from graph_toucan.graph import (
    BuildReport,
    build_graph,
    find_node,
    graph_path,
    graph_stats,
    judgement_key,
    load_graph,
    neighbourhood,
)
from graph_toucan.graph_export import export_graph
from graph_toucan.judge import Node, judge_nodes
from graph_toucan.llm import LLM, OfflineBackend, ScriptedBackend
from graph_toucan.pruning import DEFAULT_BUDGET, PruneConfig, candidates
from graph_toucan.records import Server, Tool
from graph_toucan.schema import leaf_fields
from graph_toucan.store import Store
from tests.conftest import EXAMPLE, FIXTURES

RESTAURANTS = FIXTURES / "graph" / "restaurant_tools.json"
CALC = "计算器(Calc MCP)"
WEATHER_SERVERS = ("United States Weather", "Weather", "Weather MCP Server")


@dataclass
class Built:
    store: Store
    graph: nx.DiGraph
    report: BuildReport
    ids: dict[str, str]  # ref -> tool id

    def edge(self, source: str, target: str) -> dict[str, Any] | None:
        a, b = self.ids[source], self.ids[target]
        return self.graph.edges[a, b] if self.graph.has_edge(a, b) else None

    def refs(self, server: str) -> list[str]:
        return [ref for ref in self.ids if ref.rsplit("/", 1)[0] == server]


def offline(store: Store) -> LLM:
    return LLM(OfflineBackend(), store)


def build_example(path: Path) -> Built:
    store = Store(path / "gt.db")
    import_entries(store, read_catalog(EXAMPLE))
    asyncio.run(annotate_tools(store, offline(store)))
    graph, report = asyncio.run(build_graph(store, offline(store)))
    return Built(store, graph, report, {t.ref: t.id for t in store.tools()})


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Built:
    built = build_example(tmp_path_factory.mktemp("example"))
    yield built
    built.store.close()


def pairs(edge: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m["output"], m["input"]) for m in edge["mapping"]}


def nodes_of(store: Store, graph: nx.DiGraph) -> list[Node]:
    """The judges' view of every node: its tool with the outputs left after filtering."""
    nodes = []
    for tool in store.tools():
        kept = set(graph.nodes[tool.id]["outputs"])
        nodes.append(Node.of(tool, [f for f in leaf_fields(tool.output_schema) if f.path in kept]))
    return nodes


# -- the example graph ------------------------------------------------------------------------------


def test_build_report_and_saved_graph(example):
    report, graph = example.report, example.graph
    assert (report.tools, report.nodes, report.not_annotated) == (98, 98, 0)
    assert graph.number_of_nodes() == 98
    assert report.all_pairs == 98 * 97
    assert 0 < report.candidate_pairs <= 30 * 98
    assert (report.judged, report.reused, report.failed, report.filter_failed) == (
        report.candidate_pairs,
        0,
        [],
        [],
    )
    assert sum(report.edges.values()) == graph.number_of_edges() > 100
    assert set(report.edges) <= {"full", "partial", "prerequisite"}
    assert report.outputs >= report.outputs_filtered >= 0
    saved = load_graph(example.store)
    assert graph_path(example.store).name == "graph.json"
    assert sorted(saved.nodes) == sorted(graph.nodes)
    assert {(a, b): d for a, b, d in saved.edges(data=True)} == {
        (a, b): d for a, b, d in graph.edges(data=True)
    }
    attrs = saved.nodes[example.ids["Hotel Booking Server/search-hotels"]]
    assert attrs["ref"] == "Hotel Booking Server/search-hotels" and attrs["tool_class"] == "query"
    assert attrs["server"] == "Hotel Booking Server" and len(attrs["tags"]) == 3
    assert "hotels[].hotel_id" in attrs["outputs"] and attrs["input_schema"]["required"] == [
        "latitude",
        "longitude",
    ]


MUST_EXIST = [
    (
        "Hotel Booking Server/find-place",
        "Hotel Booking Server/search-hotels",
        "full",
        {("places[].latitude", "latitude"), ("places[].longitude", "longitude")},
    ),
    (  # the search returns the session_id its description names, so it fills every required input
        "Hotel Booking Server/search-hotels",
        "Hotel Booking Server/get-hotel-details",
        "full",
        {("session_id", "session_id"), ("hotels[].hotel_id", "hotel_id")},
    ),
    (  # rate_id must come from elsewhere
        "Hotel Booking Server/search-hotels",
        "Hotel Booking Server/book-hotel",
        "partial",
        {("session_id", "session_id"), ("hotels[].hotel_id", "hotel_id")},
    ),
    (
        "CoinGecko MCP Server/coingecko_list",
        "CoinGecko MCP Server/coingecko_coin_data",
        "full",
        {("coins[].coin_id", "id")},
    ),
    (
        "CoinGecko MCP Server/coingecko_trending",
        "CoinGecko MCP Server/coingecko_coin_data",
        "full",
        {("coins[].coin_id", "id")},
    ),
    (
        "WhereAmI/get_location",
        "Weather/get-forecast",
        "full",
        {("latitude", "latitude"), ("longitude", "longitude")},
    ),
    ("WhereAmI/get_location", "Weather MCP Server/get_current_weather", "full", {("city", "city")}),
    (
        "United States Weather/find_weather_stations",
        "Weather/get-forecast",
        "full",
        {("stations[].latitude", "latitude"), ("stations[].longitude", "longitude")},
    ),
    (
        "Markdown Downloader/list_downloaded_files",
        "Terminal Controller/read_file",
        "full",
        {("files[].file_path", "path")},
    ),
    (
        "Terminal Controller/list_directory",
        "Terminal Controller/change_directory",
        "full",
        {("dirs[].dir_path", "path")},
    ),
    (
        "Terminal Controller/get_current_directory",
        "Terminal Controller/list_directory",
        "full",
        {("dir_path", "path")},
    ),
    (
        "Terminal Controller/get_command_history",
        "Terminal Controller/execute_command",
        "full",
        {("histories[].command", "command")},
    ),
    # "*[]." stands for a list of search results, whatever the list is called
    ("Exa Search/web_search_exa", "Exa Search/crawling_exa", "full", {("*[].url", "url")}),
    (
        "DuckDuckGo Search Plugin/duckduckgo_web_search",
        "DuckDuckGo Search Plugin/duckduckgo_get_details",
        "full",
        {("*[].url", "url")},
    ),
    (  # the url comes from the user
        "Wayback Machine Server/get_snapshots",
        "Wayback Machine Server/get_archived_page",
        "partial",
        {("snapshots[].timestamp", "timestamp")},
    ),
]


@pytest.mark.parametrize(
    ("source", "target", "kind", "mapping"), MUST_EXIST, ids=[f"{s} -> {t}" for s, t, _, _ in MUST_EXIST]
)
def test_edges_that_must_exist(example, source, target, kind, mapping):
    edge = example.edge(source, target)
    assert edge is not None, f"no edge {source} -> {target}"
    assert edge["type"] == kind, edge
    assert _matches(pairs(edge), mapping), edge
    assert edge["reason"]


def _matches(actual: set[tuple[str, str]], expected: set[tuple[str, str]]) -> bool:
    """Equal mappings, where an expected output ``*[].url`` matches any list item's ``url``."""
    if len(actual) != len(expected):
        return False
    left = set(actual)
    for output, param in expected:
        hit = next(
            (
                a
                for a in left
                if a[1] == param
                and (a[0] == output or (output.startswith("*") and a[0].endswith(output[1:])))
            ),
            None,
        )
        if hit is None:
            return False
        left.remove(hit)
    return True


def test_search_results_feed_the_details_tool(example):
    """airbnb_search returns listings; airbnb_listing_details(id) takes one of their ids."""
    edge = example.edge(
        "Airbnb Search and Listing Server/airbnb_search",
        "Airbnb Search and Listing Server/airbnb_listing_details",
    )
    assert edge is not None, example.graph.nodes[
        example.ids["Airbnb Search and Listing Server/airbnb_search"]
    ]["outputs"]
    assert any(i == "id" and "[]." in o and name_tokens(o)[-1] == "id" for o, i in pairs(edge)), edge


def test_pairs_that_must_not_exist(example):
    graph = example.graph
    assert list(nx.selfloop_edges(graph)) == []
    forbidden = []
    weather = [r for s in WEATHER_SERVERS for r in example.refs(s)]
    calculator = example.refs(CALC)
    geo = example.refs("ZealGeo Spatial Processing Server")
    converters = example.refs("Cooking Units Converter")
    assert len(weather) == 11 and len(calculator) == 7 and len(geo) == 3 and len(converters) == 3
    forbidden += list(itertools.product(weather, calculator)) + list(itertools.product(calculator, weather))
    forbidden += list(itertools.product(converters, geo))  # 'unit' of a temperature is no area unit
    forbidden += [
        # get-hotel-details(hotel_id) restates the hotel_id it was given: no edge to book-hotel(hotel_id)
        ("Hotel Booking Server/get-hotel-details", "Hotel Booking Server/book-hotel"),
        # coingecko_coin_data(id) returns the coin id it was given
        ("CoinGecko MCP Server/coingecko_coin_data", "CoinGecko MCP Server/coingecko_price"),
        ("Exa Search/crawling_exa", "Exa Search/crawling_exa"),
    ]
    found = [(a, b, example.edge(a, b)) for a, b in forbidden if example.edge(a, b) is not None]
    assert found == []


def test_news_articles_do_not_feed_coordinates(example):
    """get_news_by_location returns articles about a place, not the place's coordinates."""
    found = [
        (target, example.edge("Google News and Trends/get_news_by_location", target))
        for target in ("Weather/get-forecast", "Hotel Booking Server/search-hotels")
        if example.edge("Google News and Trends/get_news_by_location", target) is not None
    ]
    assert found == []


def test_outputs_restating_an_input_feed_nothing(example):
    """docs/method.md section 3: an output meaning the same as one of the tool's own inputs is filtered out, so
    read_file(path) -> {file_path} does not feed write_file(path)."""
    echoes = [
        ("Terminal Controller/read_file", "Terminal Controller/update_file_content"),
        ("Terminal Controller/read_file", "Terminal Controller/write_file"),
        ("Terminal Controller/write_file", "Terminal Controller/read_file"),
        ("Terminal Controller/change_directory", "Terminal Controller/list_directory"),
        ("Markdown Downloader/set_download_directory", "Terminal Controller/change_directory"),
    ]
    found = [(a, b, pairs(example.edge(a, b))) for a, b in echoes if example.edge(a, b) is not None]
    assert found == []


def test_no_mapping_uses_an_output_named_like_an_own_input(example):
    graph = example.graph
    for a, b, data in graph.edges(data=True):
        own = {name_tokens(n) for n in graph.nodes[a]["input_schema"].get("properties") or {}}
        for m in data["mapping"]:
            leaf = m["output"].replace("[]", "").rsplit(".", 1)[-1]
            assert name_tokens(leaf) not in own, (graph.nodes[a]["ref"], graph.nodes[b]["ref"], m)


def test_every_edge_is_consistent_with_its_type_and_fields(example):
    graph = example.graph
    for a, b, data in graph.edges(data=True):
        where = (graph.nodes[a]["ref"], graph.nodes[b]["ref"], data)
        assert a != b
        target_schema = graph.nodes[b]["input_schema"]
        params = set(target_schema.get("properties") or {})
        assert data["type"] in ("full", "partial", "prerequisite"), where
        outputs = [m["output"] for m in data["mapping"]]
        inputs = [m["input"] for m in data["mapping"]]
        assert set(outputs) <= set(graph.nodes[a]["outputs"]), where
        assert set(inputs) <= params and len(set(inputs)) == len(inputs), where
        stated = {p for p in target_schema.get("required") or [] if not set(name_tokens(p)) <= USER_SUPPLIED}
        if data["type"] == "full":
            assert inputs and stated <= set(inputs), where
        elif data["type"] == "partial":
            assert inputs and not stated <= set(inputs), where
        else:
            assert inputs == [], where


# -- incremental rebuild ----------------------------------------------------------------------------


@dataclass
class Grown:
    built: Built
    before: set[str]
    second: BuildReport
    third: BuildReport
    judge_calls: int
    new_ids: set[str]


@pytest.fixture(scope="module")
def grown(tmp_path_factory) -> Grown:
    built = build_example(tmp_path_factory.mktemp("grown"))
    store = built.store
    before = set(store.judgements())
    counts = import_entries(store, read_catalog(RESTAURANTS)).counts
    assert (counts.new, counts.updated) == (3, 0)
    assert asyncio.run(annotate_tools(store, offline(store))).annotated == 3
    llm = offline(store)
    graph, second = asyncio.run(build_graph(store, llm))
    _, third = asyncio.run(build_graph(store, offline(store)))
    built = Built(store, graph, second, {t.ref: t.id for t in store.tools()})
    new_ids = {t.id for t in store.tools(server="restaurant")}
    yield Grown(built, before, second, third, llm.stats.by_task.get("edge_judge", 0), new_ids)
    store.close()


def test_rebuild_after_adding_tools_judges_only_new_pairs(grown):
    report = grown.second
    assert len(grown.new_ids) == 3 and report.nodes == 101
    stored = grown.built.store.judgements()
    fresh = set(stored) - grown.before
    assert report.judged == len(fresh) == grown.judge_calls > 0
    assert all(stored[k].source_id in grown.new_ids or stored[k].target_id in grown.new_ids for k in fresh)
    assert report.reused == report.candidate_pairs - report.judged > 0
    assert report.reused <= len(grown.before)
    # Nothing new the third time.
    assert (grown.third.judged, grown.third.reused) == (0, grown.third.candidate_pairs)
    assert grown.third.edges == report.edges


def test_new_tools_join_the_graph(grown):
    built = grown.built
    edge = built.edge("Hotel Booking Server/find-place", "restaurant/search_restaurants")
    assert edge is not None and edge["type"] == "full"
    assert pairs(edge) == {("places[].latitude", "latitude"), ("places[].longitude", "longitude")}
    # the example's own edges are unchanged
    assert pairs(
        built.edge("CoinGecko MCP Server/coingecko_list", "CoinGecko MCP Server/coingecko_coin_data")
    ) == {("coins[].coin_id", "id")}


def test_found_restaurants_feed_their_details_and_booking(grown):
    """search_restaurants returns restaurants with their ids; get_restaurant_details and book_table
    take a restaurant_id."""
    built = grown.built
    outputs = built.graph.nodes[built.ids["restaurant/search_restaurants"]]["outputs"]
    for target in ("restaurant/get_restaurant_details", "restaurant/book_table"):
        edge = built.edge("restaurant/search_restaurants", target)
        assert edge is not None, (target, outputs)
        assert any(i == "restaurant_id" and o.endswith("restaurant_id") for o, i in pairs(edge)), edge


# -- bad input --------------------------------------------------------------------------------------


def small_store(path: Path, specs: list[dict[str, Any]], server_name: str = "Odd Tools") -> Store:
    """A workspace holding the given tools of one server (annotations may be given in ``specs``)."""
    store = Store(path / "gt.db")
    server = Server(name=server_name, qualified_name=f"@test/{server_name}", source="test")
    store.upsert_server(server)
    store.upsert_tools(
        Tool(server_id=server.id, server_name=server.name, source="test", **spec) for spec in specs
    )
    return store


LOCATE = {
    "name": "locate_city",
    "description": "Find the coordinates of a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "output_schema": {
        "type": "object",
        "properties": {"latitude": {"type": "number"}, "longitude": {"type": "number"}},
    },
    "tool_class": "query",
    "tags": ["maps", "coordinates", "search"],
}
FORECAST = {
    "name": "forecast_at",
    "description": "Weather forecast at a point.",
    "input_schema": {
        "type": "object",
        "properties": {
            "latitude": {"type": "number", "description": "Latitude"},
            "longitude": {"type": "number", "description": "Longitude"},
        },
        "required": ["latitude", "longitude"],
    },
    "output_schema": {"type": "object", "properties": {"temperature": {"type": "number"}}},
    "tool_class": "query",
    "tags": ["weather", "forecast", "retrieval"],
}


async def test_tools_with_empty_input_schemas(tmp_path):
    specs = [
        {"name": "ping", "description": "Check the service is up.", "input_schema": {}},
        {"name": "list_things", "description": "List all things.", "input_schema": {"type": "object"}},
        {
            "name": "get_status",
            "description": "Current status.",
            "input_schema": {"type": "object", "properties": {}},
        },
        LOCATE,
        FORECAST,
    ]
    store = small_store(tmp_path, specs)
    report = await annotate_tools(store, offline(store))
    # the two tools that came with tags, class and output schema still need their parameter classes
    assert (report.annotated, report.already, report.failed) == (5, 0, [])
    graph, built = await build_graph(store, offline(store))
    assert (built.nodes, built.failed, built.filter_failed) == (5, [], [])
    for name in ("ping", "list_things", "get_status"):
        node = find_node(graph, name)
        assert graph.in_degree(node) == 0
        assert graph.nodes[node]["output_schema"]["properties"]
    assert pairs(graph.edges[find_node(graph, "locate_city"), find_node(graph, "forecast_at")]) == {
        ("latitude", "latitude"),
        ("longitude", "longitude"),
    }
    store.close()


async def test_only_annotated_tools_are_nodes(tmp_path):
    bare = {"name": "lookup_city", "description": "Look up a city.", "input_schema": LOCATE["input_schema"]}
    store = small_store(tmp_path, [LOCATE, FORECAST, bare])
    seen: list[tuple[str, int, int]] = []
    graph, report = await build_graph(store, offline(store), progress=lambda *a: seen.append(a))
    assert (report.tools, report.nodes, report.not_annotated) == (3, 2, 1)
    assert sorted(d["name"] for _, d in graph.nodes(data=True)) == ["forecast_at", "locate_city"]
    assert ("filter outputs", 2, 2) in seen and seen[-1] == ("judge pairs", 1, 1)
    store.close()


async def test_huge_schemas(tmp_path):
    many_inputs = {f"option_{i}": {"type": "string", "description": f"Option number {i}"} for i in range(400)}
    many_inputs |= {"latitude": {"type": "number"}, "longitude": {"type": "number"}}
    many_outputs = {f"metric_{i}": {"type": "number", "description": f"Metric {i}"} for i in range(300)}
    specs = [
        LOCATE,
        {
            "name": "configure_everything",
            "description": "Set hundreds of options at a point.",
            "input_schema": {
                "type": "object",
                "properties": many_inputs,
                "required": ["latitude", "longitude"],
            },
        },
        {
            "name": "all_metrics",
            "description": "Every metric there is.",
            "input_schema": {"type": "object", "properties": {"option_1": {"type": "string"}}},
            "output_schema": {"type": "object", "properties": many_outputs},
            "tool_class": "query",
            "tags": ["metrics", "all", "retrieval"],
        },
    ]
    store = small_store(tmp_path, specs)
    started = time.perf_counter()
    report = await annotate_tools(store, offline(store))
    assert (report.annotated, report.failed) == (3, [])  # two only needed their parameter classes
    graph, built = await build_graph(store, offline(store), config=PruneConfig(cap=2, floor=0))
    assert time.perf_counter() - started < 10
    assert built.nodes == 3 and built.failed == []
    assert len(graph.nodes[find_node(graph, "all_metrics")]["outputs"]) == 300
    edge = graph.edges[find_node(graph, "locate_city"), find_node(graph, "configure_everything")]
    assert pairs(edge) == {("latitude", "latitude"), ("longitude", "longitude")}
    assert edge["type"] == "full"
    store.close()


FOLDER_SCHEMA = {
    "type": "object",
    "properties": {"folder": {"$ref": "#/$defs/Folder"}, "owner": {"$ref": "#/$defs/User"}},
    "$defs": {
        "Folder": {
            "type": "object",
            "properties": {
                "folder_id": {"type": "string", "description": "Identifier of the folder"},
                "parent": {"$ref": "#/$defs/Folder"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Folder"}},
                "owner": {"$ref": "#/$defs/User"},
            },
        },
        "User": {
            "type": "object",
            "properties": {"user_id": {"type": "string"}, "home": {"$ref": "#/$defs/Folder"}},
        },
    },
}


def test_leaf_fields_terminates_on_cyclic_refs():
    paths = [f.path for f in leaf_fields(FOLDER_SCHEMA)]
    assert paths[0] == "folder.folder_id"
    assert "owner.user_id" in paths and "folder.owner.user_id" in paths
    assert len(paths) == len(set(paths)) < 50
    root = {"type": "object", "properties": {"name": {"type": "string"}, "parent": {"$ref": "#"}}}
    assert [f.path for f in leaf_fields(root)] == ["name"]
    assert leaf_fields({"$ref": "#/$defs/Missing"}) == []
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(200):
        deep = {"type": "object", "properties": {"x": deep, "y": {"type": "integer"}}}
    found = leaf_fields(deep)
    assert 0 < len(found) <= 10 and all(f.path.count(".") <= 6 for f in found)


async def test_cyclic_ref_output_schema_in_the_graph(tmp_path):
    specs = [
        {
            "name": "get_folder",
            "description": "Get a folder by its path.",
            "input_schema": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
            "output_schema": FOLDER_SCHEMA,
            "tool_class": "query",
            "tags": ["files", "folder", "retrieval"],
        },
        {
            "name": "delete_folder",
            "description": "Delete a folder.",
            "input_schema": {
                "type": "object",
                "properties": {"folder_id": {"type": "string", "description": "Identifier of the folder"}},
                "required": ["folder_id"],
            },
        },
    ]
    store = small_store(tmp_path, specs)
    await annotate_tools(store, offline(store))
    graph, report = await build_graph(store, offline(store))
    assert report.failed == [] and report.nodes == 2
    edge = graph.edges[find_node(graph, "get_folder"), find_node(graph, "delete_folder")]
    assert edge["type"] == "full"
    assert ("folder.folder_id", "folder_id") in pairs(edge)
    store.close()


class Teacher:
    """A scripted teacher for graph builds: the output filter finds no echoes; the edge judge gives
    the queued answers in order."""

    def __init__(self, *judge: str) -> None:
        self.judge = list(judge)

    def __call__(self, request: dict[str, Any]) -> str:
        text = request["messages"][0]["content"]
        if text.startswith("You clean the outputs"):
            return '{"echoes": []}'
        assert text.startswith("You decide whether"), text[:80]
        return self.judge.pop(0)


def judge_requests(backend: ScriptedBackend) -> list[dict[str, Any]]:
    return [r for r in backend.requests if r["messages"][0]["content"].startswith("You decide whether")]


def answer(kind: str, mapping: list[tuple[str, str]] = (), reason: str = "scripted") -> str:
    return json.dumps(
        {"type": kind, "mapping": [{"output": o, "input": i} for o, i in mapping], "reason": reason}
    )


GOOD_EDGE = answer("full", [("latitude", "latitude"), ("longitude", "longitude")])


async def test_invalid_judge_answers_are_retried_then_recorded_as_failure(tmp_path):
    store = small_store(tmp_path, [LOCATE, FORECAST])
    source, target = (store.get_tool(n) for n in ("locate_city", "forecast_at"))
    backend = ScriptedBackend(
        [
            Teacher(
                answer("strong", [("latitude", "latitude")]),
                answer("full", [("latitude", "altitude")]),
                answer("partial", [("elevation", "latitude")]),
            )
        ]
        * 10
    )
    # The only pair's judgement failed: the build is an error that says why (and keeps the judgement).
    with pytest.raises(
        StageFailed, match="edge judgement failed for every one of the 1 candidate pairs"
    ) as caught:
        await build_graph(store, LLM(backend, store, backoff_s=0))

    asked = judge_requests(backend)
    assert len(asked) == 3
    assert f"`{source.ref}`" in asked[0]["messages"][0]["content"]
    feedback = [r["messages"][-1]["content"] for r in asked[1:]]
    assert "Input should be 'full', 'partial', 'prerequisite' or 'none'" in feedback[0]
    assert "mapping input 'altitude' is not a parameter of the target" in feedback[1]
    assert "latitude" in feedback[1].split("choose from", 1)[1]
    assert asked[2]["messages"][-2] == {
        "role": "assistant",
        "content": answer("full", [("latitude", "altitude")]),
    }
    # recorded as a failure: stored with its error, named in the error
    assert f"{source.ref} -> {target.ref}" in str(caught.value)
    [judgement] = store.judgements().values()
    reason = judgement.error
    assert "never validated" in reason and "'elevation' is not an output field" in reason
    assert reason in " ".join(str(caught.value).split())
    assert judgement.type == "none" and judgement.mapping == []

    # A rerun asks the judge again (the output filter's answers come from the call log).
    rerun = ScriptedBackend([Teacher(GOOD_EDGE)])
    graph, again = await build_graph(store, LLM(rerun, store, backoff_s=0))
    assert len(rerun.requests) == len(judge_requests(rerun)) == 1
    assert (again.judged, again.reused, again.failed) == (1, 0, [])
    assert pairs(graph.edges[source.id, target.id]) == {("latitude", "latitude"), ("longitude", "longitude")}
    [judgement] = store.judgements().values()
    assert judgement.error is None and judgement.type == "full"
    store.close()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (answer("full"), "a full edge needs a mapping"),
        (answer("prerequisite", [("latitude", "latitude")]), "a prerequisite edge has no mapping"),
        ('{"type": "full", "mapping": [{"output": "latitude"}]}', "mapping.0.input: Field required"),
        ("the two tools are related", "no JSON object"),
    ],
    ids=["full-without-mapping", "prerequisite-with-mapping", "half-mapping", "prose"],
)
async def test_judge_answer_rejected_with_feedback_then_accepted(tmp_path, bad, message):
    store = small_store(tmp_path, [LOCATE, FORECAST])
    backend = ScriptedBackend([Teacher(bad, GOOD_EDGE)] * 10)
    graph, report = await build_graph(store, LLM(backend, store, backoff_s=0))
    asked = judge_requests(backend)
    assert len(asked) == 2 and message in asked[1]["messages"][-1]["content"]
    assert report.failed == [] and graph.number_of_edges() == 1
    store.close()


def test_the_run_recheck_keeps_the_saved_graph_until_a_tool_changes(tmp_path):
    built = build_example(tmp_path)
    store, llm = built.store, offline(built.store)
    again, report = asyncio.run(build_graph(store, llm, reuse=True))
    assert report.candidate_pairs == 0 and report.judged == 0  # nothing re-checked
    assert nx.utils.graphs_equal(again, built.graph)
    assert report.edges == built.report.edges
    tool = store.get_tool("United States Weather/get_current_weather")
    store.update_tool(tool.model_copy(update={"description": tool.description + " Updated hourly."}))
    rebuilt, report = asyncio.run(build_graph(store, llm, reuse=True))
    assert report.candidate_pairs > 0 and report.judged > 0  # the changed tool's pairs judged again
    assert report.reused > report.judged  # the rest came from the stored judgements
    assert rebuilt.nodes[tool.id]["description"].endswith("Updated hourly.")
    store.close()


# -- pruning ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_nodes(example) -> list[Node]:
    return nodes_of(example.store, example.graph)


@pytest.mark.parametrize(("cap", "floor"), [(30, 5), (4, 2), (2, 2), (1, 0)])
def test_pruning_respects_cap_and_floor(example_nodes, cap, floor):
    by_id = {n.id: n for n in example_nodes}
    everything = candidates(example_nodes, PruneConfig(cap=10_000, floor=0))
    pruned = candidates(example_nodes, PruneConfig(cap=cap, floor=floor))
    assert pruned.keys() == by_id.keys()
    floored = 0
    for source, targets in pruned.items():
        assert len(targets) <= cap and len(set(targets)) == len(targets) and source not in targets
        assert set(targets) <= set(everything[source])
        cross = [t for t in targets if by_id[t].server_id != by_id[source].server_id]
        available = [t for t in everything[source] if by_id[t].server_id != by_id[source].server_id]
        assert len(cross) >= min(floor, len(available)), by_id[source].ref
        floored += targets != everything[source][:cap]
    if (cap, floor) == (4, 2):
        assert floored > 0  # the floor changed some lists, so the check above is not vacuous


@pytest.mark.parametrize(("budget", "floor"), [(4, 2), (2, 1), (10, 0)])
def test_pruning_by_budget_keeps_the_best_pairs_overall(example_nodes, budget, floor):
    """At most budget x tools pairs, each tool's floor of other-server candidates, and the rest the
    best-scoring pairs of the whole catalog (chunked: the same with chunks of 7 sources as of 256)."""
    by_id = {n.id: n for n in example_nodes}
    everything = candidates(example_nodes, PruneConfig(cap=10_000, floor=0))
    chosen = candidates(example_nodes, PruneConfig(floor=floor, budget=budget))
    assert chosen == candidates(example_nodes, PruneConfig(floor=floor, budget=budget, chunk=7))
    assert chosen.keys() == by_id.keys()
    total = sum(len(t) for t in chosen.values())
    assert total <= budget * len(example_nodes)
    assert total >= 0.9 * min(budget * len(example_nodes), sum(len(t) for t in everything.values()))
    sizes = set()
    for source, targets in chosen.items():
        assert len(set(targets)) == len(targets) and source not in targets
        assert set(targets) <= set(everything[source])
        cross = [t for t in targets if by_id[t].server_id != by_id[source].server_id]
        available = [t for t in everything[source] if by_id[t].server_id != by_id[source].server_id]
        assert len(cross) >= min(floor, len(available)), by_id[source].ref
        sizes.add(len(targets))
    assert max(sizes) > budget  # not a per-tool cap: a tool with many good targets keeps more
    with pytest.raises(ValueError, match="budget"):
        PruneConfig(floor=5, budget=3)


def test_pruning_by_budget_keeps_every_prerequisite_pair(tmp_path):
    """A tool with a yes/no output keeps the tools about the same object (prerequisite edges) in
    budget mode as a cap keeps them, however low those pairs score against the catalog's best."""
    exists = {
        "name": "check_file_exists",
        "description": "Whether a file exists.",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        "output_schema": {"type": "object", "properties": {"exists": {"type": "boolean"}}},
        "tool_class": "query",
        "tags": ["files", "check", "storage"],
    }
    download = {
        "name": "download_file",
        "description": "Download a file from the web.",
        "input_schema": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
        "output_schema": {"type": "object", "properties": {"size": {"type": "integer"}}},
        "tool_class": "action",
        "tags": ["files", "download", "web"],
    }
    # 3 x 3 pairs that fill both coordinates: more than a budget of 1 pair per tool (8) holds
    places = [{**LOCATE, "name": name} for name in ("locate_city", "geocode_city", "find_city")]
    forecasts = [{**FORECAST, "name": name} for name in ("forecast_at", "weather_at", "temperature_at")]
    specs = [exists, download, *places, *forecasts]
    store = small_store(tmp_path, specs)
    nodes = [Node.of(t, leaf_fields(t.output_schema)) for t in store.tools()]
    store.close()
    by_name = {n.ref.split("/")[-1]: n.id for n in nodes}
    prerequisite = (by_name["check_file_exists"], by_name["download_file"])
    for config in (PruneConfig(budget=1, floor=0), PruneConfig(cap=1, floor=0)):
        chosen = candidates(nodes, config)
        assert prerequisite[1] in chosen[prerequisite[0]], config
        assert by_name["forecast_at"] in chosen[by_name["locate_city"]], config  # the budget's best pair


def test_prune_config_is_validated():
    assert PruneConfig().budget == DEFAULT_BUDGET == 30 and PruneConfig().cap is None  # the default
    assert PruneConfig(cap=30).budget is None
    with pytest.raises(ValueError, match="not both"):
        PruneConfig(cap=30, budget=30)
    with pytest.raises(ValueError, match="floor"):
        PruneConfig(cap=5, floor=6)
    with pytest.raises(ValueError, match="cap"):
        PruneConfig(cap=0, floor=0)
    with pytest.raises(ValueError, match="floor"):
        PruneConfig(cap=5, floor=-1)


def test_pruning_keeps_every_edge_of_the_example(example, example_nodes):
    """Pruning recall: every edge the offline judge finds among all 9,506 ordered pairs survives."""
    found = {
        (a.id, b.id) for a, b in itertools.permutations(example_nodes, 2) if judge_nodes(a, b).type != "none"
    }
    kept = {(s, t) for s, ts in candidates(example_nodes).items() for t in ts}
    assert len(found) > 100
    assert found - kept == set()
    assert set(example.graph.edges) == found


def test_pruning_rejects_duplicate_nodes(example_nodes):
    with pytest.raises(ValueError, match="unique"):
        candidates([example_nodes[0], example_nodes[0]])
    assert candidates([]) == {}
    assert candidates(example_nodes[:1]) == {example_nodes[0].id: []}


def test_judgement_key_changes_with_what_the_judgement_depends_on(example_nodes):
    a, b = example_nodes[0], example_nodes[1]
    key = judgement_key(a, b, "d1", "d2", "offline")
    assert key == judgement_key(a, b, "d1", "d2", "offline")
    assert key != judgement_key(a, b, "d1", "d2", "anthropic/claude")
    assert key != judgement_key(b, a, "d2", "d1", "offline")
    assert key != judgement_key(a, b, "d1", "changed", "offline")
    fewer = Node(**{**a.__dict__, "outputs": a.outputs[1:]})
    assert key != judgement_key(fewer, b, "d1", "d2", "offline")


# -- reading and exporting --------------------------------------------------------------------------


def test_graph_stats_agree_with_the_graph(example):
    graph = example.graph
    stats = graph_stats(graph, top=5)
    assert stats["nodes"] == 98 and stats["edges"] == graph.number_of_edges()
    assert sum(stats["edges_by_type"].values()) == stats["edges"]
    assert stats["edges_by_type"] == example.report.edges
    assert sum(stats["in_degree"].values()) == sum(stats["out_degree"].values()) == 98
    assert stats["in_degree"]["0"] == sum(1 for _, d in graph.in_degree() if d == 0)
    assert stats["components"] == nx.number_weakly_connected_components(graph)
    assert stats["largest_component"] == max(len(c) for c in nx.weakly_connected_components(graph))
    assert stats["servers"] == 22
    isolated = sorted(graph.nodes[n]["ref"] for n in graph if graph.degree(n) == 0)
    assert stats["isolated"] == len(isolated) and stats["isolated_tools"] == isolated[:5]
    assert "Cooking Units Converter/convert_temperature" in isolated
    cross = sum(1 for a, b in graph.edges if graph.nodes[a]["server_id"] != graph.nodes[b]["server_id"])
    assert stats["cross_server_edges"] == cross > 0
    top = stats["most_connected"]
    assert len(top) == 5
    degrees = [row["in"] + row["out"] for row in top]
    assert degrees == sorted(degrees, reverse=True)
    assert degrees[0] == max(d for _, d in graph.degree())
    for row in top:
        node = find_node(graph, row["tool"])
        assert (row["in"], row["out"]) == (graph.in_degree(node), graph.out_degree(node))
    empty = graph_stats(nx.DiGraph())
    assert (empty["nodes"], empty["edges"], empty["largest_component"]) == (0, 0, 0)


def test_find_node_and_neighbourhood(example):
    graph = example.graph
    search = example.ids["Hotel Booking Server/search-hotels"]
    assert find_node(graph, "Hotel Booking Server/search-hotels") == search
    assert find_node(graph, "search-hotels") == search
    assert find_node(graph, search) == search
    with pytest.raises(GraphToucanError, match="names 2 tools"):
        find_node(graph, "get_current_weather")
    with pytest.raises(GraphToucanError, match="no tool 'Nowhere/nothing'"):
        find_node(graph, "Nowhere/nothing")
    info = neighbourhood(graph, search)
    assert info["tool"] == "Hotel Booking Server/search-hotels" and info["tool_class"] == "query"
    assert "hotels[].hotel_id" in info["outputs"]
    incoming = {e["tool"]: e for e in info["in"]}
    assert pairs(incoming["Hotel Booking Server/find-place"]) == {
        ("places[].latitude", "latitude"),
        ("places[].longitude", "longitude"),
    }
    outgoing = {e["tool"]: e for e in info["out"]}
    assert outgoing["Hotel Booking Server/get-hotel-details"]["type"] == "full"
    assert len(info["in"]) == graph.in_degree(search) and len(info["out"]) == graph.out_degree(search)


def test_load_graph_errors_say_what_to_run(tmp_path):
    store = Store(tmp_path / "gt.db")
    with pytest.raises(GraphToucanError, match="run 'graph-toucan graph build' first"):
        load_graph(store)
    graph_path(store).write_text('{"nodes": [')
    with pytest.raises(GraphToucanError, match="cannot read the graph"):
        load_graph(store)
    store.close()


def test_export_json_round_trips_through_networkx(example, tmp_path):
    out = export_graph(example.graph, "json", tmp_path / "deep" / "graph.json")
    data = json.loads(out.read_text())
    back = nx.node_link_graph(data, directed=True, edges="edges")
    assert back.is_directed()
    assert sorted(back.nodes) == sorted(example.graph.nodes)
    assert set(back.edges) == set(example.graph.edges)
    assert all(d["type"] in ("full", "partial", "prerequisite") for _, _, d in back.edges(data=True))
    a, b = (
        example.ids["CoinGecko MCP Server/coingecko_list"],
        example.ids["CoinGecko MCP Server/coingecko_coin_data"],
    )
    assert back.edges[a, b]["mapping"] == [{"output": "coins[].coin_id", "input": "id"}]
    assert back.nodes[a]["ref"] == "CoinGecko MCP Server/coingecko_list"


def test_export_graphml_is_readable(example, tmp_path):
    out = export_graph(example.graph, "graphml", tmp_path / "graph.graphml")
    back = nx.read_graphml(out)
    assert back.number_of_nodes() == 98 and back.number_of_edges() == example.graph.number_of_edges()
    a, b = example.ids["Hotel Booking Server/find-place"], example.ids["Hotel Booking Server/search-hotels"]
    edge = back.edges[a, b]
    assert edge["type"] == "full"
    assert {(m["output"], m["input"]) for m in json.loads(edge["mapping"])} == {
        ("places[].latitude", "latitude"),
        ("places[].longitude", "longitude"),
    }
    assert json.loads(back.nodes[a]["tags"]) == example.graph.nodes[a]["tags"]
    assert back.nodes[example.ids[f"{CALC}/add"]]["ref"] == f"{CALC}/add"


def test_export_html_is_one_self_contained_page(example, tmp_path):
    out = export_graph(example.graph, "html", tmp_path / "graph.html")
    html = out.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert re.findall(r"<script[^>]*>", html) and not re.search(r"<script[^>]*\ssrc=", html)
    assert not re.search(r"<link[^>]*stylesheet", html)
    assert "Bokeh" in html and len(html) > 200_000  # bokeh's JavaScript is inlined
    for ref in ("Hotel Booking Server/search-hotels", "WhereAmI/get_location", "Exa Search/crawling_exa"):
        assert ref in html
    assert "search tools" in html and "places[].latitude -&gt; latitude" in html  # an edge's mapping
    # edges are arrows, and a graph this small shows every tool's name before any search
    assert '"name":"Arrow"' in html and '"name":"VeeHead"' in html and '"name":"LabelSet"' in html
    assert '"label_alpha",[0.85,' in html and "search-hotels" in html


def test_export_rejects_an_unknown_format(example, tmp_path):
    with pytest.raises(GraphToucanError, match="unknown graph format 'dot'"):
        export_graph(example.graph, "dot", tmp_path / "graph.dot")
    assert not (tmp_path / "graph.dot").exists()
