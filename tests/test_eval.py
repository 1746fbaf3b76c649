"""``graph-toucan eval`` on conversations the offline pipeline made and exported: the reference scores 100%
(the harness's self-check), a model on the loopback fake server that never calls a tool scores only its
share of irrelevance conversations, and one that returns the reference calls with one argument changed
loses exactly those turns; resumable results, the report, the budget, and the scoring rules."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from graph_toucan.cli import app
from graph_toucan.errors import BudgetExceeded
from graph_toucan.evaluate import default_mocks, load_conversations, run_eval
from graph_toucan.evaluate.data import EvalConversation, EvalDataError, parse_row
from graph_toucan.evaluate.models import AnthropicChatModel, OpenAIChatModel, ReferenceModel, make_model
from graph_toucan.evaluate.runner import EvalError
from graph_toucan.evaluate.scoring import match_steps, same_argument, state_delta
from graph_toucan.export import export
from graph_toucan.llm import LLM, Budget, OfflineBackend
from graph_toucan.pipeline import PipelineConfig, run_pipeline
from graph_toucan.refusal import Mixture
from graph_toucan.store import Store
from tests.conftest import toucan_catalog
from tests.fakes import HTTPFailure, ReferenceReplies, Reply, fake_llm_server, offered_at


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export of the bundled example: translations and every refusal kind (trl and openai rows)."""
    store = Store.open(tmp_path_factory.mktemp("workspace"))
    mixture = Mixture(irrelevance=0.2, miss_func=0.15, miss_params=0.15)
    asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), PipelineConfig(n=16, mixture=mixture)))
    out = tmp_path_factory.mktemp("export")
    export(store, out, ["trl", "openai"], validation_share=0.3)
    store.close()
    return out


@pytest.fixture(scope="module")
def conversations(dataset: Path) -> list[EvalConversation]:
    return load_conversations(dataset, "all")


def evaluate(model: Any, dataset: Path, out: Path, **options: Any) -> dict[str, Any]:
    return asyncio.run(run_eval(model, data=dataset, out=out, split="all", **options))


def test_the_dataset_has_every_kind(conversations):
    kinds = {c.kind for c in conversations}
    assert kinds == {"translation", "miss-func", "miss-params", "irrelevance"}
    roles = {t.role for c in conversations for t in c.turns}
    assert roles == {"act", "ask", "decline"}


def test_the_reference_scores_everything_and_a_rerun_resumes(dataset, conversations, tmp_path):
    summary = evaluate(ReferenceModel(), dataset, tmp_path / "eval")
    assert summary["conversations"] == len(conversations) and summary["accuracy"] == 1.0
    assert summary["turn_accuracy"] == 1.0 and set(summary["accuracy_by_kind"].values()) == {1.0}
    assert summary["checks"] == {"calls": 1.0, "offered": 1.0, "state": 1.0, "answered": 1.0}
    assert summary["replay"]["calls"] == summary["replay"]["equal_to_dataset"] > 0  # results as recorded
    assert summary["replay"]["final_state_equal_to_dataset"] == len(conversations)
    assert summary["complete"] and summary["scored_now"] == len(conversations)
    again = evaluate(ReferenceModel(), dataset, tmp_path / "eval")
    assert again["scored_now"] == 0 and again["resumed"] == len(conversations) and again["accuracy"] == 1.0
    rows = sqlite3.connect(tmp_path / "eval" / "eval.db").execute(
        "select count(*), count(distinct id) from results"
    )
    assert rows.fetchone() == (len(conversations), len(conversations))
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert report["summary"]["accuracy"] == 1.0 and report["worst"] == []
    assert "| miss-func |" in (tmp_path / "eval" / "report.md").read_text()


def test_the_openai_rows_score_the_same(dataset, tmp_path):
    openai_only = tmp_path / "data"
    shutil.copytree(dataset / "openai", openai_only / "openai")
    summary = evaluate(ReferenceModel(), openai_only, tmp_path / "eval")
    assert summary["accuracy"] == 1.0 and summary["conversations"] > 0


