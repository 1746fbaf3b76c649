"""Kill-and-resume trials, shared by ``tests/test_resilience.py`` and ``benchmarks/kill_resume.py``.

``python -m tests.kill_driver WORKSPACE N [CATALOG]`` runs the whole pipeline (offline teacher, export
to ``WORKSPACE/dataset``) and prints each stage's name as it starts, so a parent can SIGKILL it inside a
chosen stage; :func:`trial` does that once and reruns to the end; :func:`final_state` is what must
equal an uninterrupted run's: conversation and pair ids with their content, and every exported file's
bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.pipeline import Pipeline, PipelineConfig
from graph_toucan.store import Store

STAGES = ("import", "annotate", "graph", "mocks", "translate", "augment", "pairs", "stats", "export")
ROOT = Path(__file__).resolve().parents[1]


class _Announcing(Pipeline):
    async def _stage(self, name: str, work: Any) -> None:
        print(f"stage {name}", flush=True)
        await super()._stage(name, work)


def _child(workspace: Path, n: int, catalog: Path | None) -> None:
    store = Store.open(workspace)
    config = PipelineConfig(n=n, export_dir=workspace / "dataset", catalogs=[catalog] if catalog else [])
    report = asyncio.run(_Announcing(store, LLM(OfflineBackend(), store), config).run())
    print(f"done {report.accepted}", flush=True)


def start(workspace: Path, n: int, catalog: Path | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.kill_driver", str(workspace), str(n)]
    return subprocess.Popen(
        [*command, *([str(catalog)] if catalog else [])],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_to_end(
    workspace: Path, n: int, catalog: Path | None = None, timeout: float = 600
) -> dict[str, float]:
    """An uninterrupted run; returns the seconds of each stage (from the runs table)."""
    proc = start(workspace, n, catalog)
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0 or f"done {n}" not in out:
        raise AssertionError(f"run failed ({proc.returncode}): {err[-2000:]}")
    return stage_seconds(workspace)


def stage_seconds(workspace: Path) -> dict[str, float]:
    store = Store.open(workspace)
    rows = store.db.execute("select command, summary from runs where id like 'stage:%'").fetchall()
    store.close()
    return {command: json.loads(summary).get("seconds", 0.0) for command, summary in rows}


def killed_in(workspace: Path) -> str | None:
    """The stage a killed run died in: the one recorded started and not done."""
    store = Store.open(workspace)
    rows = store.db.execute("select command from runs where status = 'started'").fetchall()
    store.close()
    started = [r[0] for r in rows]
    stages = [s for s in STAGES if s in started]
    imports = [s for s in started if s.startswith("import ")]
    return "import" if imports else (stages[0] if stages else None)


def kill_inside(workspace: Path, n: int, stage: str, delay: float, catalog: Path | None = None) -> str | None:
    """Start a run, SIGKILL it ``delay`` seconds after ``stage`` starts; returns the stage it died in
    ("between stages" after one stage's end and the next one's start; None when it finished first)."""
    proc = start(workspace, n, catalog)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == f"stage {stage}":
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            break
    proc.communicate(timeout=120)
    if proc.returncode != -signal.SIGKILL:
        return None
    return killed_in(workspace) or "between stages"


def final_state(workspace: Path) -> dict[str, Any]:
    store = Store.open(workspace)
    conversations = {c.id: c.model_dump_json() for c in store.conversations()}
    pairs = {p.id: p.model_dump_json() for p in store.pairs()}
    tools = sorted(t.id for t in store.tools())
    store.close()
    files = {
        str(p.relative_to(workspace / "dataset")): hashlib.sha256(_comparable(p)).hexdigest()
        for p in sorted((workspace / "dataset").rglob("*"))
        if p.is_file()
    }
    return {"tools": tools, "conversations": conversations, "pairs": pairs, "export": files}


def _comparable(path: Path) -> bytes:
    """A file's bytes; for ``stats.json`` without the two values that differ between any two runs
    (the workspace's path and the measured call latency)."""
    if path.name != "stats.json":
        return path.read_bytes()

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("workspace", "avg_latency_s")}
        return [strip(v) for v in value] if isinstance(value, list) else value

    return json.dumps(strip(json.loads(path.read_text())), sort_keys=True).encode()


def trial(
    workspace: Path,
    n: int,
    stage: str,
    baseline: dict[str, Any],
    seconds: dict[str, float],
    rng: random.Random,
    catalog: Path | None = None,
) -> tuple[str | None, bool]:
    """One kill inside ``stage`` at a random point of its usual duration, then a rerun to the end;
    returns the stage the kill landed in and whether the result equals ``baseline``."""
    delay = rng.uniform(0.0, 0.9 * seconds.get(stage, 0.1))
    landed = kill_inside(workspace, n, stage, delay, catalog)
    run_to_end(workspace, n, catalog)
    return landed, final_state(workspace) == baseline


if __name__ == "__main__":
    _child(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else None)
