"""Shared test helpers: where the real data and the installed console scripts are."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOUCAN = ROOT.parent / "shared" / "data" / "toucan"
EXAMPLE = ROOT / "examples" / "toucan" / "mcp_servers"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def script(name: str) -> str:
    """An installed console script (beside this Python first); skipped locally, a failure in CI."""
    found = Path(sys.executable).parent / name
    path = str(found) if found.exists() else shutil.which(name)
    if path is None:
        message = f"{name} is not installed (pip install -e '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def toucan() -> Path:
    if not (TOUCAN / "mcp_servers").is_dir():
        message = f"the TOUCAN catalog is not at {TOUCAN}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return TOUCAN