def test_a_model_that_never_calls_scores_only_the_irrelevance_share(dataset, conversations, tmp_path):
    with fake_llm_server() as fake:
        fake.default = Reply("I cannot help with that.")
        model = make_model("openai/tester", base_url=f"{fake.url}/v1", api_key="k")
        summary = evaluate(model, dataset, tmp_path / "eval", concurrency=4)
        bodies = [r.body for r in fake.requests]
    share = sum(c.kind == "irrelevance" for c in conversations) / len(conversations)
    assert summary["accuracy"] == pytest.approx(share, abs=1e-4) and 0 < share < 1
    assert summary["accuracy_by_kind"]["irrelevance"] == 1.0
    assert all(summary["accuracy_by_kind"][k] == 0.0 for k in ("translation", "miss-func", "miss-params"))
    declines = [t for c in conversations for t in c.turns if t.role == "decline"]
    silent = sum(not t.steps for t in declines) / len(declines)  # a decline may still make doable calls
    assert summary["roles"]["decline"]["accuracy"] == pytest.approx(silent, abs=1e-3)
    assert summary["roles"]["act"]["accuracy"] < 0.2
    assert summary["usage"]["requests"] == len(bodies) and summary["usage"]["input_tokens"] == 100 * len(
        bodies
    )
    # a miss-func row's function is offered from the turn that adds it, never before
    late = next(c for c in conversations if c.kind == "miss-func")
    added = late.turns[1].introduced[0]["name"]
    first = [
        b for b in bodies if b["messages"][0]["content"] == late.turns[0].user and len(b["messages"]) == 1
    ]
    base = frozenset(f["name"] for f in late.functions)
    assert added not in base and base in {frozenset(t["function"]["name"] for t in b["tools"]) for b in first}
    second = [
        b
        for b in bodies
        if b["messages"][0]["content"] == late.turns[0].user
        and any(m.get("content") == late.turns[1].user for m in b["messages"])
    ]
    assert second and all(added in {t["function"]["name"] for t in b["tools"]} for b in second)
    assert "Functions available from now on" not in json.dumps(second[0]["messages"])
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert report["worst"] and "reference calls" in report["worst"][0]["transcript"]


def _change(arguments: dict[str, Any]) -> dict[str, Any] | None:
    for name, value in arguments.items():
        if isinstance(value, str):
            return arguments | {name: value + " and more"}
        if isinstance(value, bool):
            return arguments | {name: not value}
        if isinstance(value, int | float):
            return arguments | {name: value + 7}
    return None


def test_one_changed_argument_loses_exactly_those_turns(dataset, conversations, tmp_path):
    fake_model = ReferenceReplies(conversations, anthropic=True)
    changed: set[tuple[str, int]] = set()
    for n, c in enumerate(conversations):
        last = max((k for k, t in enumerate(c.turns) if t.calls), default=None)
        if (
            last is None
            or n % 2
            or len(fake_model.index[(tuple(t.user for t in c.turns[: last + 1]), offered_at(c, last))]) > 1
        ):
            continue  # (a turn another conversation repeats word for word cannot be changed for one of them)
        steps = [[(x.name, dict(x.arguments)) for x in s] for s in c.turns[last].steps]
        for step in steps:
            new = _change(step[0][1])
            if new is not None:
                step[0] = (step[0][0], new)
                fake_model.changed[(c.id, last)] = steps
                changed.add((c.id, last))
                break
    assert len(changed) >= 3
    with fake_llm_server() as fake:
        fake.default = fake_model
        model = make_model("anthropic/tester", base_url=fake.url, api_key="k")
        summary = evaluate(model, dataset, tmp_path / "eval", concurrency=8)
    results = json.loads((tmp_path / "eval" / "report.json").read_text())["conversations"]
    lost = {(r["id"], k) for r in results for k, t in enumerate(r["turns"]) if not t["correct"]}
    assert lost == changed
    assert all(
        not t["checks"]["calls"] for r in results for k, t in enumerate(r["turns"]) if (r["id"], k) in changed
    )
    wrong = {cid for cid, _ in changed}
    assert summary["correct"] == len(conversations) - len(wrong)


def test_the_budget_stops_the_run_and_a_rerun_finishes(dataset, conversations, tmp_path):
    with fake_llm_server() as fake:
        fake.default = Reply("No.")
        url = f"{fake.url}/v1"
        first = evaluate(
            make_model("openai/tester", base_url=url, api_key="k", budget=Budget(max_calls=25)),
            dataset,
            tmp_path / "eval",
            concurrency=1,
        )
        assert first["stopped"] and "budget" in first["stopped"] and not first["complete"]
        assert 0 < first["conversations"] < len(conversations)
        second = evaluate(make_model("openai/tester", base_url=url, api_key="k"), dataset, tmp_path / "eval")
    assert second["complete"] and second["conversations"] == len(conversations)
    assert second["resumed"] == first["conversations"]


def test_transient_failures_are_retried(dataset, tmp_path):
    with fake_llm_server() as fake:
        fake.script(HTTPFailure(429, retry_after="0"), HTTPFailure(503))
        fake.default = Reply("No.")
        model = make_model("openai/tester", base_url=f"{fake.url}/v1", api_key="k")
        model.backoff_s = 0.0
        summary = evaluate(model, dataset, tmp_path / "eval", limit=1)
    assert summary["conversations"] == 1 and not summary["failed"]


