"""Translation throughput at the concurrency bound (issue 22).

    python benchmarks/throughput.py [--catalog DIR] [--prepared WS] [--concurrency 1 8 32 64 128]
                                    [--per-slot 4] [--latency 0.1] [--json]

A fake OpenAI-compatible endpoint (``tests/fakes.py``) runs in its own process on 127.0.0.1 and answers
every request after a fixed latency with the offline teacher's answer. The endpoint cannot read a
prompt's inputs back from its text, so when a prompt is rendered here its task and inputs are handed to
the endpoint's process through a pipe, and the offline answer is worked out there; the hand-off's CPU
is measured and reported apart from the pipeline's own.

For each concurrency ``c`` the translation stage runs on a fresh copy of a prepared workspace (import,
annotate, graph and mocks done offline; ``--prepared`` keeps it between runs) until ``per_slot * c``
conversations are accepted (at least 8). Printed per concurrency: accepted conversations per second,
efficiency (requests per second over the bound ``c / latency``), requests in flight on average
(requests times latency over the wall time) and the pipeline's CPU per request (this process, without
the hand-off), the CPU per request of every process (this one, the sandbox zygote with the
call processes it forked, and the endpoint's), plus the load average of the machine: on a machine of
``k`` cores, efficiency cannot pass ``k / (all CPU per request) / (c / latency)``. The same figures from the first request
on ("streaming": without loading the mocks and tools and sampling the first paths) follow, then
efficiency and the share of request slots in use per tenth of the run: the first tenths show the
stream at full concurrency, the last the drain (the longest needed paths start first and free slots
run the next paths on speculation, but the run still ends as its last conversations finish).
Requests include those of speculative translations that were dropped (a few per run), so
accepted conversations per second is the figure to compare. ``--per-slot 16`` makes the drain a
smaller part of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import pickle
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakes: the fake teacher server

from graph_toucan.llm import LLM, OfflineBackend, OpenAIBackend
from graph_toucan.llm.task import TASKS, Task
from graph_toucan.mock import SandboxPool
from graph_toucan.mock.build import remembered_checks
from graph_toucan.pipeline import Pipeline, PipelineConfig, run_pipeline
from graph_toucan.store import Store


def _key(prompt: str) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()


def _serve(answers: Any, ready: Any, stop: Any, latency: float) -> None:
    """The endpoint's process: each request's task and inputs arrive on the pipe ``answers``; the
    offline teacher's answer to them is worked out here, as a real endpoint thinks on its own side."""
    import graph_toucan.pipeline  # noqa: F401  (every task registers itself in TASKS)
    from tests.fakes import Reply, fake_llm_server, first_user_prompt

    known: dict[str, str] = {}
    arrived = threading.Condition()

    def receive() -> None:
        while True:
            try:
                item = answers.recv_bytes()
            except (EOFError, OSError):  # the client went away
                return
            key, name, inputs = pickle.loads(item)
            text = json.dumps(TASKS[name].offline(inputs).model_dump(mode="json"))
            with arrived:
                known[key] = text
                arrived.notify_all()

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    with fake_llm_server() as fake:
        fake.delay_s = latency

        def answer(body: dict[str, Any]) -> Reply:
            with fake.lock:
                fake.requests.clear()  # the body of every request is not needed here
            key = _key(first_user_prompt(body))
            with arrived:
                arrived.wait_for(lambda: key in known, timeout=60)
                return Reply(known.get(key, "{}"))

        fake.default = answer
        ready.put(fake.url)
        stop.wait()


class Endpoint:
    """The fake endpoint's process and the hook that hands it each prompt's task and inputs."""

    def __init__(self, latency: float) -> None:
        context = mp.get_context("spawn")
        receiving, self.answers = context.Pipe(duplex=False)  # a plain pipe: no feeder thread here
        ready = context.Queue()
        self.stop = context.Event()
        self.process = context.Process(target=_serve, args=(receiving, ready, self.stop, latency))
        self.process.start()
        receiving.close()
        self.url = ready.get(timeout=60)
        self.answer_cpu = 0.0
        self.requests = 0
        self.first: tuple[float, float] | None = None  # wall and CPU time of the first request
        self._original = Task.render
        endpoint, original = self, self._original

        def render(task: Any, inputs: dict[str, Any], **options: Any) -> Any:
            prompt = original(task, inputs, **options)
            if endpoint.first is None:
                endpoint.first = (time.perf_counter(), time.process_time())
            started = time.thread_time()
            endpoint.answers.send_bytes(pickle.dumps((_key(prompt.user), task.name, inputs)))
            endpoint.answer_cpu += time.thread_time() - started
            endpoint.requests += 1
            return prompt

        Task.render = render  # type: ignore[method-assign]

    def close(self) -> None:
        Task.render = self._original  # type: ignore[method-assign]
        self.answers.close()
        self.stop.set()
        self.process.join(timeout=30)


