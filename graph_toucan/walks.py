"""Seeded random walks over the dependency graph (docs/method.md section 4).

A walk starts at a node, follows out-edges chosen by their type's weight (full > partial >
prerequisite by default), never revisits a node, and stops at a length drawn between ``min_steps`` and
``max_steps`` edges, or earlier at a dead end. The next tool is chosen to extend the chain: a tool with
no way on is rarely taken while steps remain (``dead_end_weight``), and a hub that many tools feed is
taken in proportion to ``hub_cap`` over its in-degree, so a few tools do not dominate. Edges
cross servers wherever the graph has them. Each distinct walk becomes an initial FSP: one function per
turn, with the dependency facts of the edges it used (see :func:`graph_toucan.operations.initial_fsp`).

A conversation may take up further tasks (``second_task``, ``max_tasks``): another walk, from a tool that
an output of an earlier task can feed, so the user can refer back to its results, or where none can, from
another start (a new topic).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from graph_toucan.graph_index import Edge, EdgeWeights, GraphIndex, SamplingError


class WalkConfig(BaseModel):
    """How walks are drawn."""

    model_config = ConfigDict(extra="forbid")

    max_steps: int = Field(
        7, ge=1, description="Most edges a walk follows; a walk has at most max_steps + 1 calls."
    )
    min_steps: int = Field(
        1, ge=0, description="Walks with fewer edges are dropped; 0 keeps single-tool walks."
    )
    walks_per_start: int = Field(3, ge=1, description="Walks drawn from each start node per round.")
    patience: int = Field(
        30, ge=1, description="A start node is retired after this many duplicate or too short walks in a row."
    )
    dead_end_weight: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Weight factor of a next tool with no way on while the walk has steps to go (1: none).",
    )
    hub_cap: int = Field(
        20,
        ge=0,
        description="In-degree above which a tool's chance as the next step falls in proportion, so a few "
        "hubs do not dominate (0: no cap).",
    )
    second_task: float = Field(
        0.9,
        ge=0,
        le=1,
        description="Chance of each further task in a conversation: another walk, from a tool an output of "
        "an earlier task can feed where one exists.",
    )
    second_max_steps: int = Field(5, ge=0, description="Most edges of a later task's walk.")
    max_tasks: int = Field(5, ge=1, description="Most tasks (walks) in one conversation.")
    edge_weights: EdgeWeights = Field(default_factory=EdgeWeights)

    @model_validator(mode="after")
    def _steps(self) -> WalkConfig:
        if self.min_steps > self.max_steps:
            raise ValueError(f"min_steps ({self.min_steps}) must not exceed max_steps ({self.max_steps})")
        return self


@dataclass(frozen=True, slots=True)
class Walk:
    """Tools in visiting order and the edge taken between each pair (``edges[i]``: ``tools[i] -> tools[i+1]``)."""

    tools: tuple[str, ...]
    edges: tuple[Edge, ...]


def _next_edge(
    index: GraphIndex,
    current: str,
    visited: set[str],
    steps_left: int,
    config: WalkConfig,
    rng: random.Random,
) -> Edge | None:
    """The edge a walk takes next: by type weight, a hub's in proportion to its cap over its in-degree, and
    a tool that cannot carry the walk as far as it is to go damped (by ``dead_end_weight`` for a dead
    end, less the further it reaches)."""
    options = [e for e in index.out_edges(current) if e.target not in visited]
    if not options:
        return None

    def weight(edge: Edge) -> float:
        fans = len(index.in_edges(edge.target))
        hub = min(1.0, config.hub_cap / fans) if config.hub_cap and fans else 1.0
        wanted = steps_left - 1  # steps still to go after this one
        onward = min(index.reach(edge.target), wanted)
        return (
            edge.weight * hub * (1 if onward >= wanted else config.dead_end_weight ** (1 - onward / wanted))
        )

    weights = [weight(e) for e in options]
    if not any(weights):
        weights = [e.weight for e in options]
    return rng.choices(options, weights=weights)[0]


def walk_from(
    index: GraphIndex,
    start: str,
    config: WalkConfig,
    rng: random.Random,
    *,
    max_steps: int | None = None,
    visited: Iterable[str] = (),
) -> Walk:
    """One walk from ``start``; it may be shorter than ``min_steps`` when it reaches a dead end. ``visited``
    tools (another task's) are never stepped on."""
    top = config.max_steps if max_steps is None else max_steps
    length = rng.randint(min(config.min_steps, top), top)
    tools, edges, seen = [start], [], {start, *visited}
    current = start
    while len(edges) < length:
        edge = _next_edge(index, current, seen, length - len(edges), config, rng)
        if edge is None:
            break
        tools.append(edge.target)
        edges.append(edge)
        seen.add(edge.target)
        current = edge.target
    return Walk(tuple(tools), tuple(edges))


def later_tasks(
    index: GraphIndex, first: Walk, config: WalkConfig, rng: random.Random, starts: Sequence[str]
) -> list[tuple[Walk, Edge | None]]:
    """The tasks a user takes up after ``first`` (each with chance ``second_task``, up to ``max_tasks`` in
    all): a walk of at most ``second_max_steps`` edges from a tool that a tool of an earlier task feeds
    (with that edge, so the user can refer back to its result), else from another start node (a new
    topic, no bridge). Tasks never share a tool."""
    tasks: list[tuple[Walk, Edge | None]] = []
    used = set(first.tools)

    def onward(tool: str) -> list[Edge]:  # the edges from a used tool that may bridge to a further task
        return [e for e in index.out_edges(tool) if e.type != "prerequisite" and e.target not in used]

    leaving = {tool: onward(tool) for tool in used}  # carried from task to task, less what became used
    while len(tasks) + 1 < config.max_tasks and rng.random() < config.second_task:
        bridges = [e for tool in sorted(leaving) for e in leaving[tool]]
        bridge = rng.choices(bridges, weights=[e.weight for e in bridges])[0] if bridges else None
        start = (
            bridge.target
            if bridge
            else next((s for s in rng.sample(starts, min(8, len(starts))) if s not in used), None)
        )
        if start is None:
            break
        walk = walk_from(index, start, config, rng, max_steps=config.second_max_steps, visited=used)
        tasks.append((walk, bridge))
        used.update(walk.tools)
        leaving = {tool: [e for e in edges if e.target not in used] for tool, edges in leaving.items()}
        leaving.update((tool, onward(tool)) for tool in walk.tools)
    return tasks


def start_nodes(index: GraphIndex, config: WalkConfig, starts: Iterable[str] | None = None) -> list[str]:
    """The chosen start nodes (ids, ``server/tool`` or unique names), or every node that can start a walk
    of ``min_steps`` (with ``min_steps >= 1``, nodes without usable out-edges cannot) and needs no
    issued input (an id or token no earlier call could have given)."""
    if starts is not None:
        chosen = sorted({index.resolve(s) for s in starts})
        if not chosen:
            raise SamplingError("no start nodes given; name at least one tool or leave --start out")
        return chosen
    return [
        n
        for n in index.ids
        if (config.min_steps == 0 or index.out_edges(n)) and not index.nodes[n].issued_required
    ]


def random_walks(
    index: GraphIndex, config: WalkConfig, seed: int, starts: Iterable[str] | None = None
) -> list[Walk]:
    """One round: ``walks_per_start`` walks from each start node, deduplicated, too short ones dropped."""
    rng = random.Random(seed)
    seen: set[tuple[str, ...]] = set()
    walks = []
    for start in start_nodes(index, config, starts):
        for _ in range(config.walks_per_start):
            walk = walk_from(index, start, config, rng)
            if len(walk.edges) >= config.min_steps and walk.tools not in seen:
                seen.add(walk.tools)
                walks.append(walk)
    return walks


def walk_stream(
    index: GraphIndex,
    config: WalkConfig,
    seed: int,
    starts: Iterable[str] | None = None,
) -> Iterator[Walk]:
    """Distinct walks, round after round over the start nodes (shuffled each round), until every start
    is retired for drawing only duplicates. The stream depends on the seed, never on how much of it is
    consumed, so the first N walks are the same whether N or 10 N are asked for."""
    rng = random.Random(seed)
    active = start_nodes(index, config, starts)
    if not active:
        raise SamplingError(
            f"no node of the graph ({len(index.ids)} tools, {index.edge_count} usable edges) can start a walk "
            f"of {config.min_steps} steps; build a graph with edges, or set min_steps 0"
        )
    seen: set[tuple[str, ...]] = set()
    misses = dict.fromkeys(active, 0)
    while active:
        order = list(active)
        rng.shuffle(order)
        for start in order:
            for _ in range(config.walks_per_start):
                walk = walk_from(index, start, config, rng)
                if len(walk.edges) < config.min_steps or walk.tools in seen:
                    misses[start] += 1
                    continue
                misses[start] = 0
                seen.add(walk.tools)
                yield walk
        active = [s for s in active if misses[s] < config.patience]
