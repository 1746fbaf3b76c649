"""The tool of the distillation stage: preference pairs (chosen and rejected steps) for DPO."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastmcp import Context
from fastmcp.exceptions import ToolError
from pydantic import BaseModel, Field

from graph_toucan.errors import LLMError
from graph_toucan.pipeline import make_pairs as make_workspace_pairs

from .app import services, synthesis_tool, teacher_failed
from .conversations import stored_conversation
from .inputs import ConversationRef
from .progress import Progress, now, record


class PairsResult(BaseModel):
    new_pairs: int = Field(description="Pairs made and stored by this call.")
    conversations: int = Field(description="Accepted translations considered.")
    already_paired: int = Field(description="Of those, how many had pairs before (kept, not redone).")
    pairs_total: int = Field(
        description="Pairs in the workspace now (export_dataset writes them as dpo rows)."
    )
    kinds: dict[str, int] = Field(
        description="Pairs in the workspace by the mistake the rejected side makes."
    )
    teacher: str
    llm_calls: int


@synthesis_tool(uses_teacher=True, title="Make preference pairs")
async def make_pairs(
    ctx: Context,
    conversation: Annotated[
        ConversationRef | None,
        Field(description="Only this accepted translation (default: every one without pairs yet)."),
    ] = None,
) -> PairsResult:
    """Make multi-turn preference pairs (DPO) by context distillation: the teacher answers each turn with
    the reference calls as hints (chosen) and with misleading hints (rejected: a forgotten value, the
    wrong tool, a made-up argument). Run it after translate_fsp; export_dataset then writes them as
    dpo rows. Conversations that have pairs already are skipped."""
    svc = services(ctx)
    chosen = None
    if conversation is not None:
        source = stored_conversation(svc, conversation)
        if source.kind != "translation" or source.status != "accepted":
            raise ToolError(
                f"conversation {source.id} is {source.status}, of kind {source.kind}; pairs are made from accepted "
                "translations (list_conversations with status accepted and kind translation)"
            )
        chosen = [source]
    candidates = chosen or list(
        svc.store.conversations(status="accepted", kind="translation", teacher=svc.llm.teacher)
    )
    if not candidates:
        raise ToolError("no accepted translations to make pairs from; call translate_fsp first")
    paired = svc.store.paired_conversations()
    started, calls = now(), svc.llm.stats.calls
    async with Progress(ctx, len(candidates)) as progress:
        try:
            made = await make_workspace_pairs(
                svc.store, svc.llm, candidates, progress=lambda *_: progress.advance(1, "pairs")
            )
        except LLMError as exc:
            raise teacher_failed(exc, "making preference pairs", "make_pairs") from None
    kinds = Counter(p.kind for p in svc.store.pairs())
    result = PairsResult(
        new_pairs=made,
        conversations=len(candidates),
        already_paired=sum(c.id in paired for c in candidates),
        pairs_total=sum(kinds.values()),
        kinds=dict(kinds.most_common()),
        teacher=svc.llm.teacher,
        llm_calls=svc.llm.stats.calls - calls,
    )
    record(svc.store, "make_pairs", started, result.model_dump())
    return result
