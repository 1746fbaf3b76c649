"""Load on the synthesis MCP server: concurrent clients over streamable HTTP on 127.0.0.1 calling
``run_mock_tool`` and ``sample_fsp`` for a fixed time; requests per second, median and 99th-percentile
latency, errors.

    python benchmarks/server_load.py [--seconds 60] [--clients 20] [--mock-workers 2] [--json]
    python benchmarks/server_load.py --mixed [--seconds 30] [--light 4] [--heavy 2]
    python benchmarks/server_load.py --sessions 3000 [--session-idle 15]

The server is ``graph-toucan serve --http`` in its own process, with a bearer token, over a fresh
workspace where the example catalog is imported, annotated and its graph built (through the server's
tools) before the clock starts. Each client is its own MCP session and loops: a mock call with new
arguments (so no answer comes from a conversation's cache), then a sample of 5 paths with a new seed
(so paths are really sampled and written), until the time is up.

``--mixed``: light clients calling only ``run_mock_tool``, first alone, then while ``--heavy`` clients
call ``sample_fsp(count=1000)`` with new seeds; the light calls' median and 99th percentile in both.
``--sessions N``: N sessions that initialise and never close (raw HTTP, no DELETE); the server's
resident memory before, after, and after its idle timeout (``--session-idle``) has closed them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastmcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.server_clients

from tests.server_clients import (
    INITIALIZE,
    Calls,
    call_loop,
    free_port,
    headers,
    heavy_calls,
    light_calls,
    mixed_calls,
    start_server,
    wait_ready,
)


async def prepare(url: str, token: str) -> dict[str, Any]:
    """Import, annotate and build the graph of the example catalog through the server."""
    started = time.perf_counter()
    async with Client(url, auth=token, timeout=600) as client:
        for tool in ("import_catalog", "annotate_tools", "build_graph"):
            await client.call_tool(tool, {})
    return {"prepare_s": round(time.perf_counter() - started, 2)}


async def client_loop(url: str, token: str, calls: Any, until: float, record: Calls, timeout: float) -> None:
    """One MCP session making ``calls`` until ``until``."""
    async with Client(url, auth=token, timeout=timeout) as client:
        await call_loop(client, calls, lambda: time.monotonic() >= until, record)


def _figures(times: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0
    return {
        "requests": len(times),
        "requests_per_s": round(len(times) / seconds, 1),
        "median_ms": round(1000 * statistics.median(ordered), 1) if ordered else 0.0,
        "p99_ms": round(1000 * p99, 1),
    }


async def load(url: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    record = Calls()
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(
        *(client_loop(url, token, mixed_calls(n), until, record, 60) for n in range(clients))
    )
    elapsed = time.monotonic() - started
    samples = {tool: record.seconds[tool] for tool in ("run_mock_tool", "sample_fsp")}
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "all": _figures(samples["run_mock_tool"] + samples["sample_fsp"], elapsed),
        **{tool: _figures(times, elapsed) for tool, times in samples.items()},
        "errors": len(record.errors),
        "first_errors": record.errors[:5],
    }


async def mixed(url: str, token: str, light: int, heavy: int, seconds: float) -> dict[str, Any]:
    """The light calls' latency alone, then beside ``heavy`` clients sampling 1000 paths a call."""
    figures: dict[str, Any] = {"light_clients": light, "heavy_clients": heavy}
    errors: list[str] = []
    for phase, heavies in (("light_alone", 0), ("light_with_heavy", heavy)):
        lights, heavy_record = Calls(), Calls()
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(
            *(client_loop(url, token, light_calls(n), until, lights, 120) for n in range(light)),
            *(client_loop(url, token, heavy_calls(n), until, heavy_record, 600) for n in range(heavies)),
        )
        elapsed = time.monotonic() - started
        figures[phase] = _figures(lights.seconds["run_mock_tool"], elapsed)
        if heavies:
            figures["heavy_sample_fsp"] = _figures(heavy_record.seconds["sample_fsp"], elapsed)
        errors += lights.errors + heavy_record.errors
    return figures | {"errors": len(errors), "first_errors": errors[:5]}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def descendants_rss_mb(pid: int) -> float:
    """The resident memory of ``pid``'s child processes and theirs (the sandbox workers, the fork
    server of the heavy calls' workers)."""
    total, todo = 0.0, [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
            for child in task.read_text().split():
                total += rss_mb(int(child))
                todo.append(int(child))
    return round(total, 1)


async def abandoned_sessions(url: str, token: str, count: int, pid: int, settle: float) -> dict[str, Any]:
    """``count`` sessions that initialise and are never closed; the server's memory before, after and
    ``settle`` seconds later (past the idle timeout, when one is set)."""
    import httpx

    before = rss_mb(pid)
    opened = 0
    semaphore = asyncio.Semaphore(16)
    async with httpx.AsyncClient(timeout=60) as http:

        async def one() -> None:
            nonlocal opened
            async with semaphore:
                response = await http.post(url, json=INITIALIZE, headers=headers(token))
                opened += response.status_code == 200 and "mcp-session-id" in response.headers

        await asyncio.gather(*(one() for _ in range(count)))
    after = rss_mb(pid)
    await asyncio.sleep(settle)
    async with Client(url, auth=token) as client:  # the server still answers, and memory once idle
        await client.list_tools()
    return {
        "sessions": count,
        "opened": opened,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rss_after_idle_mb": rss_mb(pid),
        "children_rss_after_idle_mb": descendants_rss_mb(pid),
        "idle_wait_s": settle,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    token = secrets.token_urlsafe(24)
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    extra = ["--mock-workers", str(args.mock_workers)]
    extra += ["--session-idle", str(args.session_idle)] if args.session_idle else []
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(Path(folder) / "ws", port, token, extra, args.command)
        try:
            await wait_ready(url, token)
            figures = await prepare(url, token)
            if args.mixed:
                figures |= {"mode": "mixed"} | await mixed(url, token, args.light, args.heavy, args.seconds)
            elif args.sessions:
                settle = args.settle if args.settle is not None else (args.session_idle or 0) + 10
                waves = [
                    await abandoned_sessions(url, token, args.sessions, server.pid, settle)
                    for _ in range(args.waves)
                ]
                figures |= {"mode": "sessions"} | waves[0] | {"waves": waves}
            else:
                figures |= await load(url, token, args.clients, args.seconds)
        finally:
            server.terminate()
            server.wait(10)
    return figures | {"mock_workers": args.mock_workers, "cpus": os.cpu_count()}


def _print_mixed(figures: dict[str, Any]) -> None:
    print(
        f"mixed load: {figures['light_clients']} light run_mock_tool clients, alone and beside "
        f"{figures['heavy_clients']} sample_fsp(count=1000) clients ({figures['cpus']} CPUs)"
    )
    print(f"{'':22} {'requests':>9} {'req/s':>8} {'median ms':>10} {'p99 ms':>8}")
    for name in ("light_alone", "light_with_heavy", "heavy_sample_fsp"):
        row = figures[name]
        print(
            f"{name:22} {row['requests']:>9} {row['requests_per_s']:>8} {row['median_ms']:>10} {row['p99_ms']:>8}"
        )
    print(f"errors: {figures['errors']}")
    for error in figures["first_errors"]:
        print(f"  {error}")


def _print_sessions(figures: dict[str, Any]) -> None:
    """One line per wave: a later wave that does not grow the server reuses what the expired
    sessions held (Python keeps freed memory for reuse rather than giving it back)."""
    for number, wave in enumerate(figures["waves"], 1):
        print(
            f"wave {number}: {wave['opened']}/{wave['sessions']} sessions initialised and abandoned: server RSS "
            f"{wave['rss_before_mb']} MB before, {wave['rss_after_mb']} MB after, "
            f"{wave['rss_after_idle_mb']} MB {wave['idle_wait_s']:.0f} s later "
            f"(its child processes: {wave['children_rss_after_idle_mb']} MB more)"
        )


def _print(figures: dict[str, Any]) -> None:
    print(
        f"{figures['clients']} clients, {figures['seconds']} s over streamable HTTP on 127.0.0.1 "
        f"({figures['mock_workers']} sandbox workers, {figures['cpus']} CPUs; setup {figures['prepare_s']} s)"
    )
    print(f"{'':14} {'requests':>9} {'req/s':>8} {'median ms':>10} {'p99 ms':>8}")
    for name in ("all", "run_mock_tool", "sample_fsp"):
        row = figures[name]
        print(
            f"{name:14} {row['requests']:>9} {row['requests_per_s']:>8} {row['median_ms']:>10} {row['p99_ms']:>8}"
        )
    print(f"errors: {figures['errors']}")
    for error in figures["first_errors"]:
        print(f"  {error}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="How long the clients call (default 60).")
    parser.add_argument("--clients", type=int, default=20, help="Concurrent MCP sessions (default 20).")
    parser.add_argument("--mock-workers", type=int, default=2, help="Sandbox workers of the server.")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    parser.add_argument("--mixed", action="store_true", help="Light clients beside heavy sample_fsp ones.")
    parser.add_argument("--light", type=int, default=4, help="Light clients of --mixed (default 4).")
    parser.add_argument("--heavy", type=int, default=2, help="Heavy clients of --mixed (default 2).")
    parser.add_argument(
        "--settle", type=float, default=None, help="Seconds to wait before the last reading (idle + 10)."
    )
    parser.add_argument("--command", help="The graph-toucan command line to start (default: this one's).")
    parser.add_argument("--sessions", type=int, default=0, help="Abandoned sessions to open.")
    parser.add_argument(
        "--waves", type=int, default=1, help="Waves of --sessions, each after the last expired."
    )
    parser.add_argument(
        "--session-idle",
        type=float,
        default=None,
        help="The server's --session-idle (its default if not given).",
    )
    arguments = parser.parse_args()
    result = asyncio.run(main(arguments))
    if arguments.json:
        print(json.dumps(result, indent=2))
    elif arguments.mixed:
        _print_mixed(result)
    elif arguments.sessions:
        _print_sessions(result)
    else:
        _print(result)
    sys.exit(1 if result.get("errors") else 0)
