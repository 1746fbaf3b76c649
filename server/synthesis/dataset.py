"""Tools of the dataset stage: export for trainers, and the statistics report."""

from __future__ import annotations

from typing import Annotated, Any

from fastmcp import Context
from fastmcp.exceptions import ToolError
from pydantic import BaseModel, Field

from graph_toucan.export import FORMATS as EXPORT_FORMATS
from graph_toucan.export import Format
from graph_toucan.export import export as export_conversations
from graph_toucan.records import Sampler
from graph_toucan.stats import compute_stats, stats_markdown

from .app import services, synthesis_resource, synthesis_tool
from .inputs import LIST_CAP, PathText, Seed, TeacherFilter
from .progress import Progress, now, record


class ExportResult(BaseModel):
    out: str
    formats: list[str]
    rows: dict[str, dict[str, int]] = Field(description="Rows per format and split (dpo: preference pairs).")
    conversations: dict[str, int] = Field(description="Conversations per split.")
    kinds: dict[str, int]
    teachers: dict[str, int]
    samplers: dict[str, int]
    servers: dict[str, str | None] = Field(description="Servers whose tools are used, with their licenses.")
    tools_used: int
    skipped: dict[str, str] = Field(description="Conversations not expressible in the formats (first 50).")
    skipped_total: int
    seconds: dict[str, float]
    files: list[str] = Field(description="Every file written: JSONL and Parquet per split, stats, README.md.")
    warnings: list[str] = Field(description="What to know about the dataset (e.g. a small validation split).")


@synthesis_tool(destructive=True, title="Export the dataset")
async def export_dataset(
    ctx: Context,
    out: Annotated[
        PathText,
        Field(description="Folder to write, inside the workspace or an allowed root (e.g. 'export')."),
    ],
    formats: Annotated[
        list[Format] | None,
        Field(min_length=1, max_length=len(EXPORT_FORMATS), description="Default: every format."),
    ] = None,
    validation_share: Annotated[
        float,
        Field(
            ge=0,
            le=0.99,
            description="Share of conversation families in the validation split (at least one when above 0).",
        ),
    ] = 0.05,
    seed: Seed = 0,
    teacher: TeacherFilter = None,
    sampler: Annotated[Sampler | None, Field(description="Only this sampler's conversations.")] = None,
    metadata: Annotated[bool, Field(description="Add id and kind columns to every row.")] = True,
    license: Annotated[
        str | None, Field(max_length=100, description="The dataset's license for the card (e.g. mit).")
    ] = None,
) -> ExportResult:
    """Export the accepted conversations and preference pairs for trainers: OpenAI messages (TRL SFT),
    TRL DPO pairs (from make_pairs), LLaMA-Factory ShareGPT and Hermes, JSONL and Parquet per
    train/validation split, with a dataset card (README.md) and the statistics (stats/). Files already
    in the folder are replaced. Run it when translate_fsp, augment_refusal and make_pairs have made
    enough data."""
    svc = services(ctx)
    folder = svc.guard.writable(out)
    if folder in svc.guard.roots:
        raise ToolError(
            f"{out!r} is the workspace or an allowed root itself; an export writes README.md and stats/ "
            "into its folder, so name a subfolder such as 'export'"
        )
    started = now()
    total = svc.store.conversation_count(status="accepted", teacher=teacher)
    async with Progress(ctx, total) as progress:
        report = export_conversations(
            svc.store,
            folder,
            formats or EXPORT_FORMATS,
            validation_share=validation_share,
            seed=seed,
            teacher=teacher,
            sampler=sampler,
            metadata=metadata,
            license=license,
            progress=progress.advance,
        )
    summary = report.as_dict()
    record(svc.store, "export_dataset", started, summary)
    skipped = dict(list(report.skipped.items())[:LIST_CAP])
    return ExportResult.model_validate(summary | {"skipped": skipped, "skipped_total": len(report.skipped)})


class StatsResult(BaseModel):
    workspace: str
    teacher: str | None
    tools_total: int
    servers_total: int
    samplers: dict[str, dict[str, Any]] = Field(
        description="Figures per sampler: conversations, acceptance rate, turns, calls, dependencies, checks."
    )
    call_log: dict[str, Any] = Field(description="Teacher calls, tokens and cost: total, per accepted.")
    references: dict[str, dict[str, str]] = Field(description="Published figures of MAGNET and TOUCAN.")
    markdown: str | None = Field(description="The report as Markdown, when asked for.")


@synthesis_tool(read_only=True, title="Dataset statistics")
async def dataset_stats(
    ctx: Context,
    teacher: TeacherFilter = None,
    markdown: Annotated[bool, Field(description="Also return the report as Markdown.")] = False,
) -> StatsResult:
    """Statistics of the stored conversations (accepted and rejected), one column per sampler, beside
    MAGNET's and TOUCAN's published figures: acceptance rate, turns, calls, parallel steps, dependency
    types, tool coverage, check pass rates, rejection reasons, teacher cost. Use it to judge the data
    before export_dataset; the resource graph-toucan://stats is the same report as Markdown."""
    report = compute_stats(services(ctx).store, teacher=teacher)
    return StatsResult.model_validate(
        report.as_dict() | {"markdown": stats_markdown(report) if markdown else None}
    )


@synthesis_resource("graph-toucan://stats", name="dataset_stats", mime_type="text/markdown")
async def stats_resource(ctx: Context) -> str:
    """The statistics report of every stored conversation, as Markdown."""
    return stats_markdown(compute_stats(services(ctx).store))
