"""One writer at a time: a run holds an exclusive lock on its workspace (``flock`` on ``run.lock``).

The lock belongs to the open file, so the kernel releases it when the process ends in any way, a
``SIGKILL`` included: a stale lock never blocks a rerun. The file holds the holder's pid, only to name
it in the message a second run prints while it waits or when it gives up.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from graph_toucan.errors import GraphToucanError

LOCK_FILE = "run.lock"
POLL_S = 0.2


class WorkspaceBusy(GraphToucanError):
    """Another process holds the workspace lock (and we were told not to wait, or waited long enough)."""


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return f"pid {text}" if text.isdigit() else "another process"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.asynccontextmanager
async def workspace_lock(
    workspace: Path, *, wait_s: float | None = None, notice: Callable[[str], None] | None = None
) -> AsyncIterator[None]:
    """Hold the workspace's lock for the body. When another process holds it, wait (``wait_s``
    seconds, ``None`` for as long as it takes, ``0`` not at all) with one ``notice`` naming the holder,
    then raise :class:`WorkspaceBusy` saying who holds it."""
    workspace.mkdir(parents=True, exist_ok=True)
    path = workspace / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            holder = _holder(fd)
            if wait_s != 0 and notice:
                notice(f"waiting for the run holding workspace {workspace} ({holder}) to finish")
            deadline = None if wait_s is None else time.monotonic() + wait_s
            while not _try_lock(fd):
                if deadline is not None and time.monotonic() >= deadline:
                    raise WorkspaceBusy(
                        f"workspace {workspace} is in use by another run ({_holder(fd)}); wait for it "
                        "to finish (or stop it), then rerun; runs on one workspace go one at a time"
                    )
                await asyncio.sleep(POLL_S)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock
