"""Random walks and the graph index they run on, on a hand-made travel graph."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest
from pydantic import ValidationError

from graph_toucan.graph_index import EdgeWeights, GraphIndex, SamplingError
from graph_toucan.walks import WalkConfig, random_walks, walk_from, walk_stream
from tests.sampling_graphs import tool_named, travel_graph


def _names(graph: nx.DiGraph, tools: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(graph.nodes[t]["name"] for t in tools)


def _simple_paths(graph: nx.DiGraph, max_steps: int) -> set[tuple[str, ...]]:
    found = set()
    for source, target in itertools.permutations(graph.nodes, 2):
        for path in nx.all_simple_paths(graph, source, target, cutoff=max_steps):
            found.add(tuple(path))
    return found


def test_the_stream_finds_every_simple_path_once():
    graph = travel_graph()
    config = WalkConfig(max_steps=3, min_steps=1, patience=60)
    index = GraphIndex.from_digraph(graph)
    walks = list(walk_stream(index, config, seed=5))
    assert len({w.tools for w in walks}) == len(walks)
    # a walk never starts at a tool that needs an id no earlier call gave (book_flight's flight_id)
    startable = {p for p in _simple_paths(graph, 3) if not index.nodes[p[0]].issued_required}
    assert {w.tools for w in walks} == startable
    assert any(index.nodes[p[0]].issued_required for p in _simple_paths(graph, 3))
    longest = max(walks, key=lambda w: len(w.tools))
    assert _names(graph, longest.tools) in {
        ("get_user", "search_flights", "book_flight", "send_email"),
        ("get_user", "get_forecast", "get_distance", "set_navigation"),
    }


def test_walk_edges_carry_the_checked_mapping():
    graph = travel_graph()
    index = GraphIndex.from_digraph(graph)
    (edge,) = [e for e in index.out_edges(tool_named(graph, "search_flights"))]
    assert (edge.type, edge.mapping) == ("partial", (("cheapest_id", "flight_id"),))
    assert edge.target == tool_named(graph, "book_flight")
    (prerequisite,) = index.in_edges(tool_named(graph, "set_navigation"))
    assert (prerequisite.type, prerequisite.mapping) == ("prerequisite", ())


def test_zero_weight_edges_are_never_walked():
    graph = travel_graph()
    weights = EdgeWeights(prerequisite=0)
    index = GraphIndex.from_digraph(graph, weights)
    assert (index.edge_count, index.dropped_edges) == (9, 2)
    walks = list(walk_stream(index, WalkConfig(max_steps=4, patience=30, edge_weights=weights), seed=1))
    assert walks and all(e.type != "prerequisite" for w in walks for e in w.edges)
    navigation = tool_named(graph, "set_navigation")
    assert all(navigation not in w.tools for w in walks)


def test_walks_prefer_edges_by_weight():
    graph = nx.DiGraph()
    for name in ("hub", "full", "partial", "prerequisite"):
        graph.add_node(
            name,
            ref=f"s/{name}",
            server="s",
            server_id="s1",
            input_schema={"properties": {"p": {}}},
            outputs=["o"],
        )
    for kind in ("full", "partial", "prerequisite"):
        mapping = [] if kind == "prerequisite" else [{"output": "o", "input": "p"}]
        graph.add_edge("hub", kind, type=kind, mapping=mapping)
    index = GraphIndex.from_digraph(graph, EdgeWeights(full=6, partial=3, prerequisite=1))
    rng = random.Random(0)
    config = WalkConfig(max_steps=1)
    chosen = [walk_from(index, "hub", config, rng).tools[1] for _ in range(4000)]
    shares = {k: chosen.count(k) / len(chosen) for k in ("full", "partial", "prerequisite")}
    assert shares["full"] == pytest.approx(0.6, abs=0.03)
    assert shares["partial"] == pytest.approx(0.3, abs=0.03)
    assert shares["prerequisite"] == pytest.approx(0.1, abs=0.02)


def test_steps_bound_the_walks_and_min_steps_zero_keeps_single_tools():
    graph = travel_graph()
    index = GraphIndex.from_digraph(graph)
    walks = list(walk_stream(index, WalkConfig(max_steps=2, min_steps=2, patience=30), seed=3))
    assert walks and all(len(w.edges) == 2 for w in walks)
    singles = list(walk_stream(index, WalkConfig(max_steps=1, min_steps=0, patience=30), seed=3))
    startable = {t for t in graph.nodes if not index.nodes[t].issued_required}
    assert {w.tools for w in singles if not w.edges} == {(t,) for t in startable}


def test_chosen_starts():
    graph = travel_graph()
    index = GraphIndex.from_digraph(graph)
    walks = list(walk_stream(index, WalkConfig(patience=30), seed=2, starts=["Flights/search_flights"]))
    assert {_names(graph, w.tools) for w in walks} == {
        ("search_flights", "book_flight"),
        ("search_flights", "book_flight", "send_email"),
    }
    by_name = list(walk_stream(index, WalkConfig(patience=30), seed=2, starts=["search_flights"]))
    assert [w.tools for w in by_name] == [w.tools for w in walks]
    with pytest.raises(SamplingError, match=r"'Flights/nothing' names no tools of the graph; give a tool id"):
        list(walk_stream(index, WalkConfig(), seed=2, starts=["Flights/nothing"]))


def test_one_round_of_walks_is_deduplicated():
    graph = travel_graph()
    index = GraphIndex.from_digraph(graph)
    walks = random_walks(index, WalkConfig(walks_per_start=20), seed=0)
    assert len({w.tools for w in walks}) == len(walks)
    starts = {w.tools[0] for w in walks}
    assert starts == {n for n in graph.nodes if graph.out_degree(n) and not index.nodes[n].issued_required}
    assert random_walks(index, WalkConfig(walks_per_start=20), seed=0) == walks


def test_invalid_mapping_entries_are_dropped_and_empty_edges_left_out():
    graph = travel_graph()
    user, mail = tool_named(graph, "get_user"), tool_named(graph, "send_email")
    graph.edges[user, mail]["mapping"] = [
        {"output": "user.phone", "input": "to"},
        {"output": "user.email", "input": "cc"},
        {"output": "user.email", "input": "to"},
        {"output": "user.name", "input": "to"},
        {"output": "user.name", "input": "subject"},
    ]
    forecast = tool_named(graph, "get_forecast")
    graph.edges[user, forecast]["mapping"] = [{"output": "user.city", "input": "city"}]
    index = GraphIndex.from_digraph(graph)
    (edge,) = [e for e in index.out_edges(user) if e.target == mail]
    assert edge.mapping == (("user.email", "to"), ("user.name", "subject"))
    assert forecast not in {e.target for e in index.out_edges(user)}
    assert index.dropped_edges == 1


def test_graphs_that_break_the_contract_are_clear_errors():
    graph = travel_graph()
    user, mail = tool_named(graph, "get_user"), tool_named(graph, "send_email")
    graph.edges[user, mail]["type"] = "none"
    with pytest.raises(
        SamplingError, match=r"Accounts/get_user -> Mail/send_email has type 'none'.*graph build"
    ):
        GraphIndex.from_digraph(graph)
    del graph.nodes[user]["outputs"]
    with pytest.raises(SamplingError, match=r"lacks outputs.*rebuild it with 'graph-toucan graph build'"):
        GraphIndex.from_digraph(graph)


def test_a_graph_without_edges_cannot_start_a_walk():
    graph = travel_graph()
    graph.remove_edges_from(list(graph.edges))
    with pytest.raises(SamplingError, match=r"no node of the graph \(9 tools, 0 usable edges\).*min_steps 0"):
        next(walk_stream(GraphIndex.from_digraph(graph), WalkConfig(), seed=0))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_steps": 0}, "max_steps\n  Input should be greater than or equal to 1"),
        ({"min_steps": 3, "max_steps": 2}, "min_steps (3) must not exceed max_steps (2)"),
        ({"walks_per_start": 0}, "walks_per_start\n  Input should be greater than or equal to 1"),
        ({"edge_weights": {"full": -1}}, "edge_weights.full\n  Input should be greater than or equal to 0"),
        (
            {"edge_weights": {"full": 0, "partial": 0, "prerequisite": 0}},
            "at least one edge weight (full, partial, prerequisite) must be above 0",
        ),
    ],
)
def test_impossible_walk_settings_are_rejected(settings, message):
    with pytest.raises(ValidationError) as error:
        WalkConfig.model_validate(settings)
    assert message in str(error.value)


def test_an_index_without_some_tools_has_none_of_their_edges():
    graph = travel_graph()
    index = GraphIndex.from_digraph(graph)
    search = tool_named(graph, "search_flights")
    smaller = index.without([search])
    assert search not in smaller.nodes and len(smaller.ids) == len(index.ids) - 1
    assert all(search not in (e.source, e.target) for n in smaller.ids for e in smaller.out_edges(n))
    assert smaller.edge_count == index.edge_count - len(index.out_edges(search)) - len(index.in_edges(search))
    assert index.without([]) is index


def test_walks_avoid_dead_ends_while_steps_remain() -> None:
    graph = travel_graph()
    index = GraphIndex.from_digraph(graph)
    start = tool_named(graph, "get_user")

    def lengths(dead_end_weight: float) -> float:
        config = WalkConfig(max_steps=4, min_steps=4, dead_end_weight=dead_end_weight, hub_cap=0)
        rng = random.Random(0)
        return sum(len(walk_from(index, start, config, rng).edges) for _ in range(300)) / 300

    assert lengths(0.1) > lengths(1.0) + 0.3, "the chain goes on where it can"


def test_hubs_are_taken_in_proportion_to_their_cap_over_their_in_degree() -> None:
    graph = travel_graph()
    index = GraphIndex.from_digraph(graph)
    hub, other = tool_named(graph, "send_email"), tool_named(graph, "get_distance")  # 4 tools feed the hub
    start = tool_named(graph, "get_forecast")  # -> send_email or get_distance, equal weights

    def hub_share(cap: int) -> float:
        rng = random.Random(0)
        config = WalkConfig(max_steps=1, dead_end_weight=1, hub_cap=cap)
        steps = [walk_from(index, start, config, rng).tools[1] for _ in range(2000)]
        assert set(steps) == {hub, other}
        return steps.count(hub) / len(steps)

    assert len(index.in_edges(hub)) == 4 and len(index.in_edges(other)) == 1
    assert abs(hub_share(0) - 0.5) < 0.05  # no cap: by edge weight alone
    assert abs(hub_share(1) - 0.2) < 0.05  # cap 1 over in-degree 4: a quarter of the weight


def _bfs_depth(index: GraphIndex, node: str, limit: int) -> int:
    seen, frontier, depth = {node}, [node], 0
    while frontier and depth < limit:
        frontier = [e.target for n in frontier for e in index.out_edges(n) if e.target not in seen]
        seen.update(frontier)
        depth += bool(frontier)
    return depth


@pytest.mark.parametrize("block", [3, 1 << 14])
def test_reach_is_the_capped_breadth_first_depth_from_every_node(block: int) -> None:
    from graph_toucan.graph_index import REACH_LIMIT, Edge, Node, _reach_depths

    rng = random.Random(5)
    names = [f"t{i:02d}" for i in range(40)]
    chain = [f"c{i:02d}" for i in range(12)]  # a path longer than the cap, apart from the rest
    nodes = [Node(n, f"s/{n}", "s", "s", None, (), (), (), frozenset()) for n in names + chain]
    pairs = {(rng.choice(names), rng.choice(names)) for _ in range(70)}
    pairs |= set(itertools.pairwise(chain))
    pairs |= {("t20", "t20"), ("t21", "t22"), ("t22", "t21")}  # a self-loop and a cycle
    index = GraphIndex(nodes, [Edge(a, b, "full", 1.0, ()) for a, b in pairs])
    expected = [_bfs_depth(index, n, REACH_LIMIT) for n in index.ids]
    assert _reach_depths(index, block=block) == expected
    assert [index.reach(n) for n in index.ids] == expected
    assert index.reach("c00") == REACH_LIMIT and index.reach("c11") == 0 and index.reach("c08") == 3
