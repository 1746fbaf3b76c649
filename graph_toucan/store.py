"""The workspace: one SQLite file (WAL, versioned migrations) holding every record.

Rows are keyed by the records' content-hash ids, so writing the same record twice is a no-op and
an interrupted job rerun simply completes. JSON columns hold dicts and lists; :class:`Store`
turns rows back into records.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from graph_toucan.errors import StoreError
from graph_toucan.records import (
    Conversation,
    EdgeJudgement,
    LLMCall,
    MockTool,
    PlannedPath,
    PreferencePair,
    Server,
    Tool,
    ToolExample,
)

DB_NAME = "graph_toucan.db"
WORKSPACE_ENV = "GRAPH_TOUCAN_WORKSPACE"
DEFAULT_WORKSPACE = "gt-workspace"

_JSON_COLUMNS = {
    "servers": ("secondary_labels",),
    "tools": ("input_schema", "output_schema", "tags", "parameter_classes"),
    "tool_examples": ("arguments", "result", "structured"),
    "llm_calls": ("request",),
    "judgements": ("mapping",),
    "paths": ("data",),
    "conversations": ("data",),
    "pairs": ("data",),
}
_BOOL_COLUMNS = {"tools": ("read_only",), "tool_examples": ("is_error",)}


def _migration_1(db: sqlite_utils.Database) -> None:
    db["servers"].create(
        {
            "id": str,
            "name": str,
            "qualified_name": str,
            "source": str,
            "status": str,
            "overview": str,
            "primary_label": str,
            "secondary_labels": str,
            "custom_label": str,
            "usage_rank": int,
            "usage_count": int,
            "license": str,
            "homepage": str,
            "repository_url": str,
        },
        pk="id",
    )
    db["tools"].create(
        {
            "id": str,
            "server_id": str,
            "server_name": str,
            "name": str,
            "description": str,
            "input_schema": str,
            "output_schema": str,
            "tags": str,
            "tool_class": str,
            "category": str,
            "source": str,
            "license": str,
            "read_only": int,
            "digest": str,
            "updated_at": float,
        },
        pk="id",
        foreign_keys=[("server_id", "servers", "id")],
    )
    db["tools"].create_index(["server_id"])
    db["tools"].create_index(["name"])
    db["tools"].enable_fts(["name", "description", "server_name"], create_triggers=True, tokenize="porter")
    db["tool_examples"].create(
        {
            "id": str,
            "tool_id": str,
            "arguments": str,
            "result": str,
            "structured": str,
            "is_error": int,
            "error": str,
            "latency_s": float,
            "created_at": float,
        },
        pk="id",
    )
    db["tool_examples"].create_index(["tool_id"])
    db["llm_calls"].create(
        {
            "id": int,
            "key": str,
            "task": str,
            "backend": str,
            "model": str,
            "request": str,
            "response": str,
            "input_tokens": int,
            "output_tokens": int,
            "latency_s": float,
            "cost_usd": float,
            "error": str,
            "run_id": str,
            "created_at": float,
        },
        pk="id",
    )
    db["llm_calls"].create_index(["key"])
    db["runs"].create(
        {"id": str, "command": str, "started_at": float, "finished_at": float, "status": str, "summary": str},
        pk="id",
    )


def _migration_2(db: sqlite_utils.Database) -> None:
    """Edge judgements of the dependency graph (issue 3)."""
    db["judgements"].create(
        {
            "id": str,
            "key": str,
            "source_id": str,
            "target_id": str,
            "type": str,
            "mapping": str,
            "reason": str,
            "judge": str,
            "error": str,
            "created_at": float,
        },
        pk="id",
    )
    db["judgements"].create_index(["source_id"])
    db["judgements"].create_index(["target_id"])


def _migration_3(db: sqlite_utils.Database) -> None:
    """Generated mock tools (issue 5): one row per tool and build key; ``tool`` is the Tool record as
    JSON, so a mock can be served without the tools table."""
    db["mocks"].create(
        {
            "id": str,
            "tool_id": str,
            "tool_ref": str,
            "key": str,
            "status": str,
            "code": str,
            "error": str,
            "attempts": int,
            "teacher": str,
            "tool": str,
            "created_at": float,
        },
        pk="id",
    )
    db["mocks"].create_index(["tool_id", "created_at"])
    db["mocks"].create_index(["tool_ref"])


def _migration_4(db: sqlite_utils.Database) -> None:
    """Planned function signature paths (issue 4); ``position`` is the path's place in its seed's stream."""
    db["paths"].create(
        {
            "id": str,
            "sampler": str,
            "seed": int,
            "position": int,
            "n_turns": int,
            "n_calls": int,
            "data": str,
            "run_id": str,
            "created_at": float,
        },
        pk="id",
    )
    db["paths"].create_index(["sampler", "seed", "position"])


def _migration_5(db: sqlite_utils.Database) -> None:
    """Conversations (accepted and rejected, refusal variants) and preference pairs (issue 6)."""
    db["conversations"].create(
        {
            "id": str,
            "path_id": str,
            "kind": str,
            "source_id": str,
            "sampler": str,
            "seed": int,
            "position": int,
            "teacher": str,
            "status": str,
            "n_turns": int,
            "n_calls": int,
            "data": str,
            "run_id": str,
            "created_at": float,
        },
        pk="id",
    )
    db["conversations"].create_index(["status", "kind"])
    db["conversations"].create_index(["path_id"])
    db["pairs"].create(
        {"id": str, "conversation_id": str, "kind": str, "data": str, "created_at": float},
        pk="id",
    )
    db["pairs"].create_index(["conversation_id"])


def _migration_6(db: sqlite_utils.Database) -> None:
    """Tools: the class of each input parameter (user or issued; issue 13)."""
    db["tools"].add_column("parameter_classes", str)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _migration_1,
    _migration_2,
    _migration_3,
    _migration_4,
    _migration_5,
    _migration_6,
]


@dataclass
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


def resolve_workspace(workspace: str | os.PathLike[str] | None = None) -> Path:
    """The workspace folder: the argument, else ``$GRAPH_TOUCAN_WORKSPACE``, else ``./gt-workspace``."""
    return Path(workspace or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE)


_UNFLUSHED: weakref.WeakSet[Store] = weakref.WeakSet()  # stores with logged calls not yet written


@atexit.register
def _flush_at_exit() -> None:
    for store in list(_UNFLUSHED):
        with contextlib.suppress(sqlite3.Error):
            store.flush_calls()


class Store:
    """A workspace database. Open with :meth:`open`; safe to open from several processes (WAL)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self.db.enable_wal()
            self.db.execute(
                "PRAGMA synchronous = NORMAL"
            )  # WAL stays consistent; only the last commits risk a power cut
            self._migrate()
            self._pending_calls: list[LLMCall] = []
            self._first_pending = 0.0
            self._call_batch = 1
        except (OSError, sqlite3.DatabaseError) as exc:
            raise StoreError(
                f"cannot open workspace database {self.path}: {exc}; check the path and permissions, "
                "or move a corrupt file aside"
            ) from None

    @classmethod
    def open(cls, workspace: str | os.PathLike[str] | None = None) -> Store:
        return cls(resolve_workspace(workspace) / DB_NAME)

    @property
    def workspace(self) -> Path:
        return self.path.parent

    def close(self) -> None:
        self.flush_calls()
        _UNFLUSHED.discard(self)
        self.db.conn.close()

    # -- schema -----------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        current = self.version
        if current > len(MIGRATIONS):
            raise StoreError(
                f"workspace {self.path} was written by a newer graph-toucan (schema {current}); upgrade"
            )
        for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
            with self.transaction():  # another process may have migrated while this one waited for it
                if self.version >= number:
                    continue
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")

    def transaction(self) -> sqlite3.Connection:
        """``with store.transaction():`` groups writes so a kill leaves all or none of them."""
        return _Transaction(self.db.conn)  # type: ignore[return-value]

    # -- servers and tools ------------------------------------------------------------------------
    def upsert_server(self, server: Server) -> bool:
        """Write a server; returns True if it was new."""
        new = not self._exists("servers", server.id)
        self.db["servers"].upsert(_encode("servers", server.model_dump(mode="json")), pk="id")
        return new

    def upsert_tools(self, tools: Iterable[Tool]) -> UpsertCounts:
        """Write tools by id. Unchanged tools (same digest) are left as they are, annotations included;
        a changed tool replaces the old row and its now stale annotations."""
        tools = list(tools)
        known = self._digests([t.id for t in tools])
        counts = UpsertCounts()
        rows = []
        now = time.time()
        for tool in tools:
            if known.get(tool.id) == tool.digest:
                counts.unchanged += 1
                continue
            counts.updated += tool.id in known
            counts.new += tool.id not in known
            rows.append(_encode("tools", tool.model_dump(mode="json") | {"updated_at": now}))
        if rows:
            self.db["tools"].upsert_all(rows, pk="id")
        return counts

    def update_tool(self, tool: Tool) -> None:
        """Write a tool's annotations (same id, same digest)."""
        self.db["tools"].upsert(
            _encode("tools", tool.model_dump(mode="json") | {"updated_at": time.time()}), pk="id"
        )

    def _digests(self, ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for marks, chunk in _in_chunks(ids):
            found.update(
                self.db.execute(f"select id, digest from tools where id in ({marks})", chunk).fetchall()
            )
        return found

    def _exists(self, table: str, pk: str) -> bool:
        return self.db.execute(f"select 1 from {table} where id = ?", [pk]).fetchone() is not None

    def servers(self) -> list[Server]:
        return [Server.model_validate(_drop(r, "id")) for r in self._rows("servers", order_by="name")]

    def tools(
        self, *, search: str | None = None, server: str | None = None, limit: int | None = None
    ) -> list[Tool]:
        """Tools, optionally full-text searched (name, description, server) and filtered by server name or id."""
        where, params = [], []
        if server:
            where.append("(server_name = ? or server_id = ?)")
            params += [server, server]
        if search:
            ids = [r["id"] for r in self.db["tools"].search(search, columns=["id"], limit=10_000, quote=True)]
            if not ids:
                return []
            where.append(f"id in ({','.join('?' * len(ids))})")
            params += ids
        rows = self._rows(
            "tools",
            where=" and ".join(where) or None,
            params=params,
            order_by="server_name, name",
            limit=limit,
        )
        return [_tool(r) for r in rows]

    def get_tool(self, ref: str) -> Tool | None:
        """A tool by id, by ``server/tool`` or by tool name when that name is unique."""
        matches = self.tool_matches(ref)
        return matches[0] if len(matches) == 1 else None

    def tool_matches(self, ref: str) -> list[Tool]:
        """The tools ``ref`` may name: the one with that id or ``server/tool``, else every tool of that
        name (several when servers share it: the candidates an error lists)."""
        rows = list(self._rows("tools", where="id = ?", params=[ref]))
        if not rows and "/" in ref:
            server, _, name = ref.rpartition("/")
            rows = list(self._rows("tools", where="server_name = ? and name = ?", params=[server, name]))
        if not rows:
            rows = list(self._rows("tools", where="name = ?", params=[ref]))
        return [_tool(row) for row in rows]

    def count(self, table: str) -> int:
        if table == "llm_calls":
            self.flush_calls()
        return self.db[table].count

    # -- tool examples -----------------------------------------------------------------------------
    def add_example(self, example: ToolExample) -> None:
        row = _encode("tool_examples", example.model_dump(mode="json") | {"created_at": time.time()})
        self.db["tool_examples"].upsert(row, pk="id")

    def examples(self, tool_id: str) -> list[ToolExample]:
        rows = self._rows("tool_examples", where="tool_id = ?", params=[tool_id], order_by="created_at")
        return [ToolExample.model_validate(_drop(r, "id", "created_at")) for r in rows]

    # -- LLM call log ------------------------------------------------------------------------------
    CALL_DELAY_S = 0.5  # a batch of calls is written after this long at the latest

    def log_call(self, call: LLMCall) -> None:
        """Log a call: written at once, or inside :meth:`batched_calls` in batches."""
        if not self._pending_calls:
            self._first_pending = time.monotonic()
            _UNFLUSHED.add(self)
        self._pending_calls.append(call)
        if (
            len(self._pending_calls) >= self._call_batch
            or time.monotonic() - self._first_pending >= self.CALL_DELAY_S
        ):
            self.flush_calls()

    @contextlib.contextmanager
    def batched_calls(self, batch: int = 64) -> Iterator[None]:
        """Within the block, logged calls are written ``batch`` per transaction (or after half a
        second), and all of them when it ends: a killed process loses at most the last half second
        of answers, which the next run asks for again."""
        previous, self._call_batch = self._call_batch, batch
        try:
            yield
        finally:
            self._call_batch = previous
            self.flush_calls()

    def flush_calls(self) -> None:
        """Write the calls logged but not yet written."""
        if not self._pending_calls:
            return
        pending, self._pending_calls = self._pending_calls, []
        now = time.time()
        rows = [_encode("llm_calls", c.model_dump(mode="json") | {"created_at": now}) for c in pending]
        with self.transaction():
            self.db["llm_calls"].insert_all(rows)

    def cached_call(self, key: str) -> LLMCall | None:
        """The newest successful call with this request key, if any."""
        for call in reversed(self._pending_calls):
            if call.key == key and call.error is None:
                return call
        rows = list(
            self._rows(
                "llm_calls", where="key = ? and error is null", params=[key], order_by="id desc", limit=1
            )
        )
        return LLMCall.model_validate(_drop(rows[0], "id", "created_at")) if rows else None

    def invalidate_calls(self, keys: list[str], reason: str) -> None:
        """Mark answers as unusable (e.g. they never validated), so they are not served from the cache."""
        self.flush_calls()
        marks = ",".join("?" * len(keys))
        with self.transaction():
            self.db.execute(
                f"update llm_calls set error = ? where error is null and key in ({marks})", [reason, *keys]
            )

    def calls(self, *, task: str | None = None) -> list[LLMCall]:
        self.flush_calls()
        rows = self._rows(
            "llm_calls", where="task = ?" if task else None, params=[task] if task else [], order_by="id"
        )
        return [LLMCall.model_validate(_drop(r, "id", "created_at")) for r in rows]

    def call_stats(self) -> list[dict[str, Any]]:
        """Calls grouped by task, backend and model: requests sent, retries after a transient failure,
        answers that did not parse (each sent back with feedback), calls that failed for good,
        refusals of structured output, tokens, cost and latency (see :mod:`graph_toucan.llm.client`
        for the ``error`` prefixes each row carries)."""
        self.flush_calls()
        sql = """
            select task, backend, model,
                   sum(json_extract(request, '$.attempts') is null) as calls,
                   sum(coalesce(error like 'retried:%', 0)) as retries,
                   sum(coalesce(json_array_length(request, '$.messages') > 1, 0))
                     + sum(json_extract(request, '$.attempts') is not null and error like 'failed:%')
                     as parse_failures,
                   sum(error is not null and error not like 'retried:%' and error not like 'unusable answer:%'
                       and error not like 'structured output refused:%') as failures,
                   sum(coalesce(error like 'structured output refused:%', 0)) as fallbacks,
                   sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens,
                   round(sum(cost_usd), 6) as cost_usd, round(avg(latency_s), 3) as avg_latency_s
            from llm_calls group by task, backend, model order by task, backend, model"""
        return [dict(r) for r in self.db.query(sql)]

    # -- edge judgements (graph.py) ---------------------------------------------------------------
    def add_judgements(self, judgements: Iterable[EdgeJudgement]) -> None:
        now = time.time()
        rows = [_encode("judgements", j.model_dump(mode="json") | {"created_at": now}) for j in judgements]
        if rows:
            with self.transaction():
                self.db["judgements"].upsert_all(rows, pk="id")

    def judgements(self, keys: Iterable[str] | None = None) -> dict[str, EdgeJudgement]:
        """Stored judgements by key: those of ``keys`` (missing keys are simply absent), or all."""
        found: dict[str, EdgeJudgement] = {}
        chunks = [(None, [])] if keys is None else [(f"id in ({m})", c) for m, c in _in_chunks(list(keys))]
        for where, chunk in chunks:
            for row in self._rows("judgements", where=where, params=chunk):
                found[row["id"]] = EdgeJudgement.model_validate(_drop(row, "id", "created_at"))
        return found

    # -- mocks (mock/, issue 5) ---------------------------------------------------------------------
    def add_mock(self, mock: MockTool) -> None:
        """Write a mock (accepted or unmockable); the same tool and key again replaces the row."""
        row = mock.model_dump(mode="json", exclude={"id", "tool"}) | {
            "id": mock.id,
            "tool_id": mock.tool.id,
            "tool_ref": mock.tool.ref,
            "tool": mock.tool.model_dump_json(exclude={"id", "digest"}),
            "created_at": time.time(),
        }
        self.db["mocks"].upsert(row, pk="id")

    def mocks(self, *, status: str | None = None) -> list[MockTool]:
        """The newest mock of every tool (optionally only those with ``status``), by tool reference."""
        sql = """
            select * from mocks m where created_at = (
                select max(created_at) from mocks n where n.tool_id = m.tool_id)"""
        params: list[Any] = []
        if status:
            sql += " and status = ?"
            params.append(status)
        return [_mock(row) for row in self.db.query(sql + " order by tool_ref", params)]

    def get_mock(self, tool_id: str, key: str | None = None) -> MockTool | None:
        """The mock of a tool built from ``key`` (any key: the newest), if any."""
        where, params = ("tool_id = ? and key = ?", [tool_id, key]) if key else ("tool_id = ?", [tool_id])
        rows = list(self.db["mocks"].rows_where(where, params, order_by="created_at desc", limit=1))
        return _mock(rows[0]) if rows else None

    # -- planned paths (walks.py, operations.py; issue 4) -------------------------------------------
    def add_paths(self, paths: Iterable[PlannedPath], run_id: str | None = None) -> int:
        """Write paths by content id in one transaction; returns how many were new. A path already stored
        is left as it is, so rerunning the same sample adds nothing."""
        now = time.time()
        rows = {
            p.id: {
                "id": p.id,
                "sampler": p.sampler,
                "seed": p.seed,
                "position": p.index,
                "n_turns": len(p.turns),
                "n_calls": sum(len(t.calls) for t in p.turns),
                "data": p.model_dump_json(exclude={"id"}),
                "run_id": run_id,
                "created_at": now,
            }
            for p in paths
        }
        if not rows:
            return 0
        with self.transaction():
            known: set[str] = set()
            for marks, chunk in _in_chunks(list(rows)):
                found = self.db.execute(f"select id from paths where id in ({marks})", chunk)
                known.update(r[0] for r in found)
            new = [row for pk, row in rows.items() if pk not in known]
            if new:
                self.db["paths"].insert_all(new, pk="id")
        return len(new)

    def paths(
        self, *, sampler: str | None = None, seed: int | None = None, limit: int | None = None
    ) -> Iterator[PlannedPath]:
        """Stored paths, optionally of one sampler and seed, by sampler, seed and stream position (streamed)."""
        where, params = self._filter(sampler=sampler, seed=seed)
        rows = self._rows(
            "paths", where=where, params=params, order_by="sampler, seed, position", limit=limit
        )
        for row in rows:
            yield PlannedPath.model_validate(row["data"])

    def get_path(self, ref: str) -> PlannedPath | None:
        """A path by id, or by an id prefix of at least 4 characters that only one path has."""
        row = self._by_id_or_prefix("paths", ref)
        return PlannedPath.model_validate(row["data"]) if row else None

    def path_count(self, sampler: str | None = None, *, seed: int | None = None) -> int:
        where, params = self._filter(sampler=sampler, seed=seed)
        sql = f"select count(*) from paths{f' where {where}' if where else ''}"
        return self.db.execute(sql, params).fetchone()[0]

    def stream_path_ids(self, sampler: str, seed: int, *, limit: int) -> list[str]:
        """Ids of the first ``limit`` paths of one sample stream, in stream order."""
        rows = self.db.execute(
            "select id from paths where sampler = ? and seed = ? order by position, id limit ?",
            [sampler, seed, limit],
        )
        return [row[0] for row in rows]

    # -- conversations and pairs ---------------------------------------------------------------------
    def add_conversation(
        self, conversation: Conversation, *, position: int | None = None, run_id: str | None = None
    ) -> None:
        """Write a conversation by id (a retranslation of the same plan, teacher and seed replaces it);
        ``position`` is its path's place in the sample stream, which orders listings (a refusal
        variant takes its source's)."""
        if position is None:
            row = self.db.execute(
                "select position from conversations where id = ?", [conversation.source_id]
            ).fetchone()
            position = row[0] if row else 0
        self.db["conversations"].upsert(
            {
                "id": conversation.id,
                "path_id": conversation.path_id,
                "kind": conversation.kind,
                "source_id": conversation.source_id,
                "sampler": conversation.sampler,
                "seed": conversation.seed,
                "position": position,
                "teacher": conversation.teacher,
                "status": conversation.status,
                "n_turns": len(conversation.turns),
                "n_calls": len(conversation.calls),
                "data": conversation.model_dump_json(exclude={"id"}),
                "run_id": run_id,
                "created_at": time.time(),
            },
            pk="id",
        )

    def conversations(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        teacher: str | None = None,
        sampler: str | None = None,
        limit: int | None = None,
    ) -> Iterator[Conversation]:
        """Stored conversations, filtered, in sample-stream order (streamed)."""
        where, params = self._filter(status=status, kind=kind, teacher=teacher, sampler=sampler)
        rows = self._rows(
            "conversations",
            where=where,
            params=params,
            order_by="sampler, seed, position, kind, id",
            limit=limit,
        )
        for row in rows:
            yield Conversation.model_validate(row["data"])

    def conversation_ids(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        teacher: str | None = None,
        sampler: str | None = None,
    ) -> list[str]:
        """Ids of the matching conversations in sample-stream order (ids only: cheap at any size)."""
        where, params = self._filter(status=status, kind=kind, teacher=teacher, sampler=sampler)
        sql = f"select id from conversations{f' where {where}' if where else ''} order by sampler, seed, position, kind, id"
        return [row[0] for row in self.db.execute(sql, params)]

    def conversations_by_ids(self, ids: Iterable[str], *, batch: int = 64) -> Iterator[Conversation]:
        """The conversations with these ids, in the order given, read ``batch`` at a time."""
        ids = iter(ids)
        while chunk := list(itertools.islice(ids, batch)):
            marks = ",".join("?" * len(chunk))
            rows = dict(self.db.execute(f"select id, data from conversations where id in ({marks})", chunk))
            for pk in chunk:
                if pk in rows:
                    yield Conversation.model_validate_json(rows[pk])

    def variant_statuses(self, kind: str, teacher: str, sampler: str) -> dict[str, str]:
        """Source id -> status of the stored variants of one kind (ids only, no conversation read)."""
        where, params = self._filter(kind=kind, teacher=teacher, sampler=sampler)
        return dict(self.db.execute(f"select source_id, status from conversations where {where}", params))

    def get_conversation(self, ref: str) -> Conversation | None:
        """A conversation by id, or by an id prefix of at least 4 characters that only one has."""
        row = self._by_id_or_prefix("conversations", ref)
        return Conversation.model_validate(row["data"]) if row else None

    def conversation_count(
        self, *, status: str | None = None, kind: str | None = None, teacher: str | None = None
    ) -> int:
        where, params = self._filter(status=status, kind=kind, teacher=teacher)
        sql = f"select count(*) from conversations{f' where {where}' if where else ''}"
        return self.db.execute(sql, params).fetchone()[0]

    def conversation_families(
        self, *, status: str | None = None, teacher: str | None = None, sampler: str | None = None
    ) -> list[str]:
        """The distinct family roots (a refusal variant's source, else the conversation's own id)."""
        where, params = self._filter(status=status, teacher=teacher, sampler=sampler)
        sql = (
            f"select distinct coalesce(source_id, id) from conversations{f' where {where}' if where else ''}"
        )
        return [row[0] for row in self.db.execute(sql, params).fetchall()]

    def translated_paths(self, teacher: str, sampler: str, seed: int) -> dict[str, str]:
        """Path id -> status of this teacher's translations of one sample stream (what a run resumes from)."""
        where, params = self._filter(teacher=teacher, kind="translation", sampler=sampler, seed=seed)
        return dict(
            self.db.execute(f"select path_id, status from conversations where {where}", params).fetchall()
        )

    def translation_counts(self, teacher: str, sampler: str, seed: int) -> tuple[int, int]:
        """(accepted, rejected) translations of one sample stream by ``teacher``, counted in SQL."""
        where, params = self._filter(teacher=teacher, kind="translation", sampler=sampler, seed=seed)
        row = self.db.execute(
            f"select coalesce(sum(status = 'accepted'), 0), coalesce(sum(status = 'rejected'), 0) "
            f"from conversations where {where}",
            params,
        ).fetchone()
        return int(row[0]), int(row[1])

    def untranslated_paths(
        self,
        teacher: str,
        sampler: str,
        seed: int,
        *,
        after: tuple[int, str] | None = None,
        limit: int = 256,
    ) -> list[PlannedPath]:
        """The next ``limit`` paths of one sample stream, in stream order after ``(position, id)``,
        that ``teacher`` has not translated (one indexed query per batch: a run never holds the whole
        stream)."""
        position, path_id = after if after is not None else (-1, "")
        rows = self.db.execute(
            "select data from paths p where p.sampler = ? and p.seed = ? "
            "and (p.position > ? or (p.position = ? and p.id > ?)) "
            "and not exists (select 1 from conversations c where c.path_id = p.id and c.teacher = ? "
            "and c.kind = 'translation' and c.seed = ?) "
            "order by p.position, p.id limit ?",
            [sampler, seed, position, position, path_id, teacher, seed, limit],
        ).fetchall()
        return [PlannedPath.model_validate_json(row[0]) for row in rows]

    def path_statuses(self, teacher: str) -> dict[str, str]:
        """Path id -> ``accepted`` when a translation of it by ``teacher`` was accepted, else ``rejected``."""
        sql = (
            "select path_id, max(status = 'accepted') from conversations "
            "where teacher = ? and kind = 'translation' group by path_id"
        )
        rows = self.db.execute(sql, [teacher]).fetchall()
        return {path_id: "accepted" if ok else "rejected" for path_id, ok in rows}

    def paired_conversations(self) -> set[str]:
        """Ids of the conversations that have preference pairs."""
        return {r[0] for r in self.db.execute("select distinct conversation_id from pairs")}

    @staticmethod
    def _filter(**filters: str | int | None) -> tuple[str | None, list[Any]]:
        """A ``where`` clause of equalities over the given (not None) columns, and its parameters."""
        given = {k: v for k, v in filters.items() if v is not None}
        return (" and ".join(f"{k} = ?" for k in given) or None), list(given.values())

    def add_pairs(self, pairs: Iterable[PreferencePair]) -> int:
        """Write preference pairs by id; returns how many were new."""
        rows = [
            {
                "id": p.id,
                "conversation_id": p.conversation_id,
                "kind": p.kind,
                "data": p.model_dump_json(exclude={"id"}),
                "created_at": time.time(),
            }
            for p in pairs
        ]
        before = self.count("pairs")
        with self.transaction():
            self.db["pairs"].insert_all(rows, pk="id", ignore=True)
        return self.count("pairs") - before

    def pairs(self, *, conversation_id: str | None = None) -> Iterator[PreferencePair]:
        rows = self._rows(
            "pairs",
            where="conversation_id = ?" if conversation_id else None,
            params=[conversation_id] if conversation_id else [],
            order_by="conversation_id, id",
        )
        for row in rows:
            yield PreferencePair.model_validate(row["data"])

    # -- runs ----------------------------------------------------------------------------------------
    def record_run(
        self, run_id: str, command: str, status: str, started_at: float, summary: dict[str, Any]
    ) -> None:
        self.db["runs"].upsert(
            {
                "id": run_id,
                "command": command,
                "started_at": started_at,
                "finished_at": time.time(),
                "status": status,
                "summary": json.dumps(summary),
            },
            pk="id",
        )

    def run_summary(self, run_id: str) -> dict[str, Any] | None:
        """The recorded summary of a run (``None`` when there is no such run)."""
        row = self.db.execute("select summary from runs where id = ?", [run_id]).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def run_status(self, run_id: str) -> str | None:
        """The recorded status of a run (``None`` when there is no such run)."""
        row = self.db.execute("select status from runs where id = ?", [run_id]).fetchone()
        return row[0] if row else None

    # -- helpers -----------------------------------------------------------------------------------
    def _by_id_or_prefix(self, table: str, ref: str) -> dict[str, Any] | None:
        """The row with this id, or the only one whose id starts with ``ref`` (4 characters or more)."""
        rows = list(self._rows(table, where="id = ?", params=[ref]))
        if not rows and len(ref) >= 4 and ref.isalnum():
            rows = list(self._rows(table, where="id like ?", params=[ref + "%"], limit=2))
        return rows[0] if len(rows) == 1 else None

    def _rows(
        self,
        table: str,
        *,
        where: str | None = None,
        params: list[Any] | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        for row in self.db[table].rows_where(where, params or [], order_by=order_by, limit=limit):
            for col in _JSON_COLUMNS.get(table, ()):
                if isinstance(row.get(col), str):
                    row[col] = json.loads(row[col])
            for col in _BOOL_COLUMNS.get(table, ()):
                if row.get(col) is not None:
                    row[col] = bool(row[col])
            yield row


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error; nests by doing nothing when already inside one."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")
            self.outer = True
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self.outer:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _encode(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """JSON columns as JSON text (a plain string result must round-trip as a string, not as raw text)."""
    for col in _JSON_COLUMNS.get(table, ()):
        if row.get(col) is not None:
            row[col] = json.dumps(row[col], ensure_ascii=False)
    return row


def _in_chunks(ids: list[str], size: int = 500) -> Iterator[tuple[str, list[str]]]:
    """``ids`` in slices small enough for one ``IN (...)``, each with its ``?,?,...`` placeholders."""
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        yield ",".join("?" * len(chunk)), chunk


def _drop(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in keys}


def _tool(row: dict[str, Any]) -> Tool:
    return Tool.model_validate(_drop(row, "id", "digest", "updated_at"))


def _mock(row: dict[str, Any]) -> MockTool:
    data = _drop(row, "id", "tool_id", "tool_ref", "created_at")
    data["tool"] = json.loads(data["tool"])
    return MockTool.model_validate(data)
