"""Figures of the execution simulator: sandbox pool cold start (the zygote started, isolated and
ready), warm call latency (median, p99: each call a fresh confined process forked from the zygote)
and throughput through the pool, calls spread over every bundled mock with 64 callers and a 100 ms
simulator (calls per second, CPU per call here and in the sandbox, zygote restarts), the isolation
layers in force, and the share of example-catalog tools that get an accepted mock from the offline
teacher.

    python benchmarks/mock_calls.py [--calls 2000] [--workers 2] [--spread-mocks WS/mock_tools] [--json]

``--spread-mocks`` spreads the calls over another mock folder (a workspace's ``mock_tools``: on the
full catalog, thousands of distinct mocks) instead of the bundled ones.

Warm calls go through the whole path a conversation uses: argument validation, the sandbox worker,
the round trip of ``call_external_api`` to the deterministic simulator, output validation. Each
call has new arguments, so no answer comes from a conversation's cache.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from graph_toucan.annotate import annotate_tools
from graph_toucan.catalog import import_entries, read_catalog
from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.mock.build import build_mocks
from graph_toucan.mock.errors import MockCallError, MockError
from graph_toucan.mock.files import bundled_mock_folder, read_mock_folder
from graph_toucan.mock.runtime import MockRuntime
from graph_toucan.mock.sandbox import SandboxPool
from graph_toucan.resources import example_catalog
from graph_toucan.schema import example_arguments
from graph_toucan.store import Store

QUERY = "United States Weather/get_weather_forecast"
COMPUTATION = "计算器(Calc MCP)/add"


async def cold_start(workers: int, repeats: int = 5) -> float:
    """Median seconds from nothing to a pool whose workers all answered ready."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        pool = SandboxPool(workers)
        await pool.start()
        times.append(time.perf_counter() - started)
        await pool.close()
    return statistics.median(times)


def _arguments(ref: str, i: int) -> dict[str, Any]:
    if ref == COMPUTATION:
        return {"a": i, "b": i / 7}
    return {"location": f"City {i}", "days": 1 + i % 7}


async def latency(runtime: MockRuntime, ref: str, calls: int) -> dict[str, float]:
    """Sequential warm calls: median and 99th percentile in milliseconds."""
    for i in range(20):  # warm the workers' compile caches
        await runtime.call(ref, _arguments(ref, -i - 1), conversation="warm")
    samples = []
    for i in range(calls):
        started = time.perf_counter()
        await runtime.call(ref, _arguments(ref, i), conversation=f"c{i % 50}")
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(0.99 * (len(samples) - 1))], 3),
    }


async def throughput(runtime: MockRuntime, ref: str, calls: int, callers: int) -> float:
    """Calls per second with ``callers`` concurrent callers sharing the pool."""
    queue = iter(range(calls))

    async def caller() -> None:
        for i in queue:
            await runtime.call(ref, _arguments(ref, 10_000 + i), conversation=f"t{i % 50}")

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return calls / (time.perf_counter() - started)


