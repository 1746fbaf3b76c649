"""Context distillation into preference pairs (METHOD.md section 8).

For every assistant step of an accepted conversation the teacher answers with the reference calls as
a hint (positive: kept when it matches the reference), and with a wrong hint that produces one of the
typical errors (negative: kept when it differs from the reference):

- ``forgets-value``: a value the user gave in an earlier turn is asked for again instead of used;
- ``wrong-function``: another available function (a distractor first) is called;
- ``hallucinated-value``: a value the user stated is replaced by one nobody said.

The wrong hints are controlled perturbations of the reference, so the offline teacher (which follows
its hint) makes exact negatives; a real teacher turns them into its own wording.
"""

from __future__ import annotations

import random
from typing import Any

from graph_toucan.errors import LLMOutputError
from graph_toucan.ids import content_id
from graph_toucan.llm.client import LLM
from graph_toucan.messages import turn_messages
from graph_toucan.offline_teacher import phrase, user_value
from graph_toucan.records import Conversation, ErrorKind, Message, PreferencePair, ToolCall
from graph_toucan.schema import example_value
from graph_toucan.tracing import in_outputs, leaves, same_value, value_in_text
from graph_toucan.translate_tasks import ASSISTANT_STEP, AssistantStep

ERROR_KINDS: tuple[ErrorKind, ...] = ("forgets-value", "wrong-function", "hallucinated-value")


def _hint(calls: list[ToolCall] | None = None, content: str = "") -> dict[str, Any]:
    return {"calls": [{"name": c.name, "arguments": c.arguments} for c in calls or []], "content": content}


def _forgets(
    conversation: Conversation, k: int, step: list[ToolCall], rng: random.Random
) -> dict[str, Any] | None:
    """Ask again for a value the user gave in an earlier turn."""
    earlier = "\n".join(t.user for t in conversation.turns[:k])
    for call in step:
        for trace in call.trace:
            value = call.arguments.get(trace.name)
            if (
                trace.source == "query"
                and value_in_text(value, earlier)
                and not value_in_text(value, conversation.turns[k].user)
            ):
                return _hint(content=f"Before I go on: which {phrase(trace.name)} do you mean?")
    for call in step:  # a value taken from an earlier turn's result
        for trace in call.trace:
            if trace.source == "context" and trace.call not in {c.plan for c in conversation.turns[k].calls}:
                return _hint(content=f"Could you tell me the {phrase(trace.name)} to use?")
    return None


def _wrong_function(
    conversation: Conversation, k: int, step: list[ToolCall], rng: random.Random
) -> dict[str, Any] | None:
    """Call another available function in place of one of the step's."""
    turn = conversation.turns[k]
    used = {c.name for c in turn.calls}
    others = [t for t in conversation.tools if t.name not in used and t.name not in turn.unavailable]
    if not others:
        return None
    others.sort(key=lambda t: (not t.distractor, t.name))
    wrong = others[0] if others[0].distractor else rng.choice(others)
    target = rng.choice(step)
    props = wrong.input_schema.get("properties") or {}
    required = wrong.input_schema.get("required") or []
    arguments = {
        name: target.arguments.get(name, example_value(props.get(name) or {}, name))
        for name in props
        if name in required or name in target.arguments
    }
    calls = [
        c if c is not target else c.model_copy(update={"name": wrong.name, "arguments": arguments})
        for c in step
    ]
    return _hint(calls)


