"""The statistics report on conversations the offline pipeline made with both samplers: every figure
recomputed from the store's records, the published reference rows, the files and the command."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graph_toucan.cli import app
from graph_toucan.errors import GraphToucanError
from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.pipeline import PipelineConfig, run_pipeline
from graph_toucan.records import Conversation
from graph_toucan.refusal import Mixture
from graph_toucan.stats import StatsReport, compute_stats, reason_key, stats_markdown, write_stats
from graph_toucan.store import Store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store.open(tmp_path_factory.mktemp("workspace"))
    mixture = Mixture(irrelevance=0.15, miss_func=0.1, miss_params=0.1)
    for sampler, n in (("graph", 30), ("random", 12)):
        config = PipelineConfig(n=n, sampler=sampler, mixture=mixture, pairs=False)  # type: ignore[arg-type]
        asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), config))
    return store


@pytest.fixture(scope="module")
def report(store: Store) -> StatsReport:
    return compute_stats(store)


def _of(store: Store, sampler: str) -> tuple[list[Conversation], list[Conversation]]:
    every = [c for c in store.conversations() if c.sampler == sampler]
    return [c for c in every if c.status == "accepted"], [c for c in every if c.status == "rejected"]


def _mean(values: list[int]) -> float:
    return round(sum(values) / len(values), 3)


@pytest.mark.parametrize("sampler", ["graph", "random"])
def test_figures_match_the_stored_conversations(report: StatsReport, store: Store, sampler: str) -> None:
    accepted, rejected = _of(store, sampler)
    f = report.columns[sampler]
    assert (f["conversations"], f["rejected"]) == (len(accepted), len(rejected)) and accepted
    multi = [c for c in accepted if len(c.turns) > 1]
    assert f["multi_turn"]["count"] == len(multi) and f["single_turn"]["count"] == len(accepted) - len(multi)
    assert f["turns"]["mean"] == _mean([len(c.turns) for c in accepted])
    assert f["turns_multi"]["mean"] == _mean([len(c.turns) for c in multi])
    assert f["calls_per_conversation"]["mean"] == _mean([len(c.calls) for c in accepted])
    assert f["calls_multi"]["mean"] == _mean([len(c.calls) for c in multi])
    turns = [t for c in accepted for t in c.turns]
    assert f["steps_per_turn"]["mean"] == _mean([len(t.steps) for t in turns])
    assert f["calls_per_turn"]["mean"] == _mean([len(t.calls) for t in turns])
    kinds = Counter(c.kind for c in accepted)
    assert {k: v["count"] for k, v in f["kinds"].items()} == kinds
    assert f["refusal_share"] == round(1 - kinds["translation"] / len(accepted), 4)
    assert {k: v["count"] for k, v in f["turn_types"].items()} == Counter(t.type for t in turns)
    assert {k: v["count"] for k, v in f["dependency_types"].items()} == Counter(
        d.type for c in accepted for d in c.dependencies
    )
    used = {call.tool_id for c in accepted for call in c.calls}
    servers = {t.server_id for t in store.tools() if t.id in used}
    assert (f["tools_used"], f["servers_used"]) == (len(used), len(servers))
    assert f["tool_coverage"] == round(len(used) / len(store.tools()), 4)
    assert f["server_coverage"] == round(len(servers) / len(store.servers()), 4)
    for name, rate in f["checks"].items():
        checks = [ch for c in accepted + rejected for ch in c.checks if ch.name == name]
        assert (rate["passed"], rate["total"]) == (sum(ch.passed for ch in checks), len(checks))
    reasons = Counter(k for c in rejected for k in {reason_key(r) for r in c.reasons})
    assert {k: v["count"] for k, v in f["rejection_reasons"].items()} == dict(reasons.most_common(10))


def test_both_samplers_side_by_side_with_published_references(report: StatsReport) -> None:
    assert list(report.columns) == ["graph", "random"]
    assert report.columns["graph"]["kinds"].keys() >= {"translation", "irrelevance"}
    text = stats_markdown(report)
    comparison = text.split("## Comparison")[1].split("##")[0]
    rows = {
        line.split(" | ")[0].strip("| "): line for line in comparison.splitlines() if line.startswith("| ")
    }
    assert {"graph-toucan, graph sampler", "graph-toucan, random baseline"} <= set(rows)
    assert "| 4.71 |" in rows["MAGNET (published)"] and "| 15.13 |" in rows["MAGNET (published)"]
    toucan = rows["TOUCAN-1.5M (published)"].split(" | ")
    assert toucan[1] == "1.5M" and toucan[4:9] == [""] * 5  # no invented turn or call figures
    figures = text.split("## Figures by sampler")[1]
    assert "| figure | graph sampler | random baseline |" in figures
    assert "| kind: irrelevance |" in figures and "| check pass rate: arguments_valid |" in figures


def test_call_log_figures_per_accepted_conversation(report: StatsReport, store: Store) -> None:
    log = report.call_log
    rows = store.call_stats()
    assert log["total"]["calls"] == sum(r["calls"] for r in rows) > 0
    accepted = store.conversation_count(status="accepted")
    assert log["per_accepted"]["calls"] == round(log["total"]["calls"] / accepted, 2)
    assert log["per_accepted"]["cost_usd"] == 0.0  # the offline teacher is free


def test_files_and_plots(report: StatsReport, tmp_path: Path) -> None:
    paths = write_stats(report, tmp_path / "stats")
    assert json.loads(paths["json"].read_text()) == json.loads(json.dumps(report.as_dict()))
    text = paths["markdown"].read_text()
    for name in ("turns", "calls_per_conversation", "turn_types", "dependency_types"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"]({name}.png)" in text


def test_stats_command_prints_the_tables_and_writes_the_report(store: Store, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--workspace", str(store.workspace), "stats"]
    shown = runner.invoke(app, args, catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert all(word in shown.output for word in ("MAGNET", "4.71", "15.13", "random", "arguments_valid"))
    as_json = runner.invoke(app, [*args, "--out", str(tmp_path), "--json"], catch_exceptions=False)
    figures = json.loads(as_json.output)
    assert (
        figures["samplers"]["graph"]["conversations"]
        == store.conversation_count(status="accepted") - (figures["samplers"]["random"]["conversations"])
    )
    assert (tmp_path / "stats.md").exists() and Path(figures["files"]["turns"]).exists()


def test_empty_workspace_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(GraphToucanError, match="graph-toucan run"):
        compute_stats(Store.open(tmp_path))
