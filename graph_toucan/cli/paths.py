"""Planned paths: ``sample`` fills the workspace, ``paths list|show|stats`` read it back."""

from __future__ import annotations

import time
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from graph_toucan.cli.app import JsonOption, ProfileOption, WaitOption, app, console, print_json, progress_bar
from graph_toucan.errors import GraphToucanError
from graph_toucan.graph import graph_path, load_graph
from graph_toucan.path_feed import sample_to_store
from graph_toucan.path_stats import PathStats
from graph_toucan.records import PlannedPath
from graph_toucan.sampling import SampleConfig, load_config
from graph_toucan.store import Store

paths_app = typer.Typer(help="List, show and summarise sampled paths.", no_args_is_help=True)
app.add_typer(paths_app, name="paths")


class SamplerName(StrEnum):
    GRAPH = "graph"
    RANDOM = "random"


_D = SampleConfig()
SamplerOption = Annotated[SamplerName | None, typer.Option(help="Only paths of this sampler.")]


@app.command()
def sample(
    ctx: typer.Context,
    n: Annotated[
        int, typer.Option("--n", min=1, help="Paths to sample (the first N of the seed's stream).")
    ] = 100,
    sampler: Annotated[
        SamplerName, typer.Option(help="graph: walks + node operations; random: TOUCAN's tag baseline.")
    ] = SamplerName.GRAPH,
    seed: Annotated[int, typer.Option(help="Same seed, graph and settings: the same paths.")] = 0,
    config: Annotated[
        Path | None, typer.Option(help="JSON sampling settings: {walk, operations, baseline, distractors}.")
    ] = None,
    profile: ProfileOption = None,
    start: Annotated[
        list[str] | None,
        typer.Option(metavar="TOOL", help="Start walks only at this tool (id or SERVER/TOOL; repeatable)."),
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option(help=f"Most edges per walk (default {_D.walk.max_steps}).")
    ] = None,
    walks_per_start: Annotated[
        int | None, typer.Option(help=f"Walks per start node and round (default {_D.walk.walks_per_start}).")
    ] = None,
    distractors: Annotated[
        int | None, typer.Option(help=f"Tools offered besides the path's (default {_D.distractors}).")
    ] = None,
    merge: Annotated[
        float | None,
        typer.Option(help=f"Chance a turn joins the one before (default {_D.operations.merge})."),
    ] = None,
    insert_short: Annotated[
        float | None,
        typer.Option(help=f"Chance per call of a hidden helper (default {_D.operations.insert_short})."),
    ] = None,
    insert_long: Annotated[
        float | None,
        typer.Option(help=f"Chance per turn of a back-reference (default {_D.operations.insert_long})."),
    ] = None,
    split: Annotated[
        float | None, typer.Option(help=f"Chance per path of an empty turn (default {_D.operations.split}).")
    ] = None,
    parallel: Annotated[
        float | None,
        typer.Option(
            help=f"Chance per call of the same call for other values in its turn "
            f"(default {_D.operations.parallel})."
        ),
    ] = None,
    second_task: Annotated[
        float | None,
        typer.Option(help=f"Chance per path of a second task (default {_D.walk.second_task})."),
    ] = None,
    wait: WaitOption = True,
    as_json: JsonOption = False,
) -> None:
    """Sample planned paths into the workspace. Rerunning with the same seed adds nothing twice; a larger
    --n continues the same stream."""
    store = ctx.obj.writer(ctx, "sample", wait)
    started = time.time()
    run_id = uuid.uuid4().hex[:12]
    settings = load_config(
        config,
        profile,
        **{
            "walk.max_steps": max_steps,
            "walk.walks_per_start": walks_per_start,
            "distractors": distractors,
            "operations.merge": merge,
            "operations.insert_short": insert_short,
            "operations.insert_long": insert_long,
            "operations.split": split,
            "operations.parallel": parallel,
            "walk.second_task": second_task,
        },
    )
    with progress_bar(as_json) as progress:
        bar = progress.add_task(f"sample {sampler.value}", total=n)
        report = sample_to_store(
            store,
            sampler.value,
            n,
            seed,
            settings,
            start or None,
            run_id=run_id,
            progress=lambda k: progress.advance(bar, k),
        )
    summary: dict[str, Any] = report.as_dict()
    store.record_run(run_id, "sample", "done", started, summary)
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"sample {sampler.value} (seed {seed}) into {store.workspace}", show_header=False)
    for key, value in summary.items():
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)
    if report.sampled < n:
        console.print(
            f"[yellow]only {report.sampled} distinct paths exist with these settings; raise --max-steps or "
            "--walks-per-start, lower min_steps, or add tools[/]"
        )


@paths_app.command("list")
def paths_list(
    ctx: typer.Context,
    sampler: SamplerOption = None,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    as_json: JsonOption = False,
) -> None:
    """List stored paths: id, sampler, seed, turns, calls and turn types."""
    paths = list(ctx.obj.store().paths(sampler=sampler.value if sampler else None, limit=limit))
    if as_json:
        print_json([p.model_dump(mode="json") for p in paths])
        return
    table = Table(title=f"{len(paths)} paths")
    for col in ("id", "sampler", "seed", "#", "turns", "calls", "turn types"):
        table.add_column(col, overflow="fold")
    for p in paths:
        table.add_row(
            p.id,
            p.sampler,
            str(p.seed),
            str(p.index),
            str(len(p.turns)),
            str(len(p.calls)),
            " ".join(t.type for t in p.turns),
        )
    console.print(table)


