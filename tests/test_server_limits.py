"""The synthesis server stays responsive: sampling runs in a worker process, off the event loop and its
GIL (a light call is answered while sample_fsp(count=1000) runs, with its progress reported), every
call has a time limit that stops it (the worker is killed; a rerun completes), tools that write stop
at the workspace size guard, and idle HTTP sessions are closed."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastmcp import Client

from graph_toucan.llm import LLM, Budget, OfflineBackend
from graph_toucan.resources import server_module
from graph_toucan.store import Store
from tests.server_clients import INITIALIZE, Calls, call_loop, free_port, headers, start_server, wait_ready

synthesis = server_module("synthesis")


def server(workspace: Path, **config: Any) -> Any:
    return synthesis.create_server(synthesis.ServerConfig(workspace=workspace, **config))


async def _build(workspace: Path) -> None:
    async with Client(server(workspace), timeout=600) as client:
        for tool in ("import_catalog", "annotate_tools", "build_graph"):
            await client.call_tool(tool, {})


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workspace = tmp_path_factory.mktemp("built")
    asyncio.run(_build(workspace))
    return workspace


@pytest.fixture
def workspace(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(built, copy)
    return copy


async def test_light_calls_are_answered_while_sample_fsp_runs(workspace):
    """Before: sample_fsp ran on the event loop and every other call waited for it."""
    async with Client(server(workspace), timeout=600) as client:
        heavy = asyncio.create_task(client.call_tool("sample_fsp", {"count": 1000, "seed": 31, "show": 0}))
        await asyncio.sleep(0.05)  # the heavy call is under way (it plans 1,000 paths)
        searches = itertools.repeat(("search_tools", {"query": "weather", "limit": 1}))
        record = Calls()  # which light answers came back while the heavy call still ran
        await call_loop(
            client,
            searches,
            lambda: heavy.done() or sum(record.marks) >= 3,
            record,
            mark=lambda: not heavy.done(),
        )
        assert not record.errors
        assert any(record.marks), "a light call waited for the heavy one to finish"
        assert (await heavy).structured_content["sampled"] == 1000


async def _annotate(workspace: Path) -> None:
    async with Client(server(workspace), timeout=600) as client:
        for tool in ("import_catalog", "annotate_tools"):
            await client.call_tool(tool, {})


@pytest.fixture(scope="module")
def annotated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workspace = tmp_path_factory.mktemp("annotated")
    asyncio.run(_annotate(workspace))
    return workspace


async def test_build_graph_with_the_offline_teacher_runs_in_a_worker_like_in_the_server(annotated, tmp_path):
    """Before: the offline teacher judged every pair on the event loop (a light call waited seconds)."""
    worker, here = tmp_path / "worker", tmp_path / "here"
    shutil.copytree(annotated, worker)
    shutil.copytree(annotated, here)
    async with Client(server(worker), timeout=600) as client:
        heavy = asyncio.create_task(client.call_tool("build_graph", {}))
        await asyncio.sleep(0.05)
        searches = itertools.repeat(("search_tools", {"query": "weather", "limit": 1}))
        record = Calls()
        stop = lambda: heavy.done() or sum(record.marks) >= 3  # noqa: E731
        await call_loop(client, searches, stop, record, mark=lambda: not heavy.done())
        assert not record.errors and any(record.marks), "a light call waited for build_graph to finish"
        built = (await heavy).structured_content

    def budgeted(store: Store) -> LLM:  # a budget keeps the teacher in the server process
        return LLM(OfflineBackend(), store, budget=Budget(max_calls=10**6))

    app = synthesis.create_server(synthesis.ServerConfig(workspace=here), teacher=budgeted)
    async with Client(app, timeout=600) as client:
        alone = (await client.call_tool("build_graph", {})).structured_content
    same = ("nodes", "candidate_pairs", "judged_now", "edges", "llm_calls")
    assert {k: built[k] for k in same} == {k: alone[k] for k in same}
    assert built["llm_calls"] > 0
    assert (worker / "graph.json").read_bytes() == (here / "graph.json").read_bytes()


def _stored(workspace: Path, seed: int) -> list[str]:
    store = Store.open(workspace)
    try:
        return [p.id for p in store.paths(sampler="graph", seed=seed)]
    finally:
        store.close()


async def test_a_call_past_the_time_limit_is_stopped_and_a_rerun_completes(workspace, built, tmp_path):
    """Before: the error came back at the limit, but the sampling went on in its thread (writing) until
    it finished, and the thread could not be stopped."""
    async with Client(server(workspace, call_timeout=0.3), timeout=600) as client:
        result = await client.call_tool("sample_fsp", {"count": 1000, "seed": 4}, raise_on_error=False)
        assert result.is_error
        text = result.content[0].text
        assert "limit of 0.3 s per call and was stopped (serve --call-timeout sets the limit" in text, text
        stopped = _stored(workspace, 4)
        assert len(stopped) < 1000
        await asyncio.sleep(1.5)  # a thread would still be writing now; a killed worker is not
        assert _stored(workspace, 4) == stopped
        assert not (await client.call_tool("search_tools", {"limit": 1})).is_error  # serving on
    async with Client(server(workspace), timeout=600) as client:
        rerun = await client.call_tool("sample_fsp", {"count": 1000, "seed": 4, "show": 0})
    fresh = tmp_path / "fresh"
    shutil.copytree(built, fresh)
    async with Client(server(fresh), timeout=600) as client:
        alone = await client.call_tool("sample_fsp", {"count": 1000, "seed": 4, "show": 0})
    assert rerun.structured_content["sampled"] == 1000
    assert rerun.structured_content["path_ids"] == alone.structured_content["path_ids"]
    assert _stored(workspace, 4) == _stored(fresh, 4)


async def test_sample_fsp_reports_progress_from_its_worker_process(workspace):
    seen: list[tuple[float, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, message))

    async with Client(server(workspace), timeout=600, progress_handler=on_progress) as client:
        result = await client.call_tool("sample_fsp", {"count": 300, "seed": 8, "show": 0})
    assert result.structured_content["sampled"] == 300
    counts = [done for done, _ in seen]
    assert counts and counts == sorted(counts) and counts[-1] == 300
    assert "done" not in {m for _, m in seen}  # every path was reported by the worker itself


async def test_tools_that_write_stop_at_the_workspace_size_guard(workspace):
    async with Client(server(workspace, max_workspace_mb=0.01)) as client:
        result = await client.call_tool("sample_fsp", {"count": 5}, raise_on_error=False)
        assert result.is_error
        text = result.content[0].text
        assert "over this server's limit of 0 MB (serve --max-workspace-mb)" in text, text
        assert not (await client.call_tool("search_tools", {"limit": 1})).is_error  # reading still works


@pytest.mark.slow
def test_idle_http_sessions_are_closed(tmp_path):
    """Before: a session that initialised and never closed lived (and held memory) for 30 minutes."""
    port, token = free_port(), secrets.token_urlsafe(16)
    proc = start_server(tmp_path, port, token, ["--session-idle", "1"], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        try:
            asyncio.run(wait_ready(url, token))
        except Exception:
            pytest.fail(proc.stderr.read().decode() if proc.poll() is not None else "no server")
        first = httpx.post(url, json=INITIALIZE, headers=headers(token), timeout=10)
        session = headers(token, first.headers["mcp-session-id"])
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        assert httpx.post(url, json=ping, headers=session, timeout=10).status_code == 200
        time.sleep(3)
        assert httpx.post(url, json=ping, headers=session, timeout=10).status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
