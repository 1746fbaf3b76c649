"""Dependency graphs for the path-sampling tests: a hand-made travel graph built through graph.py's own
``to_digraph`` (so it follows the contract exactly), and a hypothesis strategy for random graphs."""

from __future__ import annotations

from typing import Any

import networkx as nx
from hypothesis import strategies as st

from graph_toucan.graph import to_digraph
from graph_toucan.operations import turn_type
from graph_toucan.records import EdgeJudgement, FieldMapping, PlannedPath, Server, Tool

# server, category, tool, {param: required}, outputs, tags
_TOOLS: list[tuple[str, str, str, dict[str, bool], list[str], list[str]]] = [
    ("Accounts", "Productivity", "get_user", {"username": True}, ["user.name", "user.email", "user.home_city"],
     ["accounts", "user", "retrieval"]),
    ("Flights", "Travel", "search_flights", {"origin": True, "destination": True, "date": False},
     ["flights[].id", "flights[].price", "cheapest_id"], ["travel", "flight", "search"]),
    ("Flights", "Travel", "book_flight", {"flight_id": True, "passenger_name": True},
     ["booking_id", "status"], ["travel", "flight", "booking"]),
    ("Mail", "Communication", "send_email", {"to": True, "subject": True, "body": False},
     ["message_id"], ["communication", "email", "messaging"]),
    ("Weather", "Weather", "get_forecast", {"city": True, "days": False},
     ["forecast[].summary", "city_name"], ["weather", "forecast", "retrieval"]),
    ("Maps", "Travel", "get_distance", {"origin": True, "destination": True},
     ["distance_km", "duration_min"], ["travel", "distance", "calculation"]),
    ("Maps", "Travel", "set_navigation", {"destination": True, "mode": False},
     ["route_id"], ["travel", "navigation", "update"]),
    ("Files", "Productivity", "check_file_exists", {"path": True}, ["exists"], ["files", "file", "validation"]),
    ("Files", "Productivity", "download_file", {"url": True, "path": True},
     ["saved_path", "size"], ["files", "file", "download"]),
]  # fmt: skip

# source, target, type, [(output, input)]
_EDGES: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    ("get_user", "send_email", "full", [("user.email", "to")]),
    ("get_user", "search_flights", "partial", [("user.home_city", "origin")]),
    ("get_user", "book_flight", "partial", [("user.name", "passenger_name")]),
    ("get_user", "get_forecast", "partial", [("user.home_city", "city")]),
    ("search_flights", "book_flight", "partial", [("cheapest_id", "flight_id")]),
    ("book_flight", "send_email", "partial", [("booking_id", "body")]),
    ("get_forecast", "send_email", "partial", [("forecast[].summary", "body")]),
    ("get_forecast", "get_distance", "partial", [("city_name", "destination")]),
    ("get_distance", "set_navigation", "prerequisite", []),
    ("check_file_exists", "download_file", "prerequisite", []),
    ("download_file", "send_email", "partial", [("saved_path", "body")]),
]


def travel_servers_and_tools() -> tuple[list[Server], list[Tool]]:
    servers = {
        name: Server(name=name, qualified_name=f"@test/{name.lower()}", source="test") for name, *_ in _TOOLS
    }
    tools = [
        Tool(
            server_id=servers[server].id,
            server_name=server,
            name=name,
            description=f"{name.replace('_', ' ')} on {server}",
            input_schema={
                "type": "object",
                "properties": {p: {"type": "string"} for p in params},
                "required": [p for p, req in params.items() if req],
            },
            output_schema={
                "type": "object",
                "properties": {o.split(".")[0]: {"type": "string"} for o in outputs},
            },
            tags=tags,
            tool_class="query",
            category=category,
            source="test",
        )
        for server, category, name, params, outputs, tags in _TOOLS
    ]
    return list(servers.values()), tools


