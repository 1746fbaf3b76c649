"""Hostile catalogs: the corruption corpus (tests/catalog_corpus.py, 54 cases made from real TOUCAN
files), all of it at once beside the whole example catalog, and schema counts that once allocated
gigabytes (``minItems: 1e9``, ``minLength: 1e10``) in example and mock generation."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from graph_toucan.catalog import import_entries, read_catalog
from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.mock.build import build_mock
from graph_toucan.mock.files import write_mock_folder
from graph_toucan.mock.flatten import flat_fields
from graph_toucan.mock.sandbox import SandboxPool
from graph_toucan.records import Tool
from graph_toucan.resources import example_catalog
from graph_toucan.schema import example_arguments
from graph_toucan.store import Store
from tests.catalog_corpus import CASES, CORRUPT, run_case, write_case


def test_the_corpus_is_large_enough_and_covers_each_outcome() -> None:
    assert len(CASES) >= 40
    assert {c.expected for c in CASES} == {"file", "tool", "ok", "filtered"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_corruption_is_handled_and_the_good_files_imported(case, tmp_path: Path) -> None:
    outcome = run_case(case, tmp_path, timeout=30)
    assert outcome.error is None, outcome.error
    assert outcome.good_imported == outcome.good_total > 0
    assert outcome.got == case.expected
    if case.expected in ("file", "tool"):
        skips = [s for s in outcome.report.skipped if s.file == CORRUPT]
        assert skips and all(len(str(s)) < 400 for s in skips)  # a reason, not a dump of the entry


def test_every_corruption_at_once_beside_the_whole_example_catalog(tmp_path: Path) -> None:
    """Before: one deep schema or one surrogate sorted first stopped the import with 0 tools; a FIFO
    hung it."""
    folder = tmp_path / "catalog"
    shutil.copytree(example_catalog(), folder)
    for i, case in enumerate(CASES):
        one = tmp_path / f"case{i}"
        one.mkdir()
        made = write_case(case, one)
        target = folder / f"0000.case{i:02d}_labeled.json"
        if case.special in ("fifo", "dangling"):
            write_case(case, folder).rename(target)
        else:
            shutil.move(made, target)
    store = Store.open(tmp_path / "ws")
    started = time.monotonic()
    report = import_entries(store, read_catalog(folder))
    assert time.monotonic() - started < 120
    good = Store.open(tmp_path / "clean")
    import_entries(good, read_catalog(example_catalog()))
    assert {t.id for t in good.tools()} <= {t.id for t in store.tools()}
    assert len(report.skipped) >= len([c for c in CASES if c.expected in ("file", "tool")])


HUGE_INPUT = {
    "type": "object",
    "properties": {
        "symbols": {"type": "array", "items": {"type": "string"}, "minItems": 1e9},
        "note": {"type": "string", "minLength": 1e10},
        "tags": {"type": "array", "items": {"type": "string", "minLength": 10**10}, "minItems": 10**12},
    },
    "required": ["symbols", "note", "tags"],
}
HUGE_OUTPUT = {
    "type": "object",
    "properties": {
        "quotes": {"type": "array", "items": {"type": "string"}, "minItems": 10**9},
        "text": {"type": "string", "minLength": 10**10},
    },
    "required": ["quotes", "text"],
}


def test_example_values_clamp_unbounded_counts() -> None:
    args = example_arguments(HUGE_INPUT)
    assert 1 <= len(args["symbols"]) <= 10 and len(args["note"]) <= 256
    assert len(args["tags"]) <= 10 and all(len(t) <= 256 for t in args["tags"])
    assert 0 < len(flat_fields(HUGE_OUTPUT)) <= 12  # item slots per list stay bounded too


async def test_mock_build_of_a_tool_with_unbounded_counts_ends_without_allocating(tmp_path: Path) -> None:
    """Before: every mock build died with a MemoryError (8 GB) at schema.py."""
    store = Store.open(tmp_path)
    tool = Tool(
        server_id="s1",
        server_name="Quotes",
        name="get_quotes",
        description="Get stock quotes for symbols.",
        input_schema=HUGE_INPUT,
        output_schema=HUGE_OUTPUT,
        tool_class="query",
        source="test",
    )
    async with SandboxPool(workers=1) as pool:
        mock = await build_mock(tool, LLM(OfflineBackend(), store), pool, attempts=1)
    assert mock.status in ("accepted", "unmockable")
    assert mock.status == "accepted" or mock.error


def test_a_10000_character_tool_name_gives_a_short_file_name(tmp_path: Path) -> None:
    from graph_toucan.mock.build import mock_key
    from graph_toucan.records import MockTool

    tools = [
        Tool(
            server_id="s",
            server_name="S" * 5000,
            name=c * 10_000,
            description="",
            input_schema={"type": "object"},
            source="test",
        )
        for c in "ab"
    ]
    mocks = [
        MockTool(tool=t, key=mock_key(t), status="accepted", code="def main():\n    return {}\n", teacher="x")
        for t in tools
    ]
    paths = write_mock_folder(mocks, tmp_path / "mocks")
    assert len(set(paths.values())) == 2
    assert all(len(part) < 100 for p in paths.values() for part in Path(p).parts)
    assert all((tmp_path / "mocks" / p).is_file() for p in paths.values())
