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
from graph_toucan.llm.groups import GROUPS
from graph_toucan.store import WORKSPACE_ENV, Store
from graph_toucan.workspace_lock import hold_workspace

app = typer.Typer(
    help="Synthesize multi-turn function-calling data from real MCP tools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
WaitOption = Annotated[
    bool,
    typer.Option(
        help="When another process writes the workspace, wait for it (--no-wait: stop at once, naming it)."
    ),
]
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
        stage_teachers: dict[str, str] | None = None,
        timeout: float = 120.0,
        deadline: float | None = None,
    ) -> None:
        self.workspace = workspace
        self.teacher = teacher
        self.concurrency = concurrency
        self.max_calls = max_calls
        self.max_cost = max_cost
        self.prices = prices
        self.stage_teachers = {g: t for g, t in (stage_teachers or {}).items() if t}
        self.timeout = timeout
        self.deadline = deadline
        self._store: Store | None = None

    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.workspace)
        return self._store

    def budget(self) -> Budget:
        """A fresh budget of the global --max-calls and --max-cost (the teacher's, or a model under test's)."""
        return Budget(max_calls=self.max_calls, max_cost_usd=self.max_cost)

    def price_table(self) -> PriceTable | None:
        """The global --prices table, or None for the bundled prices."""
        return PriceTable.load(self.prices) if self.prices else None

    def writer(self, ctx: typer.Context, command: str, wait: bool = True) -> Store:
        """The workspace's store, holding the workspace lock until the command ends (one writer at a
        time: another waits, saying for whom, or with --no-wait stops naming it)."""
        store = self.store()
        lock = hold_workspace(
            store.workspace,
            wait_s=None if wait else 0,
            notice=lambda message: errors.print(message, markup=False, highlight=False),
            what=f"graph-toucan {command}",
        )
        ctx.with_resource(lock)
        return store

    def llm(self, store: Store | None = None) -> LLM:
        """The teacher (and the stage teachers overriding it), logging into this workspace's call log
        (or ``store``'s), within the budget and timeout options; stalls and fallbacks go to stderr."""
        backends: dict[str, Any] = {}

        def backend(name: str) -> Any:
            if name not in backends:
                backends[name] = make_backend(name, timeout=self.timeout)
            return backends[name]

        return LLM(
            backend(self.teacher),
            store or self.store(),
            max_concurrency=self.concurrency,
            budget=self.budget(),
            prices=self.price_table(),
            overrides={group: backend(name) for group, name in self.stage_teachers.items()},
            deadline_s=self.deadline if self.deadline is not None else 3 * self.timeout,
            notify=lambda message: errors.print(
                f"[yellow]warning:[/] {message}", highlight=False, markup=True
            ),
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
    teacher_timeout: Annotated[
        float, typer.Option(min=1, help="Seconds a teacher request may take before it is retried.")
    ] = 120.0,
    teacher_deadline: Annotated[
        float | None,
        typer.Option(
            min=1, help="Seconds one teacher call may take, retries included (default 3 x timeout)."
        ),
    ] = None,
    teacher_annotate: Annotated[
        str | None, typer.Option(help="Teacher for annotation (default --teacher).")
    ] = None,
    teacher_judge: Annotated[
        str | None, typer.Option(help="Teacher for output filtering and edge judgement.")
    ] = None,
    teacher_mocks: Annotated[str | None, typer.Option(help="Teacher writing mock code.")] = None,
    teacher_values: Annotated[
        str | None, typer.Option(help="Teacher inventing mock values (mock build --simulator teacher, run).")
    ] = None,
    teacher_translate: Annotated[
        str | None,
        typer.Option(help="Teacher translating paths into conversations (names the conversations)."),
    ] = None,
    teacher_refusal: Annotated[str | None, typer.Option(help="Teacher writing refusal variants.")] = None,
) -> None:
    stage_teachers = {
        "annotate": teacher_annotate,
        "judge": teacher_judge,
        "mocks": teacher_mocks,
        "values": teacher_values,
        "translate": teacher_translate,
        "refusal": teacher_refusal,
    }
    assert set(stage_teachers) == set(GROUPS)
    ctx.obj = Context(
        workspace,
        teacher,
        concurrency=concurrency,
        max_calls=max_calls,
        max_cost=max_cost,
        prices=prices,
        stage_teachers=stage_teachers,
        timeout=teacher_timeout,
        deadline=teacher_deadline,
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
