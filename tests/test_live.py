"""Live import from real MCP servers started as subprocesses (mcp-server-time, mcp-server-git)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from graph_toucan.live import LiveTarget, import_live, probe_arguments
from graph_toucan.store import Store
from tests.conftest import FIXTURES, script

pytestmark = pytest.mark.slow


async def test_time_server_tools_and_probe_results_are_stored(tmp_path):
    store = Store(tmp_path / "gt.db")
    report = await import_live(store, [LiveTarget(command=script("mcp-server-time"))], probe=1, timeout=30)
    assert report.skipped == []
    assert report.servers == 1
    tools = {t.name: t for t in store.tools()}
    assert set(tools) == {"get_current_time", "convert_time"}
    now = tools["get_current_time"]
    assert now.source == "mcp-live" and now.read_only is True
    assert "timezone" in now.input_schema["required"]
    examples = store.examples(now.id)
    assert len(examples) == 1 and report.examples == 2
    example = examples[0]
    assert example.arguments == {"timezone": "Europe/Paris"}
    assert not example.is_error
    assert example.result["timezone"] == "Europe/Paris"
    assert example.result["datetime"].endswith(("+01:00", "+02:00"))
    convert = store.examples(tools["convert_time"].id)[0]
    assert convert.result["source"]["timezone"] == "Europe/Paris"
    assert convert.result["target"]["timezone"] == "Asia/Tokyo"


async def test_git_server_probes_read_only_tools_only(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
    (repo / "notes.txt").write_text("hello\n")
    subprocess.run(["git", "add", "notes.txt"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "first note"], cwd=repo, check=True, env=env)
    monkeypatch.chdir(repo)  # the probe's repo_path "." resolves in the server's working directory

    store = Store(tmp_path / "gt.db")
    target = LiveTarget(command=f"{script('mcp-server-git')} --repository {repo}")
    report = await import_live(store, [target], probe=1, timeout=30)
    tools = {t.name: t for t in store.tools()}
    assert {"git_status", "git_log", "git_commit", "git_add"} <= set(tools)
    assert tools["git_commit"].read_only is False
    unprobed = {issue.tool for issue in report.unprobed}
    assert "git_commit" in unprobed and "git_status" not in unprobed
    assert store.examples(tools["git_commit"].id) == []
    log = store.examples(tools["git_log"].id)[0]
    assert "first note" in log.result
    status = store.examples(tools["git_status"].id)[0]
    assert "On branch main" in status.result


async def test_crashing_and_silent_servers_are_reported_and_the_rest_imported(tmp_path):
    store = Store(tmp_path / "gt.db")
    crasher = LiveTarget(command=f"{sys.executable} {FIXTURES / 'crashing_mcp_server.py'}")
    silent = LiveTarget(command=f"{sys.executable} -c 'import time; time.sleep(60)'")
    good = LiveTarget(command=script("mcp-server-time"))
    report = await import_live(store, [crasher, silent, good], timeout=4)
    assert report.servers == 1
    assert [t.name for t in store.tools()] == ["convert_time", "get_current_time"]
    problems = {issue.file: issue.problem for issue in report.skipped}
    assert "failed during tools/list" in problems[crasher.command]
    assert "did not answer within 4s" in problems[silent.command]
    assert (
        "failed during starting"
        in (await import_live(store, [LiveTarget(command="/nonexistent/mcp-server")], timeout=4))
        .skipped[0]
        .problem
    )


def test_probe_arguments_are_distinct_and_bounded():
    schema = {
        "type": "object",
        "properties": {
            "unit": {"type": "string", "enum": ["c", "f", "k"]},
            "city": {"type": "string"},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "required": ["city"],
    }
    args = probe_arguments(schema, 4)
    assert args[0] == {"city": "Paris"}
    assert len(args) == 4
    assert len({json.dumps(a, sort_keys=True) for a in args}) == 4
    assert probe_arguments(schema, 1) == [{"city": "Paris"}]


def test_cli_live_import_with_probe(tmp_path):
    cli = script("graph-toucan")
    run = subprocess.run(
        [
            cli,
            "--workspace",
            str(tmp_path),
            "import",
            "--mcp",
            script("mcp-server-time"),
            "--probe",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert (report["servers"], report["imported"], report["examples"]) == (1, 2, 2)
    shown = subprocess.run(
        [cli, "--workspace", str(tmp_path), "tools", "show", "mcp-time/get_current_time", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    tool = json.loads(shown.stdout)
    assert tool["examples"][0]["result"]["timezone"] == "Europe/Paris"
