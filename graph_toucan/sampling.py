"""Planned paths from a seed: the graph sampler (walks + node operations) and TOUCAN's random baseline.

Both are streams: path k of a seed is the same whether 10 or 100,000 paths are asked for, so a rerun
(or a larger ``--n``) repeats the earlier paths exactly and the store, keyed by content, adds only
what is new. Every random choice comes from ``random.Random`` objects seeded from ``seed``.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from graph_toucan.graph import load_graph
from graph_toucan.graph_index import GraphIndex, SamplingError
from graph_toucan.operations import Draft, DraftCall, DraftTurn, OperationConfig, plan, to_path
from graph_toucan.records import PlannedPath, Sampler, Tool
from graph_toucan.schema import unresolved_refs
from graph_toucan.store import Store
from graph_toucan.walks import WalkConfig, later_tasks, start_nodes, walk_stream

__all__ = [
    "PROFILES",
    "BaselineConfig",
    "RandomCursor",
    "SampleConfig",
    "SamplingError",
    "StreamCursor",
    "baseline_tools",
    "check_population",
    "graph_paths",
    "in_shard",
    "load_config",
    "no_starts",
    "population",
    "random_paths",
    "sample_paths",
    "store_paths",
]


class BaselineConfig(BaseModel):
    """TOUCAN's sampler: 1 to ``max_tools`` tools that share a tag, in random order, one turn."""

    model_config = ConfigDict(extra="forbid")

    max_tools: int = Field(3, ge=1, description="Most tools per path.")
    patience: int = Field(
        500, ge=1, description="Stop after this many duplicate draws in a row (every combination is taken)."
    )


class SampleConfig(BaseModel):
    """Everything that shapes sampled paths (besides the graph and the seed)."""

    model_config = ConfigDict(extra="forbid")

    walk: WalkConfig = Field(default_factory=WalkConfig)
    operations: OperationConfig = Field(default_factory=OperationConfig)
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    distractors: int = Field(4, ge=0, description="Tools offered besides the path's own.")
    shard: tuple[int, int] | None = Field(
        None, description="(K, N): keep only the paths whose id falls in shard K of N (sharded runs)."
    )

    @model_validator(mode="after")
    def _shard_in_range(self) -> SampleConfig:
        if self.shard is not None and not 0 <= self.shard[0] < self.shard[1]:
            raise ValueError(f"shard {self.shard[0]} of {self.shard[1]} does not exist")
        return self


# Named shapes beside the defaults: BFCL v3 multi_turn_base's (about 3.7 user turns and 5.7 calls a
# conversation, 1.6 calls a turn) and MAGNET's depth (4.7 turns and 15 calls a multi-turn conversation).
PROFILES: dict[str, dict[str, Any]] = {
    "bfcl": {
        "walk": {"max_steps": 4, "min_steps": 1, "max_tasks": 2, "second_task": 0.6, "second_max_steps": 2},
        "operations": {"merge": 0.3, "parallel": 0.3, "insert_short": 0.3, "max_calls_per_turn": 4},
    },
    "magnet": {
        "walk": {"max_steps": 7, "min_steps": 2, "max_tasks": 6, "second_task": 0.95, "second_max_steps": 6},
        "operations": {
            "merge": 0.6,
            "parallel": 0.7,
            "insert_short": 0.6,
            "max_merge_calls": 4,
            "max_calls_per_turn": 6,
        },
    },
}


