"""``graph-toucan sample`` and ``paths list|show|stats`` on a workspace holding the travel graph."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graph_toucan.cli import app
from graph_toucan.errors import GraphToucanError
from graph_toucan.graph import graph_path, save_graph
from graph_toucan.store import Store
from tests.sampling_graphs import travel_graph, travel_servers_and_tools

runner = CliRunner()


def invoke(workspace: Path, *args: str) -> str:
    result = runner.invoke(app, ["--workspace", str(workspace), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    store = Store.open(tmp_path)
    servers, tools = travel_servers_and_tools()
    for server in servers:
        store.upsert_server(server)
    store.upsert_tools(tools)
    save_graph(travel_graph(), graph_path(store))
    store.close()
    return tmp_path


def test_sample_is_idempotent_and_continues_the_stream(workspace: Path):
    first = json.loads(invoke(workspace, "sample", "--n", "12", "--json"))
    assert (first["sampled"], first["new"], first["already_stored"], first["exhausted"]) == (12, 12, 0, False)
    assert (first["tools"], first["usable_edges"]) == (9, 11)
    again = json.loads(invoke(workspace, "sample", "--n", "12", "--json"))
    assert (again["new"], again["already_stored"], again["stored_paths"]) == (0, 12, 12)
    more = json.loads(invoke(workspace, "sample", "--n", "15", "--json"))
    assert (more["new"], more["stored_paths"]) == (3, 15)
    listed = json.loads(invoke(workspace, "paths", "list", "--limit", "100", "--json"))
    assert [p["index"] for p in listed] == list(range(15))
    table = invoke(workspace, "sample", "--n", "500", "--walks-per-start", "5")
    assert "only" in table and "distinct paths exist" in table


def test_show_prints_a_path_readably(workspace: Path):
    invoke(workspace, "sample", "--n", "20", "--split", "1", "--insert-short", "1", "--json")
    paths = json.loads(invoke(workspace, "paths", "list", "--json", "--limit", "50"))
    assert all(any(t["type"] == "empty" for t in p["turns"]) for p in paths)
    path = next(p for p in paths if any(c["implicit"] for t in p["turns"] for c in t["calls"]))
    text = invoke(workspace, "paths", "show", path["id"][:6])
    assert f"path {path['id']}" in text and "turn 1" in text and "(implicit)" in text
    assert "no call: miss-" in text and "available tools:" in text
    for call in (c for t in path["turns"] for c in t["calls"]):
        assert f"{call['id']} {call['tool']}" in text
    for dep in path["dependencies"]:
        if dep["type"] != "prerequisite":
            assert f"{dep['input']} <- {dep['source']}.{dep['output']}" in text
    assert json.loads(invoke(workspace, "paths", "show", path["id"], "--json")) == path


def test_stats_put_the_samplers_side_by_side(workspace: Path):
    invoke(workspace, "sample", "--n", "15", "--json")
    invoke(workspace, "sample", "--sampler", "random", "--n", "10", "--distractors", "2", "--json")
    figures = json.loads(invoke(workspace, "paths", "stats", "--json"))
    assert set(figures) == {"graph", "random"}
    assert figures["graph"]["paths"] == 15 and figures["random"]["paths"] == 10
    assert (
        figures["random"]["turns"]["histogram"] == {"1": 10} and figures["random"]["dependency_types"] == {}
    )
    assert figures["random"]["distractors"]["histogram"] == {"2": 10}
    assert figures["graph"]["dependency_types"] and figures["graph"]["tool_coverage"] > 0
    only = json.loads(invoke(workspace, "paths", "stats", "--sampler", "random", "--json"))
    assert only == {"random": figures["random"]}
    table = invoke(workspace, "paths", "stats")
    assert "turns per path" in table and "turn types: normal" in table and "random" in table


def test_start_tools(workspace: Path):
    no_operations = ["--merge", "0", "--insert-short", "0", "--insert-long", "0", "--split", "0"]
    no_operations += ["--parallel", "0", "--second-task", "0"]
    invoke(workspace, "sample", "--n", "50", "--start", "Flights/search_flights", *no_operations, "--json")
    paths = json.loads(invoke(workspace, "paths", "list", "--json", "--limit", "50"))
    assert sorted(tuple(t["calls"][0]["tool"] for t in p["turns"]) for p in paths) == [
        ("Flights/search_flights", "Flights/book_flight"),
        ("Flights/search_flights", "Flights/book_flight", "Mail/send_email"),
    ]


def test_mistakes_are_clear_errors(workspace: Path, tmp_path: Path):
    with pytest.raises(GraphToucanError, match="use at most 8 distractors"):
        invoke(workspace, "sample", "--distractors", "9")
    with pytest.raises(GraphToucanError, match=r"operations\.merge: Input should be less than or equal to 1"):
        invoke(workspace, "sample", "--merge", "2")
    with pytest.raises(GraphToucanError, match="no single path matches 'abcdef'"):
        invoke(workspace, "paths", "show", "abcdef")
    with pytest.raises(GraphToucanError, match="no paths stored; run 'graph-toucan sample"):
        invoke(workspace, "paths", "stats")
    empty = tmp_path / "empty"
    with pytest.raises(
        GraphToucanError, match=r"no dependency graph at .*run 'graph-toucan graph build' first"
    ):
        invoke(empty, "sample")
    with pytest.raises(GraphToucanError, match="run 'graph-toucan annotate' first"):
        invoke(empty, "sample", "--sampler", "random")


def test_profiles_shape_the_paths_and_settings_still_win(workspace: Path, tmp_path: Path):
    from graph_toucan.sampling import PROFILES, load_config

    magnet = load_config(None, "magnet")
    assert (magnet.walk.min_steps, magnet.walk.max_steps, magnet.operations.max_calls_per_turn) == (2, 7, 6)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"walk": {"max_steps": 5}}))
    mixed = load_config(settings, "magnet", **{"operations.merge": 0.1})
    assert (mixed.walk.max_steps, mixed.walk.min_steps, mixed.operations.merge) == (5, 2, 0.1)
    with pytest.raises(GraphToucanError, match="unknown profile 'deep'; use one of bfcl, magnet"):
        load_config(None, "deep")
    assert set(PROFILES) == {"bfcl", "magnet"}
    invoke(workspace, "sample", "--n", "12", "--profile", "bfcl", "--json")
    paths = json.loads(invoke(workspace, "paths", "list", "--json", "--limit", "50"))
    assert paths and all(len(t["calls"]) <= 4 for p in paths for t in p["turns"])
    assert all(sum(not c["implicit"] for t in p["turns"] for c in t["calls"]) >= 2 for p in paths)


def test_a_larger_sample_resumes_the_stream_where_it_stopped(workspace: Path, tmp_path: Path, monkeypatch):
    """The second sample plans only the new paths, and they are the paths one sample of all gives."""
    import graph_toucan.sampling as sampling

    first = json.loads(invoke(workspace, "sample", "--n", "12", "--json"))
    planned = []
    real_plan = sampling.plan

    def counting(*args, **kwargs):
        planned.append(1)
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(sampling, "plan", counting)
    more = json.loads(invoke(workspace, "sample", "--n", "30", "--json"))
    assert (more["sampled"], more["new"], more["already_stored"]) == (17, 5, 12)  # all there are
    resumed_plans = len(planned)
    planned.clear()
    again = json.loads(invoke(workspace, "sample", "--n", "12", "--json"))
    assert again["new"] == 0 and again["sampled"] == 12 and not planned  # nothing planned at all
    store = Store.open(workspace)
    resumed = [p.model_dump() for p in store.paths()]
    store.close()

    fresh = tmp_path / "fresh"
    shutil.copytree(workspace, fresh, ignore=shutil.ignore_patterns("*.db*"))
    store = Store.open(fresh)
    servers, tools = travel_servers_and_tools()
    for server in servers:
        store.upsert_server(server)
    store.upsert_tools(tools)
    store.close()
    planned.clear()
    invoke(fresh, "sample", "--n", "30", "--json")
    assert 5 <= resumed_plans < len(planned)  # the stored 12 were not planned again
    store = Store.open(fresh)
    assert [p.model_dump() for p in store.paths()] == resumed  # the same stream, position by position
    store.close()
    assert first["sampled"] == 12
