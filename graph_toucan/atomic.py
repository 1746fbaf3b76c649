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
    _prepare(target)
    tmp = _temporary(target)
    try:
        yield tmp
        _put_in_place(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


class Shards:
    """A file written as one or more shards, one after another: ``new()`` gives the next shard's temporary
    path; ``commit()`` names them (``name.ext`` when there is one, else ``name-00000-of-00003.ext`` and
    so on, as the Hugging Face Hub names shards), makes them durable, and removes the target's earlier
    files of either form; ``discard()`` removes them and leaves the earlier files as they were. Each
    file is replaced atomically; a kill during ``commit`` can leave new and earlier shards side by side."""

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)
        _prepare(self.target)
        self.parts: list[Path] = []

    def new(self) -> Path:
        self.parts.append(_temporary(self.target))
        return self.parts[-1]

    def names(self, k: int) -> list[Path]:
        """The final paths of ``k`` shards."""
        if k == 1:
            return [self.target]
        stem, ext = self.target.stem, self.target.suffix
        return [self.target.with_name(f"{stem}-{i:05d}-of-{k:05d}{ext}") for i in range(k)]

    def earlier(self) -> list[Path]:
        """The target's files as an earlier commit left them (one file, or shards of any count)."""
        stem, ext = glob.escape(self.target.stem), glob.escape(self.target.suffix)
        found = self.target.parent.glob(f"{stem}-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]{ext}")
        return [self.target, *found] if self.target.exists() else list(found)

    def commit(self) -> list[Path]:
        final = self.names(len(self.parts))
        stale = set(self.earlier()) - set(final)
        for part, path in zip(self.parts, final, strict=True):
            _put_in_place(part, path)
        for path in stale:
            path.unlink(missing_ok=True)
        _fsync_dir(self.target.parent)
        self.parts = []
        return final

    def discard(self) -> None:
        for part in self.parts:
            part.unlink(missing_ok=True)
        self.parts = []


def write_atomic(path: str | os.PathLike[str], data: str | bytes, encoding: str = "utf-8") -> None:
    """Write ``data`` (text in ``encoding``, or bytes) to ``path`` atomically."""
    raw = data.encode(encoding) if isinstance(data, str) else data
    with replacing(path) as tmp, open(tmp, "wb") as handle:
        handle.write(raw)


def _prepare(target: Path) -> None:
    """The target's folder exists and holds no temporary files of dead writers of it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep(target)


def _temporary(target: Path) -> Path:
    """A new empty temporary file beside ``target``, named so that :func:`_sweep` finds it."""
    fd, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name[:100]}.{os.getpid()}.", suffix=".tmp"
    )
    os.close(fd)
    return Path(name)


def _put_in_place(tmp: Path, target: Path) -> None:
    """Make the finished ``tmp`` durable and rename it over ``target``."""
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


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
