"""Clients of the synthesis server under load, shared by tests/test_server_limits.py and
benchmarks/server_load.py: the server started over HTTP, a loop of timed calls, the calls of a light
and of a heavy client, and the raw ``initialize`` of a session that is never closed."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

from fastmcp import Client

from graph_toucan.serving import TOKEN_ENV

HOTELS = "Hotel Booking Server/search-hotels"
PROTOCOL = "2025-06-18"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": PROTOCOL,
        "capabilities": {},
        "clientInfo": {"name": "load", "version": "1"},
    },
}


def headers(token: str, session: str | None = None) -> dict[str, str]:
    """The headers of a raw streamable-HTTP request (``session``: within that session)."""
    sent = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    return sent | ({"mcp-session-id": session, "mcp-protocol-version": PROTOCOL} if session else {})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    workspace: Path,
    port: int,
    token: str,
    extra: list[str] | None = None,
    command_line: str | None = None,
    stderr: int = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """``graph-toucan serve --http`` on 127.0.0.1 in its own process (``command_line``: another
    graph-toucan to start, such as an older checkout's, for before-and-after figures)."""
    exe = Path(sys.executable).parent / "graph-toucan"
    command = [str(exe) if exe.exists() else shutil.which("graph-toucan") or "graph-toucan"]
    if command_line:
        command = shlex.split(command_line)
    command += ["-w", str(workspace), "serve", "--http", f"127.0.0.1:{port}", *(extra or [])]
    env = os.environ | {TOKEN_ENV: token}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)


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


@dataclass
class Calls:
    """What a loop of calls saw: each tool's call times (seconds), for each call whether ``mark``
    held when it came back, and the errors."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    marks: list[bool] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def call_loop(
    client: Client,
    calls: Iterable[tuple[str, dict[str, Any]]],
    stop: Callable[[], bool],
    record: Calls,
    mark: Callable[[], bool] = lambda: False,
) -> None:
    """Make ``calls`` one after another until ``stop()``, timing each; an error answer or a transport
    failure is recorded, never raised."""
    for tool, arguments in calls:
        if stop():
            return
        started = time.perf_counter()
        try:
            result = await client.call_tool(tool, arguments, raise_on_error=False)
            if result.is_error:
                record.errors.append(f"{tool}: {result.content[0].text[:200]}")
        except Exception as exc:
            record.errors.append(f"{tool}: {type(exc).__name__}: {exc}"[:200])
        record.seconds[tool].append(time.perf_counter() - started)
        record.marks.append(mark())


def light_calls(number: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """run_mock_tool with new arguments each time (no answer comes from a conversation's cache)."""
    for i in count(1):
        arguments = {"latitude": number + i / 1000, "longitude": -i / 1000}
        yield "run_mock_tool", {"tool": HOTELS, "arguments": arguments, "conversation": f"light-{number}"}


def heavy_calls(number: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """sample_fsp(count=1000) with a new seed each time (the paths are really sampled and written)."""
    for i in count(1):
        yield "sample_fsp", {"count": 1000, "seed": 10_000 * (number + 1) + i, "show": 0}


def mixed_calls(number: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """A mock call, then a sample of 5 paths with a new seed, in turn."""
    for i, light in enumerate(light_calls(number), 1):
        yield light
        yield "sample_fsp", {"count": 5, "seed": number * 1_000_000 + i, "show": 1}
