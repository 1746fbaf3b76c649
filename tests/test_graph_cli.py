"""The annotate and graph commands as a user runs them on the bundled example: import, annotate,
graph build, stats, show and export; errors as one line with exit status 1."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import networkx as nx
import pytest
from typer.testing import CliRunner

from graph_toucan.cli import app, main
from graph_toucan.graph import graph_stats, load_graph
from graph_toucan.store import Store
from tests.conftest import FIXTURES

runner = CliRunner()


def invoke(workspace: Path, *args: str) -> str:
    result = runner.invoke(app, ["--workspace", str(workspace), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def invoke_json(workspace: Path, *args: str):
    return json.loads(invoke(workspace, *args, "--json"))


def run_main(monkeypatch, capsys, workspace: Path, *args: str) -> tuple[int, str, str]:
    """The console entry point itself (``graph-toucan ...``): exit status, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["graph-toucan", "--workspace", str(workspace), *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict:
    """The example imported, annotated and built through the command line, once for the module."""
    ws = tmp_path_factory.mktemp("cli")
    imported = invoke_json(ws, "import")
    annotated = invoke_json(ws, "annotate")
    built = invoke_json(ws, "graph", "build")
    return {"ws": ws, "import": imported, "annotate": annotated, "build": built}


def test_import_annotate_build(workspace):
    assert (workspace["import"]["servers"], workspace["import"]["new"]) == (22, 98)
    annotated = workspace["annotate"]
    assert (annotated["tools"], annotated["annotated"], annotated["already_annotated"]) == (98, 98, 0)
    assert annotated["failed"] == [] and annotated["teacher"] == "offline" and annotated["cost_usd"] == 0
    built = workspace["build"]
    assert (built["tools"], built["nodes"], built["not_annotated"]) == (98, 98, 0)
    assert built["all_ordered_pairs"] == 98 * 97
    assert 0 < built["candidate_pairs"] <= 30 * 98 and built["judged_now"] == built["candidate_pairs"]
    assert built["reused_judgements"] == 0 and built["failed_judgements"] == []
    assert built["graph"] == str(workspace["ws"] / "graph.json") and Path(built["graph"]).exists()
    assert sum(built["edges"].values()) == load_graph(Store.open(workspace["ws"])).number_of_edges()


def test_reruns_are_incremental(workspace):
    ws = workspace["ws"]
    again = invoke_json(ws, "annotate")
    assert (again["annotated"], again["already_annotated"], again["llm_calls"]) == (0, 98, 0)
    rebuilt = invoke_json(ws, "graph", "build")
    assert rebuilt["judged_now"] == 0
    assert rebuilt["reused_judgements"] == rebuilt["candidate_pairs"] == workspace["build"]["candidate_pairs"]
    assert rebuilt["edges"] == workspace["build"]["edges"]
    text = invoke(ws, "graph", "build")
    assert "edges: full" in text and "partial" in text


def test_tools_show_displays_the_annotations(workspace):
    shown = invoke_json(workspace["ws"], "tools", "show", "Hotel Booking Server/book-hotel")
    assert shown["tool_class"] == "action" and len(shown["tags"]) == 3
    assert shown["output_schema"]["type"] == "object" and shown["output_schema"]["properties"]
    text = invoke(workspace["ws"], "tools", "show", "Hotel Booking Server/book-hotel")
    assert "class: action" in text and "output schema:" in text


def test_graph_stats(workspace):
    ws = workspace["ws"]
    stats = invoke_json(ws, "graph", "stats")
    assert stats == json.loads(json.dumps(graph_stats(load_graph(Store.open(ws))), ensure_ascii=False))
    assert stats["nodes"] == 98 and stats["edges_by_type"] == workspace["build"]["edges"]
    assert sum(stats["in_degree"].values()) == 98
    text = invoke(ws, "graph", "stats")
    assert "most connected" in text and "isolated" in text and str(stats["edges"]) in text


def test_graph_show(workspace):
    ws = workspace["ws"]
    info = invoke_json(ws, "graph", "show", "Hotel Booking Server/search-hotels")
    assert info["tool"] == "Hotel Booking Server/search-hotels" and info["tool_class"] == "query"
    incoming = {e["tool"]: e for e in info["in"]}
    assert incoming["Hotel Booking Server/find-place"]["type"] == "full"
    assert incoming["Hotel Booking Server/find-place"]["mapping"] == [
        {"output": "places[].latitude", "input": "latitude"},
        {"output": "places[].longitude", "input": "longitude"},
    ]
    outgoing = {e["tool"]: e for e in info["out"]}
    assert {"output": "hotels[].hotel_id", "input": "hotel_id"} in outgoing[
        "Hotel Booking Server/get-hotel-details"
    ]["mapping"]
    # a unique tool name is enough
    assert invoke_json(ws, "graph", "show", "find-place")["tool"] == "Hotel Booking Server/find-place"
    text = invoke(ws, "graph", "show", "coingecko_coin_data")
    assert "class query" in text and "in-edges (2)" in text and "out-edges" in text
    assert "coins[].coin_id -> id" in text


@pytest.mark.parametrize("fmt", ["json", "graphml", "html"])
def test_graph_export(workspace, tmp_path, fmt):
    out = tmp_path / f"g.{fmt}"
    text = invoke(workspace["ws"], "graph", "export", "--format", fmt, "--out", str(out))
    assert "wrote" in text and out.exists()
    expected = load_graph(Store.open(workspace["ws"]))
    if fmt == "json":
        back = nx.node_link_graph(json.loads(out.read_text()), directed=True, edges="edges")
        assert set(back.edges) == set(expected.edges)
        assert {d["type"] for _, _, d in back.edges(data=True)} <= {"full", "partial", "prerequisite"}
    elif fmt == "graphml":
        back = nx.read_graphml(out)
        assert (back.number_of_nodes(), back.number_of_edges()) == (98, expected.number_of_edges())
    else:
        html = out.read_text(encoding="utf-8")
        assert "Hotel Booking Server/search-hotels" in html and "<script src=" not in html


def test_graph_export_default_path(tmp_path):
    ws = tmp_path / "ws"
    invoke(ws, "import", str(FIXTURES / "graph" / "restaurant_tools.json"))
    invoke(ws, "import", str(FIXTURES / "catalogs" / "geo_tools_list.json"))
    annotated = invoke_json(ws, "annotate")
    assert annotated["annotated"] == annotated["tools"] == 6
    built = invoke_json(ws, "graph", "build", "--cap", "1", "--floor", "0")
    assert built["nodes"] == 6 and built["candidate_pairs"] <= 6
    text = invoke(ws, "graph", "export", "--format", "json")
    assert (ws / "graph.json").exists() and "graph.json" in text


def test_floor_above_cap_is_refused(tmp_path):
    result = runner.invoke(
        app, ["--workspace", str(tmp_path), "graph", "build", "--cap", "3", "--floor", "4"]
    )
    assert result.exit_code == 2
    assert "--floor (4) cannot exceed --cap (3)" in result.output
    both = runner.invoke(app, ["--workspace", str(tmp_path), "graph", "build", "--cap", "3", "--budget", "9"])
    assert both.exit_code == 2 and "give --budget or --cap, not both" in both.output
    above = runner.invoke(app, ["--workspace", str(tmp_path), "graph", "build", "--floor", "31"])
    assert above.exit_code == 2 and "--floor (31) cannot exceed --budget (30)" in above.output


def test_unknown_tool_is_one_line_and_exit_1(workspace, monkeypatch, capsys):
    code, out, err = run_main(monkeypatch, capsys, workspace["ws"], "graph", "show", "Nowhere/nothing")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: no tool 'Nowhere/nothing' in the graph")
    assert "Traceback" not in err
    code, _, err = run_main(monkeypatch, capsys, workspace["ws"], "graph", "show", "get_current_weather")
    assert (
        code == 1
        and err.count("\n") == 1
        and "names 2 tools (United States Weather/get_current_weather, Weather MCP Server/get_current_weather); use SERVER/TOOL"
        in err
    )


def test_unknown_export_format_is_one_line_and_exit_1(workspace, monkeypatch, capsys, tmp_path):
    code, _, err = run_main(
        monkeypatch,
        capsys,
        workspace["ws"],
        "graph",
        "export",
        "--format",
        "dot",
        "--out",
        str(tmp_path / "g"),
    )
    assert code == 1 and err.count("\n") == 1 and "unknown graph format 'dot'" in err


@pytest.mark.parametrize(
    "args",
    [("graph", "stats"), ("graph", "show", "find-place"), ("graph", "export", "--format", "json")],
    ids=["stats", "show", "export"],
)
def test_no_graph_built_yet(tmp_path, monkeypatch, capsys, args):
    invoke(tmp_path, "import", str(FIXTURES / "graph" / "restaurant_tools.json"))
    code, out, err = run_main(monkeypatch, capsys, tmp_path, *args)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: no dependency graph at ")
    assert "run 'graph-toucan graph build' first" in err
    assert not (tmp_path / "graph.json").exists()
