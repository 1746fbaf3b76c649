"""``graph-toucan merge WS...``: the union of several workspaces (the shards of a sharded run) in one.

Records are keyed by content-hash ids, so the union is a set union per table: a row whose id the
target lacks is copied, a row it has with the same content is left alone. Two rows with one id and
different content (the same tool annotated twice, a run recorded twice) keep the newer one by its
timestamp column, ties broken by content, so the result is a function of the set of workspaces:
merging twice changes nothing and merging in any order gives the same records. The call log has no
content id; a call is copied unless an identical one (every column but the local row number) is
there. Tables are read from the schema, so tables added by later migrations merge the same way.

Merging writes only the target; the sources are read through a read-only connection (one on an older
schema is upgraded first, as opening it with any command would). The sources' ``graph.json`` (the
dependency graph, which sharding never changes) is copied when the target has none.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from graph_toucan.errors import GraphToucanError
from graph_toucan.graph import GRAPH_FILE
from graph_toucan.store import DB_NAME, MIGRATIONS, Store

# Columns that record when or by which run a row was written: not part of a record's content.
VOLATILE = ("created_at", "updated_at", "started_at", "finished_at", "run_id")
# Which timestamp says that one version of a record is newer than another, in order of preference.
NEWER_BY = ("updated_at", "finished_at", "created_at")


class MergeError(GraphToucanError):
    """A workspace that cannot be merged (missing, newer schema, graphs that disagree)."""


@dataclass
class MergeReport:
    target: str
    sources: list[str]
    added: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    replaced: dict[str, int] = field(default_factory=dict)  # table -> rows replaced by a newer version
    graph: str = "unchanged"  # unchanged, copied

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _database(workspace: Path) -> Path:
    path = Path(workspace) / DB_NAME
    if not path.is_file():
        raise MergeError(
            f"{workspace} is not a workspace (no {DB_NAME} in it); name the folders of the shard "
            "workspaces, e.g. gt-workspace/shards/*"
        )
    return path


def _tables(conn: sqlite3.Connection, schema: str = "main") -> list[str]:
    """The ordinary tables of a schema: not SQLite's own, not full-text indexes and their shadow tables."""
    rows = conn.execute(f"select name, sql from {schema}.sqlite_master where type = 'table'").fetchall()
    virtual = [name for name, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
    return sorted(
        name
        for name, _ in rows
        if not name.startswith("sqlite_")
        and name not in virtual
        and not any(name.startswith(f"{v}_") for v in virtual)
    )


def _columns(conn: sqlite3.Connection, table: str, schema: str = "main") -> tuple[list[str], list[str]]:
    """(every column, the primary key's columns) of a table."""
    info = conn.execute(f"pragma {schema}.table_info({_q(table)})").fetchall()
    columns = [row[1] for row in info]
    key = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]]
    return columns, key


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _merge_table(conn: sqlite3.Connection, table: str) -> tuple[int, int]:
    """Copy the rows of ``src.table`` into ``main.table``; returns (rows added, rows replaced)."""
    columns, key = _columns(conn, table)
    source_columns, _ = _columns(conn, table, "src")
    missing = [c for c in columns if c not in source_columns]
    if missing:
        raise MergeError(f"table {table} of a source lacks columns {missing}; open it with graph-toucan once")
    t, cols = _q(table), ", ".join(_q(c) for c in columns)
    integer_key = len(key) == 1 and _is_integer_key(conn, table, key[0])
    if not key or integer_key:
        # No content id (the call log): copy the rows that have no identical twin, oldest first.
        body = [c for c in columns if c not in key]
        same = " and ".join(f"m.{_q(c)} is s.{_q(c)}" for c in body)
        order = "s.created_at, s.rowid" if "created_at" in body else "s.rowid"
        listed = ", ".join(_q(c) for c in body)
        cursor = conn.execute(
            f"insert into main.{t} ({listed}) select {', '.join(f's.{_q(c)}' for c in body)} "
            f"from src.{t} s where not exists (select 1 from main.{t} m where {same}) order by {order}"
        )
        return cursor.rowcount, 0
    on_key = " and ".join(f"m.{_q(c)} = s.{_q(c)}" for c in key)
    added = conn.execute(
        f"insert into main.{t} ({cols}) select {', '.join(f's.{_q(c)}' for c in columns)} from src.{t} s "
        f"where not exists (select 1 from main.{t} m where {on_key})"
    ).rowcount
    content = [c for c in columns if c not in key and c not in VOLATILE]
    if not content:
        return added, 0  # nothing but the key and when it was written: the same record
    differs = " or ".join(f"m.{_q(c)} is not s.{_q(c)}" for c in content)
    stamp = next((c for c in NEWER_BY if c in columns), None)
    # The newer version wins; on equal timestamps the greater content, so the winner does not depend on
    # which workspace was merged first.
    as_text = " || char(31) || ".join(f"coalesce(quote(x.{_q(c)}), '')" for c in content)
    rank = f"(coalesce(x.{_q(stamp)}, 0), {as_text})" if stamp else f"({as_text})"
    newer = f"{rank.replace('x.', 's.')} > {rank.replace('x.', 'm.')}"
    rows = conn.execute(
        f"select {', '.join(f's.{_q(c)}' for c in columns)} from src.{t} s join main.{t} m on {on_key} "
        f"where ({differs}) and {newer}"
    ).fetchall()
    # An update, not a replace: a replace deletes without firing the delete triggers that keep the
    # full-text index of tools in step.
    others = [c for c in columns if c not in key]
    assign = ", ".join(f"{_q(c)} = ?" for c in others)
    where = " and ".join(f"{_q(c)} = ?" for c in key)
    position = {c: i for i, c in enumerate(columns)}
    conn.executemany(
        f"update main.{t} set {assign} where {where}",
        [[row[position[c]] for c in others + key] for row in rows],
    )
    return added, len(rows)


