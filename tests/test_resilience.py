"""Nothing lost, nothing stuck: Ctrl-C at any moment, two runs on one workspace, a manifest truncated
by an old kill, an export that fails halfway, kills inside the stages and imports (a smaller version of
benchmarks/kill_resume.py), and a killed import of a catalog of one's own."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from graph_toucan.catalog import import_entries, read_catalog
from graph_toucan.export import export
from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.pipeline import Pipeline, PipelineConfig, catalog_run_id
from graph_toucan.resources import example_catalog
from graph_toucan.store import DB_NAME, Store
from tests.kill_driver import final_state, run_to_end, trial

CLI = [sys.executable, "-c", "from graph_toucan.console import main; main()"]


def _cli(workspace: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "-w", str(workspace), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_ctrl_c_prints_one_line_and_exits_130_at_any_moment_then_a_rerun_resumes(tmp_path: Path) -> None:
    """Before: typer swallowed the CLI's handler (exit 130, empty stderr) or a traceback showed."""
    workspace = tmp_path / "ws"
    for delay in (0.0, 1.0, 3.0, 6.0, 10.0):
        proc = _cli(workspace, "run", "--n", "3", "--json")
        started = time.monotonic()  # the handler is in place once the CLI opens the workspace (a signal
        while not (workspace / DB_NAME).exists() and time.monotonic() - started < 60:  # inside Python's
            time.sleep(0.02)  # own start-up, before any of our code, is Python's)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == 0:
            break  # finished before the signal
        assert proc.returncode == 130, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, err
        assert lines[0].startswith("interrupted: graph-toucan run") and "rerun the same command" in lines[0]
    final = _cli(workspace, "run", "--n", "3", "--json")
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert json.loads(out)["accepted"] == 3


@pytest.mark.slow
def test_two_runs_on_one_workspace_go_one_at_a_time_and_never_overshoot(tmp_path: Path) -> None:
    """Before: 5 of 13 concurrent pairs accepted 84 instead of 80 and exported something else."""
    workspace, alone = tmp_path / "ws", tmp_path / "alone"
    first = _cli(workspace, "run", "--n", "4", "--json")
    second = _cli(workspace, "run", "--n", "4", "--json")
    time.sleep(2.0)
    busy = _cli(workspace, "run", "--n", "4", "--no-wait")
    _, busy_err = busy.communicate(timeout=60)
    results = [p.communicate(timeout=600) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], results
    assert [json.loads(out)["accepted"] for out, _ in results] == [4, 4]
    assert any("waiting for another writer (pid " in err for _, err in results)
    assert busy.returncode == 1 and "is in use by another writer (pid " in busy_err, busy_err
    store = Store.open(workspace)
    accepted = store.conversation_count(status="accepted", kind="translation")
    store.close()
    assert accepted == 4
    done = _cli(alone, "run", "--n", "4", "--json")
    done.communicate(timeout=600)
    assert final_state(workspace) == final_state(alone)


def test_a_truncated_mock_manifest_does_not_block_a_rerun(tmp_path: Path) -> None:
    """Before: the manifest a kill left half written stopped `run` and `mock build` on every rerun."""
    store = Store.open(tmp_path)
    llm = LLM(OfflineBackend(), store)
    asyncio.run(Pipeline(store, llm, PipelineConfig(n=0, pairs=False)).run())
    manifest = tmp_path / "mock_tools" / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(text[: len(text) // 3])
    asyncio.run(Pipeline(store, llm, PipelineConfig(n=1, pairs=False)).run())
    assert json.loads(manifest.read_text())["mocks"]


def test_an_export_that_fails_halfway_leaves_the_previous_files(tmp_path: Path, monkeypatch) -> None:
    store = Store.open(tmp_path / "ws")
    llm = LLM(OfflineBackend(), store)
    asyncio.run(Pipeline(store, llm, PipelineConfig(n=3, pairs=False)).run())
    out = tmp_path / "dataset"
    export(store, out, ["openai"])

    def written() -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in out.rglob("*") if p.suffix in (".jsonl", ".parquet")}

    before = written()
    import graph_toucan.export as module

    def broken(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setitem(module.SFT_RENDER, "openai", broken)
    with pytest.raises(OSError, match="disk full"):
        export(store, out, ["openai"])
    assert written() == before and len(before) == 4
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_kills_inside_the_stages_and_the_import_resume_to_the_uninterrupted_result(tmp_path: Path) -> None:
    n = 3
    seconds = run_to_end(tmp_path / "baseline", n)
    baseline = final_state(tmp_path / "baseline")
    rng = random.Random(19)
    catalog = tmp_path / "catalog"
    shutil.copytree(example_catalog(), catalog)
    for i, (stage, given) in enumerate((("import", None), ("import", catalog), ("export", None))):
        landed, equal = trial(tmp_path / f"t{i}", n, stage, baseline, seconds, rng, given)
        assert equal, f"kill in {stage} (landed in {landed}): the rerun differs"


def test_a_killed_import_of_a_given_catalog_completes_on_rerun(tmp_path: Path) -> None:
    """Any catalog, not only the bundled example: the import is marked started until done."""
    catalog = tmp_path / "catalog"
    shutil.copytree(example_catalog(), catalog)
    store = Store.open(tmp_path / "ws")
    run_id = catalog_run_id(catalog)
    store.record_run(run_id, f"import {catalog}", "started", time.time(), {})
    import_entries(store, list(read_catalog(catalog))[:4])  # the kill came after four servers
    partial = store.count("tools")
    pipeline = Pipeline(store, LLM(OfflineBackend(), store), PipelineConfig(n=1, catalogs=[catalog]))
    asyncio.run(pipeline.import_catalog())
    assert 0 < partial < store.count("tools") == 98
    assert store.run_status(run_id) == "done"
    # done and unchanged: skipped; a changed catalog is a new import
    assert catalog_run_id(catalog) == run_id
    (catalog / "extra.json").write_text("{}")
    assert catalog_run_id(catalog) != run_id


def test_every_stage_records_its_completion(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    asyncio.run(Pipeline(store, LLM(OfflineBackend(), store), PipelineConfig(n=1, pairs=False)).run())
    for stage in ("import", "annotate", "graph", "mocks", "translate", "augment", "stats"):
        assert store.run_status(f"stage:{stage}") == "done", stage
