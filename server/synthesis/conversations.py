"""Tools over stored conversations: list them, show one (and the resource of one); the result shape
translate_fsp and augment_refusal share."""

from __future__ import annotations

import re
import textwrap
from itertools import islice
from typing import Annotated, Any, Literal

from fastmcp import Context
from fastmcp.exceptions import ResourceError, ToolError
from pydantic import BaseModel, Field

from graph_toucan.messages import transcript as plain_transcript
from graph_toucan.records import Conversation

from .app import Services, services, synthesis_resource, synthesis_tool
from .inputs import LIST_CAP, ConversationRef


class ConversationResult(BaseModel):
    """A stored conversation: the whole of it when accepted, the reasons when rejected."""

    id: str = Field(description="For get_conversation, augment_refusal, graph-toucan://conversations/{id}.")
    status: Literal["accepted", "rejected"]
    kind: str = Field(description="translation, miss-func, miss-params or irrelevance.")
    path_id: str
    source_id: str | None = Field(description="For a refusal variant: the conversation it came from.")
    teacher: str
    seed: int
    turns: int
    calls: int
    checks_passed: int
    checks_total: int
    reasons: list[str] = Field(description="Why it was rejected (empty when accepted).")
    conversation: Conversation | None = Field(
        description="The verified conversation when accepted (get_conversation shows a rejected one)."
    )
    llm_calls: int = Field(description="Teacher calls made for this result (cached answers included).")


def conversation_result(conversation: Conversation, llm_calls: int) -> dict[str, Any]:
    c = conversation
    return {
        "id": c.id,
        "status": c.status,
        "kind": c.kind,
        "path_id": c.path_id,
        "source_id": c.source_id,
        "teacher": c.teacher,
        "seed": c.seed,
        "turns": len(c.turns),
        "calls": len(c.calls),
        "checks_passed": sum(ch.passed for ch in c.checks),
        "checks_total": len(c.checks),
        "reasons": c.reasons[:LIST_CAP],
        "conversation": c if c.status == "accepted" else None,
        "llm_calls": llm_calls,
    }


def stored_conversation(svc: Services, ref: str) -> Conversation:
    found = svc.store.get_conversation(ref)
    if found is None:
        raise ToolError(
            f"no single conversation matches {ref!r}; take an id from list_conversations (or a longer prefix)"
        )
    return found


class ConversationSummary(BaseModel):
    id: str
    status: Literal["accepted", "rejected"]
    kind: str
    source_id: str | None
    path_id: str
    teacher: str
    turns: int
    calls: int
    turn_types: list[str]
    pairs: int = Field(description="Preference pairs made from it (make_pairs).")
    reason: str | None = Field(description="The first reason it was rejected, shortened.")


class ConversationList(BaseModel):
    conversations: list[ConversationSummary]
    total: int = Field(description="Conversations stored for these filters.")


@synthesis_tool(read_only=True, title="List conversations")
async def list_conversations(
    ctx: Context,
    status: Annotated[Literal["accepted", "rejected"] | None, Field(description="Only this status.")] = None,
    kind: Annotated[
        Literal["translation", "miss-func", "miss-params", "irrelevance"] | None,
        Field(description="Only this kind."),
    ] = None,
    offset: Annotated[int, Field(ge=0, le=1_000_000, description="Skip this many first.")] = 0,
    limit: Annotated[int, Field(ge=1, le=200, description="Most conversations returned.")] = 50,
) -> ConversationList:
    """The stored conversations (translations and refusal variants, accepted and rejected) in sample
    order: id, status, kind, turns, calls, turn types, pairs, and the first reason of a rejection. Use
    it to find ids for get_conversation, augment_refusal and make_pairs."""
    store = services(ctx).store
    paired: dict[str, int] = {}
    for pair in store.pairs():
        paired[pair.conversation_id] = paired.get(pair.conversation_id, 0) + 1
    found = islice(store.conversations(status=status, kind=kind), offset, offset + limit)
    rows = [
        ConversationSummary(
            id=c.id,
            status=c.status,
            kind=c.kind,
            source_id=c.source_id,
            path_id=c.path_id,
            teacher=c.teacher,
            turns=len(c.turns),
            calls=len(c.calls),
            turn_types=list(c.turn_types),
            pairs=paired.get(c.id, 0),
            reason=textwrap.shorten(c.reasons[0], 200, placeholder=" ...") if c.reasons else None,
        )
        for c in found
    ]
    return ConversationList(conversations=rows, total=store.conversation_count(status=status, kind=kind))


class ConversationDetail(BaseModel):
    conversation: Conversation
    transcript: str | None = Field(description="The conversation as readable plain text.")


@synthesis_tool(read_only=True, title="Show one conversation")
async def get_conversation(
    ctx: Context,
    conversation: ConversationRef,
    transcript: Annotated[bool, Field(description="Add a readable plain-text transcript.")] = True,
) -> ConversationDetail:
    """One stored conversation in full (turns, calls with arguments, sources and outputs, checks,
    reasons), with a readable transcript. Use it to inspect a translate_fsp or augment_refusal result,
    in particular a rejected one."""
    found = stored_conversation(services(ctx), conversation)
    return ConversationDetail(conversation=found, transcript=plain_transcript(found) if transcript else None)


@synthesis_resource("graph-toucan://conversations/{id}", name="conversation")
async def conversation_resource(id: str, ctx: Context) -> dict[str, Any]:
    """One stored conversation by id (or a unique prefix of at least 4 characters)."""
    found = services(ctx).store.get_conversation(id) if re.fullmatch(r"[0-9a-f]{4,16}", id) else None
    if found is None:
        raise ResourceError(f"no single conversation matches {id!r}; take an id from list_conversations")
    return found.model_dump(mode="json")
