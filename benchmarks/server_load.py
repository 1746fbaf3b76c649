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
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastmcp import Client

HOTELS = "Hotel Booking Server/search-hotels"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    workspace: Path,
    port: int,
    token: str,
    workers: int,
    extra: list[str] | None = None,
    command_line: str | None = None,
) -> subprocess.Popen[bytes]:
    """``graph-toucan serve --http`` on 127.0.0.1, its logs discarded (``command_line``: another
    graph-toucan to start, such as an older checkout's, for before-and-after figures)."""
    exe = Path(sys.executable).parent / "graph-toucan"
    command = [str(exe) if exe.exists() else shutil.which("graph-toucan") or "graph-toucan"]
    if command_line:
        command = shlex.split(command_line)
    command += ["-w", str(workspace), "serve", "--http", f"127.0.0.1:{port}", "--mock-workers", str(workers)]
    command += extra or []
    env = os.environ | {"GRAPH_TOUCAN_TOKEN": token}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_ready(url: str, token: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with Client(url, auth=token) as client:
                await client.list_tools()
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def prepare(url: str, token: str) -> dict[str, Any]:
    """Import, annotate and build the graph of the example catalog through the server."""
    started = time.perf_counter()
    async with Client(url, auth=token, timeout=600) as client:
        for tool in ("import_catalog", "annotate_tools", "build_graph"):
            await client.call_tool(tool, {})
    return {"prepare_s": round(time.perf_counter() - started, 2)}


async def one_client(
    url: str, token: str, number: int, until: float, samples: dict[str, list[float]], errors: list[str]
) -> None:
    """Alternate run_mock_tool and sample_fsp until ``until``, timing each call."""
    async with Client(url, auth=token, timeout=60) as client:
        i = 0
        while time.monotonic() < until:
            i += 1
            mock = {
                "tool": HOTELS,
                "arguments": {"latitude": number + i / 1000, "longitude": -i / 1000},
                "conversation": f"client-{number}",
            }
            sample = {"count": 5, "seed": number * 1_000_000 + i, "show": 1}
            for tool, arguments in (("run_mock_tool", mock), ("sample_fsp", sample)):
                started = time.perf_counter()
                try:
                    result = await client.call_tool(tool, arguments, raise_on_error=False)
                    if result.is_error:
                        errors.append(f"{tool}: {result.content[0].text[:200]}")
                except Exception as exc:  # transport failures count as errors too
                    errors.append(f"{tool}: {type(exc).__name__}: {exc}"[:200])
                samples[tool].append(time.perf_counter() - started)


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
    samples: dict[str, list[float]] = {"run_mock_tool": [], "sample_fsp": []}
    errors: list[str] = []
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*(one_client(url, token, n, until, samples, errors) for n in range(clients)))
    elapsed = time.monotonic() - started
    every = samples["run_mock_tool"] + samples["sample_fsp"]
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "all": _figures(every, elapsed),
        **{tool: _figures(times, elapsed) for tool, times in samples.items()},
        "errors": len(errors),
        "first_errors": errors[:5],
    }


async def light_client(
    url: str, token: str, number: int, until: float, times: list[float], errors: list[str]
) -> None:
    """Only run_mock_tool, new arguments each time, until ``until``."""
    async with Client(url, auth=token, timeout=120) as client:
        i = 0
        while time.monotonic() < until:
            i += 1
            arguments = {
                "tool": HOTELS,
                "arguments": {"latitude": number + i / 1000, "longitude": -i / 1000},
                "conversation": f"light-{number}",
            }
            started = time.perf_counter()
            try:
                result = await client.call_tool("run_mock_tool", arguments, raise_on_error=False)
                if result.is_error:
                    errors.append(f"run_mock_tool: {result.content[0].text[:200]}")
            except Exception as exc:
                errors.append(f"run_mock_tool: {type(exc).__name__}: {exc}"[:200])
            times.append(time.perf_counter() - started)


async def heavy_client(
    url: str, token: str, number: int, until: float, times: list[float], errors: list[str]
) -> None:
    """sample_fsp(count=1000) with a new seed each time, until ``until``."""
    async with Client(url, auth=token, timeout=600) as client:
        i = 0
        while time.monotonic() < until:
            i += 1
            started = time.perf_counter()
            try:
                arguments = {"count": 1000, "seed": 10_000 * (number + 1) + i, "show": 0}
                result = await client.call_tool("sample_fsp", arguments, raise_on_error=False)
                if result.is_error:
                    errors.append(f"sample_fsp: {result.content[0].text[:200]}")
            except Exception as exc:
                errors.append(f"sample_fsp: {type(exc).__name__}: {exc}"[:200])
            times.append(time.perf_counter() - started)


async def mixed(url: str, token: str, light: int, heavy: int, seconds: float) -> dict[str, Any]:
    """The light calls' latency alone, then beside ``heavy`` clients sampling 1000 paths a call."""
    figures: dict[str, Any] = {"light_clients": light, "heavy_clients": heavy}
    errors: list[str] = []
    for phase, heavies in (("light_alone", 0), ("light_with_heavy", heavy)):
        light_times: list[float] = []
        heavy_times: list[float] = []
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(
            *(light_client(url, token, n, until, light_times, errors) for n in range(light)),
            *(heavy_client(url, token, n, until, heavy_times, errors) for n in range(heavies)),
        )
        elapsed = time.monotonic() - started
        figures[phase] = _figures(light_times, elapsed)
        if heavies:
            figures["heavy_sample_fsp"] = _figures(heavy_times, elapsed)
    return figures | {"errors": len(errors), "first_errors": errors[:5]}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def abandoned_sessions(url: str, token: str, count: int, pid: int, settle: float) -> dict[str, Any]:
    """``count`` sessions that initialise and are never closed; the server's memory before, after and
    ``settle`` seconds later (past the idle timeout, when one is set)."""
    import httpx

    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "abandoned", "version": "1"},
        },
    }
    before = rss_mb(pid)
    opened = 0
    semaphore = asyncio.Semaphore(16)
    async with httpx.AsyncClient(timeout=60) as http:

        async def one() -> None:
            nonlocal opened
            async with semaphore:
                response = await http.post(url, json=init, headers=headers)
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
        "idle_wait_s": settle,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    token = secrets.token_urlsafe(24)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    extra = ["--session-idle", str(args.session_idle)] if args.session_idle else []
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(Path(folder) / "ws", port, token, args.mock_workers, extra, args.command)
        try:
            await wait_ready(url, token)
            figures = await prepare(url, token)
            if args.mixed:
                figures |= {"mode": "mixed"} | await mixed(url, token, args.light, args.heavy, args.seconds)
            elif args.sessions:
                settle = args.settle if args.settle is not None else (args.session_idle or 0) + 10
                figures |= {"mode": "sessions"} | await abandoned_sessions(
                    url, token, args.sessions, server.pid, settle
                )
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
    print(
        f"{figures['opened']}/{figures['sessions']} sessions initialised and abandoned: server RSS "
        f"{figures['rss_before_mb']} MB before, {figures['rss_after_mb']} MB after, "
        f"{figures['rss_after_idle_mb']} MB {figures['idle_wait_s']:.0f} s later"
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
