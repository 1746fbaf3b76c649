"""CPU-heavy work in a child process that can be killed: the caller's event loop and GIL stay free,
and a call past its time limit is stopped for real (the child is killed, which a thread cannot be).

The child is forked from a ``forkserver`` (never from the caller, whose threads a fork would copy
half-way), which imports :data:`PRELOAD` once, so a call starts in milliseconds. ``fn`` must be a
module-level function of an importable module, its arguments and result picklable (plain data): it
opens what it needs (a workspace's store) itself. Its ``progress(n)`` calls come back to the caller,
a few at a time; an exception it raises is raised in the caller. The child runs at a lower priority
(:data:`NICE`), so that on a machine with few cores the caller's own quick work goes first. A child whose caller went away dies
at its next progress report (the pipe is closed).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from graph_toucan.errors import GraphToucanError

R = TypeVar("R")

PRELOAD = ["graph_toucan.sampling", "graph_toucan.store"]
REPORT_EVERY_S = 0.05  # progress reports at most this often (each is a wake-up of the caller's loop)
NICE = 10  # a worker yields the CPU to its caller: the server's light calls come first on a busy machine

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)


class WorkerDied(GraphToucanError):
    """The child process ended without an answer (killed from outside, or out of memory)."""


def warm_up() -> None:
    """Start the fork server now (blocking, about a second), so the first call does not wait for it."""
    from multiprocessing import forkserver

    forkserver.ensure_running()


def _child(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        os.nice(NICE)
    pending, last = 0, time.monotonic()

    def progress(n: int = 1) -> None:
        nonlocal pending, last
        pending += n
        if time.monotonic() - last >= REPORT_EVERY_S:
            conn.send(("progress", pending))  # BrokenPipeError when the caller is gone: we stop too
            pending, last = 0, time.monotonic()

    try:
        result = fn(*args, progress=progress, **kwargs)
        if pending:
            conn.send(("progress", pending))
        conn.send(("done", result))
    except BrokenPipeError:
        return
    except Exception as exc:
        try:
            pickle.dumps(exc)
        except Exception:
            exc = GraphToucanError(f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(BrokenPipeError):
            conn.send(("error", exc))
    finally:
        conn.close()


async def run_in_process(
    fn: Callable[..., R], *args: Any, progress: Callable[[int], None] | None = None, **kwargs: Any
) -> R:
    """``fn(*args, progress=..., **kwargs)`` in a fresh child process, awaited without blocking the
    event loop. Cancelling the caller (a time limit, a client gone) kills the child at once."""
    receiver, sender = _context.Pipe(duplex=False)
    process = _context.Process(target=_child, args=(sender, fn, args, kwargs), daemon=True)
    answered = False
    try:
        process.start()
        sender.close()
        while True:
            await anyio.wait_readable(receiver.fileno())
            try:
                kind, value = receiver.recv()
            except EOFError:
                process.join(5)
                raise WorkerDied(
                    f"the worker process ended without an answer (exit code {process.exitcode}); "
                    "nothing it had not finished was kept: call it again"
                ) from None
            if kind == "progress":
                if progress is not None:
                    progress(value)
                continue
            answered = True
            if kind == "error":
                raise value
            return value
    finally:
        receiver.close()
        sender.close()
        if answered:  # the child is exiting on its own: reap it off the loop
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(process.join, 10)
        if process.is_alive():
            process.kill()  # cancelled (a time limit, a client gone) or stuck: stop it now
        with contextlib.suppress(ValueError, AssertionError):  # never started: nothing to reap
            process.join()
