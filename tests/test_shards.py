"""Sharded runs and merging: disjoint shard streams, a merge that is a set union (idempotent, in any
order), and a Ray run on a local cluster equal to the unsharded run of the same streams, which is the
shards' streams translated one after another in one workspace (shards.py)."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import sys
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from graph_toucan.cli import app
from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.merge import MergeError, _tables, merge_workspaces
from graph_toucan.path_feed import PathFeed
from graph_toucan.pipeline import BEFORE_TRANSLATE, PipelineConfig, run_pipeline
from graph_toucan.sampling import load_config, population, sample_paths
from graph_toucan.shards import (
    RAY_MISSING,
    ShardError,
    Teacher,
    plan_shards,
    run_on_ray,
    run_sequential,
    run_sharded,
    shard_config,
    shard_seed,
    translate_shard,
    workspace_files,
    write_workspace,
)
from graph_toucan.store import DB_NAME, Store
from tests.conftest import missing

N = 6  # accepted conversations per run, over 2 shards


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the example catalog imported, annotated, graphed and mocked (offline)."""
    folder = tmp_path_factory.mktemp("prepared")
    store = Store.open(folder)
    asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), PipelineConfig(stages=BEFORE_TRANSLATE)))
    assert store.count("mocks") and not store.count("conversations")
    store.close()
    return folder


def _copy(prepared: Path, folder: Path) -> Store:
    shutil.copytree(prepared, folder)
    return Store.open(folder)


def _config(store: Store, n: int = N) -> PipelineConfig:
    return PipelineConfig(n=n, export_dir=store.workspace / "dataset")


def _records(workspace: Path, skip: tuple[str, ...] = ("llm_calls", "runs")) -> dict[str, list[Any]]:
    """Every record of a workspace by table, without the columns saying when or in which run it was
    written; the call log and the runs table (which differ from run to run) are left out."""
    conn = sqlite3.connect(workspace / DB_NAME)
    out: dict[str, list[Any]] = {}
    for table in _tables(conn):
        if table in skip:
            continue
        columns = [r[1] for r in conn.execute(f"pragma table_info({table})")]
        kept = [c for c in columns if c not in ("created_at", "updated_at", "run_id")]
        out[table] = sorted(conn.execute(f"select {', '.join(kept)} from {table}").fetchall(), key=repr)
    conn.close()
    return out


def _export(folder: Path, workspace: Path) -> dict[str, bytes]:
    """Every exported file's bytes; the statistics name the workspace they came from, which is not data."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes().replace(str(workspace).encode(), b"WORKSPACE")
            files[str(path.relative_to(folder))] = data
    return files


def _accepted(store: Store) -> dict[str, str]:
    return {c.id: c.model_dump_json() for c in store.conversations(status="accepted")}


@pytest.fixture(scope="module")
def reference(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The unsharded run of the two shards' streams: one after another, in one workspace."""
    folder = tmp_path_factory.mktemp("reference") / "ws"
    store = _copy(prepared, folder)
    report = asyncio.run(run_sequential(store, Teacher(), _config(store), 2))
    assert report.report.accepted == N and [s["accepted"] for s in report.shards] == [3, 3]
    store.close()
    return folder


# -- the plan -------------------------------------------------------------------------------------------
def test_shards_split_n_and_have_their_own_streams() -> None:
    plan = plan_shards(10, 3, seed=7)
    assert [s.n for s in plan] == [4, 3, 3] and sum(s.n for s in plan) == 10
    assert plan[0].seed == 7 and len({s.seed for s in plan}) == 3
    assert [s.seed for s in plan_shards(8, 2, 7)] == [s.seed for s in plan[:2]]  # more shards keep streams
    assert shard_seed(7, 1) != shard_seed(8, 1) and 0 <= shard_seed(7, 1) < 2**31
    with pytest.raises(ShardError, match="use at most 2 shards"):
        plan_shards(2, 3, 0)


