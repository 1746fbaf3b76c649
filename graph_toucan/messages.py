"""Function names within a conversation, and a conversation as neutral chat messages.

The messages are OpenAI-shaped (user, assistant with ``tool_calls``, ``tool`` with ``tool_call_id``);
exports and preference pairs start from them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

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
