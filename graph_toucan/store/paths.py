"""What the graph and sampling stages store: edge judgements, mock tools and planned paths."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

from graph_toucan.records import EdgeJudgement, MockTool, PlannedPath
from graph_toucan.store.base import Connection, drop, encode, in_chunks


class PlanTables(Connection):
    """The ``judgements``, ``mocks``, ``mock_checks``, ``paths`` and ``stream_draws`` tables."""

    # -- edge judgements (graph.py) ---------------------------------------------------------------
    def add_judgements(self, judgements: Iterable[EdgeJudgement]) -> None:
        now = time.time()
        rows = [encode("judgements", j.model_dump(mode="json") | {"created_at": now}) for j in judgements]
        if rows:
            with self.transaction():
                self.db["judgements"].upsert_all(rows, pk="id")

    def judgements(self, keys: Iterable[str] | None = None) -> dict[str, EdgeJudgement]:
        """Stored judgements by key: those of ``keys`` (missing keys are simply absent), or all."""
        found: dict[str, EdgeJudgement] = {}
        chunks = [(None, [])] if keys is None else [(f"id in ({m})", c) for m, c in in_chunks(list(keys))]
        for where, chunk in chunks:
            for row in self._rows("judgements", where=where, params=chunk):
                found[row["id"]] = EdgeJudgement.model_validate(drop(row, "id", "created_at"))
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

    def passed_checks(self) -> set[str]:
        """Keys of mock code that passed the sandbox's allow-list check (``SandboxPool.trust``)."""
        return {row[0] for row in self.db.execute("select key from mock_checks")}

    def add_passed_checks(self, keys: Iterable[str]) -> None:
        rows = [(key,) for key in keys]
        if rows:
            with self.transaction():
                self.db.conn.executemany("insert or ignore into mock_checks (key) values (?)", rows)

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
            for marks, chunk in in_chunks(list(rows)):
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

    def stream_path_ids(self, sampler: str, seed: int, *, limit: int | None = None) -> list[str]:
        """Ids of the first ``limit`` paths (all: ``None``) of one sample stream, in stream order."""
        rows = self.db.execute(
            "select id from paths where sampler = ? and seed = ? order by position, id limit ?",
            [sampler, seed, -1 if limit is None else limit],
        )
        return [row[0] for row in rows]

    # -- the random baseline's draws (path_feed.py) --------------------------------------------------
    def add_stream_draws(self, stream: str, start: int, draws: Iterable[frozenset[str]]) -> None:
        """Record a stream's tool sets drawn from number ``start`` on. Rows from ``start`` on that are
        already there are replaced, so the table's first rows are always the draws of one run of the
        stream, in order (another run's later draws never follow this one's)."""
        rows = [(stream, start + k, " ".join(sorted(tools))) for k, tools in enumerate(draws)]
        with self.transaction():
            self.db.execute("delete from stream_draws where stream = ? and number >= ?", [stream, start])
            self.db.conn.executemany(
                "insert into stream_draws (stream, number, tools) values (?, ?, ?)", rows
            )

    def stream_draws(self, stream: str, *, limit: int | None = None) -> list[frozenset[str]]:
        """The first ``limit`` tool sets (all: ``None``) a stream drew, in draw order."""
        rows = self.db.execute(
            "select tools from stream_draws where stream = ? and number < ? order by number",
            [stream, 2**63 - 1 if limit is None else limit],
        )
        return [frozenset(row[0].split(" ")) for row in rows]


def _mock(row: dict[str, Any]) -> MockTool:
    data = drop(row, "id", "tool_id", "tool_ref", "created_at")
    data["tool"] = json.loads(data["tool"])
    return MockTool.model_validate(data)
