"""The teacher's tasks in back-and-forth translation.

Back-translation has one task per turn type (``query_<type>``, one prompt each); forward translation
fills one function's arguments with the source of every value (``fill_arguments``); then the turn's
answer (``assistant_answer``).
Answers are checked against the inputs they were asked for (``Task.parse`` passes them as context).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, model_validator

from graph_toucan import offline_teacher
from graph_toucan.llm.task import Task, brief
from graph_toucan.records import Mention, PathDependency, SplitDetail, ToolCall, Turn, TurnType


class UserQuery(BaseModel):
    """The user's words for one turn, and the values they state (for which call and parameter)."""

    query: str = Field(min_length=1, max_length=4000)
    mentions: list[Mention] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_parameters(self, info: ValidationInfo) -> UserQuery:
        inputs = info.context
        if not isinstance(inputs, dict) or "functions" not in inputs:
            return self
        known = {(f["call"], p["name"]) for f in inputs["functions"] for p in f["parameters"]}
        for m in self.mentions:
            if (m.call, m.parameter) not in known:
                raise ValueError(
                    f"mention {m.call}.{m.parameter} names no parameter of this turn's functions; "
                    f"use one of {sorted(f'{c}.{p}' for c, p in known)}"
                )
        return self


class FilledArgument(BaseModel):
    name: str
    value: Any
    source: Literal["query", "context", "default"]
    call: str | None = Field(default=None, description="For context: the earlier call id, e.g. c1.")
    field: str | None = Field(default=None, description="For context: the output field, e.g. items[0].id.")


class FilledArguments(BaseModel):
    """One function's arguments with their sources, and the required parameters found nowhere."""

    arguments: list[FilledArgument] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known(self, info: ValidationInfo) -> FilledArguments:
        inputs = info.context
        if not isinstance(inputs, dict) or "function" not in inputs:
            return self
        params = set((inputs["function"]["input_schema"].get("properties") or {}).keys())
        calls = {c["call"] for c in inputs["context"]}
        for arg in self.arguments:
            if params and arg.name not in params:
                raise ValueError(f"{arg.name!r} is not a parameter of {inputs['function']['name']}")
            if arg.source == "context" and arg.call not in calls:
                raise ValueError(
                    f"argument {arg.name!r} names source call {arg.call!r}, which is not in the context; "
                    f"use one of {sorted(calls)}"
                )
        unknown = [m for m in self.missing if params and m not in params]
        if unknown:
            raise ValueError(f"missing names unknown parameters {unknown}")
        return self


class AssistantAnswer(BaseModel):
    content: str = Field(min_length=1, max_length=6000)


QUERY_TASKS: dict[TurnType, Task[UserQuery]] = {
    turn_type: Task(
        name=f"query_{turn_type.replace('-', '_')}",
        output=UserQuery,
        offline=lambda inputs: UserQuery.model_validate(offline_teacher.write_query(inputs), context=inputs),
        max_tokens=800,
        temperature=0.8,
        log_offline=False,
    )
    for turn_type in (
        "normal",
        "empty",
        "merge",
        "insert-short",
        "insert-long",
        "insert-mixed",
        "merge-insert",
    )
}

FILL_ARGUMENTS = Task(
    name="fill_arguments",
    output=FilledArguments,
    offline=lambda inputs: FilledArguments.model_validate(
        offline_teacher.fill_arguments(inputs), context=inputs
    ),
    max_tokens=1200,
    log_offline=False,
)

ASSISTANT_ANSWER = Task(
    name="assistant_answer",
    output=AssistantAnswer,
    offline=lambda inputs: AssistantAnswer.model_validate(offline_teacher.answer(inputs)),
    max_tokens=800,
    temperature=0.5,
    log_offline=False,
)


def fill_inputs(
    *,
    function: dict[str, Any],
    call: str,
    user_messages: list[str],
    context: list[ToolCall],
    dependencies: list[PathDependency],
    mentions: list[Mention],
    feedback: list[str],
) -> dict[str, Any]:
    """The inputs of ``fill_arguments`` for call ``call`` of ``function`` (name, description, schema):
    what the user said, the earlier calls that succeeded, the dependency facts into this call, and
    the values the user's words state for it."""
    return {
        "function": function,
        "call": call,
        "user_messages": user_messages,
        "context": [
            {"call": c.plan, "function": c.name, "arguments": c.arguments, "output": c.output}
            for c in context
            if c.error is None
        ],
        "dependencies": [
            {"source": d.source, "output": d.output, "input": d.input, "type": d.type}
            for d in dependencies
            if d.target == call and d.input and d.output
        ],
        "mentions": [{"parameter": m.parameter, "value": m.value} for m in mentions if m.call == call],
        "feedback": feedback,
    }


def history(turns: list[Turn]) -> list[dict[str, str]]:
    """The conversation so far as the prompts show it: each turn's user message and final answer."""
    return [{"user": t.user, "assistant": t.assistant} for t in turns]


def answer_inputs(
    *,
    earlier: list[Turn],
    style: dict[str, str],
    user: str,
    calls: list[ToolCall],
    feedback: list[str],
    split: SplitDetail | None = None,
    function: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The inputs of ``assistant_answer``: the turn's results, or for a split turn what is missing
    (``function``: name, description and input schema of the call that cannot be made yet)."""
    facts = None
    if split is not None and function is not None:
        prop = (
            (function["input_schema"].get("properties") or {}).get(split.parameter)
            if split.parameter
            else None
        )
        facts = {
            "kind": split.kind,
            "name": function["name"],
            "description": brief(function["description"], 1500),
            "parameter": split.parameter,
            "parameter_description": prop.get("description", "") if isinstance(prop, dict) else "",
        }
    return {
        "turn": len(earlier) + 1,
        "style": style,
        "history": history(earlier),
        "user": user,
        "calls": [
            {"function": c.name, "arguments": c.arguments, "output": c.output, "error": c.error}
            for c in calls
        ],
        "split": facts,
        "feedback": feedback,
    }
