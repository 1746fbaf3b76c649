"""The tool of the annotation stage: tags, class and output schema for every tool."""

from __future__ import annotations

from typing import Annotated

from fastmcp import Context
from fastmcp.exceptions import ToolError
from pydantic import BaseModel, Field

from graph_toucan.annotate import annotate_tools as annotate_workspace

from .app import services, synthesis_tool
from .inputs import LIST_CAP, Failure
from .progress import Progress, now, record


class AnnotateResult(BaseModel):
    tools: int
    annotated: int
    already_annotated: int
    schemas_from_examples: int
    echo_fields_dropped: int
    failed: list[Failure] = Field(description="Tools the teacher never answered validly (first 50).")
    teacher: str
    llm_calls: int


@synthesis_tool(uses_teacher=True, title="Annotate tools")
async def annotate_tools(
    ctx: Context,
    server: Annotated[
        str | None, Field(max_length=200, description="Only this server's tools (name or id).")
    ] = None,
) -> AnnotateResult:
    """Give every imported tool three tags, a class (query, action, computation) and an output schema,
    with the teacher. Run it after import_catalog and before build_graph. Only tools still missing
    something are annotated, so a rerun retries just the failures."""
    svc = services(ctx)
    tools = svc.store.tools(server=server)
    if not tools:
        raise ToolError(f"no tools{f' of server {server!r}' if server else ''}; call import_catalog first")
    started, calls = now(), svc.llm.stats.calls
    async with svc.stage_lock, Progress(ctx, len(tools)) as progress:
        report = await annotate_workspace(svc.store, svc.llm, tools=tools, progress=progress.advance)
    summary = report.as_dict() | {"teacher": svc.llm.teacher, "llm_calls": svc.llm.stats.calls - calls}
    record(svc.store, "annotate_tools", started, summary)
    return AnnotateResult.model_validate(summary | {"failed": summary["failed"][:LIST_CAP]})
