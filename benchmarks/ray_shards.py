"""The speed-up of ``run --shards 2 --ray`` over the unsharded run of the same streams (issue 22).

    python benchmarks/ray_shards.py [--n 200] [--remote-n 128] [--concurrency 32] [--latency 0.1] [--json]

From one prepared workspace (the bundled example catalog imported, annotated, graphed and mocked
offline), each teacher runs the same 2 shard streams three ways, each from a fresh copy:

- ``sequential``: the streams one after another in one process and one workspace (``run --shards 2``
  without Ray): the unsharded run of the same streams, the reference;
- ``ray``: the streams as 2 Ray tasks on a local cluster of 2 CPUs (started, and its workers warmed
  up, before the clock starts), their workspaces shipped back and merged;

and checks that the Ray run's accepted conversations, every record and the export's bytes equal the
reference's. Teachers: the offline one, and a fake OpenAI-compatible endpoint on 127.0.0.1
(tests/fakes.py) that answers every request as the offline teacher would (by the request alone, see
:func:`answer`) after a fixed latency; each
shard's process runs its own endpoint (one endpoint per shard, as ``--teacher-url`` gives). Figures:
seconds of the translation phase and end to end, accepted conversations per second, the speed-up, and
the machine's load average beside each (this machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = str(Path(__file__).resolve().parents[1])
sys.path.insert(0, ROOT)  # tests.fakes: the fake teacher endpoint

from graph_toucan.llm import LLM, OfflineBackend, OpenAIBackend  # noqa: E402
from graph_toucan.merge import _tables  # noqa: E402
from graph_toucan.pipeline import AFTER_TRANSLATE, BEFORE_TRANSLATE, PipelineConfig, run_pipeline  # noqa: E402
from graph_toucan.shards import Shard, Teacher, run_on_ray, run_sequential  # noqa: E402
from graph_toucan.store import DB_NAME, Store  # noqa: E402


@dataclass
class FakeEndpoint(Teacher):
    """A teacher behind a fake OpenAI-compatible endpoint started in the process that uses it."""

    latency: float = 0.1

    @contextlib.asynccontextmanager
    async def open(self, store: Store, shard: Shard | None = None) -> AsyncIterator[LLM]:
        sys.path.insert(0, ROOT)  # in a Ray worker too
        from tests.fakes import PromptBook, Reply, fake_llm_server, first_user_prompt

        book = PromptBook().install()
        try:
            with fake_llm_server() as fake:
                fake.delay_s = self.latency
                fake.default = lambda body: Reply(json.dumps(answer(book, first_user_prompt(body))))
                backend = OpenAIBackend(
                    self.name.partition("/")[2], api_key="bench", base_url=f"{fake.url}/v1"
                )
                llm = LLM(backend, store, max_concurrency=self.concurrency, budget=self.budget(shard))
                try:
                    yield llm
                finally:
                    await llm.aclose()
        finally:
            book.uninstall()


def answer(book: Any, prompt: str) -> dict[str, Any]:
    """The offline teacher's answer to the prompt, computed as if the run's seed were 0: the value
    simulator's offline answer depends on the seed, which its request does not show, and a teacher
    must answer a request the same way each time (as the call log's cache assumes) for the runs of
    the same streams to be equal."""
    from graph_toucan.llm.task import TASKS

    name, inputs = book.lookup(prompt)
    if "seed" in inputs:
        inputs = {**inputs, "seed": 0}
    return TASKS[name].offline(inputs).model_dump(mode="json")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def records(workspace: Path) -> dict[str, list[Any]]:
    """Every record but the call log and the runs, without when or by which run it was written."""
    conn = sqlite3.connect(workspace / DB_NAME)
    out = {}
    for table in _tables(conn):
        if table in ("llm_calls", "runs"):
            continue
        columns = [r[1] for r in conn.execute(f"pragma table_info({table})")]
        kept = ", ".join(c for c in columns if c not in ("created_at", "updated_at", "run_id"))
        out[table] = sorted(conn.execute(f"select {kept} from {table}").fetchall(), key=repr)
    conn.close()
    return out


def _data_only(value: Any) -> Any:
    """The statistics without what describes the runs rather than the data: the workspace's path and
    the call log (its latencies differ between any two runs, and a sequential run answers a request
    that both shards make from its one cache, where two shards each make it)."""
    return {k: v for k, v in value.items() if k not in ("workspace", "call_log")}


def _without_call_log(text: str) -> str:
    """A rendered page without the table under its "Teacher calls" heading."""
    out, skipping = [], False
    for line in text.splitlines():
        if line.startswith("#"):
            skipping = line.lstrip("# ").startswith("Teacher calls")
        if not (skipping and line.startswith("|")):
            out.append(line)
    return "\n".join(out)


def exported(workspace: Path) -> dict[str, Any]:
    """The export's bytes; the statistics as :func:`_data_only` keeps them, and the dataset card and
    statistics page, which render the call log, without it."""
    folder = workspace / "dataset"
    files: dict[str, Any] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            name = str(path.relative_to(folder))
            data = path.read_bytes()
            if name == "stats/stats.json":
                files[name] = _data_only(json.loads(data))
            elif name in ("README.md", "stats/stats.md"):
                files[name] = _without_call_log(data.decode())
            else:
                files[name] = data
    return files


def one(prepared: Path, root: Path, mode: str, teacher: Teacher, n: int) -> dict[str, Any]:
    workspace = root / mode
    shutil.copytree(prepared, workspace)
    store = Store.open(workspace)
    config = PipelineConfig(n=n, concurrency=teacher.concurrency, export_dir=workspace / "dataset")
    before = load()
    started = time.perf_counter()
    if mode == "ray":
        report = asyncio.run(run_on_ray(store, teacher, config, 2))
    else:
        report = asyncio.run(run_sequential(store, teacher, config, 2))
    seconds = time.perf_counter() - started
    stages = report.report.stages
    translate = stages["translate"]
    accepted = {c.id for c in store.conversations(status="accepted")}
    store.close()
    return {
        "mode": mode,
        "accepted": report.report.accepted,
        "rejected": report.report.rejected,
        "translate_s": round(translate, 2),
        "end_to_end_s": round(seconds, 2),
        "prepare_s": round(sum(v for k, v in stages.items() if k in BEFORE_TRANSLATE), 2),
        "finish_s": round(sum(v for k, v in stages.items() if k in AFTER_TRANSLATE), 2),
        "shard_cpu_s": [s["cpu_s"] for s in report.shards],
        "accepted_per_s_translate": round(report.report.accepted / translate, 2),
        "shard_s": [s["seconds"] for s in report.shards],
        "load_before": before,
        "load_after": load(),
        "_accepted": accepted,
        "_workspace": workspace,
    }


def compare(teacher_name: str, prepared: Path, root: Path, teacher: Teacher, n: int) -> dict[str, Any]:
    folder = root / teacher_name
    runs = {mode: one(prepared, folder, mode, teacher, n) for mode in ("sequential", "ray")}
    seq, ray = runs["sequential"], runs["ray"]
    seq_files, ray_files = exported(seq["_workspace"]), exported(ray["_workspace"])
    differing = sorted(n for n in seq_files.keys() | ray_files.keys() if seq_files.get(n) != ray_files.get(n))
    equal: dict[str, Any] = {
        "accepted_ids": seq["_accepted"] == ray["_accepted"],
        "records": records(seq["_workspace"]) == records(ray["_workspace"]),
        "export_bytes": not differing,
    }
    if differing:
        equal["differing_files"] = differing
    for run in runs.values():
        del run["_accepted"], run["_workspace"]
    return {
        "teacher": teacher_name,
        "n": n,
        "concurrency_per_shard": teacher.concurrency,
        "runs": list(runs.values()),
        "speedup_translate": round(seq["translate_s"] / ray["translate_s"], 2),
        "speedup_end_to_end": round(seq["end_to_end_s"] / ray["end_to_end_s"], 2),
        "equal_to_unsharded": equal,
    }


def warm_up(ray: Any) -> float:
    """Start both workers and import the pipeline in them, as the first shards of a run would."""
    started = time.perf_counter()

    @ray.remote(num_cpus=1)
    def ready() -> int:
        import graph_toucan.shards  # noqa: F401

        time.sleep(0.5)  # hold the CPU so the other call gets the second worker
        return os.getpid()

    pids = set(ray.get([ready.remote() for _ in range(2)]))
    assert len(pids) == 2, pids
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="accepted conversations, offline (2 shards)")
    parser.add_argument("--remote-n", type=int, default=128, help="accepted conversations, fake endpoint")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight per shard")
    parser.add_argument("--latency", type=float, default=0.1, help="fake endpoint latency in seconds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import ray

    root = Path(tempfile.mkdtemp(prefix="gt-bench-ray-"))
    try:
        prepared = root / "prepared"
        store = Store.open(prepared)
        asyncio.run(
            run_pipeline(store, LLM(OfflineBackend(), store), PipelineConfig(stages=BEFORE_TRANSLATE))
        )
        store.close()
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        figures: dict[str, Any] = {"cpus": os.cpu_count(), "warm_up_s": round(warm_up(ray), 2)}
        figures["offline"] = compare("offline", prepared, root, Teacher(concurrency=args.concurrency), args.n)
        fake = FakeEndpoint("openai/fake-teacher", concurrency=args.concurrency, latency=args.latency)
        figures["fake_endpoint"] = compare("fake_endpoint", prepared, root, fake, args.remote_n)
        figures["fake_endpoint"]["latency_s"] = args.latency
    finally:
        ray.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{figures['cpus']} CPUs; Ray workers warmed up in {figures['warm_up_s']} s (not counted)")
    for key in ("offline", "fake_endpoint"):
        f = figures[key]
        extra = f", {f['latency_s'] * 1000:.0f} ms per request" if "latency_s" in f else ""
        print(
            f"{f['teacher']} teacher, n {f['n']} over 2 shards, concurrency {f['concurrency_per_shard']} per shard{extra}:"
        )
        for r in f["runs"]:
            print(
                f"  {r['mode']:>10}: translate {r['translate_s']} s ({r['accepted_per_s_translate']} accepted/s), "
                f"end to end {r['end_to_end_s']} s (prepare {r['prepare_s']}, finish {r['finish_s']}), "
                f"shards {r['shard_s']} s wall, {r['shard_cpu_s']} s CPU; "
                f"load {r['load_before']} -> {r['load_after']}"
            )
        print(
            f"  speed-up: translate {f['speedup_translate']}x, end to end {f['speedup_end_to_end']}x; "
            f"equal to the unsharded run: {f['equal_to_unsharded']}"
        )


if __name__ == "__main__":
    main()