def _children_cpu() -> float:
    """CPU seconds of this process's reaped children (and theirs, once reaped)."""
    times = os.times()
    return times.children_user + times.children_system


def _tenths(
    timeline: list[tuple[float, int, int]], concurrency: int, latency: float
) -> dict[str, list[float]]:
    """Per tenth of the time from the first sample to the last: efficiency (requests started over the
    bound) and the mean share of the request slots in use. The first tenths show the stream at full
    concurrency, the last ones the drain (no path starts once accepted plus in flight reach n)."""
    if len(timeline) < 2:
        return {"efficiency_by_tenth": [], "slots_in_use_by_tenth": []}
    start, end = timeline[0][0], timeline[-1][0]
    width = (end - start) / 10
    efficiency, slots = [], []
    for k in range(10):
        part = [s for s in timeline if start + k * width <= s[0] <= start + (k + 1) * width]
        if len(part) < 2:
            continue
        rate = (part[-1][1] - part[0][1]) / max(part[-1][0] - part[0][0], 1e-9)
        efficiency.append(round(rate / (concurrency / latency), 2))
        slots.append(round(sum(s[2] for s in part) / len(part) / concurrency, 2))
    return {"efficiency_by_tenth": efficiency, "slots_in_use_by_tenth": slots}


def prepare(workspace: Path, catalogs: list[Path]) -> dict[str, float]:
    """Import, annotate, build the graph and the mocks offline (once per prepared folder)."""
    if (workspace / "prepared.json").exists():
        return json.loads((workspace / "prepared.json").read_text())
    store = Store.open(workspace)
    report = asyncio.run(
        run_pipeline(store, LLM(OfflineBackend(), store), PipelineConfig(n=0, pairs=False, catalogs=catalogs))
    )
    store.close()
    (workspace / "prepared.json").write_text(json.dumps(report.stages))
    return report.stages


