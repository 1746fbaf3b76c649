"""Checks a keyword rule can get wrong, judged by meaning when the teacher is a real model.

Verification's intent and relevance rules compare words ("forecast" must appear for a forecast tool),
so "how is the weather looking around that hotel" fails them although it asks for exactly that. When
one of these rules fails for a real teacher, the teacher judges the message (``request_judge``); a turn
it passes records the verdict in ``Turn.judged``, which verification honours. The offline teacher's
answer is the rule itself, so offline data is judged by the rule alone.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from graph_toucan.llm.client import LLM
from graph_toucan.llm.task import Task
from graph_toucan.records import ConversationTool, Turn
from graph_toucan.verify import judge_by_rule

JUDGED = ("intents_stated", "irrelevant_request")


class Verdict(BaseModel):
    holds: bool
    reason: str = Field(default="", max_length=400)


REQUEST_JUDGE = Task(
    "request_judge",
    Verdict,
    lambda inputs: Verdict(holds=judge_by_rule(inputs), reason="keyword rule"),
    max_tokens=200,
    log_offline=False,
)


def _function(tool: ConversationTool) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description}


async def judged(
    llm: LLM,
    turn: Turn,
    failed: dict[str, str],
    tools: list[ConversationTool],
    request: str,
    *,
    question: Literal["intent", "relevance"] | None = None,
) -> Turn:
    """``turn`` with the teacher's verdicts on its failed intent or relevance rule (a real teacher
    only); rules it confirms stay failed."""
    if llm.backend_for(REQUEST_JUDGE.name).offline:
        return turn
    verdicts = dict(turn.judged)
    if "intents_stated" in failed:
        wanted = [c.tool_id for c in turn.planned if not c.implicit]
        if turn.split is not None:
            wanted = [turn.split.tool_id]
        by_id = {t.tool_id: t for t in tools}
        reasons = []
        for tool_id in wanted:
            tool = by_id.get(tool_id)
            if tool is None:
                continue
            verdict = await llm.run(
                REQUEST_JUDGE, {"question": "intent", "user": request, "function": _function(tool)}
            )
            if not verdict.holds:
                break
            reasons.append(verdict.reason)
        else:
            verdicts["intents_stated"] = "; ".join(dict.fromkeys(reasons)) or "judged by the teacher"
    if "irrelevant_request" in failed and question == "relevance":
        verdict = await llm.run(
            REQUEST_JUDGE,
            {"question": "relevance", "user": request, "functions": [_function(t) for t in tools]},
        )
        if verdict.holds:
            verdicts["irrelevant_request"] = verdict.reason or "judged by the teacher"
    return turn.model_copy(update={"judged": verdicts})