def test_a_report_folder_of_another_model_is_refused(dataset, tmp_path):
    evaluate(ReferenceModel(), dataset, tmp_path / "eval", limit=1)
    with fake_llm_server() as fake, pytest.raises(EvalError, match="holds an eval of another model"):
        evaluate(make_model("openai/x", base_url=f"{fake.url}/v1", api_key="k"), dataset, tmp_path / "eval")


def test_cli_prints_the_summary_as_json(dataset, tmp_path):
    result = CliRunner().invoke(
        app,
        ["-w", str(tmp_path / "ws"), "eval", "--model", "reference", "--data", str(dataset), "--split", "all",
         "--out", str(tmp_path / "eval"), "--limit", "5", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["conversations"] == 5 and summary["accuracy"] == 1.0
    assert set(summary["accuracy_by_kind"]) <= {"translation", "miss-func", "miss-params", "irrelevance"}
    bad = CliRunner().invoke(
        app, ["eval", "--model", "gpt", "--data", str(dataset), "--out", str(tmp_path / "x")]
    )
    assert bad.exit_code != 0 and "openai/MODEL" in str(bad.exception)


@pytest.mark.slow
def test_the_full_catalog_dataset_replays_at_100_percent(tmp_path):
    """Servers of the full TOUCAN catalog (not the bundled slice), their mocks built by the pipeline."""
    servers = sorted((toucan_catalog() / "mcp_servers").glob("*.json"))[:12]
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    for path in servers:
        shutil.copy(path, catalog / path.name)
    store = Store.open(tmp_path / "ws")
    config = PipelineConfig(
        n=8, catalogs=[catalog], mixture=Mixture(irrelevance=0.2, miss_func=0.1, miss_params=0.1)
    )
    asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), config))
    export(store, tmp_path / "export", ["trl"], validation_share=0.3)
    mocks = default_mocks(store.mocks(status="accepted"))
    store.close()
    summary = evaluate(ReferenceModel(), tmp_path / "export", tmp_path / "eval", mocks=mocks)
    assert summary["conversations"] >= 5 and summary["accuracy"] == 1.0 and not summary["unmocked"]


# -- the parts --------------------------------------------------------------------------------------------


def test_rows_without_replay_columns_are_refused_with_what_to_do():
    with pytest.raises(EvalDataError, match="without --no-metadata"):
        parse_row({"messages": [], "tools": "[]"})


def test_calls_match_order_insensitive_within_a_step_with_defaults_tolerated():
    schema = {"a": {"properties": {"x": {}, "unit": {"default": "c"}}, "required": ["x"]}, "b": {}}
    ref = [[("a", {"x": 1}), ("b", {"q": "New York"})], [("a", {"x": 2})]]
    assert match_steps([("b", {"q": "new york"}), ("a", {"x": 1.0}), ("a", {"x": 2})], ref, schema) is None
    assert (
        match_steps([("a", {"x": 1, "unit": "c"}), ("b", {"q": "New York"}), ("a", {"x": 2})], ref, schema)
        is None
    )
    assert "step 1" in match_steps(
        [("a", {"x": 1, "unit": "f"}), ("b", {"q": "New York"}), ("a", {"x": 2})], ref, schema
    )
    assert "step 2" in match_steps([("a", {"x": 1}), ("b", {"q": "New York"}), ("a", {})], ref, schema)
    assert "2 call(s)" in match_steps([("a", {"x": 1}), ("b", {"q": "New York"})], ref, schema)
    assert match_steps([("a", {"x": 2}), ("b", {"q": "New York"}), ("a", {"x": 1})], ref, schema) is not None
    assert same_argument("2024-01-05", "2024/01/05") and not same_argument("Paris", "London")


def test_a_state_change_is_what_a_turn_wrote_not_what_it_saw():
    before = {"records": {"s": {"file": {"a": {"content": "1"}}}}, "deleted": {}, "seen_ids": ["x"]}
    after = {
        "records": {"s": {"file": {"a": {"content": "2"}, "b": {}}}},
        "deleted": {"s": {"file": ["c"]}},
        "seen_ids": ["x", "y"],
    }
    delta = state_delta(before, after)
    assert set(delta["records"]) == {"s/file/a", "s/file/b"} and delta["deleted"] == ["s/file/c"]
    assert state_delta(after, after) == {"records": {}, "deleted": []}


