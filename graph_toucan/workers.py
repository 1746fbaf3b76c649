"""CPU-heavy work in worker processes that can be killed: the caller's event loop and GIL stay free,
and a call past its time limit is stopped for real (its worker is killed, which a thread cannot be).

A :class:`Workers` pool keeps a few long-lived worker processes, started from a ``forkserver`` (never
forked from the caller, whose threads a fork would copy half-way); each runs one call at a time. A
worker starts in the background (multiprocessing imports the caller's main module in it, a second or
so) and then serves call after call at no start-up cost. A call that is cancelled (a time limit, a
client gone) kills its worker at once; the next call starts a fresh one.

``fn`` must be a module-level function of an importable module, its arguments and result picklable
(plain data): it opens what it needs (a workspace's store) itself. Its ``progress(...)`` calls come
back to the caller a few at a time (``progress(n)`` counts summed, other reports the latest); an exception it raises is raised in the caller. Workers run at a lower
priority (:data:`NICE`), so that on a machine with few cores the caller's own quick work goes first,
and end when their caller does (their pipe closes).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from graph_toucan.errors import GraphToucanError

R = TypeVar("R")

PRELOAD = ["graph_toucan.sampling", "graph_toucan.store"]  # imported once, by the fork server
REPORT_EVERY_S = 0.05  # progress reports at most this often (each is a wake-up of the caller's loop)
NICE = 10  # workers yield the CPU to their caller: a server's light calls come first on a busy machine

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)


class WorkerDied(GraphToucanError):
    """A worker process ended without an answer (killed from outside, or out of memory)."""


def _serve(conn: Connection) -> None:
    """A worker's loop: a call ``(fn, args, kwargs)`` in, progress and one answer out, until the
    caller closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle: it kills us
    os.dup2(2, 1)  # the caller's stdout may be a protocol (an MCP server on stdio): never write to it
    with contextlib.suppress(OSError):
        os.nice(NICE)
    try:
        while True:
            try:
                fn, args, kwargs = conn.recv()
            except (EOFError, OSError):
                return
            conn.send(_answer(conn, fn, args, kwargs))
    except (BrokenPipeError, EOFError):
        return


def _answer(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    pending, latest, last = 0, None, time.monotonic()

    def flush() -> None:
        nonlocal pending, latest, last
        if pending:
            conn.send(("progress", (pending,)))
        if latest is not None:
            conn.send(("progress", latest))
        pending, latest, last = 0, None, time.monotonic()

    def progress(*report: Any) -> None:
        """``progress(n)``: n more done (summed between reports); any other arguments: where the work
        stands (only the latest is sent)."""
        nonlocal pending, latest
        if len(report) == 1 and isinstance(report[0], int):
            pending += report[0]
        else:
            latest = report
        if time.monotonic() - last >= REPORT_EVERY_S:
            flush()

    try:
        result = fn(*args, progress=progress, **kwargs)
    except (BrokenPipeError, EOFError):
        raise
    except Exception as exc:
        try:
            pickle.dumps(exc)
        except Exception:
            exc = GraphToucanError(f"{type(exc).__name__}: {exc}")
        return ("error", exc)
    flush()
    return ("done", result)


class _Worker:
    def __init__(self) -> None:
        self.conn, child = _context.Pipe(duplex=True)
        self.process: BaseProcess = _context.Process(target=_serve, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.busy = False  # a call sent and its answer not yet received: never to be reused

    async def call(
        self,
        fn: Callable[..., R],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        progress: Callable[..., None] | None,
    ) -> R:
        self.busy = True
        self.conn.send((fn, args, kwargs))
        while True:
            await anyio.wait_readable(self.conn.fileno())
            try:
                kind, value = self.conn.recv()
            except EOFError:
                await anyio.to_thread.run_sync(self.process.join, 5)
                raise WorkerDied(
                    f"the worker process ended without an answer (exit code {self.process.exitcode}); "
                    "what it had not committed was not kept: call it again"
                ) from None
            if kind == "progress":
                if progress is not None:
                    progress(*value)
                continue
            self.busy = False
            if kind == "error":
                raise value
            return value

    def kill(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


class Workers:
    """Up to ``size`` worker processes, started when needed and kept for the next call."""

    def __init__(self, size: int = 2) -> None:
        self._slots = anyio.Semaphore(size)
        self._idle: list[_Worker] = []

    def start(self) -> None:
        """Start one worker now (blocking while the fork server starts, about a second, the first time
        in a process), so that the first call does not wait for it."""
        if not self._idle:
            self._idle.append(_Worker())

    async def run(
        self, fn: Callable[..., R], *args: Any, progress: Callable[..., None] | None = None, **kwargs: Any
    ) -> R:
        """``fn(*args, progress=..., **kwargs)`` in a worker, awaited without blocking the event loop.
        Cancelling the caller kills the worker at once."""
        async with self._slots:
            worker = self._idle.pop() if self._idle else await anyio.to_thread.run_sync(_Worker)
            try:
                return await worker.call(fn, args, kwargs, progress)
            finally:
                if worker.busy or not worker.process.is_alive():
                    worker.kill()  # cancelled half-way through the call, or dead: never reused
                else:
                    self._idle.append(worker)

    def close(self) -> None:
        """Stop the idle workers (a call still running kills its own when it is cancelled)."""
        while self._idle:
            self._idle.pop().kill()
