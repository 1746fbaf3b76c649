"""The workspace database connection: where it lives, opening and migrating it, transactions, and the
row encoding (JSON and boolean columns) every table shares."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from graph_toucan.errors import StoreError
from graph_toucan.store.migrations import MIGRATIONS

DB_NAME = "graph_toucan.db"
WORKSPACE_ENV = "GRAPH_TOUCAN_WORKSPACE"
DEFAULT_WORKSPACE = "gt-workspace"

JSON_COLUMNS = {
    "servers": ("secondary_labels",),
    "tools": ("input_schema", "output_schema", "tags", "parameter_classes"),
    "tool_examples": ("arguments", "result", "structured"),
    "llm_calls": ("request",),
    "judgements": ("mapping",),
    "paths": ("data",),
    "conversations": ("data",),
    "pairs": ("data",),
}
BOOL_COLUMNS = {"tools": ("read_only",), "tool_examples": ("is_error",)}


def resolve_workspace(workspace: str | os.PathLike[str] | None = None) -> Path:
    """The workspace folder: the argument, else ``$GRAPH_TOUCAN_WORKSPACE``, else ``./gt-workspace``."""
    return Path(workspace or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE)


class Connection:
    """The SQLite file of a workspace (WAL, migrated on open); the tables' methods build on it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self._prepare()
        except (OSError, sqlite3.DatabaseError) as exc:
            raise StoreError(
                f"cannot open workspace database {self.path}: {exc}; check the path and permissions, "
                "or move a corrupt file aside"
            ) from None

    def _prepare(self, wait_s: float = 60.0) -> None:
        """WAL, then the migrations. Several processes opening a fresh workspace together can get
        "database is locked" at once from SQLite (switching to WAL needs the file to itself, and a lock
        upgrade that would deadlock is refused rather than waited for); each step is safe to repeat,
        so retry until ``wait_s`` has passed."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.db.enable_wal()
                self.db.execute(
                    "PRAGMA synchronous = NORMAL"
                )  # WAL stays consistent; a power cut risks the last commits
                self._migrate()
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @classmethod
    def open(cls, workspace: str | os.PathLike[str] | None = None) -> Self:
        return cls(resolve_workspace(workspace) / DB_NAME)

    @property
    def workspace(self) -> Path:
        return self.path.parent

    def close(self) -> None:
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

    def count(self, table: str) -> int:
        return self.db[table].count

    def _exists(self, table: str, pk: str) -> bool:
        return self.db.execute(f"select 1 from {table} where id = ?", [pk]).fetchone() is not None

    @staticmethod
    def _filter(
        *, unindexed: tuple[str, ...] = (), **filters: str | int | None
    ) -> tuple[str | None, list[Any]]:
        """A ``where`` clause of equalities over the given (not None) columns, and its parameters. The
        ``unindexed`` columns are written ``+column``, SQLite's way of keeping a term off the indexes,
        so that a query with an ORDER BY walks that order's index instead of searching one of theirs
        and sorting what it finds."""
        given = {k: v for k, v in filters.items() if v is not None}
        terms = [f"{'+' if k in unindexed else ''}{k} = ?" for k in given]
        return (" and ".join(terms) or None), list(given.values())

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
            for col in JSON_COLUMNS.get(table, ()):
                if isinstance(row.get(col), str):
                    row[col] = json.loads(row[col])
            for col in BOOL_COLUMNS.get(table, ()):
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


def encode(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """JSON columns as JSON text (a plain string result must round-trip as a string, not as raw text)."""
    for col in JSON_COLUMNS.get(table, ()):
        if row.get(col) is not None:
            row[col] = json.dumps(row[col], ensure_ascii=False)
    return row


def in_chunks(ids: list[str], size: int = 500) -> Iterator[tuple[str, list[str]]]:
    """``ids`` in slices small enough for one ``IN (...)``, each with its ``?,?,...`` placeholders."""
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        yield ",".join("?" * len(chunk)), chunk


def drop(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in keys}
