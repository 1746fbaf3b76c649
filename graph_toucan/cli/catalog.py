"""Commands over the catalog: ``import``, ``tools list|search|show`` and the LLM ``calls`` log."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.syntax import Syntax
from rich.table import Table

from graph_toucan.catalog import FORMATS, ImportReport, count_entries, import_entries, read_catalog
from graph_toucan.cli.app import JsonOption, WaitOption, app, console, print_json, progress_bar
from graph_toucan.errors import GraphToucanError
from graph_toucan.records import ServerStatus
from graph_toucan.resources import example_catalog
from graph_toucan.store import CALL_COUNTS, Store

tools_app = typer.Typer(help="List, search and show imported tools.", no_args_is_help=True)
app.add_typer(tools_app, name="tools")


@app.command("import")
def import_(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Catalog files or TOUCAN folders. None and no --mcp: the bundled example catalog."
        ),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help=f"One of {', '.join(FORMATS)}; guessed if left out.")
    ] = None,
    status: Annotated[
        list[ServerStatus] | None,
        typer.Option(help="TOUCAN statuses to import (repeatable); default usable."),
    ] = None,
    server_name: Annotated[
        str | None,
        typer.Option(
            help="Server name for single-server formats (OpenAI, MCP list, BFCL); default: the file name."
        ),
    ] = None,
    mcp: Annotated[
        list[str] | None,
        typer.Option("--mcp", help="A stdio MCP server command, e.g. 'mcp-server-time' (repeatable)."),
    ] = None,
    mcp_url: Annotated[
        list[str] | None, typer.Option("--mcp-url", help="A streamable-HTTP MCP server URL (repeatable).")
    ] = None,
    probe: Annotated[
        int, typer.Option(min=0, max=20, help="Real calls per read-only tool of live servers.")
    ] = 0,
    probe_actions: Annotated[bool, typer.Option(help="Also probe tools not marked read-only.")] = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds a live server has to start and list its tools.")
    ] = 30.0,
    call_timeout: Annotated[float, typer.Option(help="Seconds per probe call.")] = 10.0,
    wait: WaitOption = True,
    as_json: JsonOption = False,
) -> None:
    """Import tools into the workspace from catalog files or live MCP servers; reruns are idempotent."""
    store = ctx.obj.writer(ctx, "import", wait)
    started = time.time()
    report = ImportReport()
    live = []
    if mcp or mcp_url:
        from graph_toucan.live import (
            LiveTarget,
            import_live,
        )  # the MCP SDK is slow to import: only for live servers

        live = [LiveTarget(command=c) for c in mcp or []] + [LiveTarget(url=u) for u in mcp_url or []]
    sources = list(paths or ([] if live else [example_catalog()]))
    statuses = status or [ServerStatus.USABLE]
    with progress_bar(as_json) as progress:
        for path in sources:
            bar = progress.add_task(f"import {path.name}", total=count_entries(path, statuses))
            entries = read_catalog(path, fmt, statuses=statuses, server_name=server_name)
            report.merge(import_entries(store, entries, lambda bar=bar: progress.advance(bar)))
        if live:
            bar = progress.add_task("live servers", total=len(live))
            report.merge(
                anyio.run(
                    lambda: import_live(
                        store,
                        live,
                        probe=probe,
                        probe_actions=probe_actions,
                        timeout=timeout,
                        call_timeout=call_timeout,
                        progress=lambda: progress.advance(bar),
                    )
                )
            )
    store.record_run(uuid.uuid4().hex[:12], "import", "done", started, report.as_dict())
    if as_json:
        print_json(report.as_dict() | {"workspace": str(store.workspace)})
    else:
        _show_report(report, store)
    if report.servers == 0 and report.skipped:
        raise typer.Exit(1)


def _show_report(report: ImportReport, store: Store) -> None:
    table = Table(title=f"import into {store.workspace}", show_header=False)
    for label, value in [
        ("servers", report.servers),
        ("tools read", report.tools_read),
        ("imported", report.imported),
        ("  new", report.counts.new),
        ("  updated", report.counts.updated),
        ("  unchanged", report.counts.unchanged),
        ("repaired", len(report.repaired)),
        ("skipped", len(report.skipped)),
        ("probe examples", report.examples),
    ]:
        table.add_row(label, str(value))
    console.print(table)
    for title, issues in (
        ("skipped", report.skipped),
        ("repaired", report.repaired),
        ("not probed", report.unprobed),
    ):
        if not issues:
            continue
        detail = Table(title=title, show_lines=False)
        for col in ("file", "server", "tool", "reason"):
            detail.add_column(col, overflow="fold")
        for issue in issues[:20]:
            detail.add_row(issue.file, issue.server or "", issue.tool or "", issue.problem)
        if len(issues) > 20:
            detail.add_row("", "", "", f"... and {len(issues) - 20} more (--json lists all)")
        console.print(detail)


@tools_app.command("list")
def tools_list(
    ctx: typer.Context,
    server: Annotated[str | None, typer.Option(help="Only this server (name or id).")] = None,
    limit: Annotated[int | None, typer.Option(min=1)] = None,
    as_json: JsonOption = False,
) -> None:
    """List imported tools."""
    _tool_table(ctx.obj.store().tools(server=server, limit=limit), as_json)


@tools_app.command("search")
def tools_search(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Words to find in tool names, descriptions and server names.")],
    limit: Annotated[int, typer.Option(min=1)] = 20,
    as_json: JsonOption = False,
) -> None:
    """Full-text search over tools."""
    _tool_table(ctx.obj.store().tools(search=text, limit=limit), as_json)


def _tool_table(tools: list[Any], as_json: bool) -> None:
    if as_json:
        print_json([t.model_dump(mode="json", exclude={"input_schema", "output_schema"}) for t in tools])
        return
    table = Table(title=f"{len(tools)} tools")
    for col in ("server", "tool", "class", "description"):
        table.add_column(col, overflow="fold")
    for tool in tools:
        table.add_row(tool.server_name, tool.name, tool.tool_class or "", (tool.description or "")[:100])
    console.print(table)


@tools_app.command("show")
def tools_show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Tool id, SERVER/TOOL, or a tool name that is unique.")],
    as_json: JsonOption = False,
) -> None:
    """Show one tool with its schemas, annotations and probe examples."""
    store = ctx.obj.store()
    tool = store.get_tool(ref)
    if tool is None:
        raise GraphToucanError(
            f"no single tool matches {ref!r}; use SERVER/TOOL or the id from 'tools list --json'"
        )
    examples = store.examples(tool.id)
    if as_json:
        print_json(tool.model_dump(mode="json") | {"examples": [e.model_dump(mode="json") for e in examples]})
        return
    console.print(f"[bold]{tool.ref}[/]  id {tool.id}  source {tool.source}  license {tool.license or '-'}")
    console.print(tool.description or "(no description)")
    console.print(
        f"class: {tool.tool_class or '-'}   tags: {', '.join(tool.tags) or '-'}   "
        f"category: {tool.category or '-'}"
    )
    console.print("input schema:")
    console.print(Syntax(json.dumps(tool.input_schema, indent=2), "json"))
    if tool.output_schema:
        console.print("output schema:")
        console.print(Syntax(json.dumps(tool.output_schema, indent=2), "json"))
    for example in examples:
        console.print(
            f"example {json.dumps(example.arguments)} -> "
            f"{'ERROR ' if example.is_error else ''}{json.dumps(example.result)[:300]}"
        )


@app.command()
def calls(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The LLM call log per task, backend and model: requests, retries after a transient failure,
    answers that did not parse (sent back with feedback), calls that failed for good, refusals of
    structured output (then sent prompt-only), tokens and cost."""
    stats = ctx.obj.store().call_stats()
    if as_json:
        print_json(stats)
        return
    table = Table(title="LLM calls")
    columns = ("task", "backend", "model", *CALL_COUNTS, "cost_usd", "avg_latency_s")
    for col in columns:
        table.add_column(col.replace("_", " "))
    for row in stats:
        table.add_row(*(str(row[c]) for c in columns))
    console.print(table)
