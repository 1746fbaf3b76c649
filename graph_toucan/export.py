"""Dataset exports for trainers: TRL / transformers chat messages (arguments as JSON objects), the OpenAI
fine-tuning API's messages (arguments as JSON strings), TRL DPO pairs, LLaMA-Factory ShareGPT and Hermes
tags; JSONL and Parquet per split, and a dataset card.

Every sample starts from :func:`graph_toucan.messages.turn_messages`. Only accepted conversations are
exported (rejected ones failed verification; they count in the statistics only); one whose functions
cannot be expressed (see below) is skipped and reported, never written half right.

- **Splits** are by conversation *family*: a refusal variant goes where its source conversation goes, and a
  preference pair where its conversation goes, so no trajectory is both trained on and validated against.
  The split of a family is a seeded hash of its root id, so re-exporting a grown workspace keeps every
  earlier conversation in its split.
- **Functions withheld in a turn** (``Turn.unavailable``: miss-func splits and refusals): a sample's tools list
  holds only the functions offered from the first turn; a function offered later is defined, in the
  format's own tool shape inside ``<tools></tools>``, at the end of the user message of the turn that
  makes it available. The model never sees a function before the conversation offers it. A function
  withheld again after being offered has no such form; that conversation is skipped.
- **Arguments**: chat templates (Qwen, Llama, Hermes ...) render ``arguments`` with ``tojson``, so ``trl`` and
  ``dpo`` hold them as JSON objects; only ``openai`` (the OpenAI fine-tuning API) holds JSON strings.
- **Arrow-safe rows**: ``tools`` is a JSON string column in ``trl``, ``dpo`` and ``sharegpt`` (TRL's trainers
  ``json.loads`` it), so rows whose tool schemas differ never break a loader's type inference; the
  metadata columns have one type in every row. ``openai`` keeps the list of tools the API wants.
- **Parquet** has the same rows with every free-form JSON value (``tools``, ``arguments``) as a JSON string
  (Arrow needs one schema per column), as in TOUCAN's own Parquet files; the dataset card points ``trl`` and
  ``dpo`` at the JSONL files, which ``datasets`` reads with the arguments as objects.
- **Duplicates and one-call templates**: see :mod:`graph_toucan.export_prep`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from graph_toucan.atomic import replacing, write_atomic
from graph_toucan.errors import GraphToucanError
from graph_toucan.export_prep import (
    DEDUP_MODES,
    Dedup,
    DedupReport,
    dedupe,
    family_of,
    one_call_pair,
    one_call_steps,
)
from graph_toucan.messages import turn_messages
from graph_toucan.records import Conversation, ConversationTool, Message, PreferencePair
from graph_toucan.stats import StatsReport, compute_stats, stats_markdown, write_stats
from graph_toucan.store import Store

Format = Literal["trl", "openai", "dpo", "sharegpt", "hermes"]
FORMATS: tuple[Format, ...] = ("trl", "openai", "dpo", "sharegpt", "hermes")
SPLITS = ("train", "validation")
INTRO = "Functions available from now on:"
HERMES_SYSTEM = (
    "You are a function calling AI model. You may call one or more functions to help with the user's "
    "request. The functions are described by JSON signatures inside <tools></tools> XML tags; more may be "
    "offered later in the conversation the same way. Do not guess values the user has not given.\n"
    "<tools>\n{tools}\n</tools>\n"
    "For each function call, return a JSON object with the function name and its arguments inside "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{{"name": <function-name>, "arguments": <args-dict>}}\n'
    "</tool_call>\nResults come back inside <tool_response></tool_response> XML tags."
)
ToolShape = Callable[[ConversationTool], dict[str, Any]]


class ExportError(GraphToucanError):
    """A conversation that cannot be exported, or an output folder or hub push that does not work."""


# -- tools and availability --------------------------------------------------------------------------------


def openai_tool(tool: ConversationTool) -> dict[str, Any]:
    """A tool in OpenAI's function format (also what Hermes lists inside ``<tools>``)."""
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.input_schema},
    }


def plain_tool(tool: ConversationTool) -> dict[str, Any]:
    """A tool as LLaMA-Factory's ``tools`` string lists it: name, description, parameters."""
    return {"name": tool.name, "description": tool.description, "parameters": tool.input_schema}


