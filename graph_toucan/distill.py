"""Preference pairs from accepted conversations, built by rule: the chosen side is the reference
assistant message, the rejected side the same message with one typical error. No teacher is asked
to copy a hint, so every pair is an exact, controlled contrast.

Pairs that reward the right call (the chosen side makes the reference calls):

- ``forgets-value``: the rejected step asks again for a value the user stated in an earlier turn;
- ``wrong-function``: it calls the available function most like the right one (same object words)
  in its place;
- ``hallucinated-value``: it replaces a value the user stated with a plausible other one (another
  city, a nearby date, a different amount) that nobody said.

Pairs that reward not calling (the chosen side is the reference text):

- ``guessed-value``: the user left out a required value and the chosen side asks for it; the rejected
  side makes the call with a guessed value;
- ``unsupported-call``: no offered function can do what the user asks (a withheld tool, an irrelevant
  request) and the chosen side declines; the rejected side calls the closest offered function anyway;
- ``needless-call``: the results are in and the chosen side answers; the rejected side repeats the
  last call instead.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Iterator
from typing import Any

from graph_toucan.fields import name_tokens, tool_object
from graph_toucan.ids import content_id
from graph_toucan.messages import turn_messages
from graph_toucan.offline_teacher import phrase
from graph_toucan.records import (
    Conversation,
    ConversationTool,
    ErrorKind,
    Message,
    PreferencePair,
    ToolCall,
    Turn,
)
from graph_toucan.tracing import in_outputs, leaves, same_value, value_in_text
from graph_toucan.user_values import is_placeholder, stated_value

CALL_ERRORS: tuple[ErrorKind, ...] = ("forgets-value", "wrong-function", "hallucinated-value")


def _call(key: str, name: str, arguments: dict[str, Any], tool_id: str = "") -> ToolCall:
    return ToolCall(
        id=f"call_{content_id(key, length=12)}", plan="x1", name=name, tool_id=tool_id, arguments=arguments
    )


def _said_before(conversation: Conversation, k: int) -> str:
    return "\n".join(t.user for t in conversation.turns[:k])


def _forgets(conversation: Conversation, k: int, step: list[ToolCall], rng: random.Random) -> Message | None:
    """Ask again for a value the user stated in an earlier turn (and not again in this one)."""
    earlier, now = _said_before(conversation, k), conversation.turns[k].user
    for call in step:
        for trace in call.trace:
            value = call.arguments.get(trace.name)
            if (
                trace.source == "query"
                and not isinstance(value, bool)
                and all(value_in_text(leaf, earlier) for leaf in leaves(value))
                and not any(value_in_text(leaf, now) for leaf in leaves(value))
            ):
                what = phrase(trace.name)
                return Message(
                    role="assistant",
                    content=rng.choice(
                        [f"Which {what} do you mean?", f"Could you tell me the {what} to use?"]
                    ),
                )
    return None


def closest_function(
    tools: list[ConversationTool], wanted: set[str], exclude: set[str]
) -> ConversationTool | None:
    """The offered function whose object words overlap ``wanted`` most (a distractor on ties), so a
    wrong call is a near miss, not one a model can tell apart by name alone."""
    options = [t for t in tools if t.name not in exclude]
    if not options:
        return None
    return max(
        options,
        key=lambda t: (len(tool_object(t.name, t.description) & wanted), t.distractor, t.name),
    )


def guessed_arguments(tool: ConversationTool, known: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Arguments for ``tool``'s required parameters: a same-named known value, else a plausible guess."""
    props = tool.input_schema.get("properties") or {}
    arguments = {}
    for name in tool.input_schema.get("required") or []:
        if name in known:
            arguments[name] = known[name]
        else:
            arguments[name] = stated_value(name, props.get(name) or {}, rng)
    return arguments


def _wrong_function(
    conversation: Conversation, k: int, step: list[ToolCall], rng: random.Random
) -> Message | None:
    turn = conversation.turns[k]
    target = rng.choice(step)
    by_name = {t.name: t for t in conversation.tools}
    right = by_name.get(target.name)
    wanted = set(tool_object(target.name, right.description if right else "")) | set(name_tokens(turn.user))
    wrong = closest_function(conversation.tools, wanted, {c.name for c in turn.calls} | set(turn.unavailable))
    if wrong is None:
        return None
    swapped = _call(
        f"{conversation.id}/{k}/{target.id}/wrong",
        wrong.name,
        guessed_arguments(wrong, target.arguments, rng),
    )
    return Message(role="assistant", tool_calls=[swapped if c is target else c for c in step])


