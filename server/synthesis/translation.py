"""The tool of the translation stage: a planned path becomes a verified conversation."""

from __future__ import annotations

from typing import Annotated, Any

from fastmcp import Context
from fastmcp.exceptions import ToolError
from pydantic import Field, model_validator

from graph_toucan.errors import LLMError
from graph_toucan.pipeline import translator_for
from graph_toucan.records import (
    AvailableTool,
    PathDependency,
    PlannedPath,
    PlannedTurn,
    Tool,
    conversation_id,
)

from .app import Services, services, synthesis_tool, teacher_failed
from .conversations import ConversationResult, conversation_result
from .inputs import Attempts, PathRef, bounded_json
from .mocks import MockBuild, build_tool_mocks
from .progress import Progress, now, record

MAX_PATH_TURNS = 20
MAX_PATH_CALLS = 40
MAX_PATH_TOOLS = 64


class InlinePath(PlannedPath):
    """A planned path in full, as sample_fsp returns it (possibly edited). Its id is recomputed from the
    content; an ``id`` key is accepted and ignored."""

    given_id: str | None = Field(None, alias="id", max_length=64, description="Ignored (recomputed).")
    turns: list[PlannedTurn] = Field(min_length=1, max_length=MAX_PATH_TURNS)
    dependencies: list[PathDependency] = Field(default_factory=list, max_length=4 * MAX_PATH_CALLS)
    available_tools: list[AvailableTool] = Field(min_length=1, max_length=MAX_PATH_TOOLS)

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        return bounded_json(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _few_calls(self) -> InlinePath:
        if len(self.calls) > MAX_PATH_CALLS:
            raise ValueError(f"the path has {len(self.calls)} calls; at most {MAX_PATH_CALLS} are accepted")
        return self

    def planned(self) -> PlannedPath:
        return PlannedPath.model_validate(self.model_dump(include=set(PlannedPath.model_fields)))


class TranslateResult(ConversationResult):
    mocks: MockBuild | None = Field(description="The mock build, unless build_missing_mocks was false.")


def _path_tools(svc: Services, path: PlannedPath) -> list[Tool]:
    tools = []
    for tool_id, ref in dict.fromkeys((c.tool_id, c.tool) for c in path.calls):
        tool = svc.store.get_tool(tool_id)
        if tool is None:
            raise ToolError(
                f"the path calls {ref} ({tool_id}), which is not in the workspace; import its catalog with "
                "import_catalog, or take a path from sample_fsp"
            )
        tools.append(tool)
    return tools


@synthesis_tool(uses_teacher=True, title="Translate a planned path into a conversation")
async def translate_fsp(
    ctx: Context,
    path_id: PathRef | None = None,
    path: Annotated[
        InlinePath | None,
        Field(description="Instead of path_id: a planned path in full, e.g. one of sample_fsp's, edited."),
    ] = None,
    seed: Annotated[
        int | None,
        Field(
            ge=0,
            le=2**31 - 1,
            description="Seed of the persona and simulated outputs (default: the path's seed). Same "
            "path, teacher and seed: the same conversation id.",
        ),
    ] = None,
    attempts: Attempts = 3,
    build_missing_mocks: Annotated[
        bool,
        Field(description="First build the missing mocks of the path's tools with the teacher."),
    ] = True,
) -> TranslateResult:
    """Translate one planned path (from sample_fsp or list_paths) into a multi-turn conversation with
    the teacher: user queries, filled arguments, tool calls answered by the workspace's mocks,
    assistant answers, every turn verified and retried with feedback. Stores the conversation,
    accepted or rejected, and returns it (or, rejected, the reasons). The mocks of the path's tools
    are built first when missing (as build_mocks would); then augment_refusal, make_pairs,
    export_dataset."""
    svc = services(ctx)
    if (path_id is None) == (path is None):
        raise ToolError(
            "give one of path_id (from sample_fsp or list_paths) or path (a planned path in full)"
        )
    if path is not None:
        planned = path.planned()
    else:
        found = svc.store.get_path(path_id or "")
        if found is None:
            raise ToolError(f"no single path matches {path_id!r}; take an id from sample_fsp or list_paths")
        planned = found
    tools = _path_tools(svc, planned)
    seed = planned.seed if seed is None else seed
    started, calls = now(), svc.llm.stats.calls
    async with Progress(ctx, (len(tools) if build_missing_mocks else 0) + 1) as progress:
        mocks = await build_tool_mocks(svc, tools, progress, "translate_fsp") if build_missing_mocks else None
        known = svc.store.get_conversation(conversation_id(planned.id, svc.llm.teacher, seed))
        if known is not None and known.status == "accepted":  # done before: no new teacher calls
            conversation = known
        else:
            translator = translator_for(svc.store, svc.llm, svc.pool, seed=seed, max_attempts=attempts)
            try:
                conversation = await translator.translate(planned, seed=seed)
            except LLMError as exc:
                raise teacher_failed(exc, f"translating path {planned.id}", "translate_fsp") from None
            svc.store.add_conversation(conversation, position=planned.index)
        progress.advance(1, conversation.status)
    result = conversation_result(conversation, svc.llm.stats.calls - calls) | {"mocks": mocks}
    recorded = {"conversation": None, "mocks": mocks.model_dump() if mocks else None}
    record(svc.store, "translate_fsp", started, result | recorded)
    return TranslateResult.model_validate(result)
