"""``graph-toucan serve`` as a real subprocess: a whole small synthesis over stdio with the official
``mcp`` SDK client, streamable HTTP with a bearer token (``serve`` and ``serve-mocks``), and a start
that fails (the MCP Inspector drives it in tests/test_server_inspector.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastmcp import Client as FastMCPClient
from fastmcp.exceptions import McpError
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.conftest import script

pytestmark = pytest.mark.slow
HOTELS = "Hotel Booking Server/search-hotels"
TOKEN = "s3cret-token-for-tests"


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def test_a_whole_synthesis_over_stdio_with_the_mcp_sdk_client(tmp_path):
    params = StdioServerParameters(
        command=script("graph-toucan"),
        args=["--workspace", str(tmp_path / "ws"), "serve"],
        env=os.environ | {"GRAPH_TOUCAN_TOKEN": TOKEN},  # a token guards HTTP only, never stdio
    )
    progress: list[tuple[float, float | None]] = []

    async def heard(value: float, total: float | None, _message: str | None) -> None:
        progress.append((value, total))

    async with Client(params, read_timeout_seconds=120) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert {
            "import_catalog",
            "annotate_tools",
            "build_graph",
            "sample_fsp",
            "run_mock_tool",
            "translate_fsp",
            "augment_refusal",
            "export_dataset",
            "dataset_stats",
            "get_conversation",
            "build_mocks",
            "make_pairs",
            "list_paths",
            "list_conversations",
        } <= set(listed)
        assert listed["search_tools"].annotations.read_only_hint is True
        assert listed["export_dataset"].annotations.destructive_hint is True

        imported = structured(await client.call_tool("import_catalog", {}))
        annotated = structured(await client.call_tool("annotate_tools", {}))
        built = structured(await client.call_tool("build_graph", {}, progress_callback=heard))
        sampled = structured(await client.call_tool("sample_fsp", {"count": 5, "seed": 1, "show": 1}))
        first = sampled["paths"][0]["turns"][0]["calls"][0]
        hood = structured(await client.call_tool("graph_neighbors", {"tool": first["tool"]}))
        mocked = structured(
            await client.call_tool(
                "run_mock_tool",
                {"tool": HOTELS, "arguments": {"latitude": 40.7, "longitude": -74.0}, "conversation": "c1"},
            )
        )
        stats = json.loads((await client.read_resource("graph-toucan://graph/stats")).contents[0].text)
        escape = await client.call_tool("import_catalog", {"path": "../../etc/passwd"})
        still = structured(await client.call_tool("search_tools", {"query": "hotel", "limit": 3}))

        translated = [
            structured(await client.call_tool("translate_fsp", {"path_id": path_id}))
            for path_id in sampled["path_ids"]
        ]
        accepted = [t for t in translated if t["status"] == "accepted"]
        irrelevance = {"conversation": accepted[0]["id"], "kind": "irrelevance"}
        variant = structured(await client.call_tool("augment_refusal", irrelevance))
        shown = structured(await client.call_tool("get_conversation", {"conversation": variant["id"]}))
        pairs = structured(await client.call_tool("make_pairs", {}))
        exported = structured(
            await client.call_tool(
                "export_dataset", {"out": "export", "formats": ["openai", "sharegpt", "dpo"]}
            )
        )
        report = (await client.read_resource("graph-toucan://stats")).contents[0]

    assert (imported["servers"], imported["tools_read"], imported["new"]) == (22, 98, 98)
    assert annotated["annotated"] == 98 and annotated["failed"] == []
    assert built["nodes"] == 98 and sum(built["edges"].values()) > 50
    assert progress and progress[-1] == (2, 2) and [p for p, _ in progress] == sorted(p for p, _ in progress)
    assert sampled["sampled"] == 5 and len(sampled["path_ids"]) == 5
    assert hood["tool"] == first["tool"]
    assert mocked["ref"] == HOTELS and mocked["output"]["hotels"]
    assert stats["nodes"] == 98 and stats["edges"] == sum(built["edges"].values())
    assert escape.is_error and "contains '..'" in escape.content[0].text
    assert still["tools"]

    assert accepted and all(t["conversation"]["turns"] for t in accepted)
    assert all(t["reasons"] for t in translated if t["status"] == "rejected")
    assert variant["status"] == "accepted" and variant["source_id"] == accepted[0]["id"]
    assert shown["conversation"]["kind"] == "irrelevance" and "turn 1 empty" in shown["transcript"]
    assert sum(exported["conversations"].values()) == len(accepted) + 1
    assert pairs["new_pairs"] > 0 and sum(exported["rows"]["dpo"].values()) == pairs["pairs_total"]
    assert (tmp_path / "ws" / "export" / "openai" / "train.jsonl").is_file()
    assert report.mime_type == "text/markdown" and report.text.startswith("# Dataset statistics")
    assert "## Comparison" in report.text


# -- streamable HTTP ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    """``graph-toucan serve --http`` on a free loopback port, with a token from the environment."""
    port = _free_port()
    command = [script("graph-toucan"), "-w", str(tmp_path / "ws"), "serve", "--http", f"127.0.0.1:{port}"]
    env = os.environ | {"GRAPH_TOUCAN_TOKEN": TOKEN}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(port, proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_http_needs_the_token_on_every_request(http_server):
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(timeout=10) as http:
        missing = await http.post(http_server, json=hello, headers=headers)
        wrong = await http.post(http_server, json=hello, headers=headers | {"Authorization": "Bearer nope"})
        right = await http.post(
            http_server, json=hello, headers=headers | {"Authorization": f"Bearer {TOKEN}"}
        )
    assert missing.status_code == 401 and wrong.status_code == 401
    assert right.status_code == 200

    async with FastMCPClient(http_server, auth=TOKEN) as client:
        names = {t.name for t in await client.list_tools()}
        imported = (await client.call_tool("import_catalog", {})).structured_content
        hits = (await client.call_tool("search_tools", {"query": "weather"})).structured_content
    assert "run_mock_tool" in names and imported["tools_read"] == 98 and hits["tools"]

    with pytest.raises(McpError):  # answered 401, as above
        async with FastMCPClient(http_server, auth="wrong-token") as client:
            await client.list_tools()


def test_http_beyond_loopback_is_refused_without_a_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "GRAPH_TOUCAN_TOKEN"}
    command = [
        script("graph-toucan"),
        "-w",
        str(tmp_path / "ws"),
        "serve",
        "--http",
        f"0.0.0.0:{_free_port()}",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "refusing to listen on 0.0.0.0 without a token" in done.stderr


async def test_a_server_that_cannot_start_answers_with_the_reason(tmp_path):
    """A missing --root: the client connects and sees why, instead of "connection closed"."""
    params = StdioServerParameters(
        command=script("graph-toucan"),
        args=["--workspace", str(tmp_path / "ws"), "serve", "--root", str(tmp_path / "missing")],
    )
    async with Client(params, read_timeout_seconds=60) as client:
        tools = (await client.list_tools()).tools
        result = await client.call_tool("why_not_started", {})
    assert [t.name for t in tools] == ["why_not_started"]
    assert result.is_error and f"the root {tmp_path / 'missing'} is not a folder" in result.content[0].text


def _serve_mocks(port: int, host: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [script("graph-toucan"), "serve-mocks", "--bundled", "--transport", "http"]
    command += ["--host", host, "--port", str(port), "--watch", "0"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def test_serve_mocks_over_http_has_the_same_token_and_loopback_rules(tmp_path):
    plain = {k: v for k, v in os.environ.items() if k != "GRAPH_TOUCAN_TOKEN"}
    wide = _serve_mocks(_free_port(), "0.0.0.0", plain)
    assert wide.wait(60) == 1 and b"refusing to listen on 0.0.0.0 without a token" in wide.stderr.read()
    port = _free_port()
    proc = _serve_mocks(port, "127.0.0.1", plain | {"GRAPH_TOUCAN_TOKEN": TOKEN})
    try:
        _wait_for(port, proc)
        url = f"http://127.0.0.1:{port}/mcp"
        async with httpx.AsyncClient(timeout=10) as http:
            missing = await http.post(url, json={}, headers={"Accept": "application/json, text/event-stream"})
        assert missing.status_code == 401
        async with FastMCPClient(url, auth=TOKEN) as client:
            names = {t.name for t in await client.list_tools()}
        assert "search-hotels" in names
    finally:
        proc.terminate()
        proc.wait(10)
