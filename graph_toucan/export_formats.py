"""The export formats: how one conversation (or preference pair) becomes a row of each format, the
Parquet schemas of those rows, and the writer of one format's split (see :mod:`graph_toucan.export`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from graph_toucan.atomic import Shards, replacing
from graph_toucan.errors import GraphToucanError
from graph_toucan.export_prep import family_of, one_call_steps
from graph_toucan.messages import turn_messages
from graph_toucan.records import Conversation, ConversationTool, Message, PreferencePair

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
    return next(dpo_samples([pair], conversation))


def dpo_samples(pairs: Iterable[PreferencePair], conversation: Conversation) -> Iterator[dict[str, Any]]:
    """:func:`dpo_sample` of each of one conversation's pairs, its tools list encoded once for all."""
    base, introduced = availability(conversation)
    tools = _tools_json(base)
    for pair in pairs:
        yield {
            "prompt": [chat_message(m) for m in _introduce(pair.prefix, introduced, openai_tool)],
            "chosen": [chat_message(pair.chosen)],
            "rejected": [chat_message(pair.rejected)],
            "tools": tools,
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


# A row group holds at most this many rows, or about 4 MiB of JSON, whichever comes first.
ROWS_PER_GROUP = 500
# A Parquet writer keeps about 40 KB per row group until it closes (the footer to be), so one file per
# split would grow with the export; a split rolls over to a new file after this many row groups (about
# 512 MiB of JSON: 12 MB of Parquet for preference pairs, 50 for conversations), which bounds the
# writer's memory at any size.
ROW_GROUPS_PER_FILE = 128


class SplitWriter:
    """JSONL and Parquet of one format and split, written in batches: one JSONL file, and Parquet in as
    many files as ``row_groups_per_file`` needs (``train.parquet``, else ``train-00000-of-00002.parquet`` ...)."""

    def __init__(
        self,
        folder: Path,
        fmt: str,
        split: str,
        batch: int | None = None,
        row_groups_per_file: int | None = None,
    ) -> None:
        self.jsonl_path = folder / f"{split}.jsonl"
        self.parquet_paths: list[Path] = []  # known when closed
        self.schema = SCHEMAS[fmt]
        # every file is written under a temporary name and put in place over the old ones only when complete
        self._files = contextlib.ExitStack()
        jsonl_tmp = self._files.enter_context(replacing(self.jsonl_path))
        self.jsonl = jsonl_tmp.open("w", encoding="utf-8")
        self._shards = Shards(folder / f"{split}.parquet")
        self.parquet = self._parquet_file()
        self.rows: list[dict[str, Any]] = []
        self.batch, self.count = batch or ROWS_PER_GROUP, 0
        self.row_groups_per_file, self.row_groups = row_groups_per_file or ROW_GROUPS_PER_FILE, 0
        self.batch_chars, self.pending = 4 << 20, 0

    def _parquet_file(self) -> pq.ParquetWriter:
        return pq.ParquetWriter(self._shards.new(), self.schema, compression="zstd")

    def write(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, ensure_ascii=False)
        self.jsonl.write(line + "\n")
        self.rows.append(_parquet_row(row))
        self.count += 1
        self.pending += len(line)
        if len(self.rows) >= self.batch or self.pending >= self.batch_chars:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            if self.row_groups == self.row_groups_per_file:  # rolled over only when there is more to write
                self.parquet.close()
                self.parquet, self.row_groups = self._parquet_file(), 0
            self.parquet.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows, self.pending, self.row_groups = [], 0, self.row_groups + 1

    def close(self) -> None:
        """Finish the files and put them in place."""
        self.flush()
        self.jsonl.close()
        self.parquet.close()
        self.parquet_paths = self._shards.commit()
        self._files.close()

    def abort(self, exc: BaseException) -> None:
        """Drop the temporary files; the previous export stays as it was."""
        self.jsonl.close()
        with contextlib.suppress(Exception):
            self.parquet.close()
        self._shards.discard()
        self._files.__exit__(type(exc), exc, exc.__traceback__)
