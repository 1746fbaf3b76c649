"""Mock folders on disk, the bundled ones, and the mock server module shipped beside the package.

A mock folder holds one module per accepted mock, ``<server>/<tool>.py``, and ``manifest.json``
listing each file with its tool record (name, schemas, class), so a folder can be served or
replayed without a workspace. The repository's top-level ``mock_tools/`` is such a folder for the
bundled example catalog; in a wheel it is ``graph_toucan/_data/mock_tools``, like the prompts.
The module files are the source of truth for the code: an edited file is what runs (after the
allow-list check).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from graph_toucan.atomic import write_atomic
from graph_toucan.mock.errors import MockError
from graph_toucan.records import MockTool
from graph_toucan.resources import data_dir, server_module

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


def slug(text: str) -> str:
    """A folder name from a server name: ASCII, lowercase, ``_`` between words; ``''`` if nothing is left.

    >>> slug("计算器(Calc MCP)"), slug("United States Weather")
    ('calc_mcp', 'united_states_weather')
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")


NAME_CHARS = 80  # file and folder names derived from tool and server names stay this short (plus a hash)


def _bounded(name: str, original: str) -> str:
    """``name`` cut to :data:`NAME_CHARS` with a hash of the full ``original`` when longer, so a long
    name never makes a path the file system refuses and two long names never collide."""
    if len(name) <= NAME_CHARS:
        return name
    return f"{name[:NAME_CHARS]}_{hashlib.sha256(original.encode('utf-8', 'replace')).hexdigest()[:8]}"


def _file_name(tool_name: str) -> str:
    return _bounded(re.sub(r"[^A-Za-z0-9_.-]+", "_", tool_name).strip("._") or "tool", tool_name)


def mock_paths(mocks: list[MockTool]) -> dict[str, str]:
    """Relative file of each mock (by mock id): ``<server slug>/<tool>.py``, unique within the folder."""
    servers: dict[str, str] = {}
    taken: set[str] = set()
    for server_id, name in sorted({(m.tool.server_id, m.tool.server_name) for m in mocks}):
        folder = _bounded(slug(name) or "server", name)
        if folder in taken:
            folder = f"{folder}_{server_id[:6]}"
        taken.add(folder)
        servers[server_id] = folder
    paths: dict[str, str] = {}
    used: set[str] = set()
    for mock in sorted(mocks, key=lambda m: (m.tool.server_id, m.tool.name)):
        base = f"{servers[mock.tool.server_id]}/{_file_name(mock.tool.name)}"
        path, n = f"{base}.py", 2
        while path.lower() in used:
            path, n = f"{base}_{n}.py", n + 1
        used.add(path.lower())
        paths[mock.id] = path
    return paths


def write_mock_folder(mocks: list[MockTool], folder: Path) -> dict[str, str]:
    """Write the accepted ``mocks`` and the manifest into ``folder``; files of mocks the previous
    manifest listed and this one does not are removed. Returns the relative path of each mock id."""
    accepted = [m for m in mocks if m.status == "accepted"]
    paths = mock_paths(accepted)
    folder.mkdir(parents=True, exist_ok=True)
    old = _listed_files(folder)
    entries = []
    for mock in sorted(accepted, key=lambda m: paths[m.id]):
        target = folder / paths[mock.id]
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text(encoding="utf-8") != mock.code:
            write_atomic(target, mock.code)
        entries.append(
            {
                "file": paths[mock.id],
                "key": mock.key,
                "teacher": mock.teacher,
                "attempts": mock.attempts,
                "tool": mock.tool.model_dump(mode="json", exclude={"id", "digest"}),
            }
        )
    for stale in old - set(paths.values()):
        if isinstance(stale, str) and (folder / stale).is_file():
            (folder / stale).unlink()
            if not any((folder / stale).parent.iterdir()):
                (folder / stale).parent.rmdir()
    manifest = {"format": MANIFEST_FORMAT, "generator": "graph-toucan mock build", "mocks": entries}
    write_atomic(folder / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return paths


def _listed_files(folder: Path) -> set[Any]:
    """The files the folder's manifest lists; none when it has none or it is unreadable (a manifest
    truncated by a kill in an older version is rebuilt, not an error)."""
    if not (folder / MANIFEST).exists():
        return set()
    try:
        entries = _manifest(folder).get("mocks", [])
    except MockError:
        return set()
    return {entry.get("file") for entry in entries if isinstance(entry, dict)}


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MockError(
            f"{folder} has no {MANIFEST}; give a folder written by 'graph-toucan mock build' "
            "(<workspace>/mock_tools) or the bundled one"
        ) from None
    except json.JSONDecodeError as exc:
        raise MockError(
            f"{folder / MANIFEST} is not JSON ({exc}); rebuild it with 'graph-toucan mock build'"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise MockError(f"{folder / MANIFEST} is not a format-{MANIFEST_FORMAT} mock manifest")
    return manifest


def read_mock_folder(folder: Path) -> list[MockTool]:
    """The mocks of a folder, their code read from the module files."""
    mocks = []
    for entry in _manifest(folder).get("mocks", []):
        file = folder / str(entry.get("file"))
        try:
            code = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise MockError(
                f"{folder / MANIFEST} lists {entry.get('file')} but it cannot be read ({exc.strerror}); "
                "rebuild the folder with 'graph-toucan mock build'"
            ) from None
        try:
            mocks.append(
                MockTool(
                    tool=entry["tool"],
                    key=entry["key"],
                    status="accepted",
                    code=code,
                    attempts=entry.get("attempts", 1),
                    teacher=entry.get("teacher", "unknown"),
                )
            )
        except (KeyError, ValidationError) as exc:
            raise MockError(
                f"{folder / MANIFEST}: the entry for {entry.get('file')} is invalid: {exc}"
            ) from None
    return mocks


def bundled_mock_folder() -> Path:
    """The mocks generated for the bundled example catalog (top-level ``mock_tools/``)."""
    return data_dir("mock_tools")


def mock_server_module() -> ModuleType:
    """``server/mock_server.py``, loaded by path from the checkout or from the wheel's ``_data``."""
    return server_module("mock_server")
