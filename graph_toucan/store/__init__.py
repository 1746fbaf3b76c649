"""The workspace: one SQLite file (WAL, versioned migrations) holding every record.

Rows are keyed by the records' content-hash ids, so writing the same record twice is a no-op and
an interrupted job rerun simply completes. JSON columns hold dicts and lists; :class:`Store`
turns rows back into records.
"""

from __future__ import annotations

from graph_toucan.store.base import DB_NAME, DEFAULT_WORKSPACE, WORKSPACE_ENV, resolve_workspace
from graph_toucan.store.calls import CALL_COUNTS, CallLog
from graph_toucan.store.conversations import ConversationTables
from graph_toucan.store.migrations import MIGRATIONS
from graph_toucan.store.paths import PlanTables
from graph_toucan.store.tools import ToolTables, UpsertCounts

__all__ = [
    "CALL_COUNTS",
    "DB_NAME",
    "DEFAULT_WORKSPACE",
    "MIGRATIONS",
    "WORKSPACE_ENV",
    "Store",
    "UpsertCounts",
    "resolve_workspace",
]


class Store(ToolTables, CallLog, PlanTables, ConversationTables):
    """A workspace database. Open with :meth:`open`; safe to open from several processes (WAL)."""
