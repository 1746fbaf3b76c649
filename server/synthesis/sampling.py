"""Tools of the sampling stage: sample planned paths, and list the stored ones."""

from __future__ import annotations

from itertools import islice
from typing import Annotated, Any, Literal

from fastmcp import Context
from pydantic import BaseModel, ConfigDict, Field

from graph_toucan.path_feed import sample_workspace
from graph_toucan.records import PlannedPath, Sampler
from graph_toucan.sampling import load_config

from .app import services, synthesis_tool
from .inputs import Seed, ToolRef
from .progress import Progress, now, record


class SampleSettings(BaseModel):
    """Walk and node-operation settings; those left out keep their defaults."""

    model_config = ConfigDict(extra="forbid")

    max_steps: int | None = Field(None, ge=1, le=10, description="Most edges per walk (default 7).")
    min_steps: int | None = Field(None, ge=0, le=10, description="Fewest edges per walk (default 1).")
    walks_per_start: int | None = Field(None, ge=1, le=20, description="Walks per start and round (3).")
    distractors: int | None = Field(None, ge=0, le=20, description="Tools offered besides the path's (4).")
    merge: float | None = Field(None, ge=0, le=1, description="Chance a turn joins the one before (0.6).")
    insert_short: float | None = Field(None, ge=0, le=1, description="Chance of a hidden helper call (0.55).")
    insert_long: float | None = Field(None, ge=0, le=1, description="Chance of a back-reference (0.3).")
    split: float | None = Field(None, ge=0, le=1, description="Chance of an empty, clarifying turn (0.2).")
    parallel: float | None = Field(
        None, ge=0, le=1, description="Chance a call is made again for other values in its turn (0.6)."
    )
    second_task: float | None = Field(None, ge=0, le=1, description="Chance of each later task (0.9).")
    max_tasks: int | None = Field(None, ge=1, le=10, description="Most tasks in one conversation (5).")

    def overrides(self) -> dict[str, Any]:
        walk = {"max_steps", "min_steps", "walks_per_start", "second_task", "max_tasks"}
        operations = {"merge", "insert_short", "insert_long", "split", "parallel"}
        prefix = {**dict.fromkeys(walk, "walk."), **dict.fromkeys(operations, "operations.")}
        return {f"{prefix.get(k, '')}{k}": v for k, v in self.model_dump().items()}


class SampleResult(BaseModel):
    sampler: str
    seed: int
    requested: int
    sampled: int
    new: int
    already_stored: int
    exhausted: bool = Field(description="Fewer distinct paths exist than requested with these settings.")
    tools: int
    usable_edges: int
    stored_paths: int
    path_ids: list[str] = Field(description="Every sampled path, in stream order.")
    paths: list[PlannedPath] = Field(description="The first `show` paths in full.")


@synthesis_tool(title="Sample function signature paths")
async def sample_fsp(
    ctx: Context,
    count: Annotated[
        int, Field(ge=1, le=1000, description="Paths to sample (the first of the stream).")
    ] = 10,
    seed: Seed = 0,
    sampler: Annotated[
        Literal["graph", "random"],
        Field(description="graph: walks + node operations; random: TOUCAN's tag baseline."),
    ] = "graph",
    settings: SampleSettings | None = None,
    start: Annotated[
        list[ToolRef] | None, Field(max_length=10, description="Start walks only at these tools.")
    ] = None,
    show: Annotated[int, Field(ge=0, le=50, description="How many paths to return in full.")] = 3,
) -> SampleResult:
    """Sample planned function-signature paths (multi-turn tool-call plans with their data
    dependencies) from the graph into the workspace, and return them. Run it after build_graph. The
    same seed and settings give the same paths; a larger count continues the same stream."""
    svc = services(ctx)
    config = load_config(None, **(settings or SampleSettings()).overrides())
    started = now()
    async with Progress(ctx, count) as progress:
        report = await svc.workers.run(  # CPU-heavy: in a worker process, off the loop and its GIL
            sample_workspace,
            svc.store.path,
            sampler,
            count,
            seed,
            config,
            list(start) if start else None,
            progress=progress.advance,
        )
    summary = report.as_dict()
    record(svc.store, "sample_fsp", started, summary)
    shown = [svc.store.get_path(pid) for pid in report.path_ids[:show]]
    return SampleResult.model_validate(
        summary | {"path_ids": report.path_ids, "paths": [p for p in shown if p is not None]}
    )


class PathSummary(BaseModel):
    id: str = Field(description="For translate_fsp's path_id.")
    sampler: str
    seed: int
    index: int = Field(description="Place in the stream of its sampler and seed.")
    turns: int
    calls: int
    turn_types: list[str]
    tools: list[str] = Field(description="SERVER/TOOL of each call, in order.")
    translation: Literal["accepted", "rejected", "not translated"] = Field(
        description="What translate_fsp made of it with this server's teacher."
    )


class PathList(BaseModel):
    paths: list[PathSummary]
    stored_paths: int = Field(description="Paths stored for these filters.")


@synthesis_tool(read_only=True, title="List sampled paths")
async def list_paths(
    ctx: Context,
    sampler: Annotated[Sampler | None, Field(description="Only this sampler's paths.")] = None,
    seed: Annotated[int | None, Field(ge=0, le=2**31 - 1, description="Only this seed's paths.")] = None,
    untranslated: Annotated[
        bool, Field(description="Only paths translate_fsp has not accepted yet.")
    ] = False,
    offset: Annotated[int, Field(ge=0, le=1_000_000, description="Skip this many first.")] = 0,
    limit: Annotated[int, Field(ge=1, le=200, description="Most paths returned.")] = 50,
) -> PathList:
    """The stored planned paths (from sample_fsp), in stream order, with their turns, tools and
    whether they were translated. Use it to pick path ids for translate_fsp."""
    svc = services(ctx)
    statuses = svc.store.path_statuses(svc.llm.teacher)
    paths = (
        p
        for p in svc.store.paths(sampler=sampler, seed=seed)
        if not (untranslated and statuses.get(p.id) == "accepted")
    )
    shown = [
        PathSummary(
            id=p.id,
            sampler=p.sampler,
            seed=p.seed,
            index=p.index,
            turns=len(p.turns),
            calls=len(p.calls),
            turn_types=[t.type for t in p.turns],
            tools=[c.tool for c in p.calls],
            translation=statuses.get(p.id, "not translated"),  # type: ignore[arg-type]
        )
        for p in islice(paths, offset, offset + limit)
    ]
    total = (
        svc.store.path_count(sampler)
        if seed is None
        else sum(1 for _ in svc.store.paths(sampler=sampler, seed=seed))
    )
    return PathList(paths=shown, stored_paths=total)