def availability(
    conversation: Conversation,
) -> tuple[list[ConversationTool], dict[int, list[ConversationTool]]]:
    """The tools offered from the first turn, and those first offered at turn ``k`` (0-based, k >= 1).

    Raises :class:`ExportError` when a function offered in one turn is withheld again later, which one tools
    list per sample cannot express."""
    offered: set[str] = set()
    base: list[ConversationTool] = []
    introduced: dict[int, list[ConversationTool]] = {}
    for k, turn in enumerate(conversation.turns):
        available = [t for t in conversation.tools if t.name not in turn.unavailable]
        names = {t.name for t in available}
        if offered - names:
            raise ExportError(
                f"conversation {conversation.id}: turn {k + 1} withholds {sorted(offered - names)} "
                "after offering it; one tools list per sample cannot express that"
            )
        new = [t for t in available if t.name not in offered]
        if k == 0:
            base = new
        elif new:
            introduced[k] = new
        offered |= names
    return base, introduced


def _introduce(
    messages: list[Message], introduced: dict[int, list[ConversationTool]], shape: ToolShape
) -> list[Message]:
    """Append the definitions of newly offered functions to the user message of the turn offering them
    (the k-th user message is turn k's)."""
    out, k = [], -1
    for m in messages:
        if m.role == "user":
            k += 1
            if k in introduced:
                lines = "\n".join(json.dumps(shape(t), ensure_ascii=False) for t in introduced[k])
                m = m.model_copy(update={"content": f"{m.content}\n\n{INTRO}\n<tools>\n{lines}\n</tools>"})
        out.append(m)
    return out


def _messages(
    conversation: Conversation, shape: ToolShape, one_call: bool = False
) -> tuple[list[ConversationTool], list[Message]]:
    base, introduced = availability(conversation)
    messages = [m for turn in conversation.turns for m in turn_messages(turn)]
    if one_call:
        messages = one_call_steps(messages)
    return base, _introduce(messages, introduced, shape)


# -- formats -------------------------------------------------------------------------------------------------


def chat_message(m: Message, *, string_arguments: bool = False) -> dict[str, Any]:
    """A neutral message in the OpenAI chat shape that transformers' chat templates read: ``tool`` answers
    by call id (and function name), arguments as JSON objects, or JSON strings for the OpenAI API."""
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id, "name": m.name, "content": m.content}
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {
                    "name": c.name,
                    "arguments": json.dumps(c.arguments, ensure_ascii=False)
                    if string_arguments
                    else c.arguments,
                },
            }
            for c in m.tool_calls
        ]
    return out


def openai_message(m: Message) -> dict[str, Any]:
    """A message as the OpenAI fine-tuning API wants it: arguments as JSON strings, no name on results."""
    out = chat_message(m, string_arguments=True)
    out.pop("name", None)
    return out


def _tools_json(tools: list[ConversationTool]) -> str:
    return json.dumps([openai_tool(t) for t in tools], ensure_ascii=False)


def trl_sample(conversation: Conversation, one_call: bool = False) -> dict[str, Any]:
    """``{"messages", "tools"}`` as TRL's ``SFTTrainer`` and transformers' ``apply_chat_template`` read it:
    arguments as JSON objects, ``tools`` a JSON string of OpenAI function definitions."""
    base, messages = _messages(conversation, openai_tool, one_call)
    return {"messages": [chat_message(m) for m in messages], "tools": _tools_json(base)}


def openai_sample(conversation: Conversation, one_call: bool = False) -> dict[str, Any]:
    """``{"messages", "tools"}`` for the OpenAI fine-tuning API: arguments as JSON strings, tools a list."""
    base, messages = _messages(conversation, openai_tool, one_call)
    return {"messages": [openai_message(m) for m in messages], "tools": [openai_tool(t) for t in base]}


def dpo_sample(pair: PreferencePair, conversation: Conversation) -> dict[str, Any]:
    """TRL's conversational preference format: the prompt messages, then one chosen and one rejected
    assistant message; messages and tools as in :func:`trl_sample` (later-offered functions inside the
    prompt)."""
    base, introduced = availability(conversation)
    prompt = _introduce(pair.prefix, introduced, openai_tool)
    return {
        "prompt": [chat_message(m) for m in prompt],
        "chosen": [chat_message(pair.chosen)],
        "rejected": [chat_message(pair.rejected)],
        "tools": _tools_json(base),
    }


