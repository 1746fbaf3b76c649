"""The command line as a user runs it: quickstart import, tools listing/search/show, the call log, errors."""

from __future__ import annotations

import asyncio
import json
import subprocess

from typer.testing import CliRunner

from graph_toucan.annotate import TOOL_TAGS, tags_inputs
from graph_toucan.cli import app
from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.store import Store
from tests.conftest import script

runner = CliRunner()


def invoke(workspace, *args):
    result = runner.invoke(app, ["--workspace", str(workspace), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_quickstart_imports_the_bundled_example_idempotently(tmp_path):
    first = json.loads(invoke(tmp_path, "import", "--json"))
    assert (first["servers"], first["tools_read"], first["new"], first["skipped"]) == (22, 98, 98, 0)
    again = json.loads(invoke(tmp_path, "import", "--json"))
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, 98)
    table = invoke(tmp_path, "import")
    assert "unchanged" in table and "98" in table


def test_tools_list_search_and_show(tmp_path):
    invoke(tmp_path, "import", "--json")
    listed = json.loads(invoke(tmp_path, "tools", "list", "--json"))
    assert len(listed) == 98
    weather = json.loads(invoke(tmp_path, "tools", "list", "--server", "United States Weather", "--json"))
    assert {t["name"] for t in weather} >= {"get_current_weather", "get_weather_forecast"}
    found = json.loads(invoke(tmp_path, "tools", "search", "currency exchange", "--json"))
    assert found and all("currenc" in (t["description"] + t["name"]).lower() for t in found)
    shown = json.loads(
        invoke(tmp_path, "tools", "show", "United States Weather/get_current_weather", "--json")
    )
    assert shown["input_schema"]["required"] == ["location"]
    assert shown["category"] == "Weather"
    text = invoke(tmp_path, "tools", "show", "United States Weather/get_current_weather")
    assert '"location"' in text and "input schema" in text


def test_calls_reports_the_llm_log(tmp_path):
    invoke(tmp_path, "import", "--json")
    store = Store.open(tmp_path)
    llm = LLM(OfflineBackend(), store)
    for tool in store.tools(limit=3):
        asyncio.run(llm.run(TOOL_TAGS, tags_inputs(tool)))
    stats = json.loads(invoke(tmp_path, "calls", "--json"))
    assert stats == [
        {
            "task": "tool_tags",
            "backend": "offline",
            "model": "offline",
            "calls": 3,
            "retries": 0,
            "parse_failures": 0,
            "failures": 0,
            "fallbacks": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost_usd": 0.0,
            "avg_latency_s": stats[0]["avg_latency_s"],
        }
    ]


def test_workspace_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPH_TOUCAN_WORKSPACE", str(tmp_path / "ws"))
    result = runner.invoke(app, ["import", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    assert (tmp_path / "ws" / "graph_toucan.db").exists()


def test_errors_are_one_line_without_traceback(tmp_path):
    cli = script("graph-toucan")
    for args in (["import", str(tmp_path / "missing.json")], ["tools", "show", "no-such-tool"]):
        run = subprocess.run(
            [cli, "--workspace", str(tmp_path), *args], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 1
        assert run.stderr.startswith("error: ")
        assert "Traceback" not in run.stderr
    bad = tmp_path / "tools.json"
    bad.write_text('[{"type": "function", "function": {"name": "x", ')
    run = subprocess.run(
        [cli, "--workspace", str(tmp_path), "import", str(bad)], capture_output=True, text=True
    )
    assert run.returncode == 1 and "is not valid JSON" in run.stderr and "line 1" in run.stderr