def _is_integer_key(conn: sqlite3.Connection, table: str, column: str) -> bool:
    info = conn.execute(f"pragma main.table_info({_q(table)})").fetchall()
    return any(row[1] == column and row[2].upper() == "INTEGER" for row in info)


def merge_workspaces(target: Store, sources: Iterable[Path]) -> MergeReport:
    """Merge each source workspace into ``target`` (see the module docstring); one transaction per
    source, so a killed merge leaves whole sources merged or not at all, and rerunning it completes."""
    sources = [Path(s) for s in sources]
    report = MergeReport(target=str(target.workspace), sources=[str(s) for s in sources])
    if not sources:
        raise MergeError("name at least one workspace to merge")
    databases = [_database(s) for s in sources]
    for source, database in zip(sources, databases, strict=True):
        if database.resolve() == target.path.resolve():
            raise MergeError(f"{source} is the target workspace itself; name other workspaces")
        version = _version(database)
        if version > len(MIGRATIONS):
            raise MergeError(
                f"{source} was written by a newer graph-toucan (schema {version}); upgrade graph-toucan"
            )
        if version < len(MIGRATIONS):
            Store(database).close()  # bring it to this schema, as opening it with any command would
    _merge_graphs(target.workspace, sources, report)
    conn = target.db.conn
    for database in databases:
        conn.execute("attach database ? as src", [f"file:{database}?mode=ro"])
        try:
            with target.transaction():
                for table in _tables(conn):
                    if table not in _tables(conn, "src"):
                        continue
                    added, replaced = _merge_table(conn, table)
                    report.added[table] = report.added.get(table, 0) + added
                    report.replaced[table] = report.replaced.get(table, 0) + replaced
        finally:
            conn.execute("detach database src")
    report.added = {k: v for k, v in report.added.items() if v}
    report.replaced = {k: v for k, v in report.replaced.items() if v}
    return report


def _version(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return conn.execute("pragma user_version").fetchone()[0]


def _merge_graphs(target: Path, sources: list[Path], report: MergeReport) -> None:
    graphs = {s: (s / GRAPH_FILE).read_bytes() for s in sources if (s / GRAPH_FILE).is_file()}
    if (target / GRAPH_FILE).is_file() or not graphs:
        return
    if len(set(graphs.values())) > 1:
        raise MergeError(
            f"the workspaces hold different dependency graphs ({', '.join(map(str, graphs))}); merge "
            "workspaces sharded from one prepared workspace, or run 'graph-toucan graph build' after merging"
        )
    shutil.copyfile(next(iter(graphs)) / GRAPH_FILE, target / GRAPH_FILE)
    report.graph = "copied"
