"""The typer app, its global options and what every command group shares (console, progress, JSON)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from graph_toucan.llm import LLM, Budget, PriceTable, make_backend
from graph_toucan.store import WORKSPACE_ENV, Store

app = typer.Typer(
    help="Synthesize multi-turn function-calling data from real MCP tools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        help="A named shape under the settings: bfcl (BFCL multi-turn's: shorter, 1-2 calls a turn) or "
        "magnet (MAGNET's depth: long walks, a second task, several calls a turn); default: neither."
    ),
]


class Context:
    """What the global options chose: the workspace, the teacher and its budget."""

    def __init__(
        self,
        workspace: Path | None,
        teacher: str,
        *,
        concurrency: int = 8,
        max_calls: int | None = None,
        max_cost: float | None = None,
        prices: Path | None = None,
    ) -> None:
        self.workspace = workspace
        self.teacher = teacher
        self.concurrency = concurrency
        self.max_calls = max_calls
        self.max_cost = max_cost
        self.prices = prices
        self._store: Store | None = None

    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.workspace)
        return self._store

    def llm(self) -> LLM:
        """The teacher, logging into this workspace's call log, within the budget options."""
        return LLM(
            make_backend(self.teacher),
            self.store(),
            max_concurrency=self.concurrency,
            budget=Budget(max_calls=self.max_calls, max_cost_usd=self.max_cost),
            prices=PriceTable.load(self.prices) if self.prices else None,
        )


@app.callback()
def _main(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace", "-w", envvar=WORKSPACE_ENV, help="Workspace folder (default ./gt-workspace)."
        ),
    ] = None,
    teacher: Annotated[
        str,
        typer.Option(
            envvar="GRAPH_TOUCAN_TEACHER",
            help="Teacher LLM: offline, anthropic/MODEL or openai/MODEL (with OPENAI_BASE_URL for local servers).",
        ),
    ] = "offline",
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Teacher requests in flight.")] = 8,
    max_calls: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many new LLM calls (cached ones are free).")
    ] = None,
    max_cost: Annotated[float | None, typer.Option(min=0, help="Stop after spending this many USD.")] = None,
    prices: Annotated[
        Path | None, typer.Option(help="JSON price table {model: {input, output} per million tokens}.")
    ] = None,
) -> None:
    ctx.obj = Context(
        workspace, teacher, concurrency=concurrency, max_calls=max_calls, max_cost=max_cost, prices=prices
    )


def progress_bar(disable: bool = False) -> Progress:
    """A progress display on stderr, shown only on a terminal (never mixed into --json output)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        disable=disable or not errors.is_terminal,
        transient=True,
    )


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")