@paths_app.command("show")
def paths_show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Path id, or a unique prefix of at least 4 characters.")],
    as_json: JsonOption = False,
) -> None:
    """Show one path: turns, calls (implicit helpers marked), dependencies, splits and available tools."""
    path = ctx.obj.store().get_path(ref)
    if path is None:
        raise GraphToucanError(f"no single path matches {ref!r}; take an id from 'graph-toucan paths list'")
    if as_json:
        print_json(path.model_dump(mode="json"))
        return
    for line in describe(path):
        console.print(line, highlight=False)


def describe(path: PlannedPath) -> list[str]:
    """A readable rendering of a path, one line per entry (rich markup)."""
    refs = {t.id: t.tool for t in path.available_tools}
    calls = {c.id: c for c in path.calls}
    lines = [
        f"[bold]path {path.id}[/]  sampler {path.sampler}  seed {path.seed}  #{path.index}  "
        f"{len(path.turns)} turns, {len(calls)} calls, {len(path.dependencies)} dependencies",
        "available tools: "
        + ", ".join(f"[dim]{t.tool}[/]" if t.distractor else t.tool for t in path.available_tools),
    ]
    for k, turn in enumerate(path.turns, start=1):
        ops = f" ({', '.join(turn.operations)})" if turn.operations else ""
        lines.append(f"[bold]turn {k}[/] {turn.type}{ops}")
        if turn.split is not None:
            withheld = calls[turn.split.call].tool
            what = (
                f"function {withheld} is not available yet"
                if turn.split.kind == "miss-func"
                else f"the user leaves out {turn.split.parameter!r} of {withheld}"
            )
            lines.append(f"    no call: {turn.split.kind}, {what}; {turn.split.call} is made in turn {k + 1}")
        for call in turn.calls:
            lines.append(f"    {call.id} {call.tool}" + ("  [italic](implicit)[/]" if call.implicit else ""))
            for dep in path.dependencies:
                if dep.target != call.id:
                    continue
                source = calls[dep.source].tool
                if dep.type == "prerequisite":
                    fact = f"{dep.source} {source} decides whether to call it"
                else:
                    fact = f"{dep.input} <- {dep.source}.{dep.output} ({source})"
                lines.append(f"        {fact}  [dim]{dep.type}, {dep.origin}[/]")
        if turn.withheld:
            lines.append("    withheld: " + ", ".join(refs.get(t, t) for t in turn.withheld))
    return lines


@paths_app.command("stats")
def paths_stats(ctx: typer.Context, sampler: SamplerOption = None, as_json: JsonOption = False) -> None:
    """Distributions of the stored paths, one column per sampler: turns, calls per turn, turn types,
    dependency types, tool and server coverage (of the graph's tools, when a graph is built)."""
    store: Store = ctx.obj.store()
    names = [sampler.value] if sampler else [s.value for s in SamplerName if store.path_count(s.value)]
    if not names:
        raise GraphToucanError("no paths stored; run 'graph-toucan sample --n 100' first")
    tools_total = servers_total = None
    if graph_path(store).exists():
        graph = load_graph(store)
        tools_total = graph.number_of_nodes()
        servers_total = len({graph.nodes[n].get("server_id") for n in graph.nodes})
    figures = {}
    for name in names:
        stats = PathStats()
        for path in store.paths(sampler=name):
            stats.add(path)
        figures[name] = stats.as_dict(tools_total=tools_total, servers_total=servers_total)
    if as_json:
        print_json(figures)
        return
    table = Table(title="planned paths")
    table.add_column("figure")
    for name in names:
        table.add_column(name, justify="right")
    for key, label in _ROWS:
        table.add_row(label, *(_cell(figures[n], key) for n in names))
    for group in ("turn_types", "dependency_types", "dependency_origins", "splits"):
        keys = sorted({k for n in names for k in figures[n][group]})
        for key in keys:
            table.add_row(
                f"{group.replace('_', ' ')}: {key}", *(_cell(figures[n][group], key, "0") for n in names)
            )
    console.print(table)


_ROWS = [
    ("paths", "paths"),
    ("multi_turn_share", "multi-turn share"),
    ("turns", "turns per path"),
    ("calls_per_turn", "calls per turn"),
    ("calls_per_path", "calls per path"),
    ("dependencies_per_path", "dependencies per path"),
    ("implicit_call_share", "implicit call share"),
    ("available_tools", "available tools"),
    ("tools_used", "tools used"),
    ("tool_coverage", "tool coverage"),
    ("servers_used", "servers used"),
    ("server_coverage", "server coverage"),
]


def _cell(figures: dict[str, Any], key: str, missing: str = "-") -> str:
    value = figures.get(key)
    if value is None:
        return missing
    if isinstance(value, dict) and "mean" in value:
        return f"{value['mean']} ({value['min']}-{value['max']})"
    if isinstance(value, dict) and "count" in value:
        return f"{value['count']} ({value['share']:.1%})"
    return str(value)