def _under(base: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` over ``base``, section by section."""
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def load_config(
    source: Path | dict[str, Any] | None = None, profile: str | None = None, **overrides: Any
) -> SampleConfig:
    """A validated config from a named ``profile`` (see :data:`PROFILES`), under a JSON file or a dict,
    under dotted overrides such as ``{"walk.max_steps": 4}`` (``None`` values are ignored). Invalid
    settings raise one :class:`SamplingError` that names each bad setting and the accepted range."""
    if profile is not None and profile not in PROFILES:
        raise SamplingError(f"unknown profile {profile!r}; use one of {', '.join(sorted(PROFILES))}")
    if isinstance(source, Path):
        try:
            data = json.loads(source.read_text())
        except (OSError, ValueError) as exc:
            raise SamplingError(
                f"cannot read the sampling config {source}: {exc}; give a JSON file"
            ) from None
        if not isinstance(data, dict):
            raise SamplingError(f"the sampling config {source} must be a JSON object")
    else:
        data = json.loads(json.dumps(source or {}))
    if profile is not None:
        data = _under(PROFILES[profile], data)
    for dotted, value in overrides.items():
        if value is None:
            continue
        target = data
        *parents, name = dotted.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[name] = value
    try:
        return SampleConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        )
        raise SamplingError(
            f"invalid sampling settings: {problems}; fix them in the config or options"
        ) from None


def check_population(index: GraphIndex, config: SampleConfig) -> None:
    """Settings that cannot work with these tools, as one clear error."""
    if not index.ids:
        raise SamplingError("no tools to sample from; import and annotate tools, then build the graph")
    if config.distractors >= len(index.ids):
        raise SamplingError(
            f"distractors={config.distractors} but there are only {len(index.ids)} tools, and a path needs "
            f"at least one of them; use at most {len(index.ids) - 1} distractors"
        )


def in_shard(path_id: str, shard: tuple[int, int] | None) -> bool:
    """Whether a path belongs to shard K of N: its content id is K modulo N. A path's id hashes its
    content, not its seed, so the shards' own seeds alone would not keep two shards from drawing the
    same path; this does. Both samplers filter before counting positions, so a shard's stream is
    numbered 0, 1, 2... like any other and resumes from its own stored paths."""
    return shard is None or int(path_id, 16) % shard[1] == shard[0]


@dataclass
class StreamCursor:
    """Where a graph stream stands: walks drawn, paths given (their positions), and the ids of the
    paths given (distinct paths only). A stream started from a cursor continues it exactly: the
    walks before ``walks`` are drawn again (cheap) but not planned (the expensive part)."""

    walks: int = 0
    paths: int = 0
    seen: set[str] = field(default_factory=set)


def graph_paths(
    index: GraphIndex,
    config: SampleConfig,
    seed: int,
    starts: Iterable[str] | None = None,
    *,
    cursor: StreamCursor | None = None,
) -> Iterator[PlannedPath]:
    """Distinct planned paths of the graph sampler, in stream order, until the distinct walks run out;
    from ``cursor`` on when given (which is kept up to date as paths are given)."""
    check_population(index, config)
    fresh = start_nodes(index, config.walk)  # where an unbridged later task may start
    cursor = cursor if cursor is not None else StreamCursor()
    skip = cursor.walks
    for number, walk in enumerate(walk_stream(index, config.walk, seed, starts)):
        if number < skip:
            continue
        cursor.walks = number + 1
        rng = random.Random(f"graph:{seed}:{number}")
        later = later_tasks(index, walk, config.walk, random.Random(f"later:{seed}:{number}"), fresh)
        draft = plan(walk, index, config.operations, rng, later)
        while draft is None and later:  # a later task needs an id nothing gives: leave it out
            later = later[:-1]
            draft = plan(walk, index, config.operations, random.Random(f"graph:{seed}:{number}"), later)
        if draft is None:
            continue  # an id or token the path's calls cannot get from an earlier call
        path = to_path(
            draft,
            index,
            distractors=config.distractors,
            sampler="graph",
            seed=seed,
            position=cursor.paths,
            rng=rng,
        )
        key = path.id
        if key not in cursor.seen and in_shard(key, config.shard):
            cursor.seen.add(key)
            cursor.paths += 1
            yield path


@dataclass
class RandomCursor:
    """Where a random baseline stream stands: its ``random.Random`` (``None``: the seed's start), paths
    given (their positions), duplicate draws in a row (``misses``) and every tool set drawn (``seen``,
    also those whose path was then skipped: drawn again, any of them is a miss). ``drawn`` lists the
    sets of ``seen`` not recorded yet, in draw order (:class:`PathFeed` stores them with each batch).
    A stream started from a cursor continues it exactly and draws nothing before it again."""

    rng: random.Random | None = None
    paths: int = 0
    misses: int = 0
    seen: set[frozenset[str]] = field(default_factory=set)
    drawn: list[frozenset[str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The cursor as JSON for the run summary, but for its drawn sets (only how many: ``draws``),
        which are too many for it and go to the store's ``stream_draws``. Without a ``Random`` (the
        seed's start) there is no ``rng`` and a feed reading it back starts the stream afresh."""
        summary: dict[str, Any] = {"paths": self.paths, "misses": self.misses, "draws": len(self.seen)}
        if self.rng is not None:
            version, internal, gauss = self.rng.getstate()
            summary["rng"] = [version, list(internal), gauss]
        return summary

    @classmethod
    def from_summary(cls, summary: dict[str, Any], seen: set[frozenset[str]]) -> RandomCursor:
        """The cursor a :meth:`summary` recorded, with the ``seen`` sets read back from the store."""
        version, internal, gauss = summary["rng"]
        rng = random.Random()
        rng.setstate((int(version), tuple(int(v) for v in internal), gauss))
        return cls(rng, int(summary["paths"]), int(summary["misses"]), seen)


def baseline_tools(tools: Iterable[Tool]) -> list[Tool]:
    """The random baseline's population: tagged tools that later stages can simulate (a class and an
    output schema), which are the graph's nodes, so both samplers draw from the same tools."""
    chosen = [t for t in tools if t.tags and t.tool_class and t.output_schema is not None]
    if not chosen:
        raise SamplingError(
            "no tool has tags, a class and an output schema; run 'graph-toucan annotate' first"
        )
    return chosen


def random_paths(
    index: GraphIndex, config: SampleConfig, seed: int, *, cursor: RandomCursor | None = None
) -> Iterator[PlannedPath]:
    """TOUCAN's baseline: a random tool, one of its tags, and up to ``max_tools - 1`` other tools with
    that tag, shuffled into one turn of explicit calls; no graph, no operations, no dependencies. A
    tool set drawn before is a miss; ``patience`` misses in a row end the stream. From ``cursor`` on
    when given (which is kept up to date as paths are given)."""
    check_population(index, config)
    by_tag: dict[str, list[str]] = {}
    for node in index.nodes.values():
        for tag in node.tags:
            by_tag.setdefault(tag, []).append(node.id)
    tagged = [n.id for n in index.nodes.values() if n.tags]
    if not tagged:
        raise SamplingError("no tool has tags; run 'graph-toucan annotate' to tag the tools first")
    cursor = cursor if cursor is not None else RandomCursor()
    if cursor.rng is None:
        cursor.rng = random.Random(f"random:{seed}")
    rng, seen = cursor.rng, cursor.seen
    while cursor.misses < config.baseline.patience:
        first = tagged[rng.randrange(len(tagged))]
        tag = rng.choice(index.nodes[first].tags)
        peers = [t for t in by_tag[tag] if t != first]
        size = rng.randint(1, min(config.baseline.max_tools, len(peers) + 1))
        tools = [first, *rng.sample(peers, size - 1)]
        rng.shuffle(tools)
        drawn = frozenset(tools)
        if drawn in seen:
            cursor.misses += 1
            continue
        cursor.misses = 0
        seen.add(drawn)
        cursor.drawn.append(drawn)
        draft = Draft((DraftTurn(tuple(DraftCall(k, t) for k, t in enumerate(tools))),), (), len(tools))
        if any(index.nodes[t].issued_required for t in tools):
            continue  # no dependencies here, so no earlier call could give it the id or token it needs
        path = to_path(
            draft,
            index,
            distractors=config.distractors,
            sampler="random",
            seed=seed,
            position=cursor.paths,
            rng=rng,
        )
        if in_shard(path.id, config.shard):
            cursor.paths += 1
            yield path


def sample_paths(
    sampler: Sampler,
    index: GraphIndex,
    config: SampleConfig,
    seed: int,
    starts: Iterable[str] | None = None,
) -> Iterator[PlannedPath]:
    """The stream of the named sampler; with ``config.shard`` (K, N) only the paths whose content id is
    K modulo N (see :func:`in_shard`)."""
    if sampler == "graph":
        return graph_paths(index, config, seed, starts)
    no_starts(starts)
    return random_paths(index, config, seed)


def no_starts(starts: Iterable[str] | None) -> None:
    """Refuse start tools for the random baseline, which has no walks to start."""
    if starts is not None:
        raise SamplingError(
            "start tools only apply to the graph sampler; leave --start out with --sampler random"
        )


def store_paths(
    store: Store,
    paths: Iterator[PlannedPath],
    n: int,
    *,
    run_id: str | None = None,
    batch: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Write the first ``n`` paths of a stream, ``batch`` per transaction (a killed run keeps the
    batches it finished; rerunning it adds only the rest). Returns (paths sampled, paths new)."""
    sampled = new = 0
    while sampled < n:
        chunk = list(itertools.islice(paths, min(batch, n - sampled)))
        if not chunk:
            break
        new += store.add_paths(chunk, run_id=run_id)
        sampled += len(chunk)
        if progress:
            progress(len(chunk))
    return sampled, new


def population(
    store: Store, sampler: Sampler, config: SampleConfig, tools: list[Tool] | None = None
) -> GraphIndex:
    """What a sampler draws from: the workspace's dependency graph, or for the random baseline its
    annotated tools (the graph's nodes); never a tool whose mock could not be built, since no call of
    it can be simulated, nor one whose input schema refers to a definition it lacks, since no call of
    it can be valid. ``tools``: the store's tools, when the caller has them loaded already."""
    tools = store.tools() if tools is None else tools
    if sampler == "graph":
        index = GraphIndex.from_digraph(load_graph(store), config.walk.edge_weights)
    else:
        index = GraphIndex.from_tools(baseline_tools(tools))
    broken = {t.id for t in tools if unresolved_refs(t.input_schema)}
    return index.without({m.tool.id for m in store.mocks(status="unmockable")} | broken)
