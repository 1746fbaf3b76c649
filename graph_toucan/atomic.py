"""Atomic file writes: every file the project writes (graph.json, mock modules and manifests, exports,
statistics) goes through here, so a kill at any moment leaves the previous file or the new one, never a
truncated mix.

A write goes to a temporary file in the same folder (same file system, so the rename is atomic), is
flushed and fsynced, then ``os.replace``\\ d over the target.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[Path]:
    """``with replacing(target) as tmp:`` write ``tmp`` by any means (a writer library, ``savefig``);
    on success it replaces ``target`` atomically, on error it is removed and ``target`` is untouched."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep(target)
    fd, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name[:100]}.{os.getpid()}.", suffix=".tmp"
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def write_atomic(path: str | os.PathLike[str], data: str | bytes, encoding: str = "utf-8") -> None:
    """Write ``data`` (text in ``encoding``, or bytes) to ``path`` atomically."""
    raw = data.encode(encoding) if isinstance(data, str) else data
    with replacing(path) as tmp, open(tmp, "wb") as handle:
        handle.write(raw)


def _sweep(target: Path) -> None:
    """Remove temporary files of ``target`` that a killed writer left behind: those whose writing
    process (its pid is in the name) is gone."""
    for stale in target.parent.glob(f".{glob.escape(target.name[:100])}.*.tmp"):
        pid = stale.name[len(target.name[:100]) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                stale.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort: some file systems refuse to open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
