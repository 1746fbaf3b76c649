"""Bounded input types shared by the tools, and the cap on lists a result carries.

Some clients (the MCP Inspector among them) send an all-digit string as a JSON number; ids and
prefixes accept that and read it back as text."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

LIST_CAP = 50  # longest list of issues or failures a result carries
MAX_ARGUMENT_BYTES = 64 * 1024
MAX_ARGUMENT_DEPTH = 16


def _json_depth(value: Any) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
    return depth


def bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` when it is small and shallow enough to pass to a mock or store; ValueError otherwise."""
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode())
    if size > MAX_ARGUMENT_BYTES:
        raise ValueError(f"arguments are {size} bytes; at most {MAX_ARGUMENT_BYTES} are accepted")
    if _json_depth(value) > MAX_ARGUMENT_DEPTH:
        raise ValueError(f"arguments nest deeper than {MAX_ARGUMENT_DEPTH} levels")
    return value


def _as_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


ToolRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=300,
        description="A tool: SERVER/TOOL, its id, or its name when only one server has it.",
    ),
    BeforeValidator(_as_text),  # after the Field, so that the schema keeps the constraints
]
PathText = Annotated[str, Field(min_length=1, max_length=4096)]
Seed = Annotated[int, Field(ge=0, le=2**31 - 1, description="Same seed and settings: the same result.")]
TeacherFilter = Annotated[
    str | None, Field(max_length=200, description="Only this teacher's conversations (e.g. offline).")
]
ConversationRef = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{4,16}$",
        description="A conversation id (from translate_fsp, augment_refusal or list_conversations) or a "
        "unique prefix of 4+ characters.",
    ),
    BeforeValidator(_as_text),
]
PathRef = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{4,16}$",
        description="A path id from sample_fsp or list_paths (or a unique prefix of 4+ characters).",
    ),
    BeforeValidator(_as_text),
]
Attempts = Annotated[
    int, Field(ge=1, le=10, description="Tries per turn, the failed checks fed back to the teacher.")
]


class Failure(BaseModel):
    tool: str
    reason: str
