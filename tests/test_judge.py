"""The edge judge by meaning, on a fixture in BFCL's multi_turn_func_doc layout and on the bundled
example: the curated true dependencies are found and kept by pruning, the name-match traps are not
linked, a partial edge fills a required input, and the teacher's prompt shows what it must."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from graph_toucan.annotate import annotate_tools
from graph_toucan.catalog import import_entries, read_catalog
from graph_toucan.graph import build_graph, filtered_outputs
from graph_toucan.judge import EDGE_JUDGE, EdgeAnswer, Node, edge_inputs, judge_nodes, trim_repeats
from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.llm.task import OutputParseError
from graph_toucan.pruning import PruneConfig, candidates
from graph_toucan.store import Store
from tests.conftest import EXAMPLE, FIXTURES

BFCL_DOCS = FIXTURES / "bfcl" / "multi_turn_func_doc"

# (source, target, type, mapping) that the functions' ground truth uses
TRUE_EDGES = [
    ("get_user_id", "send_message", "full", {("user_id", "receiver_id")}),
    ("get_user_id", "message_login", "full", {("user_id", "user_id")}),
    ("add_contact", "send_message", "full", {("user_id", "receiver_id")}),
    ("get_nearest_airport_by_city", "book_flight", "partial", {("nearest_airport", "travel_from")}),
    ("liter_to_gallon", "fillFuelTank", "full", {("gallon", "fuelAmount")}),
    ("get_available_stocks", "place_order", "partial", {("stock_list", "symbol")}),
    ("get_available_stocks", "get_stock_info", "full", {("stock_list", "symbol")}),
    ("get_watchlist", "get_stock_info", "full", {("watchlist", "symbol")}),
    ("place_order", "get_order_details", "full", {("order_id", "order_id")}),
]
# name-match traps: the same word, another meaning
TRAPS = [
    ("message_login", "send_message"),  # a login's status message is no message body
    ("get_order_details", "fund_account"),  # a number of shares is no amount of money
    ("fund_account", "get_order_details"),  # a funding status is no order
    ("get_order_details", "displayCarStatus"),  # an order's status is no display option
    ("send_message", "get_order_details"),  # a message id is no order id
]


@pytest.fixture(scope="module")
def bfcl(tmp_path_factory) -> tuple[Store, dict[str, Node]]:
    store = Store(tmp_path_factory.mktemp("bfcl") / "gt.db")
    import_entries(store, read_catalog(BFCL_DOCS))
    llm = LLM(OfflineBackend(), store)
    asyncio.run(annotate_tools(store, llm))
    nodes = {}
    for tool in store.tools():
        _, outputs, _ = asyncio.run(filtered_outputs(tool, llm))
        nodes[tool.name] = Node.of(tool, outputs)
    yield store, nodes
    store.close()


@pytest.mark.parametrize(
    ("source", "target", "kind", "mapping"), TRUE_EDGES, ids=[f"{s}->{t}" for s, t, *_ in TRUE_EDGES]
)
def test_true_dependencies_are_found(bfcl, source, target, kind, mapping):
    _, nodes = bfcl
    answer = judge_nodes(nodes[source], nodes[target])
    assert (answer.type, {(m.output, m.input) for m in answer.mapping}) == (kind, mapping), answer


@pytest.mark.parametrize(("source", "target"), TRAPS, ids=[f"{s}->{t}" for s, t in TRAPS])
def test_name_match_traps_are_not_linked(bfcl, source, target):
    _, nodes = bfcl
    assert judge_nodes(nodes[source], nodes[target]).type == "none"


def test_pruning_keeps_every_edge_of_the_fixture(bfcl):
    _, nodes = bfcl
    found = {
        (a.id, b.id) for a, b in itertools.permutations(nodes.values(), 2) if judge_nodes(a, b).type != "none"
    }
    kept = {
        (s, t) for s, ts in candidates(list(nodes.values()), PruneConfig(cap=5, floor=0)).items() for t in ts
    }
    assert len(found) >= len(TRUE_EDGES)
    assert found - kept == set()


def test_graph_build_on_the_fixture(bfcl):
    store, nodes = bfcl
    graph, report = asyncio.run(build_graph(store, LLM(OfflineBackend(), store)))
    ids = {n.name: n.id for n in nodes.values()}
    for source, target, kind, _ in TRUE_EDGES:
        assert graph.edges[ids[source], ids[target]]["type"] == kind
    assert not any(graph.has_edge(ids[s], ids[t]) for s, t in TRAPS)
    assert report.failed == []


@pytest.fixture(scope="module")
def example_nodes(tmp_path_factory) -> dict[str, Node]:
    store = Store(tmp_path_factory.mktemp("example") / "gt.db")
    import_entries(store, read_catalog(EXAMPLE))
    llm = LLM(OfflineBackend(), store)
    asyncio.run(annotate_tools(store, llm))
    nodes = {}
    for tool in store.tools():
        if tool.output_schema:
            _, outputs, _ = asyncio.run(filtered_outputs(tool, llm))
            nodes[tool.ref] = Node.of(tool, outputs)
    yield nodes
    store.close()


def test_days_in_a_month_are_no_forecast_horizon(example_nodes):
    days = example_nodes["Time MCP Server/days_in_month"]
    forecast = example_nodes["United States Weather/get_weather_forecast"]
    assert any(f.name == "days" for f in days.outputs) and any(p.name == "days" for p in forecast.params)
    assert judge_nodes(days, forecast).type == "none"


def test_a_partial_edge_fills_a_required_input(example_nodes):
    """Every partial edge of the example maps at least one required input of its target."""
    partial = 0
    for a, b in itertools.permutations(example_nodes.values(), 2):
        answer = judge_nodes(a, b)
        if answer.type == "partial":
            partial += 1
            required = {p.name for p in b.params if p.required}
            assert required & {m.input for m in answer.mapping}, (a.ref, b.ref, answer)
    assert partial > 10


def test_the_teacher_answer_for_partial_must_fill_a_required_input(bfcl):
    _, nodes = bfcl
    inputs = edge_inputs(nodes["get_nearest_airport_by_city"], nodes["compute_exchange_rate"])
    bad = '{"type": "partial", "mapping": [{"output": "nearest_airport", "input": "value"}], "reason": "r"}'
    # value is required there, so this one is accepted as far as requirement goes
    assert EDGE_JUDGE.parse(bad, inputs).type == "partial"
    target = {
        **inputs["target"],
        "inputs": [{**p, "required": p["name"] != "value"} for p in inputs["target"]["inputs"]],
    }
    with pytest.raises(OutputParseError, match="at least one required input"):
        EDGE_JUDGE.parse(bad, {**inputs, "target": target})
    assert isinstance(EDGE_JUDGE.parse('{"type": "none", "mapping": [], "reason": "r"}', inputs), EdgeAnswer)


def test_the_teacher_prompt_shows_inputs_lists_and_says_a_preamble_once(bfcl):
    _, nodes = bfcl
    inputs = edge_inputs(nodes["get_user_id"], nodes["send_message"])
    prompt = EDGE_JUDGE.render(inputs).user
    preamble = (
        "This tool belongs to the Message API, which is used to manage user interactions in a workspace."
    )
    assert prompt.count(preamble) == 1
    assert "Source tool `message_api/get_user_id` (" in prompt and "): Get user ID from user name." in prompt
    assert "It is called with:\n- user (string, required): User name of the user." in prompt
    assert "receiver_id (string, required, issued by a system)" in prompt
    assert "One\nitem fills a scalar parameter" in prompt and "all items fill an array" in prompt
    # a long description repeated on another field is given once
    long = "A description long enough to be worth saying once, repeated on every field of the tool here."
    source = {
        **inputs["source"],
        "outputs": [{"path": p, "type": "string", "description": long} for p in ("a", "b")],
    }
    trimmed = trim_repeats({**inputs, "source": source})
    assert [o["description"] for o in trimmed["source"]["outputs"]] == [long, "(as for source output a)"]


def test_the_offline_judge_answers_the_task_views(bfcl):
    """The task's offline answer (from the views the teacher sees) is the judge's answer on nodes."""
    _, nodes = bfcl
    for source, target, *_ in TRUE_EDGES:
        a, b = nodes[source], nodes[target]
        assert EDGE_JUDGE.offline(edge_inputs(a, b)) == judge_nodes(a, b)


def test_fixture_is_in_bfcl_layout():
    """One JSON object per line in .json files, with BFCL's keys and Python type names."""
    import json

    for path in sorted(Path(BFCL_DOCS).glob("*.json")):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(lines) > 1
        for line in lines:
            doc = json.loads(line)
            assert set(doc) == {"name", "description", "parameters", "response"}
            assert doc["parameters"]["type"] == "dict" and "Tool description: " in doc["description"]