def test_anthropic_messages_group_a_steps_results_and_skip_empty_text():
    wire = AnthropicChatModel.wire_messages(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "1", "name": "f", "arguments": {}}, {"id": "2", "name": "g", "arguments": {"a": 1}}]},
            {"role": "tool", "tool_call_id": "1", "name": "f", "content": "{}"},
            {"role": "tool", "tool_call_id": "2", "name": "g", "content": "{}"},
            {"role": "assistant", "content": "done"},
        ]
    )  # fmt: skip
    assert [m["role"] for m in wire] == ["user", "assistant", "user", "assistant"]
    assert [b["type"] for b in wire[1]["content"]] == ["tool_use", "tool_use"]
    assert [b["tool_use_id"] for b in wire[2]["content"]] == ["1", "2"]
    openai = OpenAIChatModel.wire_messages(
        [
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "1", "name": "f", "arguments": {"a": 1}, "raw": ""}],
            }
        ],
        "sys",
    )
    assert (
        openai[0] == {"role": "system", "content": "sys"}
        and openai[1]["tool_calls"][0]["function"]["arguments"] == '{"a": 1}'
    )


def test_the_budget_is_checked_before_each_request():
    model = ReferenceModel()
    assert model.label == "reference"
    paid = make_model(
        "openai/gpt-4.1", base_url="http://127.0.0.1:9/v1", api_key="k", budget=Budget(max_calls=0)
    )
    with pytest.raises(BudgetExceeded):
        asyncio.run(paid.reply([{"role": "user", "content": "x"}], []))


# -- one row's tools for an external agent under test ---------------------------------------------------


@pytest.mark.slow
async def test_serve_mocks_serves_a_rows_tools_that_replay_its_results(dataset, tmp_path):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    from tests.conftest import script

    lines = (dataset / "trl" / "train.jsonl").read_text().splitlines()
    lines += (dataset / "trl" / "validation.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    n, row = next((n, r) for n, r in enumerate(rows) if r["kind"] == "miss-func")
    (tmp_path / "rows.jsonl").write_text("\n".join(lines) + "\n")
    conversation = parse_row(row)
    command = [script("graph-toucan"), "-w", str(tmp_path / "ws"), "serve-mocks", "--bundled", "--row"]
    params = StdioServerParameters(command=command[0], args=[*command[1:], f"{tmp_path / 'rows.jsonl'}:{n}"])
    async with Client(params, read_timeout_seconds=60) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        assert listed == {r["name"] for r in row["tool_refs"]}  # the function a later turn adds included
        assert conversation.turns[1].introduced[0]["name"] in listed
        for call in [c for t in conversation.turns for c in t.calls]:
            result = await client.call_tool(call.name, call.arguments)
            assert not result.is_error and result.structured_content == json.loads(call.result)


async def test_every_session_of_a_served_row_starts_from_its_initial_state():
    from fastmcp import Client as FastMCPClient

    from graph_toucan.mock.files import bundled_mock_folder, mock_server_module, read_mock_folder
    from graph_toucan.mock.runtime import MockRuntime
    from graph_toucan.mock.sandbox import SandboxPool
    from graph_toucan.mock.simulate import Conversations, DeterministicSimulator

    module = mock_server_module()
    bundled = read_mock_folder(bundled_mock_folder())
    read = next(m for m in bundled if m.tool.ref == "Terminal Controller/read_file").tool
    write = next(m for m in bundled if m.tool.ref == "Terminal Controller/write_file").tool
    initial = {"records": {read.server_id: {"file": {"a.txt": {"content": "seeded"}}}}}
    row = {
        "seed": 3,
        "tools": "[]",
        "mock_state": json.dumps({"initial": initial, "final": initial}),
        "tool_refs": [
            {"name": "cat", "tool": read.ref, "tool_id": read.id},
            {"name": "save", "tool": write.ref, "tool_id": write.id},
        ],
    }
    async with SandboxPool(workers=1) as pool:
        runtime = MockRuntime(
            pool,
            DeterministicSimulator(seed=row["seed"]),
            conversations=Conversations(initial=module.row_state(row)),
        )
        runtime.add(bundled)
        server = module.create_server(runtime, names=module.row_names(row, runtime))
        await server.publish(bundled)
        async with (
            FastMCPClient(server.app, mode="legacy") as first,
            FastMCPClient(server.app, mode="legacy") as second,
        ):
            assert {t.name for t in await first.list_tools()} == {"cat", "save"}
            assert (await first.call_tool("cat", {"path": "a.txt"})).structured_content["content"] == "seeded"
            await first.call_tool("save", {"path": "a.txt", "content": "mine"})
            assert (await first.call_tool("cat", {"path": "a.txt"})).structured_content["content"] == "mine"
            assert (await second.call_tool("cat", {"path": "a.txt"})).structured_content[
                "content"
            ] == "seeded"