def _groups(messages: list[Message]) -> Iterable[tuple[str, list[Message]]]:
    """Messages with consecutive ``tool`` answers grouped (one step's results)."""
    i = 0
    while i < len(messages):
        if messages[i].role == "tool":
            j = i
            while j < len(messages) and messages[j].role == "tool":
                j += 1
            yield "tool", messages[i:j]
            i = j
        else:
            yield messages[i].role, [messages[i]]
            i += 1


def sharegpt_sample(conversation: Conversation, one_call: bool = False) -> dict[str, Any]:
    """LLaMA-Factory's ShareGPT: ``human`` / ``function_call`` / ``observation`` / ``gpt`` turns; parallel
    calls as one JSON list in one ``function_call`` and their results as one JSON list, in call order."""
    base, messages = _messages(conversation, plain_tool, one_call)
    turns = []
    for role, group in _groups(messages):
        m = group[0]
        if role == "user":
            turns.append({"from": "human", "value": m.content})
        elif role == "tool":
            results = [g.content for g in group]
            turns.append(
                {
                    "from": "observation",
                    "value": results[0] if len(results) == 1 else f"[{', '.join(results)}]",
                }
            )
        elif m.tool_calls:
            calls = [{"name": c.name, "arguments": c.arguments} for c in m.tool_calls]
            turns.append(
                {
                    "from": "function_call",
                    "value": json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False),
                }
            )
        else:
            turns.append({"from": "gpt", "value": m.content})
    return {"conversations": turns, "tools": json.dumps([plain_tool(t) for t in base], ensure_ascii=False)}


def hermes_sample(conversation: Conversation, one_call: bool = False) -> dict[str, Any]:
    """Hermes function calling: tools in the system prompt inside ``<tools>``, each call in ``<tool_call>``
    tags in the assistant's text, one ``tool`` message per step with a ``<tool_response>`` per result."""
    base, messages = _messages(conversation, openai_tool, one_call)
    tools = "\n".join(json.dumps(openai_tool(t), ensure_ascii=False) for t in base)
    out = [{"role": "system", "content": HERMES_SYSTEM.format(tools=tools)}]
    for role, group in _groups(messages):
        m = group[0]
        if role == "tool":
            blocks = [
                json.dumps({"name": g.name, "content": json.loads(g.content)}, ensure_ascii=False)
                for g in group
            ]
            out.append(
                {
                    "role": "tool",
                    "content": "\n".join(f"<tool_response>\n{b}\n</tool_response>" for b in blocks),
                }
            )
        elif m.tool_calls:
            calls = [
                json.dumps({"name": c.name, "arguments": c.arguments}, ensure_ascii=False)
                for c in m.tool_calls
            ]
            out.append(
                {"role": "assistant", "content": "\n".join(f"<tool_call>\n{c}\n</tool_call>" for c in calls)}
            )
        else:
            out.append({"role": m.role, "content": m.content})
    return {"messages": out}


SFT_RENDER: dict[str, Callable[[Conversation, bool], dict[str, Any]]] = {
    "trl": trl_sample,
    "openai": openai_sample,
    "sharegpt": sharegpt_sample,
    "hermes": hermes_sample,
}

# -- Parquet schemas (explicit: the same columns whatever the rows hold) ---------------------------------------

