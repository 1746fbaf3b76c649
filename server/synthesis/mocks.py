"""Tools of the mock stage: build mocks for the workspace's tools, and call one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastmcp import Context
from fastmcp.exceptions import ToolError
from pydantic import AfterValidator, BaseModel, Field

from graph_toucan.errors import LLMError
from graph_toucan.mock import build_mocks as build_workspace_mocks
from graph_toucan.mock.build import DEFAULT_ATTEMPTS
from graph_toucan.mock.errors import MockError
from graph_toucan.records import Tool

from .app import Services, services, synthesis_tool, teacher_failed
from .catalog import find_tool
from .inputs import LIST_CAP, ToolRef, bounded_json
from .progress import Progress, now, record


class MockBuild(BaseModel):
    """Mocks built for a set of tools (a path is only translated on mocks)."""

    built: list[str] = Field(description="Tools whose mock was accepted now (first 50).")
    already_built: int
    unmockable: dict[str, str] = Field(description="Tools no mock passed the checks for, and why.")
    skipped: dict[str, str] = Field(description="Tools not annotated enough to mock, and why.")
    mocks_in_workspace: int = Field(description="Accepted mocks the workspace holds now.")


async def build_tool_mocks(
    svc: Services,
    tools: list[Tool] | None,
    progress: Progress,
    tool: str,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
) -> MockBuild:
    """Build the missing mocks of ``tools`` (None: every tool) into the workspace; ``tool`` is the MCP
    tool to call again when the teacher fails."""
    async with svc.stage_lock:
        try:
            report = await build_workspace_mocks(
                svc.store,
                svc.llm,
                svc.pool,
                tools=tools,
                attempts=attempts,
                concurrency=2 * svc.config.mock_workers,
                progress=lambda: progress.advance(1, "mocks"),
            )
        except LLMError as exc:
            raise teacher_failed(exc, "building mocks", tool) from None
    if report.failed:
        ref, reason = next(iter(report.failed.items()))
        raise ToolError(
            f"the teacher failed building the mock of {ref} ({reason}); the other mocks were kept: call "
            f"{tool} again to retry (answers already received come back from the call log)"
        )
    cut = dict(list(report.unmockable.items())[:LIST_CAP]), dict(list(report.skipped.items())[:LIST_CAP])
    return MockBuild(
        built=report.accepted[:LIST_CAP],
        already_built=report.cached,
        unmockable=cut[0],
        skipped=cut[1],
        mocks_in_workspace=len(svc.store.mocks(status="accepted")),
    )


@synthesis_tool(uses_teacher=True, title="Build mock tools")
async def build_mocks(
    ctx: Context,
    tools: Annotated[
        list[ToolRef] | None,
        Field(max_length=200, description="Only these tools (default: every annotated tool)."),
    ] = None,
    server: Annotated[
        str | None, Field(max_length=200, description="Only this server's tools (name or id).")
    ] = None,
    attempts: Annotated[
        int, Field(ge=1, le=10, description="Tries per mock, the failed checks fed back to the teacher.")
    ] = DEFAULT_ATTEMPTS,
) -> MockBuild:
    """Generate, check and store a mock (simulated version) of each annotated tool that has none yet,
    with the teacher; run_mock_tool and translate_fsp then use them. Run it after annotate_tools.
    Mocks already built from the same tool version are kept, so a rerun retries only the failures."""
    svc = services(ctx)
    if tools and server:
        raise ToolError("give tools or server, not both")
    chosen = [find_tool(svc, ref) for ref in tools] if tools else svc.store.tools(server=server) or None
    if server and not chosen:
        raise ToolError(f"no tools of server {server!r}; search_tools lists the servers")
    started = now()
    async with Progress(ctx, len(chosen) if chosen else svc.store.count("tools")) as progress:
        result = await build_tool_mocks(svc, chosen, progress, "build_mocks", attempts=attempts)
    record(svc.store, "build_mocks", started, result.model_dump())
    return result


class MockCall(BaseModel):
    tool: str = Field(description="The mock's published name.")
    ref: str = Field(description="SERVER/TOOL of the mocked tool.")
    conversation: str
    output: Any = Field(description="What the mock returned (valid against the tool's output schema).")
    mocks: Literal["workspace", "bundled"] = Field(
        description="Where this mock comes from: built in the workspace, or bundled with the example catalog."
    )


@synthesis_tool(title="Call a mock tool")
async def run_mock_tool(
    ctx: Context,
    tool: ToolRef,
    arguments: Annotated[
        dict[str, Any],
        AfterValidator(bounded_json),
        Field(description="The tool's arguments, valid against its input schema (at most 64 KiB)."),
    ],
    conversation: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9_.:-]{1,128}$",
            description="Calls with the same id see consistent state (a booking made is found later).",
        ),
    ] = "default",
) -> MockCall:
    """Call the simulated (mock) version of a tool in a sandbox and get a realistic, schema-valid
    answer, offline. The workspace's mocks (from build_mocks) are used where they exist, and the
    bundled mocks of the example catalog for every other tool; search_tools marks which are mocked."""
    svc = services(ctx)
    runtime = svc.mocks()
    try:
        loaded = runtime.find(tool)
    except MockError as exc:
        if "names several" in str(exc):  # ambiguous: the message lists the candidates
            raise
        raise ToolError(
            f"no mock of {tool!r}: neither the workspace nor the bundled example has one; call "
            "build_mocks for it (after annotate_tools), or pick a tool search_tools marks as mocked"
        ) from None
    output = await runtime.call(loaded.name, arguments, conversation=conversation)
    return MockCall(
        tool=loaded.name,
        ref=loaded.ref,
        conversation=conversation,
        output=output,
        mocks=svc.mock_source(loaded.mock),
    )