def other_value(name: str, value: Any, schema: dict[str, Any], rng: random.Random) -> Any:
    """A plausible value of the same kind that is not ``value``: a nearby date, a changed amount,
    another entity of the schema's kind (never a placeholder)."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        day = dt.date.fromisoformat(value) + dt.timedelta(days=rng.choice([-3, -1, 1, 2, 7]))
        return day.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        return (
            value + rng.choice([-2, -1, 1, 3])
            if abs(value) < 20
            else round(value * rng.choice([0.5, 1.5, 2]))
        )
    if isinstance(value, float):
        return round(value * rng.choice([0.7, 1.3, 1.8]), 2)
    for attempt in range(12):
        candidate = stated_value(name, schema, random.Random(f"{rng.random()}/{attempt}"))
        if (
            isinstance(candidate, str | int | float)
            and not same_value(candidate, value)
            and not is_placeholder(candidate, name)
        ):
            return candidate
    return None


def _hallucinated(
    conversation: Conversation, k: int, step: list[ToolCall], rng: random.Random
) -> Message | None:
    said = "\n".join(t.user for t in conversation.turns[: k + 1])
    outputs = [c.output for t in conversation.turns[: k + 1] for c in t.calls]
    tools = {t.name: t for t in conversation.tools}
    for call in step:
        props = tools[call.name].input_schema.get("properties") or {}
        for trace in call.trace:
            value = call.arguments.get(trace.name)
            if trace.source != "query" or isinstance(value, bool) or not isinstance(value, str | int | float):
                continue
            invented = other_value(trace.name, value, props.get(trace.name) or {}, rng)
            if invented is None or value_in_text(invented, said) or in_outputs(invented, outputs):
                continue
            wrong = call.model_copy(update={"arguments": {**call.arguments, trace.name: invented}})
            return Message(role="assistant", tool_calls=[wrong if c is call else c for c in step])
    return None


PERTURB = {"forgets-value": _forgets, "wrong-function": _wrong_function, "hallucinated-value": _hallucinated}


def _guessed(conversation: Conversation, k: int, rng: random.Random) -> Message | None:
    """A split miss-param turn: the call made anyway, the withheld value guessed."""
    turn = conversation.turns[k]
    split = turn.split
    nxt = conversation.turns[k + 1] if k + 1 < len(conversation.turns) else None
    made = next((c for c in nxt.calls if c.plan == split.call), None) if nxt and split else None
    if split is None or split.parameter is None or made is None:
        return None
    tool = next((t for t in conversation.tools if t.name == made.name), None)
    schema = ((tool.input_schema.get("properties") or {}) if tool else {}).get(split.parameter) or {}
    guess = other_value(split.parameter, made.arguments.get(split.parameter), schema, rng)
    if guess is None:
        return None
    arguments = {**made.arguments, split.parameter: guess}
    return Message(
        role="assistant",
        tool_calls=[_call(f"{conversation.id}/{k}/guess", made.name, arguments, made.tool_id)],
    )


def _unsupported(conversation: Conversation, k: int, rng: random.Random) -> Message | None:
    """A request no offered function serves: the closest one called anyway."""
    turn = conversation.turns[k]
    wanted = set(name_tokens(turn.user))
    wrong = closest_function(conversation.tools, wanted, set(turn.unavailable) | {c.name for c in turn.calls})
    if wrong is None:
        return None
    arguments = guessed_arguments(wrong, {}, rng)
    return Message(
        role="assistant", tool_calls=[_call(f"{conversation.id}/{k}/unsupported", wrong.name, arguments)]
    )


def _needless(conversation: Conversation, k: int, rng: random.Random) -> Message | None:
    """Results are in: the last call repeated instead of an answer."""
    turn = conversation.turns[k]
    if not turn.steps:
        return None
    last = rng.choice(turn.steps[-1])
    again = _call(f"{conversation.id}/{k}/again", last.name, last.arguments, last.tool_id)
    return Message(role="assistant", tool_calls=[again])


def _text_kind(conversation: Conversation, turn: Turn) -> ErrorKind | None:
    if turn.split is not None and turn.split.kind == "miss-param" and not turn.calls:
        return "guessed-value"
    if (turn.split is not None and turn.split.kind == "miss-func") or conversation.kind == "irrelevance":
        return "unsupported-call"
    if turn.calls:
        return "needless-call"
    return None


def _steps(conversation: Conversation) -> Iterator[tuple[int, int, list[ToolCall] | None, list[Message]]]:
    """Every assistant message of the conversation with its prefix: ``(turn, step, calls, prefix)``,
    the calls None for a turn's final text."""
    history: list[Message] = []
    for k, turn in enumerate(conversation.turns):
        messages = turn_messages(turn)
        position = 1
        for s, step in enumerate(turn.steps, start=1):
            yield k, s, step, [*history, *messages[:position]]
            position += 1 + len(step)
        yield k, len(turn.steps) + 1, None, [*history, *messages[:position]]
        history.extend(messages)


def distill_conversation(conversation: Conversation) -> list[PreferencePair]:
    """One preference pair per assistant message where a rule makes a rejected side: each call step
    against one of the call errors (shuffled per step), and each final text that asks, declines or
    answers against the call a model should not have made."""
    pairs: list[PreferencePair] = []
    for k, s, step, prefix in _steps(conversation):
        rng = random.Random(f"distill/{conversation.id}/{k}/{s}")
        turn = conversation.turns[k]
        if step is not None:
            kinds = list(CALL_ERRORS)
            rng.shuffle(kinds)
            found = next(
                ((kind, m) for kind in kinds if (m := PERTURB[kind](conversation, k, step, rng))), None
            )
            chosen = Message(role="assistant", tool_calls=step)
        else:
            kind = _text_kind(conversation, turn)
            if kind == "needless-call" and k != len(conversation.turns) - 1:
                continue  # one answer pair per conversation: its last turn
            rule = {"guessed-value": _guessed, "unsupported-call": _unsupported, "needless-call": _needless}
            rejected = rule[kind](conversation, k, rng) if kind else None
            found = (kind, rejected) if kind and rejected else None
            chosen = Message(role="assistant", content=turn.assistant)
        if found is None:
            continue
        kind, rejected = found
        pairs.append(
            PreferencePair(
                conversation_id=conversation.id,
                turn=k + 1,
                step=s,
                kind=kind,
                prefix=prefix,
                chosen=chosen,
                rejected=rejected,
                teacher=conversation.teacher,
            )
        )
    return pairs
