"""``graph-toucan export`` (trainer formats, splits, dataset card, Hub) and ``graph-toucan stats`` (the report)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from graph_toucan.cli.app import JsonOption, app, console, errors, print_json, progress_bar
from graph_toucan.export import FORMATS, export, push_to_hub
from graph_toucan.stats import (
    COMPARISON_COLUMNS,
    SAMPLER_LABELS,
    StatsReport,
    comparison_rows,
    compute_stats,
    figure_rows,
    write_stats,
)


class FormatName(StrEnum):
    TRL = "trl"
    OPENAI = "openai"
    DPO = "dpo"
    SHAREGPT = "sharegpt"
    HERMES = "hermes"


class DedupName(StrEnum):
    NEAR = "near"
    EXACT = "exact"
    OFF = "off"


class SamplerName(StrEnum):
    GRAPH = "graph"
    RANDOM = "random"


TeacherFilter = Annotated[
    str | None, typer.Option("--only-teacher", help="Only conversations of this teacher (e.g. offline).")
]


@app.command("export")
def export_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the dataset into.")],
    fmt: Annotated[
        list[FormatName] | None,
        typer.Option(
            "--format",
            "-f",
            help="trl (TRL / chat templates: arguments as objects), openai (the OpenAI fine-tuning API: "
            "arguments as JSON strings), dpo, sharegpt or hermes (repeatable; default all).",
        ),
    ] = None,
    validation_share: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.99,
            help="Share of conversation families in the validation split (at least one when above 0).",
        ),
    ] = 0.05,
    seed: Annotated[int, typer.Option(help="Seed of the split (same seed: same split).")] = 0,
    only_teacher: TeacherFilter = None,
    sampler: Annotated[SamplerName | None, typer.Option(help="Only conversations of this sampler.")] = None,
    metadata: Annotated[
        bool,
        typer.Option(help="Add replay columns (id, kind, seed, path, family, server/tool of each function)."),
    ] = True,
    dedup: Annotated[
        DedupName,
        typer.Option(
            help="Drop conversation families repeating an earlier family's user message: near (numbers, "
            "dates and quoted values ignored), exact, or off."
        ),
    ] = DedupName.NEAR,
    one_call: Annotated[
        bool,
        typer.Option(
            "--one-call-per-message",
            help="Split parallel calls into consecutive one-call steps (templates such as Llama 3.x's).",
        ),
    ] = False,
    license: Annotated[
        str | None, typer.Option(help="License of the dataset for the card (e.g. mit); default other.")
    ] = None,
    push_to_hub_repo: Annotated[
        str | None, typer.Option("--push-to-hub", metavar="REPO", help="Then upload to this HF dataset repo.")
    ] = None,
    private: Annotated[bool, typer.Option(help="Create the Hub repository as private.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Export the accepted conversations and preference pairs for trainers: JSONL and Parquet per split,
    a dataset card (README.md) and the statistics report (stats/)."""
    store = ctx.obj.store()
    formats = [f.value for f in fmt] if fmt else list(FORMATS)
    total = store.conversation_count(status="accepted", teacher=only_teacher)
    with progress_bar(as_json) as progress:
        bar = progress.add_task("export", total=total)
        report = export(
            store,
            out,
            formats,
            validation_share=validation_share,
            seed=seed,
            teacher=only_teacher,
            sampler=sampler.value if sampler else None,
            metadata=metadata,
            license=license,
            dedup=dedup.value,  # type: ignore[arg-type]
            one_call=one_call,
            progress=lambda k: progress.advance(bar, k),
        )
    summary = report.as_dict()
    if push_to_hub_repo:
        summary["hub"] = push_to_hub(out, push_to_hub_repo, private=private)
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"export to {out}")
    for col in ("format", "unit", "train", "validation", "seconds"):
        table.add_column(col, justify="left" if col in ("format", "unit") else "right")
    for f in report.formats:
        rows = report.rows[f]
        unit = "pairs" if f == "dpo" else "conversations"
        table.add_row(f, unit, str(rows["train"]), str(rows["validation"]), f"{report.seconds[f]:.2f}")
    console.print(table)
    console.print(
        "kinds: " + ", ".join(f"{k} {v}" for k, v in report.kinds.items()) + f"; card: {out / 'README.md'}",
        highlight=False,
    )
    if report.dedup and report.dedup.dropped:
        d = report.dedup
        console.print(
            f"duplicates ({d.mode}): {len(d.dropped)} of {d.families_before} families removed "
            f"({d.conversations_before - d.conversations_after} conversations)",
            highlight=False,
        )
    if report.pairs_without_one_call_form:
        console.print(
            f"{report.pairs_without_one_call_form} preference pairs have no one-call form and were left out",
            highlight=False,
        )
    for warning in report.warnings:
        console.print(f"[yellow]warning[/]: {warning}", highlight=False)
    if report.skipped:
        console.print(
            f"[yellow]{len(report.skipped)} conversations skipped[/]: " + next(iter(report.skipped.values())),
            highlight=False,
        )
    for warning in report.warnings:
        errors.print(f"[yellow]warning[/]: {warning}", highlight=False)
    if "hub" in summary:
        console.print(f"pushed: {summary['hub']}")


@app.command("stats")
def stats_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write stats.md, stats.json and PNG plots here.")
    ] = None,
    only_teacher: TeacherFilter = None,
    as_json: JsonOption = False,
) -> None:
    """The dataset statistics (docs/method.md section 9), one column per sampler, with MAGNET's and TOUCAN's
    published figures as reference rows."""
    report = compute_stats(ctx.obj.store(), teacher=only_teacher)
    files = write_stats(report, out) if out else {}
    if as_json:
        print_json(report.as_dict() | {"files": {k: str(v) for k, v in files.items()}})
        return
    print_report(report)
    if out:
        console.print(
            f"written: {files['markdown']}, {files['json']} and {len(files) - 2} plots", highlight=False
        )


def print_report(report: StatsReport) -> None:
    """The report as rich tables: comparison, figures by sampler, teacher calls."""
    datasets = comparison_rows(report)
    comparison = Table(title="comparison with published datasets")
    comparison.add_column("figure")
    for name, _ in datasets:
        comparison.add_column(name.removeprefix("graph-toucan, "), justify="right")
    for i, (_, label) in enumerate(COMPARISON_COLUMNS):
        comparison.add_row(label, *(values[i] for _, values in datasets))
    console.print(comparison)
    figures = Table(title=f"figures by sampler ({report.workspace})")
    figures.add_column("figure")
    for sampler in report.columns:
        figures.add_column(SAMPLER_LABELS.get(sampler, sampler), justify="right")
    for name, values in figure_rows(report):
        figures.add_row(name, *values)
    console.print(figures)
    log = report.call_log
    calls = Table(title="teacher calls (call log, all stages)")
    for col in ("", "calls", "input tokens", "output tokens", "cost USD"):
        calls.add_column(col, justify="right" if col else "left")
    for label, row in (("total", log["total"]), ("per accepted conversation", log["per_accepted"])):
        calls.add_row(
            label,
            str(row["calls"]),
            str(row["input_tokens"]),
            str(row["output_tokens"]),
            f"{row['cost_usd']:.6f}",
        )
    console.print(calls)
