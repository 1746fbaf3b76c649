"""Servers, tools (upserted by digest) and their probe examples."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from graph_toucan.records import Server, Tool, ToolExample
from graph_toucan.store.base import Connection, drop, encode, in_chunks


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


class ToolTables(Connection):
    """The ``servers``, ``tools`` and ``tool_examples`` tables."""

    def upsert_server(self, server: Server) -> bool:
        """Write a server; returns True if it was new."""
        new = not self._exists("servers", server.id)
        self.db["servers"].upsert(encode("servers", server.model_dump(mode="json")), pk="id")
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
            rows.append(encode("tools", tool.model_dump(mode="json") | {"updated_at": now}))
        if rows:
            self.db["tools"].upsert_all(rows, pk="id")
        return counts

    def update_tool(self, tool: Tool) -> None:
        """Write a tool's annotations (same id, same digest)."""
        self.db["tools"].upsert(
            encode("tools", tool.model_dump(mode="json") | {"updated_at": time.time()}), pk="id"
        )

    def _digests(self, ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for marks, chunk in in_chunks(ids):
            found.update(
                self.db.execute(f"select id, digest from tools where id in ({marks})", chunk).fetchall()
            )
        return found

    def servers(self) -> list[Server]:
        return [Server.model_validate(drop(r, "id")) for r in self._rows("servers", order_by="name")]

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

    def tool_origins(self) -> dict[str, tuple[str, str]]:
        """Tool id -> (server id, catalog source) of every tool, without reading the tools themselves."""
        return {
            i: (server, source)
            for i, server, source in self.db.execute("select id, server_id, source from tools")
        }

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

    # -- tool examples -----------------------------------------------------------------------------
    def add_example(self, example: ToolExample) -> None:
        row = encode("tool_examples", example.model_dump(mode="json") | {"created_at": time.time()})
        self.db["tool_examples"].upsert(row, pk="id")

    def examples(self, tool_id: str) -> list[ToolExample]:
        rows = self._rows("tool_examples", where="tool_id = ?", params=[tool_id], order_by="created_at")
        return [ToolExample.model_validate(drop(r, "id", "created_at")) for r in rows]


def _tool(row: dict[str, Any]) -> Tool:
    return Tool.model_validate(drop(row, "id", "digest", "updated_at"))