_CHAT_MESSAGE = pa.struct(
    [
        ("role", pa.string()),
        ("content", pa.string()),
        (
            "tool_calls",
            pa.list_(
                pa.struct(
                    [
                        ("id", pa.string()),
                        ("type", pa.string()),
                        ("function", pa.struct([("name", pa.string()), ("arguments", pa.string())])),
                    ]
                )
            ),
        ),
        ("tool_call_id", pa.string()),
        ("name", pa.string()),
    ]
)
_TOOL_REF = pa.struct([("name", pa.string()), ("tool", pa.string()), ("tool_id", pa.string())])
_META = [
    ("id", pa.string()),
    ("kind", pa.string()),
    ("seed", pa.int64()),
    ("path_id", pa.string()),
    ("family", pa.string()),
    ("sampler", pa.string()),
    ("teacher", pa.string()),
    ("tool_refs", pa.list_(_TOOL_REF)),
    ("mock_state", pa.string()),  # JSON: the mock entity store at the start and end
    ("turn_types", pa.list_(pa.string())),  # per turn: normal, empty (asks or declines), merge ...
]
SCHEMAS: dict[str, pa.Schema] = {
    "trl": pa.schema([("messages", pa.list_(_CHAT_MESSAGE)), ("tools", pa.string()), *_META]),
    "openai": pa.schema([("messages", pa.list_(_CHAT_MESSAGE)), ("tools", pa.string()), *_META]),
    "dpo": pa.schema(
        [
            ("prompt", pa.list_(_CHAT_MESSAGE)),
            ("chosen", pa.list_(_CHAT_MESSAGE)),
            ("rejected", pa.list_(_CHAT_MESSAGE)),
            ("tools", pa.string()),
            *_META,
            ("conversation_id", pa.string()),
        ]
    ),
    "sharegpt": pa.schema(
        [
            ("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))),
            ("tools", pa.string()),
            *_META,
        ]
    ),
    "hermes": pa.schema(
        [("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))), *_META]
    ),
}


def _parquet_row(row: dict[str, Any]) -> dict[str, Any]:
    """The row with free-form JSON (a tools list, arguments objects) as JSON strings."""
    out = dict(row)
    if isinstance(out.get("tools"), list):
        out["tools"] = json.dumps(out["tools"], ensure_ascii=False)
    for column in ("messages", "prompt", "chosen", "rejected"):
        if column in out:
            out[column] = [_string_arguments(m) for m in out[column]]
    return out


def _string_arguments(message: dict[str, Any]) -> dict[str, Any]:
    calls = message.get("tool_calls")
    if not calls or all(isinstance(c["function"]["arguments"], str) for c in calls):
        return message
    return message | {
        "tool_calls": [
            c
            | {
                "function": c["function"]
                | {"arguments": json.dumps(c["function"]["arguments"], ensure_ascii=False)}
            }
            for c in calls
        ]
    }


def row_metadata(conversation: Conversation) -> dict[str, Any]:
    """What an eval needs to replay a row against its own mocks: ids, kind, seed, the sampled path, the
    family, sampler, teacher, each offered function's server-qualified tool (``server/tool``), the
    mock entity store at the start and the end (JSON), so an eval can compare final states, and each
    turn's type (``empty``: the assistant asks or declines), so an eval can score turns by type."""
    return {
        "id": conversation.id,
        "kind": conversation.kind,
        "seed": conversation.seed,
        "path_id": conversation.path_id,
        "family": family_of(conversation),
        "sampler": conversation.sampler,
        "teacher": conversation.teacher,
        "tool_refs": [{"name": t.name, "tool": t.tool, "tool_id": t.tool_id} for t in conversation.tools],
        "mock_state": json.dumps(conversation.mock_state, ensure_ascii=False)
        if conversation.mock_state
        else None,
        "turn_types": [t.type for t in conversation.turns],
    }


class _SplitWriter:
    """JSONL and Parquet of one format and split, written in batches."""

    def __init__(self, folder: Path, fmt: str, split: str, batch: int = 500) -> None:
        self.jsonl_path, self.parquet_path = folder / f"{split}.jsonl", folder / f"{split}.parquet"
        self.schema = SCHEMAS[fmt]
        # both files are written under temporary names and renamed over the old ones only when complete
        self._files = contextlib.ExitStack()
        jsonl_tmp = self._files.enter_context(replacing(self.jsonl_path))
        parquet_tmp = self._files.enter_context(replacing(self.parquet_path))
        self.jsonl = jsonl_tmp.open("w", encoding="utf-8")
        self.parquet = pq.ParquetWriter(parquet_tmp, self.schema, compression="zstd")
        self.rows: list[dict[str, Any]] = []
        self.batch, self.count = batch, 0

    def write(self, row: dict[str, Any]) -> None:
        self.jsonl.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.rows.append(_parquet_row(row))
        self.count += 1
        if len(self.rows) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.parquet.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        """Finish both files and put them in place."""
        self.flush()
        self.jsonl.close()
        self.parquet.close()
        self._files.close()

    def abort(self, exc: BaseException) -> None:
        """Drop both temporary files; the previous export stays as it was."""
        self.jsonl.close()
        with contextlib.suppress(Exception):
            self.parquet.close()
        self._files.__exit__(type(exc), exc, exc.__traceback__)


# -- the export ------------------------------------------------------------------------------------------------


def _family_hash(root_id: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{root_id}".encode()).hexdigest()
    return int(digest[:15], 16) / 16**15


def split_of(root_id: str, seed: int, validation_share: float) -> str:
    """``validation`` for a seeded-hash share of families, else ``train`` (stable as the workspace grows)."""
    return "validation" if _family_hash(root_id, seed) < validation_share else "train"


MIN_VALIDATION_FAMILIES = 5  # fewer validation families than this is too few to measure on: a warning


def plan_splits(roots: Iterable[str], seed: int, validation_share: float) -> tuple[set[str], list[str]]:
    """The families of the validation split, and warnings. A family goes to validation when its seeded
    hash falls below the share (so a grown workspace keeps earlier families where they were); when the
    share asks for validation but no family's hash falls below it, the family with the lowest hash goes
    there, so the split is never empty while there are two families or more."""
    hashes = {root: _family_hash(root, seed) for root in roots}
    chosen = {root for root, h in hashes.items() if h < validation_share}
    warnings: list[str] = []
    if validation_share <= 0 or not hashes:
        return chosen, warnings
    if len(hashes) < 2:
        warnings.append(
            "only 1 conversation family: the validation split is empty (a family and its refusal variants "
            "and pairs stay in one split); make more conversations"
        )
        return set(), warnings
    if not chosen:
        chosen = {min(hashes, key=hashes.__getitem__)}
    if len(chosen) < MIN_VALIDATION_FAMILIES:
        warnings.append(
            f"the validation split holds {len(chosen)} of {len(hashes)} conversation families, too few to "
            f"measure on; make more conversations or raise the validation share"
        )
    return chosen, warnings


@dataclass
class ExportReport:
    """What an export wrote: rows per format and split, the mixture, and where the files are."""

    out: Path
    formats: list[str]
    rows: dict[str, dict[str, int]]
    conversations: dict[str, int]
    kinds: dict[str, int]
    teachers: dict[str, int]
    samplers: dict[str, int]
    servers: dict[str, str | None]
    tools_used: int
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dedup: DedupReport | None = None
    one_call: bool = False
    pairs_without_one_call_form: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "formats": self.formats,
            "rows": self.rows,
            "conversations": self.conversations,
            "kinds": self.kinds,
            "teachers": self.teachers,
            "samplers": self.samplers,
            "servers": self.servers,
            "tools_used": self.tools_used,
            "skipped": self.skipped,
            "seconds": self.seconds,
            "files": [str(p) for p in self.files],
            "warnings": self.warnings,
            "dedup": self.dedup.as_dict() if self.dedup else None,
            "one_call": self.one_call,
            "pairs_without_one_call_form": self.pairs_without_one_call_form,
        }


def export(
    store: Store,
    out: str | os.PathLike[str],
    formats: Iterable[str] = FORMATS,
    *,
    validation_share: float = 0.05,
    seed: int = 0,
    teacher: str | None = None,
    sampler: str | None = None,
    metadata: bool = True,
    license: str | None = None,
    dedup: Dedup = "near",
    one_call: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """Export the accepted conversations (optionally of one teacher or sampler) and their preference pairs
    in ``formats`` to ``out/<format>/<split>.{jsonl,parquet}``, with ``out/README.md`` (dataset card) and
    ``out/stats/``. ``metadata`` adds the replay columns of :func:`row_metadata` (and ``conversation_id``
    for pairs); ``dedup`` drops families repeating an earlier family's user messages (``exact``, ``near``
    or ``off``); ``one_call`` makes every assistant message carry at most one call (Llama 3.x templates)."""
    chosen = list(dict.fromkeys(formats))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ExportError(f"unknown format(s) {unknown or chosen}; choose from {', '.join(FORMATS)}")
    if not 0.0 <= validation_share < 1.0:
        raise ExportError(f"validation share {validation_share} must be at least 0 and below 1")
    if dedup not in DEDUP_MODES:
        raise ExportError(f"dedup {dedup!r}: choose from {', '.join(DEDUP_MODES)}")
    folder = Path(out)
    try:
        for fmt in chosen:
            (folder / fmt).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot write to {folder}: {exc}; choose another --out") from None
    started = time.perf_counter()
    skipped: dict[str, str] = {}
    expressible = []
    for conversation in store.conversations(status="accepted", teacher=teacher):
        if sampler is not None and conversation.sampler != sampler:
            continue
        try:
            availability(conversation)
        except ExportError as exc:
            skipped[conversation.id] = str(exc)
            continue
        expressible.append(conversation)
    kept, dedup_report = dedupe(expressible, dedup)
    if progress and len(kept) < len(expressible) + len(skipped):
        progress(len(expressible) + len(skipped) - len(kept))  # what is not written counts as done
    validation, warnings = plan_splits(dict.fromkeys(family_of(c) for c in kept), seed, validation_share)
    writers = {(f, s): _SplitWriter(folder / f, f, s) for f in chosen for s in SPLITS}
    seconds: Counter[str] = Counter()
    counts: dict[str, Counter[str]] = {k: Counter() for k in ("split", "kind", "teacher", "sampler")}
    tools: set[str] = set()
    no_one_call_form = 0
    try:
        for conversation in kept:
            split = "validation" if family_of(conversation) in validation else "train"
            meta = row_metadata(conversation) if metadata else {}
            for fmt in chosen:
                t0 = time.perf_counter()
                if fmt == "dpo":
                    for pair in store.pairs(conversation_id=conversation.id):
                        if one_call:
                            single = one_call_pair(pair)
                            if single is None:
                                no_one_call_form += 1
                                continue
                            pair = single
                        pair_meta = meta | {
                            "id": pair.id,
                            "kind": pair.kind,
                            "conversation_id": conversation.id,
                        }
                        writers[fmt, split].write(
                            dpo_sample(pair, conversation) | (pair_meta if metadata else {})
                        )
                else:
                    writers[fmt, split].write(SFT_RENDER[fmt](conversation, one_call) | meta)
                seconds[fmt] += time.perf_counter() - t0
            counts["split"][split] += 1
            counts["kind"][conversation.kind] += 1
            counts["teacher"][conversation.teacher] += 1
            counts["sampler"][conversation.sampler] += 1
            tools.update(c.tool_id for c in conversation.calls)
            if progress:
                progress(1)
    except BaseException as exc:
        for w in writers.values():
            w.abort(exc)
        raise
    for w in writers.values():
        w.close()
    if not counts["split"]:
        raise ExportError(
            "no accepted conversations to export"
            + (f" for teacher {teacher!r}" if teacher else "")
            + (f" from sampler {sampler!r}" if sampler else "")
            + "; run 'graph-toucan run --n 100' first"
        )
    catalog = {t.id: t for t in store.tools()}
    server_ids = {catalog[t].server_id for t in tools if t in catalog}
    servers = {s.name: s.license for s in store.servers() if s.id in server_ids}
    sources = sorted({catalog[t].source for t in tools if t in catalog})
    report = ExportReport(
        out=folder,
        formats=chosen,
        rows={f: {s: writers[f, s].count for s in SPLITS} for f in chosen},
        conversations={s: counts["split"][s] for s in SPLITS},
        kinds=dict(counts["kind"].most_common()),
        teachers=dict(counts["teacher"].most_common()),
        samplers=dict(counts["sampler"].most_common()),
        servers=dict(sorted(servers.items())),
        tools_used=len(tools),
        seconds={f: round(seconds[f], 3) for f in chosen},
        skipped=skipped,
        files=[p for w in writers.values() for p in (w.jsonl_path, w.parquet_path)],
        warnings=warnings,
        dedup=dedup_report,
        one_call=one_call,
        pairs_without_one_call_form=no_one_call_form,
    )
    t0 = time.perf_counter()
    stats = compute_stats(store, teacher=teacher, conversations=_rejected_too(store, teacher, sampler))
    report.files += list(write_stats(stats, folder / "stats").values())
    card = folder / "README.md"
    write_atomic(card, dataset_card(report, stats, sources=sources, license=license))
    report.files.append(card)
    report.seconds["stats_and_card"] = round(time.perf_counter() - t0, 3)
    report.seconds["total"] = round(time.perf_counter() - started, 3)
    return report


def _rejected_too(store: Store, teacher: str | None, sampler: str | None) -> Iterable[Conversation]:
    for c in store.conversations(teacher=teacher):
        if sampler is None or c.sampler == sampler:
            yield c


# -- dataset card and hub ---------------------------------------------------------------------------------------

SOURCE_LICENSES = {
    "toucan": "the TOUCAN MCP-server catalog (github.com/TheAgentArk/Toucan, arXiv 2510.01179): MIT License, "
    "Copyright (c) 2025 Agent Ark",
}
FORMAT_NOTES = {
    "trl": "`messages` + `tools` for TRL's `SFTTrainer` and transformers' `apply_chat_template`: assistant "
    "`tool_calls` with `arguments` as JSON objects (chat templates apply `tojson` to them), `tool` messages "
    "with `tool_call_id` and `name`, and `tools` as a JSON string of OpenAI function definitions (TRL's "
    "trainers `json.loads` it; pass `tools=json.loads(row['tools'])` to `apply_chat_template` yourself).",
    "openai": "`messages` + `tools` for the OpenAI fine-tuning API (upload the JSONL with `--no-metadata`): "
    "`arguments` as JSON strings, as that API wants, `tools` a list. Not for chat templates, which would "
    "encode the strings a second time: use `trl` there.",
    "dpo": "`prompt`, `chosen`, `rejected` (one assistant message each) and `tools`, messages and tools as in "
    "`trl`: TRL's `DPOTrainer` (conversational preference format). One row per preference pair.",
    "sharegpt": "LLaMA-Factory ShareGPT: `conversations` of `human` / `function_call` / `observation` / `gpt` "
    "and `tools` as a JSON string; parallel calls are one JSON list in one `function_call`, their results one "
    'JSON list (call order) in one `observation`. In `dataset_info.json`: `"formatting": "sharegpt"`, '
    '`"columns": {"messages": "conversations", "tools": "tools"}`.',
    "hermes": "Hermes function calling (as TOUCAN trained with): `messages` with the tools in the system prompt "
    "inside `<tools></tools>`, calls as `<tool_call>{json}</tool_call>` in the assistant's text and results as "
    "`<tool_response>{json}</tool_response>` in one `tool` message per step.",
}


JSONL_CONFIGS = ("trl", "dpo")  # arguments as objects: the JSONL, which datasets reads with a Json type


def _size_category(n: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return name
    return "1M<n<10M"


def dataset_card(
    report: ExportReport, stats: StatsReport, *, sources: list[str], license: str | None = None
) -> str:
    """The ``README.md`` of an export: Hugging Face front matter (one config per format), sizes, mixture,
    teachers, catalog, license, format notes and the statistics report."""
    total = sum(report.conversations.values())
    front = [
        "---",
        f"license: {license or 'other'}",
        "pretty_name: graph-toucan function-calling conversations",
        "language:\n- en",
        "task_categories:\n- text-generation",
        "tags:\n- function-calling\n- tool-use\n- multi-turn\n- synthetic\n- mcp",
        f"size_categories:\n- {_size_category(total)}",
        "configs:",
    ]
    for i, fmt in enumerate(report.formats):
        front.append(f"- config_name: {fmt}")
        if i == 0:
            front.append("  default: true")
        front.append("  data_files:")
        ext = "jsonl" if fmt in JSONL_CONFIGS else "parquet"
        for split in SPLITS:
            if report.rows[fmt][split]:
                front += [f"  - split: {split}", f"    path: {fmt}/{split}.{ext}"]
    front.append("---")
    lines = [
        *front,
        "",
        "# graph-toucan function-calling conversations",
        "",
        "Multi-turn function-calling conversations synthesized by graph-toucan from real "
        "MCP tools: paths sampled on a tool dependency graph, translated by a teacher model, executed against "
        "mock tools, and verified rule by rule. Only accepted (verified) conversations are included.",
        "",
        "## Sizes",
        "",
        "| config | unit | " + " | ".join(SPLITS) + " |",
        "|---|---|" + "---|" * len(SPLITS),
    ]
    for fmt in report.formats:
        unit = "preference pairs" if fmt == "dpo" else "conversations"
        lines.append(f"| {fmt} | {unit} | " + " | ".join(str(report.rows[fmt][s]) for s in SPLITS) + " |")
    share = {k: f"{v} ({v / total:.1%})" for k, v in report.kinds.items()}
    if report.skipped:
        lines += [
            "",
            f"{len(report.skipped)} accepted conversations were skipped (a function withheld again "
            "after being offered, which one tools list per sample cannot express).",
        ]
    if report.dedup and report.dedup.mode != "off":
        d = report.dedup
        lines += [
            "",
            f"Duplicates ({d.mode}: user messages casefolded"
            + (", numbers, dates and quoted values replaced" if d.mode == "near" else "")
            + f"): {len(d.dropped)} of {d.families_before} conversation families repeated an earlier "
            f"family's user message and were removed ({d.conversations_before - d.conversations_after} "
            "conversations with their pairs).",
        ]
    if report.one_call:
        lines += [
            "",
            "One call per assistant message: parallel calls are consecutive single-call steps, each followed "
            f"by its result; {report.pairs_without_one_call_form} preference pairs had no such form and were "
            "left out.",
        ]
    lines += [
        "",
        "Splits are by conversation: a refusal variant and every preference pair go to the split of the "
        "conversation they come from (seeded hash of its id, so re-exports keep earlier splits; the family "
        "with the lowest hash when none falls below the share, so validation is never empty when asked for).",
        *(f"\n> Warning: {w}." for w in report.warnings),
        "",
        "## Mixture",
        "",
        "| kind | conversations |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in share.items()),
        "",
        "Samplers: " + ", ".join(f"{k} ({v})" for k, v in report.samplers.items()) + ".  ",
        "Teachers: " + ", ".join(f"`{k}` ({v})" for k, v in report.teachers.items()) + ".",
        "",
        "## Catalog",
        "",
        f"{report.tools_used} tools of {len(report.servers)} MCP servers are called; sources: "
        + (", ".join(sources) or "unknown")
        + ".",
        "",
        "| server | license |",
        "|---|---|",
        *(f"| {name.replace('|', '/')} | {lic or 'not stated'} |" for name, lic in report.servers.items()),
        "",
        "## License",
        "",
        f"Dataset license: {license or 'not chosen by the exporter (other)'}. Tool names, descriptions and "
        "schemas come from "
        + (
            "; ".join(SOURCE_LICENSES.get(s, f"the {s} catalog") for s in sources)
            or "the workspace's catalog"
        )
        + "; each server's own license is listed above.",
        "",
        "## Formats",
        "",
        *(f"- **{fmt}**: {FORMAT_NOTES[fmt]}" for fmt in report.formats),
        "- Functions withheld in a turn (a function the user makes available later): the `tools` of a sample "
        "list only the functions offered from the first turn; a function offered later is defined inside "
        f"`<tools></tools>` after the line `{INTRO}` at the end of the user message that offers it.",
        "- `tools` is a JSON string column (in `openai` a list, for the API) and metadata columns have one type "
        "in every row, so rows whose tool schemas differ never break a loader's type inference. Parquet files "
        "hold the same rows with `tools` and `arguments` as JSON strings; the `trl` and `dpo` configs read the "
        "JSONL, where arguments are objects (`datasets` 4 and later type them `Json`).",
        "- Replay columns: `id`, `kind`, `seed`, `path_id` (the sampled path), `family` (the source "
        "conversation), `sampler`, `teacher`, and `tool_refs` (each function's `server/tool` reference and tool "
        "id, as `graph-toucan mock call` and the mock MCP server take them), `mock_state` and `turn_types` "
        "(what `graph-toucan eval` replays and scores); pairs add `conversation_id`. "
        "Drop them (`--no-metadata`) if a trainer or API objects.",
        "",
        stats_markdown(stats, images="stats", level=2),
    ]
    return "\n".join(lines)


def push_to_hub(
    folder: str | os.PathLike[str], repo: str, *, token: str | None = None, private: bool = False
) -> str:
    """Upload an export folder as a Hugging Face dataset repository; returns its URL. Needs the ``hub``
    extra and a token (argument, ``HF_TOKEN`` or a saved login)."""
    try:
        import huggingface_hub
    except ImportError:
        raise ExportError(
            "pushing to the Hub needs huggingface_hub: pip install huggingface_hub "
            "(in a checkout of graph-toucan: pip install '.[hub]')"
        ) from None
    token = token or huggingface_hub.get_token()
    if not token:
        raise ExportError(
            "no Hugging Face token: set HF_TOKEN or run 'hf auth login', then push again (the export is on disk)"
        )
    try:
        api = huggingface_hub.HfApi(token=token)
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(
            folder_path=str(folder), repo_id=repo, repo_type="dataset", commit_message="graph-toucan export"
        )
    except Exception as exc:  # network, permissions, a bad repository name: all reported the same way
        raise ExportError(f"pushing {folder} to {repo} failed: {exc}") from None
    return f"https://huggingface.co/datasets/{repo}"
