"""``graph-toucan serve``: the synthesis MCP server (the server/synthesis package) on stdio or HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import anyio
import typer

from graph_toucan.cli.app import Context, app
from graph_toucan.errors import GraphToucanError
from graph_toucan.llm import LLM
from graph_toucan.resources import server_module
from graph_toucan.serving import TOKEN_ENV
from graph_toucan.store import Store


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as a host and a port number."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise GraphToucanError(f"--http takes HOST:PORT, e.g. 127.0.0.1:8765, not {text!r}")
    return host.strip("[]"), int(port)


def teacher_factory(obj: Context) -> Callable[[Store], LLM]:
    """The --teacher with its budget options, built on the server's own store."""

    def make(store: Store) -> LLM:
        return obj.llm(store)

    return make


@app.command()
def serve(
    ctx: typer.Context,
    http: Annotated[
        str | None,
        typer.Option(metavar="HOST:PORT", help="Serve streamable HTTP here instead of stdio."),
    ] = None,
    root: Annotated[
        list[Path] | None,
        typer.Option(help="A folder besides the workspace whose files clients may name (repeatable)."),
    ] = None,
    allow_command: Annotated[
        list[str] | None,
        typer.Option(help="A stdio MCP command line clients may import from, exactly (repeatable)."),
    ] = None,
    allow_url: Annotated[
        list[str] | None, typer.Option(help="An MCP server URL clients may import from (repeatable).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar=TOKEN_ENV,
            help="Bearer token every HTTP request must carry; needed to listen beyond loopback.",
        ),
    ] = None,
    mock_workers: Annotated[int, typer.Option(min=1, max=64, help="Sandbox workers for mocks.")] = 2,
    mock_timeout: Annotated[float, typer.Option(min=0.1, help="Wall-clock seconds per mock call.")] = 5.0,
    call_timeout: Annotated[
        float, typer.Option(min=1, max=86_400, help="Wall-clock seconds a tool call may run.")
    ] = 300.0,
    max_workspace_mb: Annotated[
        float,
        typer.Option(min=1, help="Tools that write refuse once the workspace database is this large."),
    ] = 4096.0,
    session_idle: Annotated[
        float, typer.Option(min=1, max=86_400, help="Seconds before an idle HTTP session is closed.")
    ] = 600.0,
) -> None:
    """Serve every synthesis stage as MCP tools over one workspace and teacher (stdio by default)."""
    obj: Context = ctx.obj
    module = server_module("synthesis")
    config = module.ServerConfig(
        workspace=obj.workspace,
        teacher=obj.teacher,
        roots=tuple(root or ()),
        allowed_commands=tuple(allow_command or ()),
        allowed_urls=tuple(allow_url or ()),
        token=token or None,
        mock_workers=mock_workers,
        mock_timeout=mock_timeout,
        call_timeout=call_timeout,
        max_workspace_mb=max_workspace_mb,
        session_idle=session_idle,
    )
    address = parse_address(http) if http else None
    anyio.run(lambda: module.serve(config, teacher_factory(obj), http=address))