def _hallucinated(
    conversation: Conversation, k: int, step: list[ToolCall], rng: random.Random
) -> dict[str, Any] | None:
    """Replace a value the user stated with one nobody said."""
    said = "\n".join(t.user for t in conversation.turns[: k + 1])
    outputs = [c.output for t in conversation.turns[: k + 1] for c in t.calls]
    tools = {t.name: t for t in conversation.tools}
    for call in step:
        props = tools[call.name].input_schema.get("properties") or {}
        for trace in call.trace:
            value = call.arguments.get(trace.name)
            if trace.source != "query" or isinstance(value, bool) or not isinstance(value, str | int | float):
                continue
            for attempt in range(8):
                invented = user_value(
                    trace.name, props.get(trace.name) or {}, random.Random(f"{rng.random()}/{attempt}")
                )
                if (
                    isinstance(invented, str | int | float)
                    and not any(same_value(invented, v) for v in leaves(value))
                    and not value_in_text(invented, said)
                    and not in_outputs(invented, outputs)
                ):
                    wrong = call.model_copy(update={"arguments": {**call.arguments, trace.name: invented}})
                    return _hint([wrong if c is call else c for c in step])
    return None


PERTURB = {"forgets-value": _forgets, "wrong-function": _wrong_function, "hallucinated-value": _hallucinated}


def _matches(answer: AssistantStep, reference: list[ToolCall]) -> bool:
    if len(answer.calls) != len(reference):
        return False
    remaining = list(reference)
    for call in answer.calls:
        match = next(
            (
                r
                for r in remaining
                if r.name == call.name
                and r.arguments.keys() == call.arguments.keys()
                and all(same_value(r.arguments[n], call.arguments[n]) for n in r.arguments)
            ),
            None,
        )
        if match is None:
            return False
        remaining.remove(match)
    return True


def _message(answer: AssistantStep, key: str) -> Message:
    if not answer.calls:
        return Message(role="assistant", content=answer.content)
    calls = [
        ToolCall(
            id=f"call_{content_id(key, i, length=12)}",
            plan=f"x{i + 1}",
            name=c.name,
            tool_id="",
            arguments=c.arguments,
        )
        for i, c in enumerate(answer.calls)
    ]
    return Message(role="assistant", tool_calls=calls)


async def distill_conversation(conversation: Conversation, llm: LLM) -> list[PreferencePair]:
    """One preference pair per assistant step where the positive matched and a negative differs."""
    pairs: list[PreferencePair] = []
    history: list[Message] = []
    for k, turn in enumerate(conversation.turns):
        messages = turn_messages(turn)
        prefix = [*history, messages[0]]
        functions = [
            {"name": t.name, "description": t.description[:600], "input_schema": t.input_schema}
            for t in conversation.tools
            if t.name not in turn.unavailable
        ]
        position = 1
        for s, step in enumerate(turn.steps, start=1):
            pair = await _pair(conversation, llm, k, s, step, prefix, functions)
            if pair is not None:
                pairs.append(pair)
            position += 1 + len(step)
            prefix = [*history, *messages[:position]]
        history.extend(messages)
    return pairs


async def _pair(
    conversation: Conversation,
    llm: LLM,
    k: int,
    s: int,
    step: list[ToolCall],
    prefix: list[Message],
    functions: list[dict[str, Any]],
) -> PreferencePair | None:
    rng = random.Random(f"distill/{conversation.id}/{k}/{s}")
    kinds = list(ERROR_KINDS)
    rng.shuffle(kinds)
    base = {"functions": functions, "history": [m.model_dump(mode="json") for m in prefix]}
    try:
        positive = await llm.run(ASSISTANT_STEP, {**base, "hint": _hint(step)})
        if not _matches(positive, step):
            return None
        for kind in kinds:
            hint = PERTURB[kind](conversation, k, step, rng)
            if hint is None:
                continue
            negative = await llm.run(ASSISTANT_STEP, {**base, "hint": hint})
            if _matches(negative, step):
                continue
            return PreferencePair(
                conversation_id=conversation.id,
                turn=k + 1,
                step=s,
                kind=kind,
                prefix=prefix,
                chosen=Message(role="assistant", tool_calls=step),
                rejected=_message(negative, f"{conversation.id}/{k}/{s}/{kind}"),
                teacher=llm.teacher,
            )
    except LLMOutputError:
        return None  # the teacher never gave a usable step here; the conversation itself stays
    return None
