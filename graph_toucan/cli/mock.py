"""Commands over mock tools: ``mock build|call|show`` and ``serve-mocks`` (the mock MCP server)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.syntax import Syntax
from rich.table import Table

from graph_toucan.cli.app import Context, JsonOption, WaitOption, app, console, print_json, progress_bar
from graph_toucan.errors import GraphToucanError
from graph_toucan.mock.build import DEFAULT_ATTEMPTS, build_mocks, remembered_checks
from graph_toucan.mock.errors import MockError
from graph_toucan.mock.files import bundled_mock_folder, mock_server_module, read_mock_folder
from graph_toucan.mock.runtime import MockRuntime
from graph_toucan.mock.sandbox import Limits, SandboxPool
from graph_toucan.mock.simulate import Conversations, DeterministicSimulator, Simulator, TeacherSimulator
from graph_toucan.records import MockTool, Tool
from graph_toucan.serving import TOKEN_ENV, check_listen
from graph_toucan.store import Store

mock_app = typer.Typer(
    help="Build, call and show mock tools (the execution simulator).", no_args_is_help=True
)
app.add_typer(mock_app, name="mock")


class SimulatorName(StrEnum):
    DETERMINISTIC = "deterministic"
    TEACHER = "teacher"


class Transport(StrEnum):
    STDIO = "stdio"
    HTTP = "http"


DirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="A mock folder (with manifest.json) instead of the workspace's mocks."),
]
BundledOption = Annotated[
    bool, typer.Option("--bundled", help="The mocks shipped for the bundled example catalog.")
]
SimulatorOption = Annotated[
    SimulatorName,
    typer.Option(help="What answers call_external_api: the seeded generator, or the --teacher LLM."),
]
SeedOption = Annotated[int, typer.Option(help="Seed of the value simulator.")]
WorkersOption = Annotated[int, typer.Option(min=1, max=64, help="Sandbox worker processes.")]
TimeoutOption = Annotated[float, typer.Option(min=0.1, help="Wall-clock seconds per mock call.")]


def _source(
    ctx: typer.Context, folder: Path | None, bundled: bool
) -> Callable[[], Awaitable[list[MockTool]]]:
    """Where mocks come from: a folder, the bundled folder, or the workspace."""
    if folder is not None and bundled:
        raise GraphToucanError("give either --dir or --bundled, not both")
    if folder is not None or bundled:
        path = bundled_mock_folder() if bundled else folder
        assert path is not None

        async def from_folder() -> list[MockTool]:
            return read_mock_folder(path)

        return from_folder
    obj: Context = ctx.obj

    async def from_workspace() -> list[MockTool]:
        return obj.store().mocks(status="accepted")

    return from_workspace


async def _mocks(ctx: typer.Context, folder: Path | None, bundled: bool) -> list[MockTool]:
    mocks = await _source(ctx, folder, bundled)()
    if not mocks and folder is None and not bundled:
        raise GraphToucanError(
            f"the workspace {ctx.obj.store().workspace} has no accepted mocks; run 'graph-toucan annotate' "
            "and 'graph-toucan mock build', or use --bundled for the example catalog's mocks"
        )
    return mocks


def _simulator(ctx: typer.Context, name: SimulatorName, seed: int) -> Simulator:
    if name == SimulatorName.TEACHER:
        return TeacherSimulator(ctx.obj.llm(), seed=seed)
    return DeterministicSimulator(seed=seed)


@mock_app.command("build")
def build(
    ctx: typer.Context,
    refs: Annotated[
        list[str] | None, typer.Argument(help="Tools (SERVER/TOOL, id or unique name); default all.")
    ] = None,
    server: Annotated[str | None, typer.Option(help="Only the tools of this server (name or id).")] = None,
    force: Annotated[
        bool, typer.Option(help="Rebuild mocks that already exist for the same tool version.")
    ] = False,
    attempts: Annotated[
        int, typer.Option(min=1, max=10, help="Tries per tool, errors fed back.")
    ] = DEFAULT_ATTEMPTS,
    workers: WorkersOption = 2,
    out: Annotated[
        Path | None, typer.Option(help="Write the accepted mocks here instead of <workspace>/mock_tools.")
    ] = None,
    wait: WaitOption = True,
    as_json: JsonOption = False,
) -> None:
    """Generate and check a mock for every annotated tool; accepted ones go to <workspace>/mock_tools/."""
    store = ctx.obj.writer(ctx, "mock build", wait)
    tools = _tools(store, refs, server)
    llm = ctx.obj.llm()

    async def run() -> Any:
        async with SandboxPool(workers) as pool:
            with progress_bar(as_json) as progress, remembered_checks(store, pool):
                bar = progress.add_task("mock build", total=len(tools))
                return await build_mocks(
                    store,
                    llm,
                    pool,
                    tools=tools,
                    force=force,
                    attempts=attempts,
                    concurrency=2 * workers,
                    folder=out,
                    progress=lambda: progress.advance(bar),
                )

    report = anyio.run(run)
    data = report.as_dict() | {"teacher": llm.teacher}
    if as_json:
        print_json(data)
    else:
        table = Table(title=f"mock build in {store.workspace}", show_header=False)
        for key in ("accepted", "unmockable", "cached", "skipped", "failed", "folder", "teacher"):
            table.add_row(key, str(data[key]))
        console.print(table)
        for title, problems in (
            ("unmockable", report.unmockable),
            ("skipped", report.skipped),
            ("failed", report.failed),
        ):
            if problems:
                detail = Table(title=title)
                detail.add_column("tool", overflow="fold")
                detail.add_column("reason", overflow="fold")
                for ref, reason in list(problems.items())[:20]:
                    detail.add_row(ref, reason)
                if len(problems) > 20:
                    detail.add_row("", f"... and {len(problems) - 20} more (--json lists all)")
                console.print(detail)
    if not report.accepted and not report.cached and report.skipped:
        raise typer.Exit(1)


def _tools(store: Store, refs: list[str] | None, server: str | None) -> list[Tool]:
    if not refs:
        tools = store.tools(server=server)
        if not tools:
            raise GraphToucanError(
                f"no tools in {store.workspace}{f' for server {server!r}' if server else ''}"
            )
        return tools
    found = []
    for ref in refs:
        tool = store.get_tool(ref)
        if tool is None:
            raise GraphToucanError(
                f"no single tool matches {ref!r}; use SERVER/TOOL or an id from 'tools list --json'"
            )
        found.append(tool)
    return found


@mock_app.command("call")
def call(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The mock: its published name, SERVER/TOOL, or tool id.")],
    args: Annotated[str, typer.Option("--args", help="The arguments as a JSON object.")] = "{}",
    conversation: Annotated[str, typer.Option(help="Conversation id for consistent answers.")] = "default",
    folder: DirOption = None,
    bundled: BundledOption = False,
    simulator: SimulatorOption = SimulatorName.DETERMINISTIC,
    seed: SeedOption = 0,
    timeout: TimeoutOption = 5.0,
) -> None:
    """Call one mock in the sandbox and print its output as JSON."""
    try:
        arguments = json.loads(args)
    except json.JSONDecodeError as exc:
        raise GraphToucanError(
            f'--args is not JSON ({exc.msg}); give an object like \'{{"city": "Paris"}}\''
        ) from None
    if not isinstance(arguments, dict):
        raise GraphToucanError("--args must be a JSON object of argument names and values")

    async def run() -> Any:
        mocks = await _mocks(ctx, folder, bundled)
        async with SandboxPool(1, Limits(wall_s=timeout)) as pool:
            runtime = MockRuntime(pool, _simulator(ctx, simulator, seed))
            runtime.add(mocks)
            return await runtime.call(ref, arguments, conversation=conversation)

    print_json(anyio.run(run))


@mock_app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[
        str | None, typer.Argument(help="One mock (SERVER/TOOL, id or name) to show with its code.")
    ] = None,
    folder: DirOption = None,
    bundled: BundledOption = False,
    as_json: JsonOption = False,
) -> None:
    """List the mocks (accepted and unmockable) or show one with its code."""
    if folder is not None or bundled:
        mocks = anyio.run(_source(ctx, folder, bundled))
    else:
        mocks = ctx.obj.store().mocks()
    if ref is not None:
        matches = [m for m in mocks if ref in (m.tool.ref, m.tool.id, m.id) or m.tool.name == ref]
        if len(matches) != 1:
            raise GraphToucanError(
                f"{'several' if matches else 'no'} mocks match {ref!r}; use SERVER/TOOL ('mock show' lists them)"
            )
        mock = matches[0]
        if as_json:
            print_json(mock.model_dump(mode="json"))
            return
        console.print(
            f"[bold]{mock.tool.ref}[/]  {mock.tool.tool_class}  {mock.status}  attempts {mock.attempts}  "
            f"teacher {mock.teacher}"
        )
        if mock.error:
            console.print(f"error: {mock.error}")
        if mock.code:
            console.print(Syntax(mock.code, "python", line_numbers=True))
        return
    if as_json:
        print_json(
            [m.model_dump(mode="json", exclude={"code", "tool"}) | {"tool": m.tool.ref} for m in mocks]
        )
        return
    table = Table(title=f"{len(mocks)} mocks")
    for col in ("tool", "class", "status", "attempts", "teacher", "error"):
        table.add_column(col, overflow="fold")
    for m in mocks:
        table.add_row(
            m.tool.ref, m.tool.tool_class or "", m.status, str(m.attempts), m.teacher, (m.error or "")[:120]
        )
    console.print(table)


def _row(spec: str) -> dict[str, Any]:
    """Line N (default 0) of a JSONL export file, as a dict."""
    path, _, line = spec.rpartition(":") if re.search(r":\d+$", spec) else (spec, "", "0")
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return json.loads(lines[int(line)])
    except (OSError, IndexError, ValueError) as exc:
        raise typer.BadParameter(f"cannot read row {line} of {path}: {exc}", param_hint="--row") from None


@app.command("serve-mocks")
def serve_mocks(
    ctx: typer.Context,
    folder: DirOption = None,
    bundled: BundledOption = False,
    transport: Annotated[Transport, typer.Option(help="stdio, or streamable HTTP.")] = Transport.STDIO,
    host: Annotated[str, typer.Option(help="HTTP host.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="HTTP port.")] = 8765,
    simulator: SimulatorOption = SimulatorName.DETERMINISTIC,
    seed: SeedOption = 0,
    workers: WorkersOption = 2,
    timeout: TimeoutOption = 5.0,
    watch: Annotated[
        float, typer.Option(min=0, help="Seconds between looks for new mocks (0: never); adds them live.")
    ] = 2.0,
    token: Annotated[
        str | None,
        typer.Option(
            envvar=TOKEN_ENV,
            help="Bearer token every HTTP request must carry; needed to listen beyond loopback.",
        ),
    ] = None,
    row: Annotated[
        str | None,
        typer.Option(
            help="Serve only the tools of one exported row, under its names, with its seed and initial "
            "state in every session: FILE.jsonl[:LINE] (0-based)."
        ),
    ] = None,
) -> None:
    """Serve the accepted mocks as an MCP server (their original names and schemas). Over HTTP the
    same rules as 'graph-toucan serve': a bearer token, or a loopback address only."""
    source = _source(ctx, folder, bundled)
    auth = check_listen(host, token) if transport == Transport.HTTP else None
    module = mock_server_module()
    chosen = _row(row) if row else None

    async def run() -> None:
        mocks = await _mocks(ctx, folder, bundled)
        async with SandboxPool(workers, Limits(wall_s=timeout)) as pool:
            if chosen is not None:  # the row's seed and initial state, in every session
                row_seed = chosen.get("seed") if isinstance(chosen.get("seed"), int) else seed
                runtime = MockRuntime(
                    pool,
                    _simulator(ctx, simulator, row_seed),
                    conversations=Conversations(initial=module.row_state(chosen)),
                )
            else:
                runtime = MockRuntime(pool, _simulator(ctx, simulator, seed))
            runtime.add(mocks)
            try:
                names = module.row_names(chosen, runtime) if chosen is not None else None
            except MockError as exc:
                raise typer.BadParameter(str(exc), param_hint="--row") from None
            server = module.create_server(runtime, names=names)
            await server.publish(mocks)
            async with anyio.create_task_group() as group:
                if watch > 0:
                    group.start_soon(server.watch, source, watch)
                if transport == Transport.STDIO:
                    await server.app.run_async(transport="stdio", show_banner=False)
                else:
                    server.app.auth = auth  # read when the HTTP app is built
                    await server.app.run_async(transport="http", host=host, port=port, show_banner=False)
                group.cancel_scope.cancel()

    anyio.run(run)