def test_the_shards_never_draw_the_same_path(prepared: Path) -> None:
    # Short walks with no distractors: two seeds' streams repeat each other's paths, and a path's id
    # is its content, not its seed; the shard filter still keeps the shards apart.
    config = load_config(
        None, **{"distractors": 0, "walk.max_steps": 1, "walk.second_task": 0, "operations.parallel": 0}
    )
    store = Store.open(prepared)
    index = population(store, "graph", config)
    store.close()
    seeds = [s.seed for s in plan_shards(N, 2, 0)]
    plain = [{p.id for p in islice(sample_paths("graph", index, config, seed), 150)} for seed in seeds]
    assert plain[0] & plain[1]
    sharded = [
        [
            p.id
            for p in islice(
                sample_paths("graph", index, shard_config(PipelineConfig(sample=config), s).sample, s.seed),
                60,
            )
        ]
        for s in plan_shards(N, 2, 0)
    ]
    assert not set(sharded[0]) & set(sharded[1]) and all(len(ids) == 60 for ids in sharded)
    assert all(int(i, 16) % 2 == k for k, ids in enumerate(sharded) for i in ids)
    full = [p.id for p in islice(sample_paths("graph", index, config, seeds[1]), 400)]
    assert sharded[1] == [i for i in full if int(i, 16) % 2 == 1][:60]  # the seed's stream, filtered


def test_a_shard_feed_writes_its_own_paths_and_resumes_from_them(prepared: Path, tmp_path: Path) -> None:
    # What the pipeline samples through: the feed of each shard writes only that shard's paths, numbered
    # from 0, and a second feed (a rerun) continues from its cursor instead of planning (graph) or
    # drawing (random) them again.
    config = load_config(
        None, **{"distractors": 0, "walk.max_steps": 1, "walk.second_task": 0, "operations.parallel": 0}
    )
    store = _copy(prepared, tmp_path / "ws")
    plan = plan_shards(N, 2, 0)
    for sampler in ("graph", "random"):
        given = []
        for s in plan:
            sharded = shard_config(PipelineConfig(sample=config), s).sample
            expected = [
                p.id
                for p in islice(
                    sample_paths(sampler, population(store, sampler, sharded), sharded, s.seed), 50
                )
            ]
            first = PathFeed(store, sampler, s.seed, sharded).take(30)
            again = PathFeed(store, sampler, s.seed, sharded)
            assert again.resumed == 30 and again.stored == 30
            assert again.extend(20) == 20 and first == expected[:30]
            assert again.stored_ids() == expected
            assert all(int(i, 16) % 2 == s.index for i in expected)
            assert [p.index for p in store.paths(sampler=sampler, seed=s.seed)] == list(range(50))
            given.append(set(expected))
        assert not given[0] & given[1]
    store.close()


def test_each_shard_gets_an_endpoint_and_a_share_of_the_budget() -> None:
    teacher = Teacher("openai/m", urls=("http://a/v1", "http://b/v1"), max_calls=7, max_cost=3.0)
    shards = plan_shards(9, 3, 0)
    assert [teacher.url(s) for s in shards] == ["http://a/v1", "http://b/v1", "http://a/v1"]
    assert [teacher.budget(s).max_calls for s in shards] == [3, 2, 2]
    assert teacher.budget(shards[0]).max_cost_usd == 1.0 and teacher.budget(None).max_calls == 7
    assert Teacher().url(shards[0]) is None


def test_one_shard_is_the_unsharded_run(prepared: Path, tmp_path: Path) -> None:
    plain = _copy(prepared, tmp_path / "plain")
    asyncio.run(run_pipeline(plain, LLM(OfflineBackend(), plain), _config(plain, 4)))
    sharded = _copy(prepared, tmp_path / "sharded")
    report = asyncio.run(run_sequential(sharded, Teacher(), _config(sharded, 4), 1))
    assert report.report.accepted == 4
    assert _accepted(sharded) == _accepted(plain) and len(_accepted(plain)) >= 4
    assert _records(sharded.workspace) == _records(plain.workspace)
    assert _export(sharded.workspace / "dataset", sharded.workspace) == _export(
        plain.workspace / "dataset", plain.workspace
    )


