"""Distributions over planned paths (docs/method.md section 9, the part known before translation): turns,
calls per turn and per path, turn types, dependency types and origins, splits, tool and server coverage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from graph_toucan.records import PlannedPath


class PathStats:
    """Accumulates paths one at a time (so a whole workspace is never held in memory)."""

    def __init__(self) -> None:
        self.paths = 0
        self.turns: Counter[int] = Counter()
        self.calls_per_turn: Counter[int] = Counter()
        self.calls_per_path: Counter[int] = Counter()
        self.turn_types: Counter[str] = Counter()
        self.dependency_types: Counter[str] = Counter()
        self.dependency_origins: Counter[str] = Counter()
        self.splits: Counter[str] = Counter()
        self.implicit_calls = 0
        self.available: Counter[int] = Counter()
        self.distractors: Counter[int] = Counter()
        self.tools: set[str] = set()
        self.servers: set[str] = set()

    def add(self, path: PlannedPath) -> None:
        self.paths += 1
        self.turns[len(path.turns)] += 1
        calls = 0
        for turn in path.turns:
            self.calls_per_turn[len(turn.calls)] += 1
            self.turn_types[turn.type] += 1
            calls += len(turn.calls)
            if turn.split is not None:
                self.splits[turn.split.kind] += 1
            for call in turn.calls:
                self.implicit_calls += call.implicit
                self.tools.add(call.tool_id)
                self.servers.add(call.server_id)
        self.calls_per_path[calls] += 1
        for dep in path.dependencies:
            self.dependency_types[dep.type] += 1
            self.dependency_origins[dep.origin] += 1
        self.available[len(path.available_tools)] += 1
        self.distractors[sum(t.distractor for t in path.available_tools)] += 1

    def as_dict(self, *, tools_total: int | None = None, servers_total: int | None = None) -> dict[str, Any]:
        """JSON-ready figures; coverage shares when the population sizes are given."""
        calls = sum(k * v for k, v in self.calls_per_path.items())
        turns = sum(self.calls_per_turn.values())
        out: dict[str, Any] = {
            "paths": self.paths,
            "multi_turn_share": share(sum(v for k, v in self.turns.items() if k > 1), self.paths),
            "turns": distribution(self.turns),
            "calls_per_turn": distribution(self.calls_per_turn),
            "calls_per_path": distribution(self.calls_per_path),
            "turn_types": counts(self.turn_types, turns),
            "dependencies_per_path": round(sum(self.dependency_types.values()) / self.paths, 3)
            if self.paths
            else 0.0,
            "dependency_types": counts(self.dependency_types),
            "dependency_origins": counts(self.dependency_origins),
            "splits": counts(self.splits),
            "implicit_call_share": share(self.implicit_calls, calls),
            "available_tools": distribution(self.available),
            "distractors": distribution(self.distractors),
            "tools_used": len(self.tools),
            "servers_used": len(self.servers),
        }
        if tools_total:
            out["tool_coverage"] = share(len(self.tools), tools_total)
        if servers_total:
            out["server_coverage"] = share(len(self.servers), servers_total)
        return out


def path_stats(paths: Iterable[PlannedPath]) -> PathStats:
    stats = PathStats()
    for path in paths:
        stats.add(path)
    return stats


def share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def distribution(counter: Counter[int]) -> dict[str, Any]:
    total = sum(counter.values())
    mean = sum(k * v for k, v in counter.items()) / total if total else 0.0
    return {
        "mean": round(mean, 3),
        "min": min(counter, default=0),
        "max": max(counter, default=0),
        "histogram": {str(k): counter[k] for k in sorted(counter)},
    }


def counts(counter: Counter[str], total: int | None = None) -> dict[str, Any]:
    """Counts by key in descending order; with ``total``, also each key's share."""
    ordered = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    if total is None:
        return dict(ordered)
    return {k: {"count": v, "share": share(v, total)} for k, v in ordered}
