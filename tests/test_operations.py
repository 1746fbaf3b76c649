"""Node operations on hand-made walks of the travel graph, each forced on (probability 1) so the
result can be checked exactly, plus turn types, available tools and the operation settings."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest
from pydantic import ValidationError

from graph_toucan.distractors import pick_available
from graph_toucan.graph_index import GraphIndex
from graph_toucan.operations import (
    DraftDependency,
    OperationConfig,
    initial_fsp,
    insert_long,
    insert_short,
    merge_turns,
    plan,
    plan_sources,
    split_turn,
    to_path,
    turn_type,
)
from graph_toucan.walks import Walk
from tests.sampling_graphs import assert_path_valid, tool_named, travel_graph

GRAPH = travel_graph()
INDEX = GraphIndex.from_digraph(GRAPH)
NONE = {"merge": 0, "insert_short": 0, "insert_long": 0, "split": 0}


def walk(*names: str) -> Walk:
    tools = tuple(tool_named(GRAPH, n) for n in names)
    edges = tuple(next(e for e in INDEX.out_edges(a) if e.target == b) for a, b in itertools.pairwise(tools))
    return Walk(tools, edges)


def config(**settings: float) -> OperationConfig:
    return OperationConfig.model_validate(NONE | settings)


def shape(draft) -> list[list[str]]:
    """Turns as tool names, implicit helpers in brackets."""
    names = {n: a["name"] for n, a in GRAPH.nodes(data=True)}
    return [[f"[{names[c.tool]}]" if c.implicit else names[c.tool] for c in t.calls] for t in draft.turns]


def facts(draft) -> set[tuple[int, str | None, int, str | None, str, str]]:
    return {(d.source, d.output, d.target, d.input, d.type, d.origin) for d in draft.dependencies}


def test_initial_fsp_has_one_function_per_turn_and_the_walks_facts():
    draft = initial_fsp(walk("get_user", "search_flights", "book_flight", "send_email"))
    assert shape(draft) == [["get_user"], ["search_flights"], ["book_flight"], ["send_email"]]
    assert facts(draft) == {
        (0, "user.home_city", 1, "origin", "partial", "walk"),
        (1, "cheapest_id", 2, "flight_id", "partial", "walk"),
        (2, "booking_id", 3, "body", "partial", "walk"),
    }
    prerequisite = initial_fsp(walk("get_distance", "set_navigation"))
    assert prerequisite.dependencies == (DraftDependency(0, 1, "prerequisite", None, None, "walk"),)


def test_insert_short_puts_an_implicit_helper_before_its_target():
    draft = insert_short(
        initial_fsp(walk("search_flights", "book_flight")), INDEX, config(insert_short=1), random.Random(0)
    )
    # get_user can fill search_flights' origin; once used it cannot help book_flight too.
    assert shape(draft) == [["[get_user]", "search_flights"], ["book_flight"]]
    assert (2, "user.home_city", 0, "origin", "partial", "insert-short") in facts(draft)
    assert [t.operations for t in draft.turns] == [frozenset({"insert-short"}), frozenset()]


def test_insert_short_never_fills_an_input_twice_nor_exceeds_the_turn_limit():
    base = initial_fsp(walk("get_forecast", "send_email"))
    full = insert_short(base, INDEX, config(insert_short=1), random.Random(1))
    # send_email's body is filled by the walk; only 'to' is open, and only get_user fills it.
    assert shape(full) == [["[get_user]", "get_forecast"], ["send_email"]] or shape(full) == [
        ["get_forecast"],
        ["[get_user]", "send_email"],
    ]
    inputs = [d.input for d in full.dependencies if d.target == 1]
    assert sorted(inputs) in (["body"], ["body", "to"])
    capped = insert_short(
        base, INDEX, config(insert_short=1, max_calls_per_turn=1, max_merge_calls=1), random.Random(1)
    )
    assert capped == base


def test_merge_joins_turns_up_to_the_limit():
    base = initial_fsp(walk("get_user", "search_flights", "book_flight", "send_email"))
    pairs = merge_turns(base, config(merge=1, max_merge_calls=2), random.Random(0))
    assert shape(pairs) == [["get_user", "search_flights"], ["book_flight", "send_email"]]
    triple = merge_turns(base, config(merge=1), random.Random(0))
    assert shape(triple) == [["get_user", "search_flights", "book_flight"], ["send_email"]]
    assert [turn_type(t.operations) for t in triple.turns] == ["merge", "normal"]
    assert merge_turns(base, config(merge=0), random.Random(0)) == base


def test_merge_counts_helpers_against_the_call_limit():
    helped = insert_short(
        initial_fsp(walk("search_flights", "book_flight")), INDEX, config(insert_short=1), random.Random(0)
    )
    limited = merge_turns(helped, config(merge=1, max_calls_per_turn=2, max_merge_calls=2), random.Random(0))
    assert shape(limited) == [["[get_user]", "search_flights"], ["book_flight"]]
    merged = merge_turns(helped, config(merge=1), random.Random(0))
    assert shape(merged) == [["[get_user]", "search_flights", "book_flight"]]
    assert turn_type(merged.turns[0].operations) == "merge-insert"


def test_insert_long_reuses_an_earlier_call():
    base = initial_fsp(walk("get_user", "get_forecast", "send_email"))
    draft = insert_long(base, INDEX, config(insert_long=1), random.Random(0))
    assert shape(draft) == shape(base)
    assert facts(draft) - facts(base) == {(0, "user.email", 2, "to", "full", "insert-long")}
    assert [turn_type(t.operations) for t in draft.turns] == ["normal", "normal", "insert-long"]


def test_insert_long_adds_the_source_call_to_an_earlier_turn():
    base = initial_fsp(walk("search_flights", "book_flight"))
    draft = insert_long(base, INDEX, config(insert_long=1), random.Random(0))
    assert shape(draft) == [["search_flights", "get_user"], ["book_flight"]]
    assert facts(draft) - facts(base) == {(2, "user.name", 1, "passenger_name", "partial", "insert-long")}
    assert [turn_type(t.operations) for t in draft.turns] == ["merge", "insert-long"]


def test_split_miss_func_withholds_the_function_until_the_next_turn():
    base = initial_fsp(walk("get_user", "send_email"))
    draft = split_turn(base, INDEX, config(split=1, miss_func_share=1), random.Random(3))
    empty = next(k for k, t in enumerate(draft.turns) if t.split)
    split = draft.turns[empty].split
    assert split.kind == "miss-func" and draft.turns[empty].calls == ()
    assert split.call in {c.key for c in draft.turns[empty + 1].calls}
    assert all(split.tool in t.withheld for t in draft.turns[: empty + 1])
    assert all(split.tool not in t.withheld for t in draft.turns[empty + 1 :])
    assert len(draft.turns) == 3 and turn_type(draft.turns[empty].operations) == "empty"


def test_split_miss_param_leaves_out_a_required_value_no_dependency_fills():
    base = initial_fsp(walk("get_user", "send_email"))
    for seed in range(20):
        draft = split_turn(base, INDEX, config(split=1, miss_func_share=0), random.Random(seed))
        (split,) = [t.split for t in draft.turns if t.split]
        assert split.kind == "miss-param"
        # send_email's 'to' comes from get_user, so only 'username' or 'subject' can be withheld.
        assert (split.call, split.parameter) in {(0, "username"), (1, "subject")}
        assert not any(t.withheld for t in draft.turns)


def test_split_falls_back_to_miss_func_when_no_value_can_be_withheld():
    graph = nx.DiGraph()
    graph.add_node(
        "t", ref="s/t", server="s", server_id="s1", input_schema={"properties": {"q": {}}}, outputs=["o"]
    )
    index = GraphIndex.from_digraph(graph)
    draft = split_turn(
        initial_fsp(Walk(("t",), ())), index, config(split=1, miss_func_share=0), random.Random(0)
    )
    assert draft.turns[0].split.kind == "miss-func"


def test_turn_types_follow_methods_table():
    assert turn_type([]) == "normal"
    assert turn_type(["split"]) == "empty"
    assert turn_type(["merge"]) == "merge"
    assert turn_type(["insert-long-source"]) == "merge"
    assert turn_type(["insert-short"]) == "insert-short"
    assert turn_type(["insert-long"]) == "insert-long"
    assert turn_type(["insert-short", "insert-long"]) == "insert-mixed"
    assert turn_type(["merge", "insert-short"]) == "merge-insert"
    assert turn_type(["merge", "insert-long"]) == "merge-insert"
    assert turn_type(["insert-long-source", "insert-long"]) == "merge-insert"


def test_planned_records_follow_the_graph():
    rng = random.Random(7)
    everything = config(merge=0.5, insert_short=1, insert_long=1, split=1)
    for k, names in enumerate(
        [
            ("search_flights", "book_flight", "send_email"),
            ("get_forecast", "get_distance", "set_navigation"),
        ]
    ):
        draft = plan(walk(*names), INDEX, everything, rng)
        assert draft is not None
        path = to_path(draft, INDEX, distractors=3, sampler="graph", seed=7, position=k, rng=rng)
        assert_path_valid(path, GRAPH, 3)
        assert sum(t.type == "empty" for t in path.turns) == 1


def test_distractors_come_from_the_paths_category_first():
    search = tool_named(GRAPH, "search_flights")
    travel = {tool_named(GRAPH, n) for n in ("book_flight", "get_distance", "set_navigation")}
    three = pick_available(INDEX, [search], 3, random.Random(0))
    assert {t.id for t in three if t.distractor} == travel
    assert [t.id for t in three if not t.distractor] == [search]
    five = pick_available(INDEX, [search], 5, random.Random(0))
    assert travel < {t.id for t in five if t.distractor} and len(five) == 6
    everything = pick_available(INDEX, [search], 50, random.Random(0))
    assert {t.id for t in everything} == set(GRAPH.nodes)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"merge": 1.5}, "merge\n  Input should be less than or equal to 1"),
        ({"split": -0.1}, "split\n  Input should be greater than or equal to 0"),
        ({"insert_short": 2}, "insert_short\n  Input should be less than or equal to 1"),
        ({"miss_func_share": 7}, "miss_func_share\n  Input should be less than or equal to 1"),
        ({"max_calls_per_turn": 0}, "max_calls_per_turn\n  Input should be greater than or equal to 1"),
        (
            {"max_merge_calls": 4, "max_calls_per_turn": 3},
            "max_merge_calls (4) must not exceed max_calls_per_turn (3)",
        ),
        ({"merges": 0.5}, "merges\n  Extra inputs are not permitted"),
    ],
)
def test_impossible_operation_settings_are_rejected(settings, message):
    with pytest.raises(ValidationError) as error:
        OperationConfig.model_validate(settings)
    assert message in str(error.value)


# -- argument sources (issue 13) ---------------------------------------------------------------------


def _walk_without_edges(*names: str) -> Walk:
    """The tools in order with no edge facts between them (as if the walk's edges mapped nothing)."""
    return Walk(tuple(tool_named(GRAPH, n) for n in names), ())


def test_an_issued_input_gets_an_earlier_call_that_holds_it():
    # search_flights then book_flight without the walk's fact: book_flight's flight_id (issued) is
    # found in search_flights' output through the graph edge, nearest earlier call first
    draft = initial_fsp(_walk_without_edges("search_flights", "book_flight"))
    sourced = plan_sources(draft, INDEX, config(), random.Random(0))
    assert sourced is not None
    assert facts(sourced) == {(0, "cheapest_id", 1, "flight_id", "partial", "insert-long")}


def test_an_issued_input_with_no_earlier_call_gets_a_helper():
    draft = initial_fsp(_walk_without_edges("book_flight"))
    sourced = plan_sources(draft, INDEX, config(), random.Random(0))
    assert sourced is not None
    assert shape(sourced) == [["[search_flights]", "book_flight"]]
    assert {(d.output, d.input, d.origin) for d in sourced.dependencies} == {
        ("cheapest_id", "flight_id", "insert-short")
    }


def test_a_path_whose_issued_input_has_no_source_is_dropped():
    # only search_flights gives a flight id; it comes later in this path, so it cannot be the source,
    # and a path never calls the same tool twice, so it cannot be a helper either
    draft = initial_fsp(_walk_without_edges("book_flight", "search_flights"))
    assert (
        plan_sources(draft, INDEX, config(max_calls_per_turn=1, max_merge_calls=1), random.Random(0)) is None
    )


def test_no_plan_asks_the_user_for_an_issued_value():
    everything = config(merge=0.5, insert_short=1, insert_long=1, split=1, miss_func_share=0)
    for seed in range(30):
        draft = plan(
            walk("search_flights", "book_flight", "send_email"), INDEX, everything, random.Random(seed)
        )
        assert draft is not None
        for turn in draft.turns:
            if turn.split is not None and turn.split.kind == "miss-param":
                assert turn.split.parameter not in INDEX.nodes[turn.split.tool].issued
        for t in draft.turns:
            for call in t.calls:
                for param in INDEX.nodes[call.tool].issued_required:
                    assert param in draft.covered(call.key)


def test_a_helper_fills_only_required_inputs():
    # get_forecast's optional 'days' is never filled by a helper nobody asked for
    draft = insert_short(
        initial_fsp(walk("get_forecast", "send_email")), INDEX, config(insert_short=1), random.Random(0)
    )
    required = {t: set(INDEX.nodes[t].required) for t in INDEX.ids}
    calls = {c.key: c.tool for t in draft.turns for c in t.calls}
    for dep in draft.dependencies:
        if dep.origin == "insert-short":
            assert dep.input in required[calls[dep.target]]


def test_parallel_calls_repeat_a_call_the_user_states_every_value_of() -> None:
    from graph_toucan.operations import parallel_calls

    base = initial_fsp(walk("get_forecast", "send_email"))
    draft = parallel_calls(base, INDEX, config(parallel=1, max_parallel=3), random.Random(0))
    # get_forecast (city from the user) is repeated; send_email is fed by get_forecast, so it is not
    assert shape(draft)[0][0] == "get_forecast" and set(shape(draft)[0]) == {"get_forecast"}
    assert 2 <= len(shape(draft)[0]) <= 3 and shape(draft)[1] == ["send_email"]
    assert "parallel" in draft.turns[0].operations and not draft.turns[1].operations
    copies = {c.key for c in draft.turns[0].calls[1:]}
    assert not any(d.source in copies or d.target in copies for d in draft.dependencies)
    path = to_path(draft, INDEX, distractors=2, sampler="graph", seed=0, position=0, rng=random.Random(0))
    assert_path_valid(path, GRAPH, distractors=2)
    assert path.turns[0].type == "merge"  # several intents in one turn
    never = parallel_calls(base, INDEX, config(parallel=1, max_parallel=1), random.Random(0))
    assert shape(never) == shape(base)


def test_later_tasks_follow_the_first_unmerged_and_bridged() -> None:
    from graph_toucan.walks import WalkConfig, later_tasks, start_nodes

    first = walk("get_user", "search_flights")
    settings = WalkConfig(second_task=1, second_max_steps=1, max_tasks=2)
    found = later_tasks(INDEX, first, settings, random.Random(3), start_nodes(INDEX, settings))
    assert len(found) == 1
    task, bridge = found[0]
    assert bridge is not None and bridge.source in first.tools and task.tools[0] == bridge.target
    assert not set(task.tools) & set(first.tools)
    draft = merge_turns(initial_fsp(first, found), config(merge=1, max_merge_calls=3), random.Random(0))
    assert [t.task for t in draft.turns] == [0] + [1] * (len(draft.turns) - 1)
    assert len(draft.turns) == 2, "each task's turns merge among themselves, never across"
    path = to_path(draft, INDEX, distractors=2, sampler="graph", seed=0, position=0, rng=random.Random(0))
    assert_path_valid(path, GRAPH, distractors=2)
    assert "new-task" in path.turns[1].operations and "new-task" not in path.turns[0].operations
    assert any(d.origin == "insert-long" and d.target == path.turns[1].calls[0].id for d in path.dependencies)
    never = WalkConfig(second_task=0)
    assert later_tasks(INDEX, first, never, random.Random(3), start_nodes(INDEX, never)) == []
    # with no edge out of the first task, a later task is a new topic from another start, unbridged
    lone = walk("check_file_exists", "download_file", "send_email")
    many = WalkConfig(second_task=1, second_max_steps=1, max_tasks=3)
    tasks = later_tasks(INDEX, lone, many, random.Random(1), start_nodes(INDEX, many))
    assert tasks and all(not set(t.tools) & set(lone.tools) for t, _ in tasks)
    assert any(b is None for _, b in tasks)
    used = [tool for t, _ in tasks for tool in t.tools]
    assert len(used) == len(set(used)), "tasks never share a tool"
