"""Tool annotation tasks. Tags (METHOD.md section 1) group tools for TOUCAN's baseline sampler."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, Field, field_validator

from graph_toucan.llm.task import Task
from graph_toucan.records import Tool

_STOPWORDS = set(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "for",
        "in",
        "on",
        "at",
        "by",
        "with",
        "from",
        "into",
        "via",
        "using",
        "use",
        "used",
        "this",
        "that",
        "these",
        "those",
        "is",
        "are",
        "be",
        "it",
        "its",
        "as",
        "can",
        "will",
        "your",
        "you",
        "get",
        "set",
        "list",
        "make",
        "run",
        "any",
        "all",
        "one",
        "two",
        "tool",
        "tools",
        "server",
        "mcp",
        "api",
        "data",
        "given",
        "specified",
        "based",
        "provide",
        "provides",
        "returns",
        "return",
        "e",
        "g",
        "i",
        "etc",
        "if",
        "when",
        "which",
        "who",
        "what",
        "new",
        "more",
        "about",
        "up",
        "out",
        "not",
        "no",
        "only",
        "also",
        "other",
        "such",
    ]
)
_ACTIONS = {
    "get": "retrieval",
    "fetch": "retrieval",
    "read": "retrieval",
    "search": "search",
    "find": "search",
    "query": "search",
    "list": "listing",
    "create": "creation",
    "add": "creation",
    "send": "messaging",
    "update": "update",
    "edit": "update",
    "delete": "deletion",
    "remove": "deletion",
    "convert": "conversion",
    "calculate": "calculation",
    "compute": "calculation",
    "generate": "generation",
    "analyze": "analysis",
    "book": "booking",
    "download": "download",
    "upload": "upload",
    "check": "validation",
    "validate": "validation",
}


class ToolTags(BaseModel):
    """Exactly three short lowercase tags."""

    tags: list[str] = Field(min_length=3, max_length=3)

    @field_validator("tags")
    @classmethod
    def _short(cls, tags: list[str]) -> list[str]:
        cleaned = [t.strip().lower() for t in tags]
        for tag in cleaned:
            if not tag or len(tag.split()) > 3:
                raise ValueError(f"tag {tag!r} must be one to three words")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("tags must differ from each other")
        return cleaned


def _words(text: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return [w for w in re.findall(r"[a-z]+", spaced.lower()) if len(w) > 2 and w not in _STOPWORDS]


def offline_tags(inputs: dict[str, Any]) -> ToolTags:
    """Domain from the server's category (or its most frequent word), object from the description's
    most frequent noun-like word, operation from the tool name's verb."""
    tool = inputs["tool"]
    name_words = re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", tool["name"]).lower())
    verb = next((_ACTIONS[w] for w in name_words if w in _ACTIONS), "operation")
    counts = Counter(_words(tool.get("description") or "") + _words(" ".join(name_words)) * 2)
    domain = (tool.get("category") or "").lower().split(" & ")[0].strip()
    if not domain or domain == "others":
        domain = next((w for w, _ in counts.most_common() if w != verb), "general")
    obj = next((w for w, _ in counts.most_common() if w not in (domain, verb) and w not in _ACTIONS), "item")
    tags = list(dict.fromkeys([domain, obj, verb]))
    while len(tags) < 3:
        tags.append(f"{obj} {verb}" if f"{obj} {verb}" not in tags else "misc")
    return ToolTags(tags=tags)


TOOL_TAGS = Task("tool_tags", ToolTags, offline_tags, max_tokens=200)


def tags_inputs(tool: Tool) -> dict[str, Any]:
    """What the tags task is shown of a tool."""
    return {
        "tool": tool.model_dump(include={"name", "server_name", "category", "description", "input_schema"})
    }
