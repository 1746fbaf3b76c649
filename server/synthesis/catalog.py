"""Tools of the catalog stage: import a catalog, search and describe the imported tools."""

from __future__ import annotations

from typing import Annotated, Literal

from fastmcp import Context
from fastmcp.exceptions import ToolError
from pydantic import BaseModel, Field

from graph_toucan.catalog import FORMATS, ImportReport, count_entries, import_entries, read_catalog
from graph_toucan.records import ServerStatus, Tool, ToolExample
from graph_toucan.resources import example_catalog

from .app import Services, services, synthesis_tool
from .inputs import LIST_CAP, PathText, ToolRef
from .progress import Progress, now, record
from .security import allowed_command, allowed_url


class ImportResult(BaseModel):
    """What an import wrote (lists are cut at 50 entries)."""

    source: str
    servers: int
    tools_read: int
    imported: int
    new: int
    updated: int
    unchanged: int
    repaired: int
    skipped: int
    examples: int
    repairs: list[str]
    skips: list[str]
    unprobed: list[str]
    tools_in_workspace: int


async def _import_live(
    svc: Services, command: str | None, url: str | None, probe: int, timeout: float, progress: Progress
) -> ImportReport:
    from graph_toucan.live import LiveTarget, import_live  # the MCP SDK client loads slowly

    target = (
        LiveTarget(command=allowed_command(svc.config.allowed_commands, command))
        if command
        else LiveTarget(url=allowed_url(svc.config.allowed_urls, url or ""))
    )
    progress.total = 1
    report = await import_live(svc.store, [target], probe=probe, timeout=timeout, progress=progress.advance)
    if not report.servers and report.skipped:  # the one server could not be read: nothing imported
        raise ToolError(
            f"nothing was imported: {report.skipped[0]}. The server runs on the operator's machine: the "
            "command must be installed there (or the URL reachable from there)"
        )
    return report


@synthesis_tool(destructive=True, open_world=True, title="Import a tool catalog")
async def import_catalog(
    ctx: Context,
    path: Annotated[
        PathText | None,
        Field(description="A catalog file or TOUCAN folder inside the workspace or an allowed root."),
    ] = None,
    format: Annotated[
        Literal[FORMATS] | None,  # type: ignore[valid-type]
        Field(description="Catalog format; guessed from the file when left out."),
    ] = None,
    statuses: Annotated[
        list[ServerStatus] | None,
        Field(max_length=5, description="TOUCAN server statuses to import (default: usable)."),
    ] = None,
    server_name: Annotated[
        str | None, Field(max_length=200, description="Server name for single-server formats.")
    ] = None,
    command: Annotated[
        str | None,
        Field(max_length=1000, description="A stdio MCP server command line on the allow-list."),
    ] = None,
    url: Annotated[
        str | None, Field(max_length=2000, description="A streamable-HTTP MCP server URL on the allow-list.")
    ] = None,
    probe: Annotated[
        int, Field(ge=0, le=5, description="Real calls per read-only tool of a live server (examples).")
    ] = 0,
    timeout: Annotated[
        float, Field(ge=1, le=120, description="Seconds a live server has to start and list its tools.")
    ] = 30.0,
) -> ImportResult:
    """Import MCP tools into the workspace: from a catalog file or folder (TOUCAN, OpenAI tools, MCP
    tools/list, BFCL), or from a live MCP server (a command or URL the operator allowed). With no
    source it imports the bundled example catalog (22 servers, 98 tools). Use it first; rerunning is
    safe (unchanged tools are kept, changed tools replace the stored ones and lose their annotations)."""
    svc = services(ctx)
    if sum(x is not None for x in (path, command, url)) > 1:
        raise ToolError("give one source: path, command or url (none imports the bundled example catalog)")
    started = now()
    chosen = list(statuses or [ServerStatus.USABLE])
    async with svc.stage_lock, Progress(ctx) as progress:
        if command or url:
            report, source = await _import_live(svc, command, url, probe, timeout, progress), command or url
        else:
            catalog = svc.guard.resolve(path) if path else example_catalog()
            progress.total = count_entries(catalog, chosen)
            entries = read_catalog(catalog, format, statuses=chosen, server_name=server_name)
            report, source = import_entries(svc.store, entries, progress.advance), str(catalog)
    summary = report.as_dict()
    record(svc.store, "import_catalog", started, summary | {"source": source})
    lists = {k: summary[k][:LIST_CAP] for k in ("repairs", "skips", "unprobed")}
    return ImportResult.model_validate(
        summary | lists | {"source": source, "tools_in_workspace": svc.store.count("tools")}
    )


class ToolSummary(BaseModel):
    id: str
    ref: str = Field(description="SERVER/TOOL, how other tools name it.")
    server: str
    name: str
    tool_class: str | None
    tags: list[str]
    description: str = Field(description="The first 300 characters.")
    annotated: bool = Field(description="Has tags, a class and an output schema (a graph node).")
    mocked: bool = Field(description="run_mock_tool can call it.")


class ToolList(BaseModel):
    tools: list[ToolSummary]
    tools_in_workspace: int


def mocked_ids(svc: Services) -> set[str]:
    """Ids of the tools run_mock_tool can call."""
    return {loaded.mock.tool.id for loaded in svc.mocks().mocks.values()}


def _summary(tool: Tool, mocked: set[str]) -> ToolSummary:
    return ToolSummary(
        id=tool.id,
        ref=tool.ref,
        server=tool.server_name,
        name=tool.name,
        tool_class=tool.tool_class,
        tags=tool.tags,
        description=tool.description[:300],
        annotated=bool(tool.tags and tool.tool_class and tool.output_schema),
        mocked=tool.id in mocked,
    )


@synthesis_tool(read_only=True, title="Search imported tools")
async def search_tools(
    ctx: Context,
    query: Annotated[
        str | None,
        Field(min_length=1, max_length=200, description="Words to find in names, descriptions, servers."),
    ] = None,
    server: Annotated[str | None, Field(max_length=200, description="Only this server (name or id).")] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Most tools returned.")] = 20,
) -> ToolList:
    """Find imported tools by full-text search (or list them, without a query). Use it to pick tools
    for describe_tool, graph_neighbors, sample_fsp start points or run_mock_tool."""
    svc = services(ctx)
    tools = svc.store.tools(search=query, server=server, limit=limit)
    mocked = mocked_ids(svc)
    return ToolList(tools=[_summary(t, mocked) for t in tools], tools_in_workspace=svc.store.count("tools"))


class ToolDetail(BaseModel):
    tool: Tool
    examples: list[ToolExample] = Field(description="Up to 5 probe calls of the live server.")
    mocked: bool


def find_tool(svc: Services, ref: str) -> Tool:
    """The one tool ``ref`` names; an error listing the candidates when several share the name."""
    matches = svc.store.tool_matches(ref)
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(sorted(t.ref for t in matches)[:LIST_CAP])
        raise ToolError(f"{ref!r} names {len(matches)} tools ({names}); give one as SERVER/TOOL")
    raise ToolError(f"no tool matches {ref!r}; use SERVER/TOOL or an id from search_tools")


@synthesis_tool(read_only=True, title="Describe one tool")
async def describe_tool(ctx: Context, tool: ToolRef) -> ToolDetail:
    """One tool in full: description, input and output schemas, tags, class, and probe examples. Use
    it before calling run_mock_tool to see which arguments the tool takes."""
    svc = services(ctx)
    found = find_tool(svc, tool)
    return ToolDetail(
        tool=found, examples=svc.store.examples(found.id)[:5], mocked=found.id in mocked_ids(svc)
    )
