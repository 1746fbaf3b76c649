"""An agent session through the MCP Inspector's CLI (a client nobody on this team wrote), from import to an
export with DPO rows, with two Inspector versions: 0.15.0, what Node 20 installs (it sends the values of
``anyOf`` parameters as strings and all-digit strings as numbers), and 2.12.0, the current one (Node 22.19+).

The Inspector comes from the npm cache only (no network in tests): ``.ci/run`` fills it. The 2.x run needs
a Node 22.19+ first on PATH, or its folder in GRAPH_TOUCAN_INSPECTOR_NODE."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import script

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")]
INSPECTORS = {"0.15.0": (18, 0), "2.12.0": (22, 19)}  # version -> the oldest Node it runs on
NODE_ENV = "GRAPH_TOUCAN_INSPECTOR_NODE"
HOTELS = "Hotel Booking Server/search-hotels"


class Inspector:
    """One Inspector version driving ``graph-toucan serve`` (a fresh server process per call, as the
    CLI does) over one workspace, keeping a transcript."""

    def __init__(self, version: str, workspace: Path) -> None:
        self.version, self.workspace = version, workspace
        path = os.environ.get("PATH", "")
        if os.environ.get(NODE_ENV):
            path = f"{os.environ[NODE_ENV]}{os.pathsep}{path}"
        self.env = os.environ | {"PATH": path, "npm_config_offline": "true"}  # the npm cache only
        npx, node = shutil.which("npx", path=path), shutil.which("node", path=path)
        if npx is None or node is None:
            pytest.skip("npx and node are not installed")
        found = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
        have = tuple(int(x) for x in found.strip().lstrip("v").split(".")[:2])
        if have < INSPECTORS[version]:
            need = ".".join(map(str, INSPECTORS[version]))
            pytest.skip(
                f"the MCP Inspector {version} needs Node {need}+ (found {found.strip()}); set {NODE_ENV}"
            )
        self.command = [npx, "--yes", f"@modelcontextprotocol/inspector@{version}", "--cli"]
        self.transcript: list[str] = []

    def __call__(self, method: str, name: str | None = None, /, **arguments: Any) -> dict[str, Any]:
        args = ["--method", method] + (["--tool-name", name] if name else [])
        for key, value in arguments.items():
            text = value if isinstance(value, str) else json.dumps(value)
            args += ["--tool-arg", f"{key}={text}"]
        command = [*self.command, script("graph-toucan"), "-w", str(self.workspace), "serve", *args]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0 and "ENOTCACHED" in done.stderr + done.stdout:
            pytest.skip(f"the MCP Inspector {self.version} is not in the npm cache (run .ci/run once)")
        result = _last_json(done.stdout)
        # 2.x exits 5 for a tool result with isError (and says so on a line of its own)
        assert done.returncode == 0 or (done.returncode == 5 and result.get("isError")), (
            done.stderr[-2000:] + done.stdout[-2000:]
        )
        shown = " ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in arguments.items())
        self.transcript.append(f"{name or method} {shown}".strip())
        self.transcript.append(f"  -> {json.dumps(result.get('structuredContent', result))[:400]}")
        return result

    def ok(self, name: str, /, **arguments: Any) -> dict[str, Any]:
        result = self("tools/call", name, **arguments)
        assert not result.get("isError"), result["content"][0]["text"]
        return result["structuredContent"]


def _last_json(text: str) -> dict[str, Any]:
    """The last JSON object of the output (the result; 2.x may print an error object first)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (start := text.find("{", at)) != -1:
        try:
            value, at = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            at = start + 1
            continue
        found.append(value)
    assert found, f"no JSON in the Inspector's output: {text[-2000:]}"
    return found[-1]


@pytest.mark.parametrize("version", list(INSPECTORS))
def test_an_agent_session_from_import_to_an_export_with_dpo_rows(tmp_path: Path, version: str) -> None:
    inspector = Inspector(version, tmp_path / "ws")
    listed = inspector("tools/list")
    names = {t["name"] for t in listed["tools"]}
    assert {"build_mocks", "make_pairs", "list_paths", "list_conversations", "export_dataset"} <= names
    assert inspector.ok("import_catalog")["tools_in_workspace"] == 98
    assert inspector.ok("annotate_tools")["failed"] == []
    assert sum(inspector.ok("build_graph")["edges"].values()) > 50
    # a list and an object for optional parameters: 0.15.0 sent them as strings under anyOf-null
    sampled = inspector.ok("sample_fsp", count=3, seed=7, start=[HOTELS], settings={"split": 0}, show=1)
    assert sampled["sampled"] >= 2
    first = inspector.ok("translate_fsp", path_id=sampled["path_ids"][0])
    inline = inspector.ok("translate_fsp", path=sampled["paths"][0])  # a whole path as an object
    assert first["status"] == "accepted" and inline["id"] == first["id"]
    for path_id in sampled["path_ids"][1:]:
        inspector.ok("translate_fsp", path_id=path_id)
    paths = inspector.ok("list_paths", seed=7)
    assert {p["id"] for p in paths["paths"]} == set(sampled["path_ids"])
    variant = inspector.ok("augment_refusal", conversation=first["id"], kind="irrelevance")
    assert variant["status"] == "accepted"
    mocked = inspector.ok("run_mock_tool", tool=HOTELS, arguments={"latitude": 1.5, "longitude": 2})
    assert mocked["output"]["hotels"]
    pairs = inspector.ok("make_pairs")
    assert pairs["new_pairs"] > 0
    listed_conversations = inspector.ok("list_conversations", status="accepted")
    assert len(listed_conversations["conversations"]) >= 2
    exported = inspector.ok("export_dataset", out="export", formats=["openai", "dpo"], validation_share=0.3)
    assert sum(exported["rows"]["dpo"].values()) == pairs["pairs_total"] > 0
    assert exported["conversations"]["validation"] >= 1
    shown = inspector.ok("get_conversation", conversation=first["id"][:6])
    assert shown["conversation"]["id"] == first["id"]
    refused = inspector("tools/call", "import_catalog", path="/etc/passwd")
    assert refused["isError"] and "outside the allowed roots" in refused["content"][0]["text"]
    (tmp_path / "transcript.txt").write_text("\n".join(inspector.transcript) + "\n")
    print(f"\n-- MCP Inspector {version} --\n" + "\n".join(inspector.transcript))
