"""The tool of the refusal stage: a miss-func, miss-params or irrelevance variant of a conversation."""

from __future__ import annotations

from typing import Annotated

from fastmcp import Context
from fastmcp.exceptions import ToolError
from pydantic import Field

from graph_toucan.errors import LLMError
from graph_toucan.refusal import Augmenter, RefusalKind, miss_func_sites, miss_param_sites

from .app import services, synthesis_tool, teacher_failed
from .conversations import ConversationResult, conversation_result, stored_conversation
from .inputs import Attempts, ConversationRef
from .progress import now, record


@synthesis_tool(uses_teacher=True, title="Make a refusal variant of a conversation")
async def augment_refusal(
    ctx: Context,
    conversation: ConversationRef,
    kind: Annotated[
        RefusalKind,
        Field(
            description="miss-func: a tool is unavailable until the user offers it; miss-params: the user "
            "leaves out a required value and the assistant asks; irrelevance: a request no tool serves."
        ),
    ],
    attempts: Attempts = 3,
) -> ConversationResult:
    """Make a verified refusal variant of an accepted translation (from translate_fsp), teaching a model
    to ask or decline instead of guessing, and store it as a new conversation linked to its source.
    The variant is seeded by the source's seed, so the same source, kind and teacher give the same id."""
    svc = services(ctx)
    source = stored_conversation(svc, conversation)
    if source.kind != "translation" or source.status != "accepted":
        raise ToolError(
            f"conversation {source.id} is {source.status}, of kind {source.kind}; refusal variants are made from "
            "accepted translations (translate_fsp results with status accepted)"
        )
    started, calls = now(), svc.llm.stats.calls
    augmenter = Augmenter(svc.llm, max_attempts=attempts, catalog=svc.store.tools())
    try:
        variant = await augmenter.variant(source, kind)
    except LLMError as exc:
        raise teacher_failed(exc, f"making the {kind} variant", "augment_refusal") from None
    if variant is None:
        sites = {"miss-func": miss_func_sites, "miss-params": miss_param_sites}.get(kind)
        if sites is not None and not sites(source):
            place = {
                "miss-func": "no first use of a tool the user asked for outside a split turn",
                "miss-params": "no required value the user stated once in a query",
            }[kind]
            raise ToolError(
                f"conversation {source.id} has no place for a {kind} variant ({place}); try another kind "
                "or another conversation"
            )
        raise ToolError(
            f"the teacher's answers for the {kind} variant of {source.id} never validated in {attempts} "
            "attempts; call augment_refusal again with more attempts"
        )
    svc.store.add_conversation(variant)
    result = conversation_result(variant, svc.llm.stats.calls - calls)
    record(svc.store, "augment_refusal", started, result | {"conversation": None})
    return ConversationResult.model_validate(result)
