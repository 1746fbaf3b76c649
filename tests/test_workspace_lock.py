"""One writer at a time, whoever writes: the CLI's writing commands and the synthesis server's writing
tools take the workspace lock a run takes, wait for its holder naming it (or stop at once with
--no-wait), and reads need no lock. Before, only `run` took it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastmcp import Client

from graph_toucan.resources import server_module
from graph_toucan.store import Store
from graph_toucan.workspace_lock import hold_workspace

synthesis = server_module("synthesis")
CLI = [sys.executable, "-c", "from graph_toucan.console import main; main()"]


def _cli(workspace: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "-w", str(workspace), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _count(workspace: Path, table: str) -> int:
    store = Store.open(workspace)
    try:
        return store.count(table)
    finally:
        store.close()


@pytest.fixture(scope="module")
def graph_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workspace = tmp_path_factory.mktemp("graph")
    for command in (["import"], ["annotate"], ["graph", "build"]):
        proc = _cli(workspace, *command, "--json")
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    return workspace


def test_a_cli_writer_waits_for_the_holder_naming_it_and_no_wait_stops(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    with hold_workspace(workspace, what="the test's writer"), ThreadPoolExecutor(1) as pool:
        busy = _cli(workspace, "import", "--no-wait")
        _, err = busy.communicate(timeout=120)
        assert busy.returncode == 1, err
        assert f"is in use by the test's writer (pid {os.getpid()})" in err, err
        waiting = _cli(workspace, "import", "--json")
        notice = pool.submit(waiting.stderr.readline).result(timeout=120)  # it blocks on the lock
        assert notice.startswith(f"waiting for the test's writer (pid {os.getpid()}), which is writing")
        assert waiting.poll() is None and _count(workspace, "tools") == 0  # nothing written meanwhile
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert json.loads(out)["imported"] == _count(workspace, "tools") > 0


def test_two_samples_of_one_stream_go_one_at_a_time(graph_built: Path, tmp_path: Path) -> None:
    workspace, alone = tmp_path / "ws", tmp_path / "alone"
    shutil.copytree(graph_built, workspace)
    shutil.copytree(graph_built, alone)
    with hold_workspace(workspace, what="the test's writer"), ThreadPoolExecutor(2) as pool:
        procs = [_cli(workspace, "sample", "--n", "200", "--seed", "3", "--json") for _ in range(2)]
        notices = [pool.submit(p.stderr.readline) for p in procs]
        assert all("waiting for the test's writer" in n.result(timeout=120) for n in notices)
    results = [p.communicate(timeout=300) for p in procs]  # released: both race for the lock now
    assert [p.returncode for p in procs] == [0, 0], results
    assert [json.loads(out)["sampled"] for out, _ in results] == [200, 200]
    single = _cli(alone, "sample", "--n", "200", "--seed", "3", "--json")
    single.communicate(timeout=300)
    stores = [Store.open(w) for w in (workspace, alone)]
    try:
        ids = [[p.id for p in s.paths(sampler="graph", seed=3)] for s in stores]
    finally:
        for store in stores:
            store.close()
    assert ids[0] == ids[1] and len(ids[0]) == 200  # the --n of each, never more, in stream order


async def test_server_writing_tools_take_the_lock_and_reads_do_not(graph_built: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    shutil.copytree(graph_built, workspace)
    app = synthesis.create_server(synthesis.ServerConfig(workspace=workspace, call_timeout=1))
    async with Client(app, timeout=600) as client:
        with hold_workspace(workspace, what="graph-toucan run"):
            result = await client.call_tool("sample_fsp", {"count": 5}, raise_on_error=False)
            assert result.is_error
            assert f"in use by graph-toucan run (pid {os.getpid()})" in result.content[0].text
            assert _count(workspace, "paths") == 0
            read = await client.call_tool("search_tools", {"query": "weather", "limit": 1})
            assert not read.is_error  # reading needs no lock
        done = await client.call_tool("sample_fsp", {"count": 5})
        assert done.structured_content["sampled"] == 5
