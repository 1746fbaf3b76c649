"""The library's synchronous progress callbacks as MCP progress notifications, and the run log."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

from fastmcp import Context

from graph_toucan.store import Store


class Progress:
    """Progress notifications of one tool call, sent in order by one task."""

    def __init__(self, ctx: Context, total: float | None = None) -> None:
        self.ctx = ctx
        self.total = total
        self.done = 0.0
        self._queue: asyncio.Queue[tuple[float, float | None, str] | None] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Progress:
        self._sender = asyncio.create_task(self._send())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None and self.total is not None and self.done < self.total:
            self.done = self.total  # finished early: the rest had nothing to do
            self._queue.put_nowait((self.done, self.total, "done"))
        self._queue.put_nowait(None)
        if self._sender is not None:
            await self._sender

    def advance(self, n: int = 1, message: str = "") -> None:
        self.done += n
        self._queue.put_nowait((self.done, self.total, message))

    def stages(self, names: list[str]) -> Callable[[str, int, int], None]:
        """A ``progress(stage, done, total)`` callback mapped onto one rising count (one unit a stage)."""
        self.total = len(names)

        def update(stage: str, done: int, total: int) -> None:
            k = names.index(stage) if stage in names else len(names) - 1
            self.done = max(self.done, k + (done / total if total else 1))
            self._queue.put_nowait((self.done, self.total, f"{stage} {done}/{total}"))

        return update

    async def _send(self) -> None:
        while (item := await self._queue.get()) is not None:
            try:
                await self.ctx.report_progress(*item)
            except Exception:  # a client that went away must not stop the work
                continue


def record(store: Store, tool: str, started: float, summary: dict[str, Any]) -> None:
    """Log a finished tool call in the workspace's runs, as the CLI logs its commands."""
    store.record_run(uuid.uuid4().hex[:12], f"mcp {tool}", "done", started, summary)


def now() -> float:
    return time.time()
