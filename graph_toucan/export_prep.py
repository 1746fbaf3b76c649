"""What an export does to conversations before any format sees them: duplicate families dropped, and
parallel calls split into consecutive one-call steps for chat templates that allow one call per message.

- **Duplicates** are judged on requests, by family (a conversation and its refusal variants, which
  share their source's words by design). A request is a user message that stands on its own: the first
  of a conversation, and each later one that neither answers the assistant (the turn before asked for a
  value or said a function is missing) nor refers to a result of an earlier turn. Replies ("Tool
  enabled. Go ahead.", "Sorry, the city is Paris.") and references ("Could you check that hotel's
  rating?") recur across conversations by design and mean something only in their own; judged as
  duplicates, they dropped more families the larger the dataset (41% at 8,000 conversations on a
  3,000-tool catalog). Exact: the text casefolded with whitespace collapsed. Near: also numbers, quoted
  values and dates replaced by placeholders, so "Convert 100 USD to EUR" and "Convert 250 USD to EUR"
  are one request. A family any of whose requests a family kept earlier already has is dropped whole
  (its pairs with it), before the split, so no request is in one split twice or in both.
- **One call per message** (Llama 3.x's templates raise on more): a step of ``n`` parallel calls becomes
  ``n`` assistant messages of one call, each followed by its result. For a preference pair whose chosen
  side makes parallel calls, the calls both sides share go into the prompt with their results and the
  pair contrasts the first call where they differ; a pair where one side only adds or leaves out a call
  has no one-call form and is dropped (counted).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from graph_toucan.messages import tool_result
from graph_toucan.records import Conversation, Message, PreferencePair, ToolCall

Dedup = Literal["off", "exact", "near"]
DEDUP_MODES: tuple[Dedup, ...] = ("off", "exact", "near")

# a single quote opens a quoted value only where no letter comes before it and closes one only where none
# follows, so the apostrophes of "we're" and "that file's" do not quote the words between them
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|(?<![\w'])'[^'\s][^']*'(?!\w)|`[^`]*`")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2})?)?\b|\b\d{1,2}:\d{2}(?:\s?[ap]m)?\b")
_NUMBER = re.compile(r"[-+]?\d[\d,_]*(?:\.\d+)?")
_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"\s*([?.!,;:])+\s*$")


def normalise(text: str, mode: Dedup) -> str:
    """The form two user messages share when ``mode`` counts them as duplicates."""
    out = _SPACE.sub(" ", text.casefold()).strip()
    if mode == "near":
        out = _QUOTED.sub("<q>", out)
        out = _DATE.sub("<d>", out)
        out = _NUMBER.sub("<n>", out)
        out = _PUNCT.sub("", out)
    return out


def family_of(conversation: Conversation) -> str:
    return conversation.source_id or conversation.id


def requests(conversation: Conversation) -> list[str]:
    """The user messages of ``conversation`` that make a request of their own (see the module's text):
    the first, and each later one whose turn neither follows a split turn (the assistant asked for a
    value or said a function is missing, and the next message supplies it: verification reads the
    request of such a turn from the one before) nor has a call taking a value from a call of an
    earlier turn."""
    turn_of = {call.id: i for i, turn in enumerate(conversation.turns) for call in turn.planned}
    referring = {
        turn_of[d.target]
        for d in conversation.dependencies
        if d.input is not None
        and d.output is not None
        and d.source in turn_of
        and d.target in turn_of
        and turn_of[d.source] < turn_of[d.target]
    }
    turns = conversation.turns
    return [
        turn.user
        for i, turn in enumerate(turns)
        if i == 0 or (turns[i - 1].split is None and i not in referring)
    ]


@dataclass
class DedupReport:
    """Families and conversations before and after, and which family each dropped one repeats."""

    mode: Dedup
    families_before: int = 0
    families_after: int = 0
    conversations_before: int = 0
    conversations_after: int = 0
    dropped: dict[str, str] = field(default_factory=dict)  # dropped family root -> the kept family it repeats

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "families_before": self.families_before,
            "families_after": self.families_after,
            "conversations_before": self.conversations_before,
            "conversations_after": self.conversations_after,
            "families_removed": len(self.dropped),
            "conversations_removed": self.conversations_before - self.conversations_after,
        }


@dataclass(frozen=True, slots=True)
class DedupEntry:
    """What deduplication needs of one conversation: its id, family and request digests (a few bytes
    each), so an export of any size decides without holding a conversation (about 300 bytes each)."""

    id: str
    family: str
    keys: tuple[bytes, ...]

    @classmethod
    def of(cls, conversation: Conversation, mode: Dedup) -> DedupEntry:
        keys = (
            tuple(
                dict.fromkeys(
                    hashlib.blake2b(normalise(text, mode).encode(), digest_size=12).digest()
                    for text in requests(conversation)
                )
            )
            if mode != "off"
            else ()
        )
        return cls(conversation.id, family_of(conversation), keys)


def dedupe(entries: Iterable[DedupEntry], mode: Dedup) -> tuple[list[DedupEntry], DedupReport]:
    """The entries of the families whose requests no earlier family has (families in the order
    they first appear, so a grown workspace keeps what an earlier export kept; a family's members
    together), and what was dropped."""
    if mode not in DEDUP_MODES:
        raise ValueError(f"dedup {mode!r}: choose from {', '.join(DEDUP_MODES)}")
    families: dict[str, list[DedupEntry]] = {}
    for entry in entries:
        families.setdefault(entry.family, []).append(entry)
    report = DedupReport(mode=mode, families_before=len(families))
    report.conversations_before = sum(len(m) for m in families.values())
    seen: dict[bytes, str] = {}
    kept: list[DedupEntry] = []
    for root, members in families.items():
        keys = set().union(*(m.keys for m in members))
        clash = next((seen[k] for k in keys if k in seen), None)
        if clash is not None:
            report.dropped[root] = clash
            continue
        seen.update(dict.fromkeys(keys, root))
        kept.extend(members)
    report.families_after = report.families_before - len(report.dropped)
    report.conversations_after = len(kept)
    return kept, report


def request_repeats(conversations: Iterable[Conversation], mode: Dedup) -> tuple[int, int]:
    """(requests, those equal under ``mode`` to a request of another family): the duplicate figure,
    counted across families so a refusal variant repeating its source does not count."""
    owners: dict[str, set[str]] = {}
    keys: list[str] = []
    for c in conversations:
        for text in requests(c):
            key = normalise(text, mode)
            owners.setdefault(key, set()).add(family_of(c))
            keys.append(key)
    return len(keys), sum(1 for key in keys if len(owners[key]) > 1)


# -- one call per message ----------------------------------------------------------------------------------------


def one_call_steps(messages: list[Message]) -> list[Message]:
    """Each assistant message of several calls as one message per call, each followed by its result."""
    results = {m.tool_call_id: m for m in messages if m.role == "tool"}
    out: list[Message] = []
    for m in messages:
        if m.role == "assistant" and len(m.tool_calls) > 1:
            for call in m.tool_calls:
                out.append(m.model_copy(update={"tool_calls": [call]}))
                if call.id in results:
                    out.append(results[call.id])
        elif m.role == "tool" and _in_parallel_step(m, messages):
            continue  # already placed after its call
        else:
            out.append(m)
    return out


def _in_parallel_step(tool: Message, messages: list[Message]) -> bool:
    return any(
        m.role == "assistant"
        and len(m.tool_calls) > 1
        and any(c.id == tool.tool_call_id for c in m.tool_calls)
        for m in messages
    )


def one_call_pair(pair: PreferencePair) -> PreferencePair | None:
    """The pair in one-call form, or None when it has none (one side only adds or leaves out a call)."""
    prefix = one_call_steps(pair.prefix)
    chosen, rejected = pair.chosen.tool_calls, pair.rejected.tool_calls
    if len(chosen) <= 1 and len(rejected) <= 1:
        return pair.model_copy(update={"prefix": prefix})
    if not chosen or not rejected:  # text against calls: the text against the first call
        return pair.model_copy(
            update={
                "prefix": prefix,
                "chosen": pair.chosen.model_copy(update={"tool_calls": chosen[:1]}),
                "rejected": pair.rejected.model_copy(update={"tool_calls": rejected[:1]}),
            }
        )
    i = 0
    while i < min(len(chosen), len(rejected)) and _same_call(chosen[i], rejected[i]):
        i += 1
    if i >= len(chosen) or i >= len(rejected):
        return None
    for call in chosen[:i]:
        prefix += [
            Message(role="assistant", tool_calls=[call]),
            Message(role="tool", content=tool_result(call), tool_call_id=call.id, name=call.name),
        ]
    return pair.model_copy(
        update={
            "prefix": prefix,
            "chosen": pair.chosen.model_copy(update={"tool_calls": [chosen[i]]}),
            "rejected": pair.rejected.model_copy(update={"tool_calls": [rejected[i]]}),
        }
    )


def _same_call(a: ToolCall, b: ToolCall) -> bool:
    return (a.name, a.arguments) == (b.name, b.arguments)
