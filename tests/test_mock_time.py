"""Mocks of the real ``mcp-server-time`` tools answer with the same structure as the real server."""

from __future__ import annotations

from typing import Any

import pytest

from graph_toucan.live import LiveTarget, import_live
from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.mock.build import build_mock
from graph_toucan.mock.runtime import MockRuntime
from graph_toucan.mock.sandbox import SandboxPool
from graph_toucan.store import Store
from tests.conftest import script

pytestmark = pytest.mark.slow

CALLS = {
    "get_current_time": ("query", {"timezone": "Europe/Paris"}),
    "convert_time": (
        "computation",
        {"source_timezone": "Europe/Paris", "time": "14:30", "target_timezone": "Asia/Tokyo"},
    ),
}


def structure(value: Any) -> Any:
    """Keys and JSON types, recursively (list items by position)."""
    if isinstance(value, dict):
        return {k: structure(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [structure(v) for v in value]
    for name, kind in (("boolean", bool), ("integer", int), ("number", float), ("string", str)):
        if isinstance(value, kind):
            return name
    return "null"


async def test_mocks_of_mcp_server_time_match_the_real_outputs_structure(tmp_path):
    store = Store(tmp_path / "gt.db")
    target = LiveTarget(command=script("mcp-server-time"))
    report = await import_live(store, [target], probe=1, probe_actions=True, timeout=60)
    assert report.servers == 1 and report.examples == 2
    llm = LLM(OfflineBackend(), store)
    async with SandboxPool(workers=1) as pool:
        runtime = MockRuntime(pool)
        for name, (tool_class, arguments) in CALLS.items():
            [tool] = [t for t in store.tools() if t.name == name]
            assert tool.output_schema is not None  # the real server publishes one ($ref included)
            tool = tool.model_copy(update={"tool_class": tool_class})
            mock = await build_mock(tool, llm, pool)
            assert mock.status == "accepted", mock.error
            runtime.add([mock])
            [example] = [e for e in store.examples(tool.id) if e.arguments == arguments]
            real = example.structured if example.structured is not None else example.result
            simulated = await runtime.call(name, arguments)
            assert structure(simulated) == structure(real), (simulated, real)
        now = await runtime.call("get_current_time", {"timezone": "Asia/Tokyo"})
        assert now["timezone"] == "Asia/Tokyo"  # the echoed argument, as the real server does
