"""Commands that annotate tools and build, inspect and export the dependency graph."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.table import Table

from graph_toucan.annotate import annotate_tools
from graph_toucan.cli.app import JsonOption, WaitOption, app, console, print_json, progress_bar
from graph_toucan.graph import build_graph, find_node, graph_path, graph_stats, load_graph, neighbourhood
from graph_toucan.graph_export import EXPORT_FORMATS, export_graph
from graph_toucan.pruning import DEFAULT_BUDGET, PruneConfig, selection_problem

graph_app = typer.Typer(help="Build, inspect and export the tool dependency graph.", no_args_is_help=True)
app.add_typer(graph_app, name="graph")


@app.command()
def annotate(ctx: typer.Context, wait: WaitOption = True, as_json: JsonOption = False) -> None:
    """Give every tool three tags, a class and an output schema (resumable; reruns skip finished tools)."""
    store = ctx.obj.writer(ctx, "annotate", wait)
    llm = ctx.obj.llm()
    started = time.time()
    with progress_bar(as_json) as progress:
        bar = progress.add_task("annotate", total=store.count("tools"))
        report = anyio.run(lambda: annotate_tools(store, llm, progress=lambda n: progress.advance(bar, n)))
    summary = report.as_dict() | {
        "teacher": llm.teacher,
        "llm_calls": llm.stats.calls,
        "cost_usd": llm.stats.cost_usd,
    }
    store.record_run(uuid.uuid4().hex[:12], "annotate", "done", started, summary)
    if as_json:
        print_json(summary)
        return
    _pairs_table("annotate", summary, skip={"failed"})
    for failure in report.failed[:20]:
        console.print(f"[red]failed[/] {failure[0]}: {failure[1]}")
    if report.failed:
        console.print("rerun 'graph-toucan annotate' to retry the failed tools")


@graph_app.command("build")
def graph_build(
    ctx: typer.Context,
    budget: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="Judge budget x tools pairs in all, the best-scoring over all pairs, with --floor "
            f"other-server candidates per tool [default: {DEFAULT_BUDGET:g}].",
        ),
    ] = None,
    cap: Annotated[
        int | None,
        typer.Option(min=1, help="Instead of a budget: judge each tool's best CAP candidates."),
    ] = None,
    floor: Annotated[
        int, typer.Option(min=0, help="At least this many candidates per tool from other servers.")
    ] = 5,
    wait: WaitOption = True,
    as_json: JsonOption = False,
) -> None:
    """Filter outputs, prune candidate pairs, judge the new ones, and save the graph."""
    problem = selection_problem(cap, budget, floor, name=lambda setting: f"--{setting}")
    if problem:
        raise typer.BadParameter(problem)
    store = ctx.obj.writer(ctx, "graph build", wait)
    llm = ctx.obj.llm()
    started = time.time()
    with progress_bar(as_json) as progress:
        bars: dict[str, Any] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = progress.add_task(stage, total=total)
            progress.update(bars[stage], completed=done, total=total)

        _, report = anyio.run(
            lambda: build_graph(
                store, llm, config=PruneConfig(cap=cap, floor=floor, budget=budget), progress=advance
            )
        )
    summary = report.as_dict() | {"teacher": llm.teacher, "graph": str(graph_path(store))}
    store.record_run(uuid.uuid4().hex[:12], "graph build", "done", started, summary)
    if as_json:
        print_json(summary)
        return
    _pairs_table("graph build", summary, skip={"filter_failed", "failed_judgements", "edges"})
    console.print("edges: " + ", ".join(f"{k} {v}" for k, v in sorted(report.edges.items())))
    if report.not_annotated:
        console.print(
            f"{report.not_annotated} tools are not annotated yet; run 'graph-toucan annotate' first"
        )
    for source, target, reason in report.failed[:10]:
        console.print(f"[red]judge failed[/] {source} -> {target}: {reason}")


@graph_app.command("stats")
def graph_stats_cmd(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Nodes, edges by type, components, degree distribution, most connected and isolated tools."""
    stats = graph_stats(load_graph(ctx.obj.store()))
    if as_json:
        print_json(stats)
        return
    _pairs_table(
        "dependency graph",
        {k: v for k, v in stats.items() if not isinstance(v, list | dict)}
        | {"edges by type": ", ".join(f"{k} {v}" for k, v in stats["edges_by_type"].items())}
        | {"in-degree": _buckets(stats["in_degree"]), "out-degree": _buckets(stats["out_degree"])},
    )
    table = Table(title="most connected")
    for col in ("tool", "in", "out"):
        table.add_column(col)
    for row in stats["most_connected"]:
        table.add_row(row["tool"], str(row["in"]), str(row["out"]))
    console.print(table)
    if stats["isolated_tools"]:
        console.print("isolated (first few): " + ", ".join(stats["isolated_tools"]))


@graph_app.command("show")
def graph_show(
    ctx: typer.Context,
    tool: Annotated[str, typer.Argument(help="SERVER/TOOL, a unique tool name, or a tool id.")],
    as_json: JsonOption = False,
) -> None:
    """A tool's in and out edges with their field mappings."""
    graph = load_graph(ctx.obj.store())
    info = neighbourhood(graph, find_node(graph, tool))
    if as_json:
        print_json(info)
        return
    console.print(
        f"[bold]{info['tool']}[/]  class {info['tool_class']}  outputs: {', '.join(info['outputs']) or '-'}"
    )
    for direction in ("in", "out"):
        table = Table(title=f"{direction}-edges ({len(info[direction])})")
        for col in ("from" if direction == "in" else "to", "type", "mapping", "reason"):
            table.add_column(col, overflow="fold")
        for edge in info[direction]:
            mapping = ", ".join(f"{m['output']} -> {m['input']}" for m in edge["mapping"])
            table.add_row(edge["tool"], edge["type"], mapping, edge["reason"])
        console.print(table)


@graph_app.command("export")
def graph_export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(EXPORT_FORMATS)}.")] = "html",
    out: Annotated[
        Path | None, typer.Option(help="File to write (default graph.FORMAT in the workspace).")
    ] = None,
) -> None:
    """Write the graph as GraphML, node-link JSON, or a self-contained interactive HTML page."""
    store = ctx.obj.store()
    path = export_graph(load_graph(store), fmt, out or store.workspace / f"graph.{fmt}")
    console.print(f"wrote {path}")


def _buckets(buckets: dict[str, int]) -> str:
    return "  ".join(f"{k}: {v}" for k, v in buckets.items())


def _pairs_table(title: str, values: dict[str, Any], skip: set[str] | None = None) -> None:
    table = Table(title=title, show_header=False)
    for key, value in values.items():
        if key in (skip or set()):
            continue
        shown = len(value) if isinstance(value, list) else value
        table.add_row(key.replace("_", " "), str(shown))
    console.print(table)
