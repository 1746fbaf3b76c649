"""Tools of the graph stage: build the dependency graph, a tool's neighbours, the graph summary."""

from __future__ import annotations

from typing import Annotated, Any

from fastmcp import Context
from fastmcp.exceptions import ToolError
from pydantic import BaseModel, Field

from graph_toucan.graph import build_graph as build_workspace_graph
from graph_toucan.graph import build_graph_offline, find_node, graph_stats, load_graph, neighbourhood
from graph_toucan.pruning import DEFAULT_BUDGET, PruneConfig, selection_problem

from .app import services, synthesis_resource, synthesis_tool
from .inputs import LIST_CAP, Failure, ToolRef
from .progress import Progress, now, record


class JudgeFailure(BaseModel):
    source: str
    target: str
    reason: str


class BuildResult(BaseModel):
    tools: int
    nodes: int
    not_annotated: int = Field(description="Tools left out: call annotate_tools for them.")
    output_fields: int
    output_fields_filtered: int
    filter_failed: list[Failure]
    all_ordered_pairs: int
    candidate_pairs: int
    judged_now: int
    reused_judgements: int
    failed_judgements: list[JudgeFailure]
    edges: dict[str, int] = Field(description="Edges by type: full, partial, prerequisite.")
    seconds: float
    teacher: str
    llm_calls: int


@synthesis_tool(destructive=True, uses_teacher=True, title="Build the dependency graph")
async def build_graph(
    ctx: Context,
    budget: Annotated[
        float | None,
        Field(
            ge=1,
            le=1000,
            description="Pairs judged per tool on average: budget x tools in all, the best-scoring "
            f"over all pairs (default {DEFAULT_BUDGET:g}).",
        ),
    ] = None,
    cap: Annotated[
        int | None, Field(ge=1, le=200, description="Instead of a budget: each tool's best cap candidates.")
    ] = None,
    floor: Annotated[
        int, Field(ge=0, le=50, description="At least this many candidates per tool from other servers.")
    ] = 5,
) -> BuildResult:
    """Build the tool dependency graph: drop output fields that echo inputs, prune candidate pairs,
    have the teacher judge the pairs not judged before, and save the graph (replacing the previous
    one). Run it after annotate_tools and before sample_fsp."""
    problem = selection_problem(cap, budget, floor)
    if problem:
        raise ToolError(f"{problem}; change floor, cap or budget")
    svc = services(ctx)
    started, calls = now(), svc.llm.stats.calls
    config = PruneConfig(cap=cap, floor=floor, budget=budget)
    async with svc.stage_lock, Progress(ctx) as progress:
        stages = progress.stages(["filter outputs", "judge pairs"])
        if svc.offline_only():  # the offline teacher judges with the CPU: in a worker process
            report, calls_made = await svc.workers.run(
                build_graph_offline, svc.store.path, config, progress=stages
            )
        else:  # a real teacher: the work is waiting for answers, on the event loop
            _, report = await build_workspace_graph(svc.store, svc.llm, config=config, progress=stages)
            calls_made = svc.llm.stats.calls - calls
    summary = report.as_dict() | {"teacher": svc.llm.teacher, "llm_calls": calls_made}
    record(svc.store, "build_graph", started, summary)
    cut = {k: summary[k][:LIST_CAP] for k in ("filter_failed", "failed_judgements")}
    return BuildResult.model_validate(summary | cut)


class FieldLink(BaseModel):
    output: str = Field(description="Output field of the earlier tool (items[].id: a list's items).")
    input: str = Field(description="Input parameter of the later tool it fills.")


class Neighbour(BaseModel):
    tool: str
    type: str = Field(description="full, partial or prerequisite.")
    mapping: list[FieldLink]
    reason: str


class Neighbourhood(BaseModel):
    tool: str
    tool_class: str | None
    outputs: list[str]
    incoming: list[Neighbour] = Field(description="Tools whose outputs feed this one.")
    outgoing: list[Neighbour] = Field(description="Tools this one's outputs feed.")
    incoming_total: int
    outgoing_total: int


@synthesis_tool(read_only=True, title="A tool's graph neighbours")
async def graph_neighbors(
    ctx: Context,
    tool: ToolRef,
    limit: Annotated[int, Field(ge=1, le=200, description="Most edges returned each way.")] = 50,
) -> Neighbourhood:
    """A tool's edges in the dependency graph, both ways, with the field mappings. Use it to see which
    tools can feed a tool (or be fed by it) before choosing sample_fsp start tools."""
    graph = load_graph(services(ctx).store)
    info = neighbourhood(graph, find_node(graph, tool))
    return Neighbourhood(
        tool=info["tool"],
        tool_class=info["tool_class"],
        outputs=info["outputs"],
        incoming=info["in"][:limit],
        outgoing=info["out"][:limit],
        incoming_total=len(info["in"]),
        outgoing_total=len(info["out"]),
    )


@synthesis_resource("graph-toucan://graph/stats", name="graph_stats")
async def graph_summary(ctx: Context) -> dict[str, Any]:
    """The dependency graph: nodes, edges by type, components, degrees, most connected tools."""
    return graph_stats(load_graph(services(ctx).store))
