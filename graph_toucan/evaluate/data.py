"""Reading an export back as conversations to evaluate: per turn the user's words, the functions it
adds (miss-func), the reference's steps of calls with their results, its final answer, the turn's type
and what the reference does there (acts, asks or declines).

Rows come from a ``graph-toucan export`` folder (``trl`` JSONL, else ``openai``), with the replay columns
(``tool_refs``, ``seed``, ``mock_state``, ``turn_types``). A function the dataset offers later is defined
at the end of that turn's user message (after :data:`graph_toucan.export.INTRO`); here it is taken out
of the words and offered as a tool from that turn on, as a model under test gets it natively.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from graph_toucan.errors import GraphToucanError
from graph_toucan.export import INTRO, SPLITS

Role = Literal["act", "ask", "decline"]
READABLE_FORMATS = ("trl", "openai")
_INTRODUCED = re.compile(r"\n\n" + re.escape(INTRO) + r"\n<tools>\n(.*?)\n</tools>\s*$", re.DOTALL)


class EvalDataError(GraphToucanError):
    """A dataset folder or row an eval cannot use; the message says what to give instead."""


@dataclass
class RefCall:
    """One call of the reference: function name, arguments, and the result the dataset recorded."""

    name: str
    arguments: dict[str, Any]
    result: str = ""


@dataclass
class EvalTurn:
    user: str
    introduced: list[dict[str, Any]] = field(default_factory=list)  # function definitions offered from here
    steps: list[list[RefCall]] = field(default_factory=list)
    answer: str = ""
    type: str = "normal"
    role: Role = "act"

    @property
    def calls(self) -> list[RefCall]:
        return [c for step in self.steps for c in step]


@dataclass
class EvalConversation:
    """One row, ready to replay: its base functions, where each function's mock is, and its turns."""

    id: str
    kind: str
    seed: int
    functions: list[dict[str, Any]]  # OpenAI-style {name, description, parameters}, offered from turn 1
    refs: dict[str, str]  # function name -> tool id (else server/tool) of its mock
    turns: list[EvalTurn]
    initial_state: dict[str, Any] | None = None
    final_state: dict[str, Any] | None = None

    def all_functions(self) -> dict[str, dict[str, Any]]:
        found = {f["name"]: f for f in self.functions}
        for turn in self.turns:
            found.update({f["name"]: f for f in turn.introduced})
        return found


