"""``graph-toucan merge WS...`` and the sharded form of ``run`` (``--shards N``, ``--ray``; shards.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from graph_toucan.cli.app import Context, JsonOption, WaitOption, app, console, print_json
from graph_toucan.merge import merge_workspaces
from graph_toucan.pipeline import PipelineConfig, Progress
from graph_toucan.shards import ShardedReport, Teacher, run_sharded

ShardsOption = Annotated[
    int,
    typer.Option(
        "--shards",
        min=1,
        max=1024,
        help="Split --n over this many disjoint path streams (seed and shard index): one after another "
        "in this process, or as Ray tasks with --ray.",
    ),
]
RayOption = Annotated[
    bool,
    typer.Option(
        "--ray",
        help="Run the shards as Ray tasks (pip install 'graph-toucan[ray]'): on a Ray cluster started "
        "on this machine for the run, or the one named by --ray-address or RAY_ADDRESS.",
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="The Ray cluster for --ray: ray://HOST:10001 (a Ray client server), HOST:6379 from a node "
        "of the cluster, or auto (the cluster this machine belongs to).",
    ),
]
TeacherUrlOption = Annotated[
    list[str] | None,
    typer.Option(
        "--teacher-url",
        help="Base URL of a teacher endpoint (repeat for several): shard K uses URL K modulo their number.",
    ),
]


def teacher_of(obj: Context, urls: list[str] | None) -> Teacher:
    """The global teacher options as plain data a Ray task can carry."""
    return Teacher(
        name=obj.teacher,
        urls=tuple(urls or ()),
        concurrency=obj.concurrency,
        max_calls=obj.max_calls,
        max_cost=obj.max_cost,
        prices=obj.price_table(),
    )


def sharded_run(
    obj: Context,
    settings: PipelineConfig,
    shards: int,
    *,
    ray: bool,
    address: str | None,
    urls: list[str] | None,
    progress: Progress,
) -> ShardedReport:
    return run_sharded(
        obj.store(), teacher_of(obj, urls), settings, shards, ray=ray, address=address, progress=progress
    )


def shard_rows(table: Table, sharded: ShardedReport) -> None:
    """One row per shard in the run's summary table."""
    for shard in sharded.shards:
        table.add_row(
            f"shard {shard['index']} of {shard['count']}",
            f"seed {shard['seed']}: {shard['accepted']} accepted, {shard['rejected']} rejected "
            f"in {shard['seconds']:.1f} s ({sharded.executor})",
        )


@app.command("merge")
def merge_command(
    ctx: typer.Context,
    workspaces: Annotated[
        list[Path], typer.Argument(help="Workspace folders to merge into --workspace (e.g. shards/*).")
    ],
    wait: WaitOption = True,
    as_json: JsonOption = False,
) -> None:
    """Merge workspaces (the shards of a sharded run, or runs on other machines) into --workspace.
    Records are keyed by content, so merging twice changes nothing and the order does not matter."""
    store = ctx.obj.writer(ctx, "merge", wait)
    report = merge_workspaces(store, workspaces)
    if as_json:
        print_json(report.as_dict())
        return
    table = Table(title=f"merged into {store.workspace}", show_header=False)
    table.add_row("workspaces", str(len(report.sources)))
    added: dict[str, Any] = report.added
    table.add_row("rows added", ", ".join(f"{k} {v}" for k, v in sorted(added.items())) or "none")
    if report.replaced:
        table.add_row("replaced by newer", ", ".join(f"{k} {v}" for k, v in sorted(report.replaced.items())))
    table.add_row("dependency graph", report.graph)
    console.print(table)
    console.print(
        "export the merged data with 'graph-toucan export' (or 'graph-toucan stats' for the report)",
        highlight=False,
    )
