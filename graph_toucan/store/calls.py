"""The LLM call log: calls written at once or in batches (flushed at exit), the answer cache over them
and the per-task statistics."""

from __future__ import annotations

import atexit
import contextlib
import os
import sqlite3
import time
import weakref
from collections.abc import Iterator
from typing import Any

from graph_toucan.records import LLMCall
from graph_toucan.store.base import Connection, drop, encode

CALL_COUNTS = (  # the summed columns of CallLog.call_stats() (beside cost_usd and avg_latency_s)
    "calls",
    "retries",
    "parse_failures",
    "failures",
    "fallbacks",
    "input_tokens",
    "output_tokens",
)

_UNFLUSHED: weakref.WeakSet[CallLog] = weakref.WeakSet()  # stores with logged calls not yet written


@atexit.register
def _flush_at_exit() -> None:
    for store in list(_UNFLUSHED):
        with contextlib.suppress(sqlite3.Error):
            store.flush_calls()


class CallLog(Connection):
    """The ``llm_calls`` table, with the calls logged but not yet written held in memory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        self._pending_calls: list[LLMCall] = []
        self._first_pending = 0.0
        self._call_batch = 1

    def close(self) -> None:
        self.flush_calls()
        _UNFLUSHED.discard(self)
        super().close()

    def count(self, table: str) -> int:
        if table == "llm_calls":
            self.flush_calls()
        return super().count(table)

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
        rows = [encode("llm_calls", c.model_dump(mode="json") | {"created_at": now}) for c in pending]
        with self.transaction():
            self.db["llm_calls"].insert_all(rows)

    def cached_call(self, key: str) -> LLMCall | None:
        """The newest successful call with this request key, if any."""
        for call in reversed(self._pending_calls):
            if call.key == key and call.error is None:
                return call
        hit = "select 1 from llm_calls where key = ? and error is null limit 1"
        if self.db.conn.execute(hit, [key]).fetchone() is None:  # most lookups miss: one cheap query
            return None
        rows = list(
            self._rows(
                "llm_calls", where="key = ? and error is null", params=[key], order_by="id desc", limit=1
            )
        )
        return LLMCall.model_validate(drop(rows[0], "id", "created_at")) if rows else None

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
        return [LLMCall.model_validate(drop(r, "id", "created_at")) for r in rows]

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