def remote(prepared: Path, n: int, concurrency: int, latency: float) -> dict[str, Any]:
    """Translate until ``n`` are accepted through the endpoint, from a copy of the prepared workspace."""
    workspace = Path(tempfile.mkdtemp(prefix=f"gt-throughput-c{concurrency}-"))
    shutil.copytree(prepared, workspace, dirs_exist_ok=True)
    store = Store.open(workspace)
    children = _children_cpu()
    endpoint = Endpoint(latency)
    load = os.getloadavg()[0]
    try:
        backend = OpenAIBackend("fake-teacher", api_key="bench", base_url=f"{endpoint.url}/v1")
        llm = LLM(backend, store, max_concurrency=concurrency)
        pipeline = Pipeline(store, llm, PipelineConfig(n=n, concurrency=concurrency, pairs=False))

        async def watch() -> None:
            """Sample the requests made and in flight every 10 ms."""
            while True:
                timeline.append((time.perf_counter(), endpoint.requests, llm.requests_in_flight))
                await asyncio.sleep(0.01)

        async def translate() -> tuple[float, float]:
            batched = getattr(store, "batched_calls", contextlib.nullcontext)  # as run's stages do
            async with SandboxPool(pipeline.workers) as pool:
                started, cpu = time.perf_counter(), time.process_time()
                watcher = asyncio.ensure_future(watch())
                with batched(), remembered_checks(store, pool):
                    await pipeline.translate(pool)
                ended, used = time.perf_counter(), time.process_time()
                watcher.cancel()
                mock_calls.append(pool.calls)
            await llm.aclose()
            sandbox_cpu.append(_children_cpu())  # the zygote, with every call process it reaped
            first = endpoint.first or (ended, used)
            return ended - started, used - cpu, ended - first[0], used - first[1], first[0] - started

        sandbox_cpu: list[float] = []
        mock_calls: list[int] = []
        timeline: list[tuple[float, int, int]] = []  # (time, requests so far, requests in flight)
        elapsed, cpu, window, window_cpu, setup = asyncio.run(translate())
    finally:
        endpoint.close()
        store.close()
        shutil.rmtree(workspace, ignore_errors=True)
    report, requests = pipeline.report, endpoint.requests
    sandbox = sandbox_cpu[0] - children if sandbox_cpu else 0.0
    endpoint_cpu = _children_cpu() - children - sandbox
    rate = requests / elapsed
    streaming = requests / max(window, 1e-9)
    return {
        "concurrency": concurrency,
        "n": n,
        "accepted": report.accepted,
        "rejected": report.rejected,
        "seconds": round(elapsed, 2),
        "accepted_per_s": round(report.accepted / elapsed, 2),
        "requests": requests,
        "efficiency": round(rate / (concurrency / latency), 3),
        "in_flight": round(rate * latency, 1),
        "cpu_ms_per_request": round(1000 * (cpu - endpoint.answer_cpu) / max(requests, 1), 2),
        "setup_s": round(setup, 2),
        "streaming_efficiency": round(streaming / (concurrency / latency), 3),
        "streaming_accepted_per_s": round(report.accepted / max(window, 1e-9), 2),
        "streaming_cpu_ms_per_request": round(
            1000 * (window_cpu - endpoint.answer_cpu) / max(requests, 1), 2
        ),
        "answer_cpu_ms_per_request": round(1000 * endpoint.answer_cpu / max(requests, 1), 2),
        "sandbox_cpu_ms_per_request": round(1000 * sandbox / max(requests, 1), 2),
        "endpoint_cpu_ms_per_request": round(1000 * endpoint_cpu / max(requests, 1), 2),
        "all_cpu_ms_per_request": round(1000 * (cpu + sandbox + endpoint_cpu) / max(requests, 1), 2),
        "requests_per_accepted": round(requests / max(report.accepted, 1), 1),
        "translations_dropped": report.dropped,
        "mock_calls_per_accepted": round(mock_calls[0] / max(report.accepted, 1), 1) if mock_calls else 0,
        **_tenths(timeline, concurrency, latency),
        "load_1min": round(load, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, action="append", default=[], help="default: the example")
    parser.add_argument("--prepared", type=Path, help="prepared workspace to keep and reuse")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64, 128])
    parser.add_argument("--per-slot", type=float, default=4, help="accepted conversations per unit of c")
    parser.add_argument("--latency", type=float, default=0.1, help="endpoint latency in seconds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    temporary = args.prepared is None
    prepared = args.prepared or Path(tempfile.mkdtemp(prefix="gt-throughput-prepared-"))
    try:
        figures: dict[str, Any] = {"prepare_s": prepare(prepared, args.catalog), "runs": []}
        for c in args.concurrency:
            run = remote(prepared, max(8, int(args.per_slot * c)), c, args.latency)
            figures["runs"].append(run)
            if not args.json:
                print(
                    f"c={c:>3} n={run['n']:>4}: {run['accepted_per_s']:>6} accepted/s, efficiency "
                    f"{run['efficiency']:.3f}, in flight {run['in_flight']:>5}, pipeline CPU "
                    f"{run['cpu_ms_per_request']} ms/request (+{run['answer_cpu_ms_per_request']} ms "
                    f"hand-off), {run['requests_per_accepted']} requests and "
                    f"{run['mock_calls_per_accepted']} mock calls per accepted, "
                    f"{run['accepted']} accepted {run['rejected']} rejected ({run['translations_dropped']} "
                    f"speculative dropped) in {run['seconds']} s, "
                    f"load {run['load_1min']}; streaming (after {run['setup_s']} s of setup): "
                    f"efficiency {run['streaming_efficiency']:.3f}, {run['streaming_accepted_per_s']} "
                    f"accepted/s, CPU {run['streaming_cpu_ms_per_request']} ms/request; all processes "
                    f"{run['all_cpu_ms_per_request']} ms/request (sandbox {run['sandbox_cpu_ms_per_request']}, "
                    f"endpoint {run['endpoint_cpu_ms_per_request']}); by tenth of the run: efficiency "
                    f"{run['efficiency_by_tenth']}, slots in use {run['slots_in_use_by_tenth']}",
                    flush=True,
                )
    finally:
        if temporary:
            shutil.rmtree(prepared, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
