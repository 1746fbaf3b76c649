"""Function names within a conversation, a conversation as neutral chat messages, and as a readable
transcript (plain text, or styled segments for a terminal).

The messages are OpenAI-shaped (user, assistant with ``tool_calls``, ``tool`` with ``tool_call_id``);
exports and preference pairs start from them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from graph_toucan.argument_sources import parameter_classes
from graph_toucan.mock.files import slug
from graph_toucan.records import Conversation, ConversationTool, Message, Tool, ToolCall, Turn


def function_names(tools: Iterable[Tool]) -> dict[str, str]:
    """Tool id -> function name, unique within the set: the tool's name made a valid identifier, and
    ``<server>__<name>`` for names that two servers share."""
    tools = list(tools)
    base = {t.id: (re.sub(r"[^a-zA-Z0-9_-]+", "_", t.name).strip("_") or "tool")[:64] for t in tools}
    counts: dict[str, int] = {}
    for name in base.values():
        counts[name] = counts.get(name, 0) + 1
    names: dict[str, str] = {}
    taken: set[str] = set()
    for tool in sorted(tools, key=lambda t: (t.server_name, t.name)):
        name = base[tool.id]
        if counts[name] > 1:
            name = f"{slug(tool.server_name) or tool.server_id[:8]}__{name}"[:64]
        while name in taken:
            name = f"{name[:58]}_{tool.id[:5]}"
        taken.add(name)
        names[tool.id] = name
    return names


def conversation_tool(tool: Tool, name: str, *, distractor: bool = False) -> ConversationTool:
    return ConversationTool(
        name=name,
        tool_id=tool.id,
        tool=tool.ref,
        description=tool.description,
        input_schema=tool.input_schema,
        output_schema=tool.output_schema,
        distractor=distractor,
        parameter_classes=parameter_classes(tool),
    )


def tool_result(call: ToolCall) -> str:
    """What the ``tool`` message carries: the output as JSON, or the error."""
    if call.error is not None:
        return json.dumps({"error": call.error}, ensure_ascii=False)
    return json.dumps(call.output, ensure_ascii=False, sort_keys=True)


def turn_messages(turn: Turn) -> list[Message]:
    """A turn as messages: the user, one assistant message per step with its results, the answer."""
    messages = [Message(role="user", content=turn.user)]
    for step in turn.steps:
        messages.append(Message(role="assistant", tool_calls=step))
        messages.extend(
            Message(role="tool", content=tool_result(c), tool_call_id=c.id, name=c.name) for c in step
        )
    messages.append(Message(role="assistant", content=turn.assistant))
    return messages


def conversation_messages(conversation: Conversation) -> list[Message]:
    return [m for turn in conversation.turns for m in turn_messages(turn)]


Segment = tuple[str, str]
"""A piece of a transcript line and its style: a rich style name, or ``""`` for none."""


def transcript_lines(conversation: Conversation) -> list[list[Segment]]:
    """A conversation as readable lines (header, turns with calls, sources and results, checks), each a
    list of ``(text, style)`` segments: joined as plain text by :func:`transcript`, styled by the CLI."""
    c = conversation
    lines: list[list[Segment]] = [
        [
            (f"conversation {c.id}", "bold"),
            (f"  {c.status}  {c.kind}  path {c.path_id}  teacher {c.teacher}  seed {c.seed}", ""),
        ],
        [(f"style: {c.style}", "")],
    ]
    tools: list[Segment] = [("tools: ", "")]
    for i, tool in enumerate(c.tools):
        tools += [(", ", "")] if i else []
        tools.append((tool.name, "dim" if tool.distractor else ""))
    lines.append(tools)
    for k, turn in enumerate(c.turns, start=1):
        head: list[Segment] = [(f"turn {k}", "bold"), (f" {turn.type}", "")]
        if turn.unavailable:
            head += [("  ", ""), (f"(no {', '.join(turn.unavailable)})", "dim")]
        lines.append(head)
        lines.append([("  ", ""), ("user", "cyan"), (f": {turn.user}", "")])
        for step in turn.steps:
            for call in step:
                arguments = json.dumps(call.arguments, ensure_ascii=False)
                lines.append([("  ", ""), ("call", "magenta"), (f" {call.name}({arguments})", "")])
                sources = ", ".join(
                    f"{t.name} <- {t.source}{f' {t.call}.{t.field}' if t.call else ''}" for t in call.trace
                )
                if sources:
                    lines.append([("      ", ""), (sources, "dim")])
                lines.append([("      ", ""), ("->", "green"), (f" {tool_result(call)[:300]}", "")])
        if turn.refused:
            lines.append([("  ", ""), (f"missing, not invented: {', '.join(turn.refused)}", "dim")])
        lines.append([("  ", ""), ("assistant", "yellow"), (f": {turn.assistant}", "")])
    lines.append([(f"checks: {sum(ch.passed for ch in c.checks)}/{len(c.checks)} passed", "")])
    for check in c.checks:
        if not check.passed:
            lines.append([("  ", ""), (check.name, "red"), (f": {check.detail}", "")])
    for reason in c.reasons:
        lines.append([("  ", ""), ("reason", "red"), (f": {reason}", "")])
    return lines


def transcript(conversation: Conversation) -> str:
    """A conversation as a plain-text transcript (no markup), one line per message, call or check."""
    return "\n".join("".join(text for text, _ in line) for line in transcript_lines(conversation))