def test_the_shards_streams_are_disjoint(reference: Path) -> None:
    store = Store.open(reference)
    seeds = [s.seed for s in plan_shards(N, 2, 0)]
    by_seed = {seed: {p.id for p in store.paths(seed=seed)} for seed in seeds}
    assert all(by_seed.values()) and not by_seed[seeds[0]] & by_seed[seeds[1]]
    translations = list(store.conversations(kind="translation", status="accepted"))
    assert sorted(c.seed for c in translations) == sorted([seeds[0]] * 3 + [seeds[1]] * 3)
    store.close()


# -- merging --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shard_workspaces(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Each shard translated in its own copy of the prepared workspace, as a Ray task does it."""
    root = tmp_path_factory.mktemp("shards")
    files = workspace_files(prepared)
    folders = []
    for shard in plan_shards(N, 2, 0):
        out, report, *_ = translate_shard(files, shard, _config(Store.open(prepared)), Teacher())
        assert report.accepted == shard.n
        write_workspace(root / shard.name, out)
        folders.append(root / shard.name)
    return folders


def _merged(prepared: Path, folder: Path, sources: list[Path]) -> Store:
    store = _copy(prepared, folder)
    merge_workspaces(store, sources)
    return store


def test_merged_shards_equal_the_unsharded_run(
    prepared: Path, reference: Path, shard_workspaces: list[Path], tmp_path: Path
) -> None:
    merged = _merged(prepared, tmp_path / "merged", shard_workspaces)
    asyncio.run(run_sequential(merged, Teacher(), _config(merged), 2))  # translation is done: the rest
    ref = Store.open(reference)
    assert _accepted(merged) == _accepted(ref)
    assert _records(merged.workspace) == _records(reference)
    assert _export(merged.workspace / "dataset", merged.workspace) == _export(
        reference / "dataset", reference
    )


def test_merging_is_idempotent_and_order_free(
    prepared: Path, shard_workspaces: list[Path], tmp_path: Path
) -> None:
    forward = _merged(prepared, tmp_path / "forward", shard_workspaces)
    first = _records(forward.workspace, skip=())
    again = merge_workspaces(forward, shard_workspaces)
    assert again.added == {} and again.replaced == {}
    assert _records(forward.workspace, skip=()) == first
    backward = Store.open(tmp_path / "backward")  # an empty workspace, the other order
    merge_workspaces(backward, list(reversed(shard_workspaces)))
    assert _records(backward.workspace) == _records(forward.workspace)
    assert backward.count("llm_calls") == forward.count("llm_calls") > 0
    assert (backward.workspace / "graph.json").read_bytes() == (prepared / "graph.json").read_bytes()
    assert [t.id for t in backward.tools(search="weather")] == [t.id for t in forward.tools(search="weather")]


def test_the_newer_version_of_a_record_wins_in_any_order(prepared: Path, tmp_path: Path) -> None:
    old, new = _copy(prepared, tmp_path / "old"), _copy(prepared, tmp_path / "new")
    tool = next(t for t in new.tools() if t.name == "get_current_weather")
    new.db.execute(
        "update tools set description = ?, updated_at = updated_at + 100 where id = ?",
        ["Current weather, renamed", tool.id],
    )
    new.db.conn.commit()
    new.close()
    old.close()
    results = []
    for order in ([tmp_path / "old", tmp_path / "new"], [tmp_path / "new", tmp_path / "old"]):
        target = Store.open(tmp_path / f"target-{len(results)}")
        report = merge_workspaces(target, order)
        assert target.get_tool(tool.id).description == "Current weather, renamed"
        assert [t.id for t in target.tools(search="renamed")] == [tool.id]  # the search index followed
        results.append((_records(target.workspace), report.replaced))
    assert results[0][0] == results[1][0]
    assert results[1][1] == {} and results[0][1] == {"tools": 1}  # replaced only when it came second