def _function(entry: Any) -> dict[str, Any]:
    function = entry.get("function", entry) if isinstance(entry, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise EvalDataError(f"a tool of the row has no function name: {json.dumps(entry)[:200]}")
    return {
        "name": function["name"],
        "description": function.get("description") or "",
        "parameters": function.get("parameters") or {"type": "object", "properties": {}},
    }


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.strip() else {}
    if not isinstance(raw, dict):
        raise EvalDataError(f"call arguments must be a JSON object, not {json.dumps(raw)[:100]}")
    return raw


def parse_row(row: dict[str, Any], where: str = "the row") -> EvalConversation:
    """One exported ``trl`` or ``openai`` row as an :class:`EvalConversation`."""
    missing = [c for c in ("id", "seed", "tool_refs", "messages", "tools") if c not in row]
    if missing:
        raise EvalDataError(
            f"{where} lacks {', '.join(missing)}: evaluate an export made with its replay columns "
            "('graph-toucan export' without --no-metadata), trl or openai format"
        )
    tools = json.loads(row["tools"]) if isinstance(row["tools"], str) else row["tools"]
    functions = [_function(t) for t in tools or []]
    refs = {r["name"]: r.get("tool_id") or r["tool"] for r in row["tool_refs"]}
    turns: list[EvalTurn] = []
    results: dict[str, RefCall] = {}
    for m in row["messages"]:
        role = m.get("role")
        if role == "user":
            text = m.get("content") or ""
            introduced: list[dict[str, Any]] = []
            block = _INTRODUCED.search(text)
            if block:
                introduced = [_function(json.loads(line)) for line in block.group(1).splitlines() if line]
                text = text[: block.start()]
            turns.append(EvalTurn(user=text, introduced=introduced))
        elif not turns:
            raise EvalDataError(f"{where} does not start with a user message")
        elif role == "assistant" and m.get("tool_calls"):
            step = []
            for c in m["tool_calls"]:
                call = RefCall(c["function"]["name"], _arguments(c["function"].get("arguments")))
                results[c.get("id") or f"#{len(results)}"] = call
                step.append(call)
            turns[-1].steps.append(step)
        elif role == "assistant":
            turns[-1].answer = m.get("content") or ""
        elif role == "tool" and m.get("tool_call_id") in results:
            results[m["tool_call_id"]].result = m.get("content") or ""
    if not turns:
        raise EvalDataError(f"{where} has no user message")
    state = row.get("mock_state")
    state = json.loads(state) if isinstance(state, str) else state or {}
    conversation = EvalConversation(
        id=str(row["id"]),
        kind=str(row.get("kind") or "translation"),
        seed=int(row["seed"]),
        functions=functions,
        refs=refs,
        turns=turns,
        initial_state=state.get("initial"),
        final_state=state.get("final"),
    )
    _assign_roles(conversation, row.get("turn_types"))
    return conversation


def _assign_roles(conversation: EvalConversation, types: list[str] | None) -> None:
    """Each turn's type (from the row's ``turn_types``, else inferred) and the reference's role there:
    an empty turn declines (irrelevance, or a function the next turn offers) or asks (a missing value)."""
    turns = conversation.turns
    if not types or len(types) != len(turns):
        types = ["normal"] * len(turns)
        for k in range(len(turns)):
            if k + 1 < len(turns) and turns[k + 1].introduced:
                types[k] = "empty"
        if conversation.kind == "irrelevance":
            types = ["empty"] * len(turns)
        elif conversation.kind == "miss-params":  # no types: the first answer that asks
            k = next((k for k, t in enumerate(turns[:-1]) if "?" in t.answer), None)
            if k is not None:
                types[k] = "empty"
    for k, turn in enumerate(turns):
        turn.type = types[k]
        if types[k] != "empty":
            turn.role = "act"
        elif conversation.kind == "irrelevance" or k + 1 >= len(turns) or turns[k + 1].introduced:
            turn.role = "decline"
        else:
            turn.role = "ask"


def dataset_file(data: Path, split: str) -> Path:
    """The JSONL of ``split`` in an export folder (``trl`` first, then ``openai``), a format folder, or
    the file itself."""
    if data.is_file():
        return data
    if not data.is_dir():
        raise EvalDataError(
            f"--data {data} does not exist; give an export folder ('graph-toucan export --out')"
        )
    for folder in [data / f for f in READABLE_FORMATS] + [data]:
        candidate = folder / f"{split}.jsonl"
        if candidate.is_file():
            return candidate
    raise EvalDataError(
        f"{data} holds no {split}.jsonl in trl/ or openai/; export with -f trl (the default exports it) "
        f"or choose another --split ({', '.join(SPLITS)})"
    )


def load_conversations(
    data: Path, split: str = "validation", limit: int | None = None
) -> list[EvalConversation]:
    """The conversations of one split (``all``: every split) of an export, in file order."""
    splits = list(SPLITS) if split == "all" else [split]
    if split != "all" and split not in SPLITS:
        raise EvalDataError(f"--split {split!r}: choose {', '.join(SPLITS)} or all")
    found: list[EvalConversation] = []
    for name in splits:
        if split == "all" and not any((data / f / f"{name}.jsonl").is_file() for f in READABLE_FORMATS):
            continue
        path = dataset_file(data, name)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise EvalDataError(f"line {n + 1} of {path} is not JSON: {exc}") from None
            found.append(parse_row(row, f"line {n + 1} of {path}"))
            if limit is not None and len(found) >= limit:
                return found
    if not found:
        raise EvalDataError(f"no conversations in the {split} split of {data}")
    return found
