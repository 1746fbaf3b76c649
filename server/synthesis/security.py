"""What a client may touch, fixed at start-up: paths inside the workspace and the given roots, live
MCP servers from the allow-lists, and over HTTP a bearer token or a loopback address
(:mod:`graph_toucan.serving`, shared with ``serve-mocks``)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from pathlib import Path, PurePath

from fastmcp.exceptions import ToolError

from graph_toucan.errors import GraphToucanError
from graph_toucan.serving import TOKEN_ENV, BearerToken, check_listen, is_loopback

__all__ = [
    "TOKEN_ENV",
    "BearerToken",
    "PathGuard",
    "allowed_command",
    "allowed_url",
    "check_listen",
    "is_loopback",
]


class PathGuard:
    """Resolves paths a client names, refusing anything outside the allowed roots.

    Relative paths are taken from the first root (the workspace). ``..`` is refused outright;
    symlinks are followed before the check, so one pointing outside is refused too, and a folder is
    refused when anything inside it resolves outside."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self.roots: list[Path] = []
        for root in roots:
            if not root.is_dir():
                raise GraphToucanError(f"the root {root} is not a folder; give existing folders with --root")
            self.roots.append(root.resolve())

    def _inside(self, path: Path) -> bool:
        return any(path == root or path.is_relative_to(root) for root in self.roots)

    def _refuse(self, raw: str, why: str) -> ToolError:
        allowed = ", ".join(str(r) for r in self.roots)
        return ToolError(
            f"the path {raw!r} {why}; name a file inside the workspace or an allowed root ({allowed}), "
            "or ask the operator to restart the server with --root for another folder"
        )

    def resolve(self, raw: str, *, must_exist: bool = True) -> Path:
        """The real path of ``raw``, inside a root; ToolError otherwise."""
        if not raw or "\x00" in raw:
            raise self._refuse(raw, "is empty or holds a NUL byte")
        if ".." in PurePath(raw).parts:
            raise self._refuse(raw, "contains '..'")
        candidate = Path(raw).expanduser()
        if not candidate.is_absolute():
            candidate = self.roots[0] / candidate
        real = Path(os.path.realpath(candidate))
        if not self._inside(real):
            raise self._refuse(raw, f"resolves to {real}, outside the allowed roots")
        if must_exist and not real.exists():
            raise ToolError(f"{raw!r} does not exist; check the name (relative paths start in the workspace)")
        if real.is_dir():
            self._check_tree(raw, real)
        return real

    def writable(self, raw: str) -> Path:
        """A path to write: its folder must exist inside a root (for export tools)."""
        path = self.resolve(raw, must_exist=False)
        if not path.parent.is_dir():
            raise ToolError(f"the folder of {raw!r} does not exist; create it first or write elsewhere")
        return path

    def _check_tree(self, raw: str, folder: Path, limit: int = 100_000) -> None:
        """Refuse a folder holding a symlink that leads outside the roots."""
        seen = 0
        for parent, dirs, files in os.walk(folder, followlinks=False):
            for name in dirs + files:
                seen += 1
                entry = Path(parent, name)
                if entry.is_symlink() and not self._inside(Path(os.path.realpath(entry))):
                    raise self._refuse(raw, f"holds {entry.relative_to(folder)}, a link to outside the roots")
                if seen > limit:
                    raise self._refuse(raw, f"holds more than {limit} entries")


def allowed_command(allowed: Iterable[str], command: str) -> str:
    """``command`` when it is one of the allowed stdio command lines (compared as shell words)."""
    allowed = tuple(allowed)
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ToolError(f"cannot read the command {command!r} ({exc}); quote it as a shell would") from None
    for entry in allowed:
        if shlex.split(entry) == argv:
            return command
    listed = ", ".join(repr(c) for c in allowed) or "none"
    raise ToolError(
        f"the command {command!r} is not on this server's allow-list (allowed: {listed}); use one of "
        "those exactly, or ask the operator to restart the server with --allow-command"
    )


def allowed_url(allowed: Iterable[str], url: str) -> str:
    """``url`` when it is one of the allowed MCP server URLs, exactly."""
    allowed = tuple(allowed)
    if url in allowed:
        return url
    listed = ", ".join(repr(u) for u in allowed) or "none"
    raise ToolError(
        f"the URL {url!r} is not on this server's allow-list (allowed: {listed}); use one of those "
        "exactly, or ask the operator to restart the server with --allow-url"
    )
