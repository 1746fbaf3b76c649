"""One writer at a time: whatever writes a workspace (a run, the CLI commands that write, the synthesis
server's tools that write) holds an exclusive lock on it (``flock`` on ``run.lock``); reads need none.

The lock belongs to the open file, so the kernel releases it when the process ends in any way, a
``SIGKILL`` included: a stale lock never blocks a rerun. The file holds the holder's pid and what it
is doing, only to name it in the message a second writer prints while it waits or when it gives up.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from graph_toucan.errors import GraphToucanError

LOCK_FILE = "run.lock"
POLL_S = 0.2


class WorkspaceBusy(GraphToucanError):
    """Another process holds the workspace lock (and we were told not to wait, or waited long enough)."""


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 256, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    pid, _, what = text.partition(" ")
    if not pid.isdigit():
        return "another writer"
    return f"{what} (pid {pid})" if what else f"another writer (pid {pid})"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def _lock_file(workspace: Path) -> Iterator[int]:
    workspace.mkdir(parents=True, exist_ok=True)
    fd = os.open(workspace / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _waits(
    fd: int, workspace: Path, wait_s: float | None, notice: Callable[[str], None] | None
) -> Iterator[None]:
    """One step per poll while another process holds the lock (the caller sleeps :data:`POLL_S`);
    :class:`WorkspaceBusy` once ``wait_s`` has passed. Ends holding the lock."""
    if _try_lock(fd):
        return
    if wait_s != 0 and notice:
        notice(f"waiting for {_holder(fd)}, which is writing workspace {workspace}, to finish")
    deadline = None if wait_s is None else time.monotonic() + wait_s
    while not _try_lock(fd):
        if deadline is not None and time.monotonic() >= deadline:
            raise WorkspaceBusy(
                f"workspace {workspace} is in use by {_holder(fd)}; wait for it to finish (or stop it), "
                "then rerun; writers of one workspace go one at a time"
            )
        yield


@contextlib.contextmanager
def _holding(fd: int, what: str | None) -> Iterator[None]:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {what or ''}".strip().encode(), 0)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)


@contextlib.asynccontextmanager
async def workspace_lock(
    workspace: Path,
    *,
    wait_s: float | None = None,
    notice: Callable[[str], None] | None = None,
    what: str | None = None,
) -> AsyncIterator[None]:
    """Hold the workspace's lock for the body. When another process (or another call of this one)
    holds it, wait (``wait_s`` seconds, ``None`` for as long as it takes, ``0`` not at all) with one
    ``notice`` naming the holder, then raise :class:`WorkspaceBusy` saying who holds it. ``what`` names
    this holder to the others (``graph-toucan sample``)."""
    with _lock_file(workspace) as fd:
        for _ in _waits(fd, workspace, wait_s, notice):
            await asyncio.sleep(POLL_S)
        with _holding(fd, what):
            yield


@contextlib.contextmanager
def hold_workspace(
    workspace: Path,
    *,
    wait_s: float | None = None,
    notice: Callable[[str], None] | None = None,
    what: str | None = None,
) -> Iterator[None]:
    """:func:`workspace_lock` for code without an event loop (it sleeps while it waits)."""
    with _lock_file(workspace) as fd:
        for _ in _waits(fd, workspace, wait_s, notice):
            time.sleep(POLL_S)
        with _holding(fd, what):
            yield
