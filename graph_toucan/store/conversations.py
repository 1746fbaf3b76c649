"""Conversations (translations and refusal variants), preference pairs and the record of runs."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

from graph_toucan.records import Conversation, PlannedPath, PreferencePair
from graph_toucan.store.base import Connection

# Listings come in sample-stream order, which has an index of its own (migration 9). Their filters on
# status and kind stay off the (status, kind) index: SQLite would search it, then sort every match,
# data and all, before the first row (a gigabyte at 20,000 conversations).
STREAM_ORDER = "sampler, seed, position, kind, id"
OFF_INDEX = ("status", "kind")


class ConversationTables(Connection):
    """The ``conversations``, ``pairs`` and ``runs`` tables."""

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
        where, params = self._filter(
            unindexed=OFF_INDEX, status=status, kind=kind, teacher=teacher, sampler=sampler
        )
        rows = self._rows("conversations", where=where, params=params, order_by=STREAM_ORDER, limit=limit)
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
        where, params = self._filter(
            unindexed=OFF_INDEX, status=status, kind=kind, teacher=teacher, sampler=sampler
        )
        sql = f"select id from conversations{f' where {where}' if where else ''} order by {STREAM_ORDER}"
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
