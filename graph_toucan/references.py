"""References to earlier results, as a user says them: "that hotel", "the date of that rate", "the
second one".

A dependency from an explicit call (one the user asked for) is something the user can say: the later
request refers to the earlier result in words, without repeating its value. A dependency from an
implicit helper (insert-short) stays unsaid. Translation asks the teacher for the words, the offline
teacher writes them, and verification looks for them, all through this module.

>>> refers_to("Can you check the forecast near that hotel?", {"nouns": ["hotel"], "fields": ["id"]})
True
>>> refers_to("Check the forecast in Paris.", {"nouns": ["hotel"], "fields": ["id"]})
False
"""

from __future__ import annotations

import re
from typing import Any

from graph_toucan.fields import GENERIC, name_tokens, singular, tool_object, word_set, words
from graph_toucan.records import PathDependency, PlannedPath, Tool

# Words that point back at something already in the conversation.
_MARKERS = re.compile(
    r"\b(that|those|this|these|it|its|them|their|the same|earlier|before|previous(ly)?|above|"
    r"first|second|third|last|latest|top|you (just )?(find|found|get|got|list|listed|return|returned|gave|"
    r"pull|pulled|fetch|fetched|look up|looked up|show|showed|mentioned)|it (finds|returns|turns up|gives)|"
    r"from there|from it|from them|of them|from the results?)\b",
    re.IGNORECASE,
)
# Phrases that refer back on their own, whatever the thing is called.
_STANDALONE = re.compile(
    r"\b(that one|those ones|the (first|second|third|last|same|top) ones?|the one you (found|got|listed|"
    r"returned|showed))\b",
    re.IGNORECASE,
)


def needs_reference(dep: PathDependency, path: PlannedPath) -> bool:
    """Whether the user's words must refer to ``dep``'s source: a value flows, and the source is a
    call the user asked for (not a helper)."""
    if dep.input is None or dep.output is None:
        return False
    source = next((c for c in path.calls if c.id == dep.source), None)
    return source is not None and not source.implicit


def result_nouns(source_name: str, output: str | None) -> list[str]:
    """What the user calls the earlier result: the item of the output's list (``hotels[].id`` ->
    hotel), else the thing the source tool handles, head noun first (``search_hotels`` -> hotel,
    ``weather_greeting`` -> greeting)."""
    nouns: list[str] = []
    if output:
        parts = [p for p in re.split(r"\[\d*\]|\.", output) if p]
        for part in parts[:-1]:
            nouns += [singular(w) for w in words(part) if w not in GENERIC and not w.isdigit()]
    # the head noun first (weather_greeting -> greeting): naming the source by its first word as well
    # as asking for the next call would spell the source's name out
    nouns += [w for w in (singular(w) for w in reversed(words(source_name))) if w in tool_object(source_name)]
    nouns += sorted(tool_object(source_name))
    seen: list[str] = []
    for noun in nouns:
        if noun not in seen and len(noun) > 2 and noun not in _NOT_NOUNS:
            seen.append(noun)
    return seen or ["result"]


_NOT_NOUNS = word_set(
    """for and the with from into via all any per out off get set one two current latest recent new
    specific historical daily hourly weekly monthly top relative local global public private details
    detail info information data result results advanced advance server analysis tool tools api mcp service"""
)


def field_words(output: str | None) -> list[str]:
    """The words of the output field itself (``rates[0].date`` -> date)."""
    if not output:
        return []
    last = [p for p in re.split(r"\[\d*\]|\.", output) if p][-1:]
    return [w for w in words(last[0]) if not w.isdigit()] if last else []


def reference_of(
    dep: PathDependency, path: PlannedPath, names: dict[str, str], source: Tool
) -> dict[str, Any]:
    """A reference the turn of ``dep.target`` must make, as the prompts and the offline teacher see it."""
    position = {c.id: k for k, t in enumerate(path.turns) for c in t.calls}
    return {
        "call": dep.target,
        "parameter": dep.input,
        "source_call": dep.source,
        "source_function": names[source.id],
        "output": dep.output,
        "turn": position[dep.source] + 1,
        "same_turn": position[dep.source] == position[dep.target],
        "nouns": result_nouns(source.name, dep.output),
        "fields": field_words(dep.output),
    }


def refers_to(text: str, reference: dict[str, Any]) -> bool:
    """Whether ``text`` refers back to the earlier result: a pointing word ("that", "the same", "you
    found") together with what the result is ("hotel", "rate", its field), or a phrase that refers
    on its own ("the second one")."""
    if _STANDALONE.search(text):
        return True
    if not _MARKERS.search(text):
        return False
    have = set(name_tokens(text))
    wanted = set(name_tokens(" ".join([*reference.get("nouns", []), *reference.get("fields", [])])))
    return bool(wanted & have) or any(w[:5] == h[:5] for w in wanted if len(w) >= 5 for h in have)
