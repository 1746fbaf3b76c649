"""Shared test helpers: where the real data and the installed console scripts are."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from graph_toucan.resources import TOUCAN_ENV, toucan_dir

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "toucan" / "mcp_servers"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def in_ci() -> bool:
    """Whether this is a CI run, where a missing requirement is a failure rather than a skip."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(message: str) -> None:
    """Skip the test locally; fail it in CI (which must have everything the suite needs)."""
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def toucan_catalog() -> Path:
    """The full TOUCAN catalog (a folder holding ``mcp_servers/`` and ``derived/``), named by
    GRAPH_TOUCAN_TOUCAN_DIR; the test skips without it (fails in CI)."""
    path = toucan_dir()
    if path is None or not (path / "mcp_servers").is_dir():
        where = (
            f"{TOUCAN_ENV}={str(path)!r} holds no mcp_servers/ folder" if path else f"{TOUCAN_ENV} is not set"
        )
        missing(
            f"needs the full TOUCAN catalog ({where}): set {TOUCAN_ENV} to the folder holding "
            "mcp_servers/ and derived/toucan_server_catalog.jsonl"
        )
    return path  # type: ignore[return-value]


def script(name: str) -> str:
    """An installed console script (beside this Python first); skipped locally, a failure in CI."""
    found = Path(sys.executable).parent / name
    path = str(found) if found.exists() else shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (pip install -e '.[test]')")
    return path  # type: ignore[return-value]
