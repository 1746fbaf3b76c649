"""Limits on what a catalog may hand the importer, checked per entry before anything else touches it.

Catalogs are untrusted input (crawled, or from anyone): a file may be a FIFO, huge, start with a BOM or
hold a schema nested thousands of levels deep, a name of 10,000 characters or a lone surrogate. Each
check here gives a clear reason that becomes the entry's skip reason; nothing raises past one entry.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 64 * 1024 * 1024  # one catalog file (TOUCAN's largest server file is about 1 MB)
MAX_SCHEMA_DEPTH = 32  # nesting of a tool's schema (real ones stay under 10)
MAX_SCHEMA_NODES = 20_000  # dicts, lists and values in one schema
MAX_NAME_CHARS = 256  # a tool's or server's name
MAX_DESCRIPTION_CHARS = 16_000  # longer descriptions are cut (a repair), not skipped


class EntryProblem(ValueError):
    """What makes one catalog entry unusable, said so that the user knows what to fix."""


def read_catalog_text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """A catalog file's text: regular files only (a FIFO or device named ``*.json`` is never opened, so
    it cannot hang the import), at most ``limit`` bytes, UTF-8 with or without a BOM."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise EntryProblem(f"cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise EntryProblem(f"not a regular file ({_kind(info.st_mode)}); only regular files are read")
    if info.st_size > limit:
        raise EntryProblem(f"{info.st_size / 2**20:.0f} MB, over the {limit / 2**20:.0f} MB limit per file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise EntryProblem(f"cannot read it ({exc.strerror})") from None
    if len(data) > limit:
        raise EntryProblem(f"over the {limit / 2**20:.0f} MB limit per file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EntryProblem(f"not UTF-8 (byte {exc.start}: {exc.reason}); save it as UTF-8") from None


def is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a plain file"


def unicode_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored (a lone surrogate, which JSON's ``\\ud800`` escapes allow), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"a lone surrogate ({text[exc.start]!r}) at character {exc.start}, not valid Unicode"
    return None


def shown_name(name: str | None) -> str | None:
    """A name as issues show it: cut when long, lone surrogates escaped."""
    if name is None:
        return None
    short = name if len(name) <= 80 else f"{name[:80]}... ({len(name)} characters)"
    return short.encode("utf-8", "backslashreplace").decode("utf-8")


def check_name(name: str, what: str = "tool name") -> None:
    if len(name) > MAX_NAME_CHARS:
        raise EntryProblem(f"{what} is {len(name)} characters, over the {MAX_NAME_CHARS} allowed")
    problem = unicode_problem(name)
    if problem:
        raise EntryProblem(f"{what} holds {problem}")


def clean_description(text: str) -> tuple[str, list[str]]:
    """A description cut to :data:`MAX_DESCRIPTION_CHARS` and with lone surrogates replaced; the repairs."""
    repairs = []
    if unicode_problem(text):
        text = text.encode("utf-8", "replace").decode("utf-8")
        repairs.append("lone surrogates in the description replaced with '?'")
    if len(text) > MAX_DESCRIPTION_CHARS:
        repairs.append(f"description of {len(text)} characters cut to {MAX_DESCRIPTION_CHARS}")
        text = text[:MAX_DESCRIPTION_CHARS]
    return text, repairs


def check_schema_shape(schema: Any, what: str = "input schema") -> None:
    """Depth, size and text of a raw schema, checked without recursion (so no depth can overflow it)."""
    stack: list[tuple[Any, int]] = [(schema, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_SCHEMA_NODES:
            raise EntryProblem(f"{what} has over {MAX_SCHEMA_NODES} nodes; too large to use")
        if isinstance(value, dict | list):
            if depth > MAX_SCHEMA_DEPTH:
                raise EntryProblem(f"{what} is nested deeper than {MAX_SCHEMA_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and unicode_problem(key):
                    raise EntryProblem(f"{what} has a key holding {unicode_problem(key)}")
                stack.append((item, depth + 1))
        elif isinstance(value, str) and unicode_problem(value):
            raise EntryProblem(f"{what} holds {unicode_problem(value)}")