def travel_graph() -> nx.DiGraph:
    """Nine tools on six servers, eleven typed edges with their field mappings."""
    _, tools = travel_servers_and_tools()
    by_name = {t.name: t for t in tools}
    outputs = {name: outs for _, _, name, _, outs, _ in _TOOLS}
    judgements = [
        EdgeJudgement(
            key=f"{source}->{target}",
            source_id=by_name[source].id,
            target_id=by_name[target].id,
            type=kind,  # type: ignore[arg-type]
            mapping=[FieldMapping(output=o, input=i) for o, i in mapping],
            reason="hand-made",
            judge="test",
        )
        for source, target, kind, mapping in _EDGES
    ]
    return to_digraph([(t, outputs[t.name]) for t in tools], judgements)


def tool_named(graph: nx.DiGraph, name: str) -> str:
    return next(n for n, a in graph.nodes(data=True) if a["name"] == name)


_PARAMS = ["a", "b", "c", "d"]
_OUTPUTS = ["x", "y.z", "items[].id", "a"]


@st.composite
def random_graphs(draw: st.DrawFn, max_nodes: int = 10) -> nx.DiGraph:
    """Graphs following graph.py's contract, with some mapping entries that name no real output or
    input (a sampler must never turn those into dependencies)."""
    n = draw(st.integers(2, max_nodes))
    graph = nx.DiGraph()
    for i in range(n):
        params = draw(st.lists(st.sampled_from(_PARAMS), min_size=1, max_size=4, unique=True))
        required = draw(st.lists(st.sampled_from(params), max_size=len(params), unique=True))
        outputs = draw(st.lists(st.sampled_from(_OUTPUTS), min_size=1, max_size=4, unique=True))
        server = draw(st.integers(0, 2))
        graph.add_node(
            f"tool{i}",
            ref=f"server{server}/tool{i}",
            name=f"tool{i}",
            server=f"server{server}",
            server_id=f"s{server}",
            category=draw(st.sampled_from(["Search", "Travel", None])),
            tags=draw(st.lists(st.sampled_from(["web", "trip", "files", "mail"]), max_size=3, unique=True)),
            tool_class=draw(st.sampled_from(["computation", "query", "action"])),
            description="",
            input_schema={
                "type": "object",
                "properties": {p: {"type": "string"} for p in params},
                "required": required,
            },
            output_schema={"type": "object"},
            outputs=outputs,
        )
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), min_size=n, max_size=4 * n, unique=True
        )
    )
    for i, j in pairs:
        if i == j:
            continue
        source, target = graph.nodes[f"tool{i}"], graph.nodes[f"tool{j}"]
        kind = draw(st.sampled_from(["full", "partial", "prerequisite"]))
        mapping: list[dict[str, Any]] = []
        if kind != "prerequisite":
            outs = [*source["outputs"], "bogus.field"]
            ins = [*target["input_schema"]["properties"], "no_such_param"]
            mapping = [
                {"output": o, "input": p}
                for o, p in draw(
                    st.lists(st.tuples(st.sampled_from(outs), st.sampled_from(ins)), min_size=1, max_size=3)
                )
            ]
        graph.add_edge(f"tool{i}", f"tool{j}", type=kind, mapping=mapping, reason="random")
    return graph