def test_the_teacher_prompt_carries_what_the_judge_needs(bfcl):
    """A model on the fake OpenAI-compatible server that reads only the rendered prompt, judging by the
    offline rules, answers every labelled fixture pair as the offline judge does on the nodes."""
    from graph_toucan.llm.backends import OpenAIBackend
    from tests.fakes import Reply, fake_llm_server
    from tests.prompt_judge import answer_from_prompt

    store, nodes = bfcl
    pairs = [(s, t) for s, t, *_ in TRUE_EDGES] + TRAPS
    with fake_llm_server() as fake:
        fake.default = lambda body: Reply(answer_from_prompt(body["messages"][-1]["content"]))
        llm = LLM(OpenAIBackend("fake-judge", api_key="k", base_url=f"{fake.url}/v1", timeout=30), store)

        async def judge_all() -> list[EdgeAnswer]:
            return [await llm.run(EDGE_JUDGE, edge_inputs(nodes[s], nodes[t])) for s, t in pairs]

        answers = asyncio.run(judge_all())
        prompts = [r.body["messages"][-1]["content"] for r in fake.requests]
    assert len(prompts) == len(pairs)
    assert [a.type for a in answers] == [judge_nodes(nodes[s], nodes[t]).type for s, t in pairs]
    assert [a.mapping for a in answers] == [judge_nodes(nodes[s], nodes[t]).mapping for s, t in pairs]
    assert all("It is called with:" in p for p in prompts)
