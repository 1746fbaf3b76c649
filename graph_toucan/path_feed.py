"""Sample streams written to the store on demand and resumed: :class:`PathFeed` and the entry points.

A stream (:mod:`graph_toucan.sampling`) is deterministic, so the store's copy of it can always be
continued: each batch of paths is written in one transaction with the stream's cursor, and a new
feed picks the stream up from that cursor instead of planning or drawing the stored paths again.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph_toucan.graph import graph_path
from graph_toucan.graph_index import GraphIndex
from graph_toucan.ids import content_id
from graph_toucan.records import Sampler
from graph_toucan.sampling import (
    RandomCursor,
    SampleConfig,
    StreamCursor,
    graph_paths,
    in_shard,
    no_starts,
    population,
    random_paths,
)
from graph_toucan.store import Store

__all__ = ["PathFeed", "SampleReport", "sample_to_store", "sample_workspace", "stream_key"]


@dataclass
class SampleReport:
    """What a sample run did; ``path_ids`` are the sampled paths in stream order."""

    sampler: Sampler
    seed: int
    requested: int
    new: int
    tools: int
    usable_edges: int
    stored_paths: int
    path_ids: list[str] = field(default_factory=list)

    @property
    def sampled(self) -> int:
        return len(self.path_ids)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sampler": self.sampler,
            "seed": self.seed,
            "requested": self.requested,
            "sampled": self.sampled,
            "new": self.new,
            "already_stored": self.sampled - self.new,
            "exhausted": self.sampled < self.requested,
            "tools": self.tools,
            "usable_edges": self.usable_edges,
            "stored_paths": self.stored_paths,
        }


def stream_key(
    store: Store,
    sampler: Sampler,
    seed: int,
    config: SampleConfig,
    starts: Iterable[str] | None,
    index: GraphIndex,
) -> str:
    """What a stream depends on: sampler, seed, settings, start tools, the population and the graph
    file. A stream of another key (a rebuilt graph, other settings) is never resumed from this one's
    cursor. A shard of a run uses its own seed, so its stream has a key of its own."""
    graph = graph_path(store)
    graph_digest = hashlib.sha256(graph.read_bytes()).hexdigest() if graph.exists() else ""
    return content_id(
        "stream",
        sampler,
        seed,
        config.model_dump(mode="json"),
        sorted(starts) if starts is not None else None,
        sorted(index.ids),
        graph_digest,
    )


class PathFeed:
    """One sample stream written to the store on demand, continuing where the store's copy of it
    stopped. Each batch of paths is written in one transaction with the stream's cursor (recorded in
    the run summary under ``key``): for a graph stream the walks drawn and paths given, for the random
    baseline its ``Random``'s state, paths given and misses, with the tool sets it drew in the store's
    ``stream_draws`` (every set drawn, also those whose path was skipped, since a set drawn again is
    a miss). A new feed resumes from the cursor, so asking for more paths never plans (graph) or
    draws (random) the stored ones again; a killed run leaves a cursor that matches the store. When
    the store lacks what the cursor says was written (deleted paths or draws, a summary of another
    version), the feed replays its stream from the start instead (the stored paths are not written
    again)."""

    def __init__(
        self,
        store: Store,
        sampler: Sampler,
        seed: int,
        config: SampleConfig,
        starts: Iterable[str] | None = None,
        *,
        index: GraphIndex | None = None,
        run_id: str | None = None,
    ) -> None:
        self.store, self.sampler, self.seed, self.run_id = store, sampler, seed, run_id
        self.shard = config.shard
        starts = list(starts) if starts is not None else None
        if sampler != "graph":
            no_starts(starts)
        self.index = index or population(store, sampler, config)
        self.key = f"stream-{stream_key(store, sampler, seed, config, starts, self.index)}"
        self.cursor: StreamCursor | RandomCursor = self._resumed()
        self.resumed = self.cursor.paths
        if isinstance(self.cursor, StreamCursor):
            self._stream = graph_paths(self.index, config, seed, starts, cursor=self.cursor)
        else:
            self._stream = random_paths(self.index, config, seed, cursor=self.cursor)
        self.exhausted = False
        self.new = 0  # paths this feed wrote that the store did not have

    def _resumed(self) -> StreamCursor | RandomCursor:
        """The recorded cursor when the store still holds what it says was written, else the start."""
        summary = self.store.run_summary(self.key) or {}
        try:
            cursor = self._graph_cursor(summary) if self.sampler == "graph" else self._random_cursor(summary)
        except (KeyError, TypeError, ValueError):  # a summary this version does not read
            cursor = None
        if cursor is None:
            return StreamCursor() if self.sampler == "graph" else RandomCursor()
        return cursor

    def _graph_cursor(self, summary: dict[str, Any]) -> StreamCursor | None:
        if not summary:
            return None
        paths = int(summary.get("paths", 0))
        ids = self.stored_ids(paths)
        if len(ids) != paths:  # the store no longer holds what the cursor says was written
            return None
        return StreamCursor(walks=int(summary.get("walks", 0)), paths=paths, seen=set(ids))

    def _random_cursor(self, summary: dict[str, Any]) -> RandomCursor | None:
        if "rng" not in summary:
            return None
        paths, draws = int(summary["paths"]), int(summary["draws"])
        stored = (
            self.store.path_count(self.sampler, seed=self.seed)
            if self.shard is None
            else len(self.stored_ids(paths))
        )
        if stored < paths:  # the store no longer holds what the cursor says was written
            return None
        seen = self.store.stream_draws(self.key, limit=draws)
        if len(seen) != draws:  # the draws before the cursor are gone: replaying them is the only way
            return None
        return RandomCursor.from_summary(summary, set(seen))

    def stored_ids(self, limit: int | None = None) -> list[str]:
        """Ids of the first ``limit`` paths of this stream in the store, in stream order; a shard's
        only, though the paths of another stream of the same seed (shard 0 and the unsharded run
        share theirs) are there too."""
        if self.shard is None:
            return self.store.stream_path_ids(self.sampler, self.seed, limit=limit)
        ids = [i for i in self.store.stream_path_ids(self.sampler, self.seed) if in_shard(i, self.shard)]
        return ids[:limit]

    @property
    def stored(self) -> int:
        """Paths of this stream in the store (at least those the cursor has given)."""
        if self.shard is not None:
            return max(self.cursor.paths, len(self.stored_ids()))
        return max(self.cursor.paths, self.store.path_count(self.sampler, seed=self.seed))

    def take(self, n: int, *, batch: int = 1000, progress: Callable[[int], None] | None = None) -> list[str]:
        """Write the next ``n`` paths of the stream (fewer when it runs out: then ``exhausted``), ``batch``
        per transaction with the cursor they lead to; returns their ids in stream order."""
        ids: list[str] = []
        while len(ids) < n:
            chunk = list(itertools.islice(self._stream, min(batch, n - len(ids))))
            if not chunk:
                self.exhausted = True
                break
            with self.store.transaction():  # the paths and the cursor after them, or neither
                self.new += self.store.add_paths(chunk, run_id=self.run_id)
                self._record()
            if isinstance(self.cursor, RandomCursor):
                self.cursor.drawn.clear()
            ids.extend(p.id for p in chunk)
            if progress:
                progress(len(chunk))
        return ids

    def _record(self) -> None:
        """Record the cursor (and a random stream's sets drawn since the last record) in the store."""
        cursor = self.cursor
        if isinstance(cursor, StreamCursor):
            summary: dict[str, Any] = {"walks": cursor.walks, "paths": cursor.paths}
        else:
            self.store.add_stream_draws(self.key, len(cursor.seen) - len(cursor.drawn), cursor.drawn)
            summary = cursor.summary()
        self.store.record_run(self.key, "sample", "done", time.time(), summary)

    def extend(self, k: int) -> int:
        """Make sure the store holds ``k`` more paths of this stream than now; returns how many new
        paths were written (0: the stream is exhausted)."""
        before = self.new
        self.take(self.stored + k - self.cursor.paths)
        return self.new - before


def sample_to_store(
    store: Store,
    sampler: Sampler,
    n: int,
    seed: int,
    config: SampleConfig,
    starts: Iterable[str] | None = None,
    *,
    index: GraphIndex | None = None,
    run_id: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> SampleReport:
    """Sample the first ``n`` paths of the seed's stream from the workspace into its store; ``index``
    is the :func:`population` when the caller already has it. The stream continues from where the
    store's copy of it stopped (see :class:`PathFeed`)."""
    feed = PathFeed(store, sampler, seed, config, starts, index=index, run_id=run_id)
    ids = feed.stored_ids(min(n, feed.cursor.paths)) if feed.resumed else []
    if progress and ids:
        progress(len(ids))
    ids += feed.take(n - len(ids), progress=progress)
    return SampleReport(
        sampler=sampler,
        seed=seed,
        requested=n,
        new=feed.new,
        tools=len(feed.index.ids),
        usable_edges=feed.index.edge_count,
        stored_paths=store.path_count(sampler),
        path_ids=ids,
    )


def sample_workspace(
    db: Path,
    sampler: Sampler,
    n: int,
    seed: int,
    config: SampleConfig,
    starts: list[str] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> SampleReport:
    """:func:`sample_to_store` on the workspace database at ``db``, opened and closed here: the entry
    point of a worker process (see :mod:`graph_toucan.workers`)."""
    store = Store(db)
    try:
        index = _kept_population(store, sampler, config)
        return sample_to_store(store, sampler, n, seed, config, starts, index=index, progress=progress)
    finally:
        store.close()


_KEPT: dict[tuple[Any, ...], GraphIndex] = {}  # the last population built in this (worker) process


def _kept_population(store: Store, sampler: Sampler, config: SampleConfig) -> GraphIndex:
    """:func:`population`, built again only when what it depends on changed: the graph file, the
    edge weights, the tools or the mocks (a worker serving call after call builds it once)."""
    file = graph_path(store)
    tools, mocks = (
        tuple(store.db.execute(f"select count(*), coalesce(max({col}), '') from {table}").fetchone())
        for table, col in (("tools", "updated_at"), ("mocks", "created_at"))
    )
    stat = file.stat() if file.exists() else None
    key = (str(store.path), sampler, stat and (stat.st_mtime_ns, stat.st_size), tools, mocks)
    key += (config.walk.edge_weights.model_dump_json(),)
    if key not in _KEPT:
        _KEPT.clear()
        _KEPT[key] = population(store, sampler, config)
    return _KEPT[key]