def test_merge_refuses_what_is_not_a_workspace(prepared: Path, tmp_path: Path) -> None:
    target = Store.open(tmp_path / "target")
    with pytest.raises(MergeError, match="is not a workspace"):
        merge_workspaces(target, [tmp_path / "nothing"])
    with pytest.raises(MergeError, match="target workspace itself"):
        merge_workspaces(target, [tmp_path / "target"])
    newer = _copy(prepared, tmp_path / "newer")
    newer.db.execute("pragma user_version = 999")
    newer.close()
    with pytest.raises(MergeError, match="newer graph-toucan"):
        merge_workspaces(target, [tmp_path / "newer"])
    assert target.count("tools") == 0  # nothing half-merged


def test_merge_command(prepared: Path, shard_workspaces: list[Path], tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["-w", str(tmp_path / "merged"), "merge", *map(str, shard_workspaces), "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["added"]["conversations"] == N
    second = runner.invoke(app, args)
    assert json.loads(second.stdout)["added"] == {}
    bad = runner.invoke(app, ["-w", str(tmp_path / "merged"), "merge", str(tmp_path)])
    assert bad.exit_code != 0 and "is not a workspace" in str(bad.exception)


def test_ray_missing_says_what_to_install(
    prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as without the extra
    store = _copy(prepared, tmp_path / "ws")
    with pytest.raises(ShardError, match=r"pip install 'graph-toucan\[ray\]'"):
        run_sharded(store, Teacher(), _config(store), 2, ray=True)
    assert store.count("paths") == 0  # it failed before any stage ran
    result = CliRunner().invoke(
        app, ["-w", str(tmp_path / "ws"), "run", "--n", "2", "--shards", "2", "--ray"]
    )
    assert result.exit_code != 0 and str(result.exception) == RAY_MISSING


# -- Ray ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_cluster() -> Any:
    """One local Ray cluster of 2 CPUs for the module."""
    try:
        import ray
    except ImportError:
        missing("needs Ray for the sharded runs on Ray: pip install -e '.[test,ray]'")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_a_ray_run_equals_the_unsharded_run(
    ray_cluster: Any, prepared: Path, reference: Path, tmp_path: Path
) -> None:
    store = _copy(prepared, tmp_path / "ray")
    report = asyncio.run(run_on_ray(store, Teacher(), _config(store), 2))
    assert report.executor == "ray" and report.report.accepted == N
    assert [s["index"] for s in report.shards] == [0, 1] and len(report.merges) == 2
    assert sorted(p.name for p in (store.workspace / "shards").iterdir()) == ["shard-0-of-2", "shard-1-of-2"]
    ref = Store.open(reference)
    assert _accepted(store) == _accepted(ref)
    assert _records(store.workspace) == _records(reference)
    assert _export(store.workspace / "dataset", store.workspace) == _export(reference / "dataset", reference)


def test_run_command_on_ray_resumes_with_nothing_new(
    ray_cluster: Any, prepared: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    _copy(prepared, workspace).close()
    args = ["-w", str(workspace), "run", "--n", "4", "--shards", "2", "--ray", "--json"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["executor"] == "ray" and report["accepted"] == 4 and report["new_accepted"] == 4
    again = json.loads(CliRunner().invoke(app, args).stdout)
    assert again["accepted"] == 4 and again["new_accepted"] == 0
    assert all(m["added"] == {} for m in again["merges"])


def test_a_failing_shard_stops_the_run_and_is_named(ray_cluster: Any, prepared: Path, tmp_path: Path) -> None:
    store = _copy(prepared, tmp_path / "ws")
    config = replace(_config(store), sample=load_config(None, distractors=500))  # more than there are tools
    with pytest.raises(
        ShardError, match=r"shard-\d-of-2 \(seed \d+\) failed: SamplingError: distractors=500"
    ):
        asyncio.run(run_on_ray(store, Teacher(), config, 2))
    assert store.conversation_count() == 0
