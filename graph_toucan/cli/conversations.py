"""``graph-toucan run`` (the whole pipeline), ``augment`` (refusal variants), ``conversations list|show``
and ``pairs show``."""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from graph_toucan.cli.app import (
    JsonOption,
    ProfileOption,
    WaitOption,
    app,
    console,
    errors,
    print_json,
    progress_bar,
)
from graph_toucan.cli.shards import (
    RayAddressOption,
    RayOption,
    ShardsOption,
    TeacherUrlOption,
    shard_rows,
    sharded_run,
)
from graph_toucan.errors import GraphToucanError
from graph_toucan.messages import transcript_lines
from graph_toucan.pipeline import PipelineConfig, run_pipeline
from graph_toucan.records import PreferencePair
from graph_toucan.refusal import Mixture, augment
from graph_toucan.sampling import load_config

conversations_app = typer.Typer(help="List and show translated conversations.", no_args_is_help=True)
app.add_typer(conversations_app, name="conversations")
pairs_app = typer.Typer(help="Preference pairs made by context distillation.", no_args_is_help=True)
app.add_typer(pairs_app, name="pairs")


class Status(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


_M = Mixture()
IrrelevanceOption = Annotated[
    float, typer.Option(min=0, max=0.9, help="Share of irrelevance samples in the accepted set.")
]
MissFuncOption = Annotated[float, typer.Option(min=0, max=0.9, help="Share of miss-func refusal samples.")]
MissParamsOption = Annotated[
    float, typer.Option(min=0, max=0.9, help="Share of miss-params refusal samples.")
]


def _mixture(irrelevance: float, miss_func: float, miss_params: float) -> Mixture:
    try:
        return Mixture(irrelevance=irrelevance, miss_func=miss_func, miss_params=miss_params)
    except ValidationError as exc:
        raise typer.BadParameter(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None


def _notice(message: str) -> None:
    errors.print(message, markup=False, highlight=False)


@app.command()
def run(
    ctx: typer.Context,
    n: Annotated[
        int, typer.Option("--n", min=1, help="Keep going until this many conversations are accepted.")
    ] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the path stream and of the translation.")] = 0,
    catalog: Annotated[
        list[Path] | None,
        typer.Option(
            help="Catalogs to import (default: the bundled example, when the workspace has no tools)."
        ),
    ] = None,
    sampler: Annotated[str, typer.Option(help="graph, or random for TOUCAN's baseline.")] = "graph",
    config: Annotated[
        Path | None, typer.Option(help="JSON sampling settings (see 'graph-toucan sample').")
    ] = None,
    profile: ProfileOption = None,
    budget: Annotated[
        float | None, typer.Option(min=0, help="Stop after spending this many USD (same as --max-cost).")
    ] = None,
    attempts: Annotated[int, typer.Option(min=1, max=10, help="Tries per turn, failures fed back.")] = 3,
    pairs: Annotated[
        bool, typer.Option(help="Make preference pairs from the accepted conversations.")
    ] = True,
    irrelevance: IrrelevanceOption = _M.irrelevance,
    miss_func: MissFuncOption = _M.miss_func,
    miss_params: MissParamsOption = _M.miss_params,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=32,
            help="Sandbox processes for the mocks (default 2 offline, else one per conversation in flight).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Export the dataset here (every format; see 'graph-toucan export'); "
            "default: the workspace's dataset/ folder."
        ),
    ] = None,
    shards: ShardsOption = 1,
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    teacher_url: TeacherUrlOption = None,
    wait: Annotated[
        bool,
        typer.Option(
            help="When another run holds the workspace, wait for it (--no-wait: stop at once, naming it)."
        ),
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Import, annotate, build the graph, build mocks, sample and translate until N conversations are
    accepted, add refusal variants to the mixture's shares, make preference pairs, write the statistics
    report, and export with --out. Rerun to resume: nothing is repeated or duplicated."""
    if sampler not in ("graph", "random"):
        raise typer.BadParameter("--sampler must be graph or random")
    if budget is not None:
        ctx.obj.max_cost = budget
    store = ctx.obj.store()
    llm = ctx.obj.llm()
    settings = PipelineConfig(
        n=n,
        seed=seed,
        sampler=sampler,  # type: ignore[arg-type]
        catalogs=list(catalog or []),
        sample=load_config(config, profile),
        max_attempts=attempts,
        concurrency=ctx.obj.concurrency,
        workers=workers,
        mixture=_mixture(irrelevance, miss_func, miss_params),
        pairs=pairs,
        export_dir=out or store.workspace / "dataset",
        lock_wait_s=None if wait else 0,
    )
    started = time.time()
    run_id = uuid.uuid4().hex[:12]
    logged_before = store.count("llm_calls")
    with progress_bar(as_json) as progress:
        bars: dict[str, Any] = {}

        def advance(stage: str, done: int, total: int | None, info: dict[str, Any]) -> None:
            if stage not in bars:
                bars[stage] = progress.add_task(stage, total=total)
            extra = "  ".join(f"{k} {v}" for k, v in info.items())
            progress.update(bars[stage], completed=done, total=total, description=f"{stage}  {extra}".strip())

        sharded = None
        if shards > 1 or ray or ray_address or teacher_url:
            sharded = sharded_run(
                ctx.obj, settings, shards, ray=ray, address=ray_address, urls=teacher_url, progress=advance
            )
            report = sharded.report
        else:
            report = anyio.run(lambda: run_pipeline(store, llm, settings, advance, _notice))
    summary = sharded.as_dict() if sharded else report.as_dict()
    store.record_run(run_id, "run", "budget" if report.budget_spent else "done", started, summary)
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"run in {store.workspace}", show_header=False)
    table.add_row("teacher", str(summary["teacher"]))
    logged = store.count("llm_calls") - logged_before
    table.add_row(
        "teacher calls",
        f"{report.llm_calls} ({logged} new in the call log, which 'graph-toucan calls' shows)",
    )
    if len(set(report.teachers.values())) > 1:
        table.add_row("teachers", ", ".join(f"{g} {t}" for g, t in report.teachers.items()))
    calls = report.teacher_calls
    table.add_row(
        "teacher retries",
        f"{calls.get('retries', 0)} after transient failures, {calls.get('parse_failures', 0)} answers sent back, "
        f"{calls.get('failures', 0)} calls given up"
        + (
            f"; structured output refused by {', '.join(calls['structured_output_fallbacks'])}"
            if calls.get("structured_output_fallbacks")
            else ""
        ),
    )
    per = report.per_accepted()
    table.add_row(
        "per new accepted",
        f"{per['calls']} calls, {per['input_tokens']:.0f} input + {per['output_tokens']:.0f} output tokens, "
        f"${per['cost_usd']:.4f}",
    )
    busy = sorted(calls.get("tasks", {}).items(), key=lambda kv: -kv[1]["input_tokens"])[:6]
    if busy and any(t["input_tokens"] for _, t in busy):
        table.add_row(
            "tokens by task",
            ", ".join(
                f"{name} {t['calls']} calls {t['input_tokens'] + t['output_tokens']} tok"
                + (
                    f" ({t['retries']} retried, {t['parse_failures']} sent back)"
                    if t["retries"] or t["parse_failures"]
                    else ""
                )
                for name, t in busy
            ),
        )
    table.add_row("accepted translations", str(summary["accepted"]))
    if sharded:
        shard_rows(table, sharded)
    for key in (
        "rejected",
        "new_accepted",
        "new_rejected",
        "pairs",
        "paths_sampled",
        "cache_hits",
        "cost_usd",
    ):
        table.add_row(key.replace("_", " "), str(summary[key]))
    if report.dropped:
        table.add_row(
            "speculative dropped", f"{report.dropped} (not needed; their answers stay in the call log)"
        )
    table.add_row(
        "refusal variants", ", ".join(f"{k} {v}" for k, v in report.refusal.get("accepted", {}).items())
    )
    everything = store.conversation_count(status="accepted", teacher=llm.teacher)
    table.add_row("accepted in all", f"{everything} (translations and refusal variants, as exported)")
    table.add_row("statistics", str(report.stats))
    table.add_row("stage seconds", ", ".join(f"{k} {v:.1f}" for k, v in report.stages.items()))
    console.print(table)
    if report.exported:
        dataset = Path(report.exported["out"])
        rows = report.exported["rows"]
        console.print(
            f"dataset: {dataset} ("
            + ", ".join(f"{f} {r['train']} train / {r['validation']} validation" for f, r in rows.items())
            + ")",
            highlight=False,
        )
        console.print(
            f"look at it: {dataset / 'README.md'} (the card), {dataset / 'openai' / 'train.jsonl'}, "
            "'graph-toucan conversations list' and 'graph-toucan conversations show ID'",
            highlight=False,
        )
        for warning in report.exported.get("warnings", []):
            errors.print(f"[yellow]warning[/]: {escape(warning)}", highlight=False)
    for path_id, reason in list(report.failed.items())[:10]:
        console.print(f"[red]teacher failed[/] on path {path_id}: {escape(reason)} (retried on the next run)")
    if report.budget_spent:
        console.print(f"[yellow]{escape(report.budget_spent)}[/]")
    if report.exhausted and report.accepted < n:
        console.print(
            f"[yellow]the path stream ran out at {report.accepted} accepted; change --seed or the settings[/]"
        )


@app.command("augment")
def augment_command(
    ctx: typer.Context,
    irrelevance: IrrelevanceOption = _M.irrelevance,
    miss_func: MissFuncOption = _M.miss_func,
    miss_params: MissParamsOption = _M.miss_params,
    seed: Annotated[int, typer.Option(help="Seed of the choice of sources and sites.")] = 0,
    attempts: Annotated[int, typer.Option(min=1, max=10, help="Tries per variant, failures fed back.")] = 3,
    wait: WaitOption = True,
    as_json: JsonOption = False,
) -> None:
    """Add refusal variants (miss-func, miss-params, irrelevance) of the accepted conversations until
    each kind has its share of the accepted set; reruns add only what is missing."""
    store = ctx.obj.writer(ctx, "augment", wait)
    llm = ctx.obj.llm()
    with progress_bar(as_json) as progress:
        bars: dict[str, Any] = {}

        def advance(kind: str, done: int, total: int) -> None:
            if kind not in bars:
                bars[kind] = progress.add_task(f"augment {kind}", total=total)
            progress.update(bars[kind], completed=done, total=total)

        report = anyio.run(
            lambda: augment(
                store,
                llm,
                _mixture(irrelevance, miss_func, miss_params),
                seed=seed,
                max_attempts=attempts,
                progress=advance,
            )
        )
    data = report.as_dict() | {"teacher": llm.teacher}
    if as_json:
        print_json(data)
        return
    table = Table(title=f"refusal variants in {store.workspace}")
    for col in ("kind", "target", "made now", "accepted now", "rejected now", "short"):
        table.add_column(col)
    for kind, target in report.targets.items():
        table.add_row(
            kind,
            str(target),
            str(report.made.get(kind, 0)),
            str(report.accepted.get(kind, 0)),
            str(report.rejected.get(kind, 0)),
            str(report.short.get(kind, 0)),
        )
    console.print(table)


@conversations_app.command("list")
def conversations_list(
    ctx: typer.Context,
    status: Annotated[Status | None, typer.Option(help="Only accepted or rejected ones.")] = None,
    kind: Annotated[
        str | None, typer.Option(help="Only this kind: translation, miss-func, miss-params, irrelevance.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    as_json: JsonOption = False,
) -> None:
    """List conversations: id, status, kind, turns, calls, turn types, first reason."""
    store = ctx.obj.store()
    chosen = status.value if status else None
    found = list(store.conversations(status=chosen, kind=kind, limit=limit))
    if as_json:
        print_json([c.model_dump(mode="json") for c in found])
        return
    total = store.conversation_count(status=chosen, kind=kind)
    shown = f"{len(found)} of {total}" if total > len(found) else str(total)
    table = Table(title=f"{shown} conversations" + (" (--limit for more)" if total > len(found) else ""))
    for col in ("id", "status", "kind", "turns", "calls", "turn types", "reason"):
        table.add_column(col, overflow="fold", no_wrap=col in ("id", "status", "kind"))
    for c in found:
        table.add_row(
            c.id,
            c.status,
            c.kind,
            str(len(c.turns)),
            str(len(c.calls)),
            " ".join(c.turn_types),
            escape(textwrap.shorten(c.reasons[0], 80, placeholder=" ...")) if c.reasons else "",
        )
    console.print(table)


@conversations_app.command("show")
def conversations_show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Conversation id, or a unique prefix of at least 4 characters.")],
    as_json: JsonOption = False,
) -> None:
    """Print one conversation as a readable transcript, with its checks."""
    conversation = ctx.obj.store().get_conversation(ref)
    if conversation is None:
        raise GraphToucanError(
            f"no single conversation matches {ref!r}; take an id from 'graph-toucan conversations list'"
        )
    if as_json:
        print_json(conversation.model_dump(mode="json"))
        return
    for line in transcript_lines(conversation):
        console.print(Text.assemble(*line), highlight=False)


@pairs_app.command("show")
def pairs_show(
    ctx: typer.Context,
    conversation: Annotated[str | None, typer.Option(help="Only the pairs of this conversation id.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 5,
    as_json: JsonOption = False,
) -> None:
    """Show preference pairs: where they branch, the chosen and the rejected step."""
    found: list[PreferencePair] = []
    for pair in ctx.obj.store().pairs(conversation_id=conversation):
        found.append(pair)
        if len(found) == limit:
            break
    if as_json:
        print_json([p.model_dump(mode="json") for p in found])
        return
    for p in found:
        console.print(
            f"[bold]pair {p.id}[/] {p.kind}  conversation {p.conversation_id} turn {p.turn} step {p.step}"
        )
        console.print(
            f"  last user message: {escape(p.prefix[-1].content if p.prefix else '')}", highlight=False
        )
        for label, message in (("chosen", p.chosen), ("rejected", p.rejected)):
            said = (
                ", ".join(f"{c.name}({json.dumps(c.arguments)})" for c in message.tool_calls)
                or message.content
            )
            console.print(
                f"  [{'green' if label == 'chosen' else 'red'}]{label}[/]: {escape(said)}", highlight=False
            )
