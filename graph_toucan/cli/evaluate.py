"""``graph-toucan eval``: score a model turn by turn against the mock tools on held-out conversations."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from graph_toucan.cli.app import Context, JsonOption, app, console, errors, print_json, progress_bar
from graph_toucan.evaluate import EVAL, EVAL_HELP, default_mocks, run_eval
from graph_toucan.evaluate.models import make_model
from graph_toucan.mock.files import read_mock_folder
from graph_toucan.store import DB_NAME, Store, resolve_workspace


@app.command("eval")
def eval_command(
    ctx: typer.Context,
    model: Annotated[
        str,
        typer.Option(
            help="The model under test: openai/NAME, anthropic/NAME, or reference (the self-check)."
        ),
    ],
    data: Annotated[
        Path, typer.Option(help="An export folder ('graph-toucan export --out'), trl or openai.")
    ],
    out: Annotated[Path, typer.Option(help="Report folder: eval.db (resumable), report.md, report.json.")],
    split: Annotated[str, typer.Option(help="validation, train or all.")] = EVAL.split,
    limit: Annotated[int | None, typer.Option(min=1, help=EVAL_HELP["limit"])] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, max=256, help=EVAL_HELP["concurrency"])
    ] = EVAL.concurrency,
    max_steps: Annotated[
        int, typer.Option(min=1, max=EVAL.most_steps, help=EVAL_HELP["max_steps"])
    ] = EVAL.max_steps,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible server (default $OPENAI_BASE_URL) or Anthropic URL.")
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            help="Read the API key from this variable (default OPENAI_API_KEY / ANTHROPIC_API_KEY)."
        ),
    ] = None,
    system: Annotated[str | None, typer.Option(help="A system prompt for the model (default none).")] = None,
    mocks: Annotated[
        Path | None,
        typer.Option(help="A mock folder; default: the workspace's mocks over the bundled ones."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Sandbox workers for mocks.")] = 2,
    show: Annotated[int, typer.Option(min=0, help="Transcripts of this many worst conversations.")] = 5,
    json_out: JsonOption = False,
) -> None:
    """Play each conversation's user turns to a model with the row's tools, run its calls against the
    row's mocks (same seed and state), and score every turn against the reference. Reruns skip the
    conversations already scored; the global --max-cost / --max-calls bound what the model may spend."""
    obj: Context = ctx.obj
    key = os.environ.get(api_key_env) if api_key_env else None
    if api_key_env and not key:
        raise typer.BadParameter(f"${api_key_env} is not set", param_hint="--api-key-env")
    chat = make_model(
        model,
        api_key=key,
        base_url=base_url,
        budget=obj.budget(),
        prices=obj.price_table(),
        system=system,
    )
    if mocks is not None:
        chosen = read_mock_folder(mocks)
    elif (resolve_workspace(obj.workspace) / DB_NAME).exists():
        chosen = default_mocks(Store.open(obj.workspace).mocks(status="accepted"))
    else:
        chosen = default_mocks()
    with progress_bar(disable=json_out) as bar:
        task = bar.add_task(f"eval {chat.label}", total=None)
        summary = asyncio.run(
            run_eval(
                chat,
                data=data,
                out=out,
                split=split,
                limit=limit,
                concurrency=concurrency,
                max_steps=max_steps,
                mocks=chosen,
                workers=workers,
                shown=show,
                progress=lambda n: bar.advance(task, n),
                total=lambda n: bar.update(task, total=n),
            )
        )
    if json_out:
        print_json(summary)
        return
    table = Table(
        title=f"eval of {summary['model']} on {summary['split']} ({summary['conversations']} conversations)"
    )
    for column in ("kind", "conversations", "accuracy", "turns", "turn accuracy"):
        table.add_column(column)
    for kind, v in summary["kinds"].items():
        table.add_row(
            kind,
            str(v["conversations"]),
            f"{v['accuracy']:.1%}",
            str(v["turns"]),
            f"{v['turn_accuracy']:.1%}",
        )
    table.add_row(
        "all",
        str(summary["conversations"]),
        f"{summary['accuracy']:.1%}",
        str(summary["turns"]),
        f"{summary['turn_accuracy']:.1%}",
        style="bold",
    )
    console.print(table)
    checks = ", ".join(f"{k} {v:.1%}" for k, v in summary["checks"].items())
    console.print(f"checks (turns passing): {checks}; final state {summary['final_state']:.1%}")
    usage = summary["usage"]
    console.print(
        f"{summary['scored_now']} scored now, {summary['resumed']} from earlier runs; "
        f"{usage['requests']} requests, {usage['input_tokens'] + usage['output_tokens']} tokens, ${usage['cost_usd']:.4f}"
    )
    for what, items in (("failed", summary["failed"]), ("no mocks", summary["unmocked"])):
        for cid, reason in list(items.items())[:5]:
            errors.print(f"[yellow]{what}[/yellow] {cid}: {reason}")
    if summary["stopped"]:
        errors.print(f"[yellow]stopped:[/yellow] {summary['stopped']}")
    console.print(f"report: {out / 'report.md'} (and report.json); rerun to resume")
