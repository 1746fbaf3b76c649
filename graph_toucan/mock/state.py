"""What a conversation's tools have done: a small entity store per conversation and per server.

Action tools write it and query tools read it (:func:`effect_of` reads which from the tool's name
and schemas): a created, booked or written entity comes back from later gets, lists and searches,
an updated one with its changes, a deleted one is gone. An id the conversation never saw in any
tool's output is "not found" (:func:`missing_reference`), a tool error the model must handle, unless
the tool is an open lookup (a public ticker, a coin, a city). The store is JSON data
(:meth:`EntityStore.to_json`), so a conversation can carry its initial and final states.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from graph_toucan.mock.flatten import FlatField, norm, singular
from graph_toucan.records import Tool

_CREATE = {"create", "add", "new", "book", "reserve", "register", "insert", "upload", "save", "post"}
_CREATE |= {"schedule", "make", "submit", "place", "open", "download", "generate", "write", "set"}
_UPDATE = {"update", "edit", "modify", "rename", "change", "patch", "append", "move", "replace"}
_DELETE = {"delete", "remove", "cancel", "drop", "destroy", "unlink", "clear", "erase", "archive"}
_READ = {"get", "read", "fetch", "show", "describe", "details", "detail", "retrieve", "view", "lookup"}
_LIST = {"list", "search", "find", "query", "browse", "all", "load"}
# Kinds of ids anyone can look up without having been given them.
OPEN_KINDS = {"coin", "crypto", "token", "symbol", "ticker", "stock", "city", "country", "currency"}
OPEN_KINDS |= {"language", "station", "airport", "place", "location", "url", "page", "video", "repo"}
OPEN_KINDS |= {"user", "session", "request", "api", "page", "cursor", "rate", "category", "topic", "tag"}
_FILE_PARAMS = re.compile(r"^(path|file_path|filepath|file|filename|file_name)$")


def is_id(name: str) -> bool:
    key = norm(name)
    return key in ("id", "uuid") or key.endswith(("_id", "_uuid"))


def id_kind(name: str, path: str = "") -> str:
    """``hotel`` for ``hotel_id`` or ``hotels[].id``; ``item`` when nothing says."""
    key = norm(name)
    if key.endswith(("_id", "_uuid")) and key not in ("id", "uuid"):
        return key.rsplit("_", 1)[0]
    parts = [p for p in re.split(r"[.\[\]]+", path) if p]
    return norm(singular(parts[-2])) if len(parts) > 1 else "item"


@dataclass
class Effect:
    """What a call of a tool does to the store."""

    op: str  # create, update, delete, read, list, other
    kind: str | None = None
    key_param: str | None = None  # the argument naming the entity (an id or a file path)
    inserts: bool = False


def effect_of(tool: Tool) -> Effect:
    words = set(norm(tool.name).split("_"))
    params = list((tool.input_schema.get("properties") or {}).keys())
    file_param = next((p for p in params if _FILE_PARAMS.match(norm(p))), None)
    id_param = next(
        (p for p in params if is_id(p) and id_kind(p) not in ("session", "request", "user")), None
    )
    file_words = words & {"file", "files", "content", "markdown", "document"}
    kind: str | None = None
    key: str | None = None
    if file_param and (file_words or "path" in norm(file_param)):
        kind, key = "file", file_param
    elif id_param:
        key = id_param
        kind = id_kind(id_param) if norm(id_param) != "id" else _noun(words)
    op = "other"
    if words & _DELETE:
        op = "delete"
    elif words & _UPDATE or (words & {"insert"} and kind == "file"):
        op = "update"
    elif words & _CREATE and tool.tool_class == "action":
        op = "create"
    elif words & _LIST and not (key and words & _READ):
        op = "list"
    elif words & _READ or key:
        op = "read"
    if op == "create" and kind != "file":  # its id arguments name what it refers to, not what it makes
        kind, key = _created_kind(tool) or _noun(words), None
    if op == "list" and kind is None:
        kind = _listed_kind(tool)
    return Effect(op, kind, key, inserts="insert" in words)


def _noun(words: set[str]) -> str:
    verbs = _CREATE | _UPDATE | _DELETE | _READ | _LIST | {"by", "of", "the", "a", "info", "data", "mcp"}
    nouns = sorted(w for w in words if w not in verbs and len(w) > 2)
    return singular(nouns[-1]) if nouns else "item"


def _created_kind(tool: Tool) -> str | None:
    props = (tool.output_schema or {}).get("properties") or {}
    for name in props:
        if is_id(name) and norm(name) != "id":
            return id_kind(name)
    return None


def _listed_kind(tool: Tool) -> str | None:
    props = (tool.output_schema or {}).get("properties") or {}
    for name, sub in props.items():
        if isinstance(sub, dict) and sub.get("type") == "array":
            return norm(singular(name))
    return None


def produced_kinds(tools: list[Tool]) -> set[str]:
    """The kinds of id a set of tools (one server) hands out in its outputs."""
    from graph_toucan.mock.flatten import flat_fields

    kinds: set[str] = set()
    for tool in tools:
        inputs = {norm(p) for p in tool.input_schema.get("properties") or {}}
        for f in flat_fields(tool.output_schema):
            if is_id(f.name) and (f.indexes or norm(f.name) not in inputs):  # not the argument repeated
                kinds.add(id_kind(f.name, f.path))
    return kinds


@dataclass
class EntityStore:
    """Records by server, kind and key (an id or a file path), the deleted keys, and every id value
    the conversation's outputs have shown."""

    records: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    deleted: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {
            "records": copy.deepcopy(self.records),
            "deleted": copy.deepcopy(self.deleted),
            "seen_ids": sorted(self.seen),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> EntityStore:
        data = data or {}
        return cls(
            copy.deepcopy(data.get("records") or {}),
            copy.deepcopy(data.get("deleted") or {}),
            set(data.get("seen_ids") or []),
        )

    def copy(self) -> EntityStore:
        return EntityStore.from_json(self.to_json())

    def get(self, server: str, kind: str, key: str) -> dict[str, Any] | None:
        return self.records.get(server, {}).get(kind, {}).get(key)

    def put(self, server: str, kind: str, key: str, record: dict[str, Any]) -> None:
        self.records.setdefault(server, {}).setdefault(kind, {})[key] = record
        gone = self.deleted.get(server, {}).get(kind, [])
        if key in gone:
            gone.remove(key)
        self.seen.add(key)

    def remove(self, server: str, kind: str, key: str) -> None:
        self.records.get(server, {}).get(kind, {}).pop(key, None)
        gone = self.deleted.setdefault(server, {}).setdefault(kind, [])
        if key not in gone:
            gone.append(key)

    def is_deleted(self, server: str, kind: str, key: str) -> bool:
        return key in self.deleted.get(server, {}).get(kind, [])

    def of_kind(self, server: str, kind: str) -> list[dict[str, Any]]:
        return list(self.records.get(server, {}).get(kind, {}).values())

    def saw(self, output: Any) -> None:
        """Remember every id value in an output (any depth)."""
        if isinstance(output, dict):
            for name, value in output.items():
                if is_id(name) and isinstance(value, str | int) and not isinstance(value, bool):
                    self.seen.add(str(value))
                else:
                    self.saw(value)
        elif isinstance(output, list):
            for item in output:
                self.saw(item)


def missing_reference(
    store: EntityStore, tool: Tool, arguments: dict[str, Any], closed: set[str]
) -> str | None:
    """Why this call names something that does not exist, or None. ``closed`` are the kinds of id the
    tool's server hands out itself (anything else is an open lookup)."""
    effect = effect_of(tool)
    server = tool.server_id
    for param, kind in _references(tool, effect):
        value = arguments.get(param)
        if not isinstance(value, str | int) or isinstance(value, bool):
            continue
        key = str(value)
        if store.is_deleted(server, kind, key):
            return f"{kind} {key!r} was deleted earlier in this conversation"
        if kind == "file" or kind in OPEN_KINDS or kind not in closed:
            continue
        if key in store.seen or store.get(server, kind, key) is not None:
            continue
        return (
            f"{kind} {key!r} not found: no earlier result in this conversation returned it; "
            f"use an {kind} id from an earlier call's output"
        )
    return None


def _references(tool: Tool, effect: Effect) -> list[tuple[str, str]]:
    """The arguments that name an existing entity, with its kind (a create names its new one)."""
    found = []
    for param in tool.input_schema.get("properties") or {}:
        if param == effect.key_param and effect.kind:
            kind = effect.kind
        elif is_id(param):
            kind = id_kind(param) if norm(param) != "id" else (effect.kind or "item")
        else:
            continue
        if effect.op == "create" and (param == effect.key_param or kind == effect.kind):
            continue
        found.append((param, kind))
    return found


def apply_effect(store: EntityStore, tool: Tool, arguments: dict[str, Any], output: Any, now: str) -> None:
    """Write what a finished call did into the store, and remember the ids its output showed."""
    store.saw(output)
    effect = effect_of(tool)
    top = (
        {k: v for k, v in output.items() if not isinstance(v, dict | list)}
        if isinstance(output, dict)
        else {}
    )
    scalars = {k: v for k, v in arguments.items() if not isinstance(v, dict)}
    server = tool.server_id
    if effect.kind == "file" and effect.key_param and isinstance(arguments.get(effect.key_param), str):
        _file_effect(store, server, effect, arguments, now)
        return
    if effect.op == "create":
        kind = effect.kind or "item"
        key = next((str(v) for k, v in top.items() if is_id(k) and isinstance(v, str | int)), None)
        if key is None and "markdown" in top and isinstance(arguments.get("url"), str):
            kind, key = "file", _download_path(arguments)
            record = {
                "file_path": key,
                "content": top["markdown"],
                "size_bytes": len(str(top["markdown"]).encode()),
            }
            store.put(server, kind, key, {**record, "modified_at": now})
            return
        if key is not None:
            store.put(server, kind, key, {**scalars, **top})
    elif effect.op in ("update", "delete") and effect.key_param and effect.kind:
        key = str(arguments.get(effect.key_param))
        if effect.op == "delete":
            store.remove(server, effect.kind, key)
        else:
            record = store.get(server, effect.kind, key) or {}
            store.put(server, effect.kind, key, {**record, **scalars})


def _download_path(arguments: dict[str, Any]) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", str(arguments.get("url")).lower().split("://")[-1]).strip("-")[:60]
    folder = str(arguments.get("subdirectory") or "").strip("/")
    return f"{folder}/{name}.md" if folder else f"{name}.md"


def _file_effect(
    store: EntityStore, server: str, effect: Effect, arguments: dict[str, Any], now: str
) -> None:
    path = str(arguments[effect.key_param or "path"])
    record = store.get(server, "file", path)
    content = str(record.get("content", "")) if record else ""
    given = arguments.get("content")
    given = given if isinstance(given, str) else None if given is None else str(given)
    lines = content.split("\n") if content else []
    rows = [r for r in (arguments.get("rows") or []) if isinstance(r, int)]
    if isinstance(arguments.get("row"), int):
        rows.append(arguments["row"])
    substring = arguments.get("substring") if isinstance(arguments.get("substring"), str) else None
    if effect.op == "delete":
        if not rows and substring is None:
            store.remove(server, "file", path)
            return
        if substring is not None:
            lines = [
                line.replace(substring, "") if not rows or n in rows else line for n, line in enumerate(lines)
            ]
        else:
            lines = [line for n, line in enumerate(lines) if n not in rows]
        content = "\n".join(lines)
    elif effect.op == "update" and given is not None:
        if substring is not None:
            content = content.replace(substring, given)
        elif rows:
            for row in sorted(rows, reverse=effect.inserts):
                if effect.inserts:
                    lines.insert(min(max(row, 0), len(lines)), given)
                elif 0 <= row < len(lines):
                    lines[row] = given
                else:
                    lines.append(given)
            content = "\n".join(lines)
        elif effect.inserts:
            content = f"{content}\n{given}" if content else given
        else:
            content = given
    elif given is not None and effect.op in ("create", "other"):
        content = f"{content}{given}" if str(arguments.get("mode", "")).lower() == "append" else given
    else:
        return  # a read: the store is unchanged
    store.put(
        server,
        "file",
        path,
        {"file_path": path, "content": content, "size_bytes": len(content.encode()), "modified_at": now},
    )


def overlay(
    store: EntityStore, tool: Tool, fields: list[FlatField], arguments: dict[str, Any], values: dict[str, Any]
) -> dict[str, Any]:
    """Flat values of a read or list made to show what the store holds."""
    effect = effect_of(tool)
    values = dict(values)
    server = tool.server_id
    top = [f for f in fields if not f.indexes]
    if effect.op in ("create", "update", "delete") and tool.tool_class == "action":
        for f in top:  # the call succeeded
            if f.type == "boolean" and re.search(_DONE, norm(f.name)):
                values[f.key] = True
    if effect.kind == "file" and effect.op in ("create", "update") and effect.key_param in arguments:
        after = store.copy()
        _file_effect(after, server, effect, arguments, "")
        record = after.get(server, "file", str(arguments[effect.key_param]))
        if record:
            _fill(values, top, {k: v for k, v in record.items() if k != "modified_at"})
    if effect.op == "read" and effect.kind and effect.key_param:
        record = store.get(server, effect.kind, str(arguments.get(effect.key_param)))
        if record:
            _fill(values, [f for f in fields if not f.indexes], record)
    elif effect.op == "list" and effect.kind:
        records = store.of_kind(server, effect.kind)
        if records:
            items: dict[int, list[FlatField]] = {}
            for f in fields:
                if len(f.indexes) == 1 and not f.list_item:
                    items.setdefault(f.indexes[0], []).append(f)
            for index, record in zip(sorted(items), records, strict=False):
                _fill(values, items[index], record)
    return values


_DONE = (
    r"^(success|succeeded|ok|done|deleted|created|updated|saved|booked|confirmed|changed|written|removed)$"
)


def _fill(values: dict[str, Any], fields: list[FlatField], record: dict[str, Any]) -> None:
    by_name = {norm(k): v for k, v in record.items()}
    for f in fields:
        value = by_name.get(norm(f.name))
        if value is None and norm(f.name) in ("path", "file_path", "file", "filename"):
            value = by_name.get("file_path") or by_name.get("path")
        if value is None:
            continue
        if f.type == "string" and isinstance(value, str | int | float) and not isinstance(value, bool):
            values[f.key] = str(value)
        elif f.type == "integer" and isinstance(value, int) and not isinstance(value, bool):
            values[f.key] = value
        elif f.type == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            values[f.key] = float(value)
        elif f.type == "boolean" and isinstance(value, bool):
            values[f.key] = value