async def spread(mocks: list[Any], calls: int, callers: int, delay_s: float = 0.1) -> dict[str, Any]:
    """Calls over every mock in turn (distinct code, as a conversation's calls are), ``callers`` at once,
    the simulator answering ``call_external_api`` after ``delay_s`` as a teacher would: calls per
    second, CPU per call of this process and of the sandbox (the zygote with its call processes),
    zygote restarts (a pool that loses its zygote under load fails the calls in flight)."""

    async def external(_tool: str, _arguments: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(delay_s)
        return {}  # most mocks then fail for a missing value: the call's whole round trip is done

    queue = iter(range(calls))
    failed = 0

    async def caller(pool: SandboxPool) -> None:
        nonlocal failed
        for i in queue:
            mock = mocks[i % len(mocks)]
            try:
                await pool.run(mock.code, example_arguments(mock.tool.input_schema), external=external)
            except MockError as exc:
                failed += isinstance(exc, MockCallError) and exc.kind == "crash"

    pool = SandboxPool(callers)
    await pool.start()
    cpu, children, started = time.process_time(), _children_cpu(), time.perf_counter()
    await asyncio.gather(*(caller(pool) for _ in range(callers)))
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    restarts = pool.restarts
    await pool.close()  # the zygote is reaped: its CPU and its call processes' count as children
    return {
        "calls_per_s": round(calls / elapsed, 1),
        "parent_cpu_ms_per_call": round(1000 * used / calls, 3),
        "sandbox_cpu_ms_per_call": round(1000 * (_children_cpu() - children) / calls, 3),
        "restarts": restarts,
        "crashed": failed,
        "mocks": len(mocks),
        "callers": callers,
    }


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


async def coverage() -> dict[str, Any]:
    """Import the example catalog, annotate and build mocks with the offline teacher."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(tmp)
        import_entries(store, read_catalog(example_catalog()))
        llm = LLM(OfflineBackend(), store)
        started = time.perf_counter()
        await annotate_tools(store, llm)
        annotated = time.perf_counter() - started
        async with SandboxPool(2) as pool:
            started = time.perf_counter()
            report = await build_mocks(store, llm, pool)
            built = time.perf_counter() - started
        tools = store.count("tools")
        return {
            "tools": tools,
            "accepted": len(report.accepted),
            "unmockable": len(report.unmockable),
            "share_accepted": round(len(report.accepted) / tools, 3),
            "annotate_s": round(annotated, 2),
            "build_s": round(built, 2),
            "unmockable_tools": report.unmockable,
        }


async def main(calls: int, workers: int, spread_mocks: Path | None = None) -> dict[str, Any]:
    figures: dict[str, Any] = {"cold_start_s": {}}
    for n in sorted({1, workers, 4}):
        figures["cold_start_s"][n] = round(await cold_start(n), 3)
    mocks = read_mock_folder(bundled_mock_folder())
    async with SandboxPool(workers) as pool:
        runtime = MockRuntime(pool)
        runtime.add(mocks)
        for label, ref in (("query", QUERY), ("computation", COMPUTATION)):
            figures[f"{label}_warm"] = await latency(runtime, ref, calls)
            figures[f"{label}_calls_per_s"] = round(await throughput(runtime, ref, calls, 4 * workers), 1)
        figures["restarts"] = pool.restarts
        figures["layers"] = sorted(k for k in pool.layers if not k.endswith("_error"))
        figures["missing_layers"] = {k: v for k, v in pool.layers.items() if k.endswith("_error")}
    spread_over = read_mock_folder(spread_mocks) if spread_mocks else mocks
    figures["spread"] = await spread(sorted(spread_over, key=lambda m: m.tool.ref), calls, 64)
    figures["coverage"] = await coverage()
    figures["workers"] = workers
    figures["calls"] = calls
    return figures


def _print(figures: dict[str, Any]) -> None:
    print(f"sandbox pool: {figures['workers']} workers, {figures['calls']} calls per measurement")
    for n, seconds in figures["cold_start_s"].items():
        print(f"  cold start, {n} worker(s): {seconds * 1000:.0f} ms")
    for label in ("query", "computation"):
        warm = figures[f"{label}_warm"]
        print(
            f"  {label} mock: median {warm['median_ms']:.2f} ms, p99 {warm['p99_ms']:.2f} ms, "
            f"{figures[f'{label}_calls_per_s']:.0f} calls/s ({4 * figures['workers']} concurrent callers)"
        )
    spread = figures["spread"]
    print(
        f"  {spread['mocks']} distinct mocks, {spread['callers']} concurrent callers, simulator 100 ms: "
        f"{spread['calls_per_s']:.0f} calls/s, CPU {spread['parent_cpu_ms_per_call']} ms/call here and "
        f"{spread['sandbox_cpu_ms_per_call']} ms/call in the sandbox, {spread['restarts']} zygote "
        f"restarts, {spread['crashed']} calls crashed"
    )
    print(f"  isolation layers: {', '.join(figures['layers'])}")
    for layer, reason in figures["missing_layers"].items():
        print(f"  missing: {layer}: {reason}")
    cov = figures["coverage"]
    print(
        f"example catalog, offline teacher: {cov['accepted']}/{cov['tools']} tools mocked "
        f"({cov['share_accepted']:.1%}); annotate {cov['annotate_s']} s, build {cov['build_s']} s"
    )
    for ref, reason in cov["unmockable_tools"].items():
        print(f"  unmockable: {ref}: {reason}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--spread-mocks", type=Path, help="Mock folder to spread calls over.")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args()
    result = asyncio.run(main(args.calls, args.workers, args.spread_mocks))
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
    else:
        _print(result)