def assert_path_valid(path: PlannedPath, graph: nx.DiGraph, distractors: int | None = None) -> None:
    """Every rule a planned path must obey against the graph it was sampled from."""
    calls = path.calls
    order = {c.id: k for k, c in enumerate(calls)}
    turn_of = {c.id: k for k, turn in enumerate(path.turns) for c in turn.calls}
    by_id = {c.id: c for c in calls}
    assert [c.id for c in calls] == [f"c{k + 1}" for k in range(len(calls))]
    for tool in {c.tool_id for c in calls}:  # a tool is called again only in parallel, in one turn
        again = [c for c in calls if c.tool_id == tool]
        if len(again) > 1:
            assert len({turn_of[c.id] for c in again}) == 1, "parallel calls share their turn"
            assert "parallel" in path.turns[turn_of[again[0].id]].operations
            assert not any(c.implicit for c in again), "a parallel call is asked for"
            copies = {c.id for c in again[1:]}
            assert not any(d.source in copies or d.target in copies for d in path.dependencies)
    assert "new-task" not in path.turns[0].operations, "a later task follows the first"
    for call in calls:
        assert call.tool_id in graph, "every call exists in the graph"
        assert call.tool == graph.nodes[call.tool_id]["ref"]
        assert call.server == graph.nodes[call.tool_id]["server"]
        assert call.server_id == graph.nodes[call.tool_id]["server_id"]
    filled: dict[str, set[str]] = {}
    for dep in path.dependencies:
        source, target = by_id[dep.source], by_id[dep.target]
        assert order[dep.source] < order[dep.target], (
            "a dependency points from an earlier call to a later one"
        )
        assert graph.has_edge(source.tool_id, target.tool_id), "a dependency follows a graph edge"
        edge = graph.edges[source.tool_id, target.tool_id]
        assert dep.type == edge["type"]
        if dep.type == "prerequisite":
            assert dep.output is None and dep.input is None
        else:
            assert dep.output in graph.nodes[source.tool_id]["outputs"], "a real output field of the source"
            assert dep.input in graph.nodes[target.tool_id]["input_schema"]["properties"], "a real parameter"
            assert {"output": dep.output, "input": dep.input} in edge["mapping"]
            assert dep.input not in filled.setdefault(dep.target, set()), "one source per input"
            filled[dep.target].add(dep.input)
        if dep.origin == "insert-short":
            assert source.implicit and turn_of[dep.source] == turn_of[dep.target]
        if dep.origin == "insert-long":
            assert turn_of[dep.source] < turn_of[dep.target], "insert-long reaches back to an earlier turn"
    for call in calls:
        if call.implicit:
            targets = [
                d.target for d in path.dependencies if d.source == call.id and d.origin == "insert-short"
            ]
            assert targets, "an implicit helper feeds a call"
            assert all(order[call.id] < order[t] and turn_of[t] == turn_of[call.id] for t in targets)
    available = {t.id for t in path.available_tools}
    assert len(available) == len(path.available_tools)
    assert {c.tool_id for c in calls} <= available
    assert not any(t.distractor for t in path.available_tools if t.id in {c.tool_id for c in calls})
    n_distractors = sum(t.distractor for t in path.available_tools)
    if distractors is not None:
        assert n_distractors == min(distractors, graph.number_of_nodes() - len({c.tool_id for c in calls}))
    for k, turn in enumerate(path.turns):
        assert turn.type == turn_type(turn.operations)
        ops = set(turn.operations)
        explicit = [c for c in turn.calls if not c.implicit]
        if "merge" in ops or "insert-long-source" in ops:
            assert len(explicit) >= 2, "a merged turn states several intents"
        if "insert-short" in ops:
            assert any(c.implicit for c in turn.calls)
        if "insert-long" in ops:
            assert any(
                d.origin == "insert-long" and turn_of[d.target] == k and turn_of[d.source] < k
                for d in path.dependencies
            )
        for tool in turn.withheld:
            assert tool not in {c.tool_id for c in turn.calls}
        if turn.split is None:
            assert turn.calls and "split" not in ops
            continue
        split = turn.split
        assert turn.type == "empty" and turn.calls == [], "a split turn has no reference calls"
        following = path.turns[k + 1]
        assert split.call in {c.id for c in following.calls}, "the withheld call happens in the next turn"
        assert by_id[split.call].tool_id == split.tool_id and not by_id[split.call].implicit
        if split.kind == "miss-func":
            assert split.parameter is None
            assert all(split.tool_id in path.turns[i].withheld for i in range(k + 1))
            assert split.tool_id not in following.withheld, "offered in the next turn"
        else:
            assert split.parameter in graph.nodes[split.tool_id]["input_schema"]["required"]
            assert split.parameter not in filled.get(split.call, set()), "the user must give it"
