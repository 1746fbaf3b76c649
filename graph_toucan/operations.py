"""Node operations on an FSP (docs/method.md section 4): merge, insert-short, insert-long and split, and the
turn types they give (section 6).

Each operation is a pure function ``(draft, ..., config, rng) -> draft`` over immutable drafts; the
only randomness is the ``random.Random`` passed in. :func:`plan` applies them in a fixed order:

1. insert-short: an implicit helper before an explicit call, from the graph's in-edges of the call's tool;
2. merge: consecutive turns joined, at most ``max_merge_calls`` explicit calls per turn;
3. insert-long: a later turn's call takes an input from an earlier turn's call, the source call being
   added (explicitly) to an earlier turn when the path does not call it yet;
4. parallel: a call the user states every value of is made again, in the same step, for other values
   ("the weather in Paris and in Lyon");
5. argument-source planning: every id or token a call needs comes from an earlier call;
6. split: an empty turn inserted before a turn, withholding one of its functions (miss-func) or one
   required value (miss-param); the call happens in the next turn.

A walk may bring later tasks (:func:`graph_toucan.walks.later_tasks`): their turns follow the first
task's, are never merged across tasks, and the first turn of each carries ``new-task``; an edge that
bridges two tasks is a dependency the user states as a reference back. Inserting before merging keeps each helper
beside its target; splitting last means no later operation moves a call into or out of an empty turn.
Apart from parallel calls, a path calls a tool at most once.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from graph_toucan.distractors import pick_available
from graph_toucan.fields import field_means, tool_object
from graph_toucan.graph_index import Edge, GraphIndex, Node, compatible
from graph_toucan.records import (
    DependencyOrigin,
    DependencyType,
    PathDependency,
    PlannedCall,
    PlannedPath,
    PlannedTurn,
    Sampler,
    SplitDetail,
    SplitKind,
    TurnOperation,
    TurnType,
)
from graph_toucan.walks import Walk

MERGED: Final = "merge"
SHORT: Final = "insert-short"
LONG: Final = "insert-long"
LONG_SOURCE: Final = "insert-long-source"
SPLIT: Final = "split"
PARALLEL: Final = "parallel"
NEW_TASK: Final = "new-task"


class OperationConfig(BaseModel):
    """Chances and limits of the node operations."""

    model_config = ConfigDict(extra="forbid")

    merge: float = Field(0.6, ge=0, le=1, description="Chance that a turn is joined to the turn before it.")
    max_merge_calls: int = Field(3, ge=1, description="Most explicit calls a merged turn may hold.")
    insert_short: float = Field(
        0.55, ge=0, le=1, description="Chance per explicit call of an implicit helper inserted before it."
    )
    insert_long: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Chance per turn after the first that a call takes an earlier turn's output.",
    )
    split: float = Field(0.2, ge=0, le=1, description="Chance per path of one split (empty) turn.")
    miss_func_share: float = Field(
        0.5, ge=0, le=1, description="Share of splits that withhold a function; the rest withhold a value."
    )
    parallel: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Chance per explicit call whose values the user states that it is also made for other "
        "values in the same turn.",
    )
    max_parallel: int = Field(3, ge=1, description="Most calls of one tool in one turn.")
    max_calls_per_turn: int = Field(5, ge=1, description="Most calls in one turn, implicit helpers included.")

    @model_validator(mode="after")
    def _limits(self) -> OperationConfig:
        if self.max_merge_calls > self.max_calls_per_turn:
            raise ValueError(
                f"max_merge_calls ({self.max_merge_calls}) must not exceed max_calls_per_turn "
                f"({self.max_calls_per_turn})"
            )
        return self


@dataclass(frozen=True, slots=True)
class DraftCall:
    key: int
    tool: str
    implicit: bool = False


@dataclass(frozen=True, slots=True)
class DraftDependency:
    source: int
    target: int
    type: DependencyType
    output: str | None
    input: str | None
    origin: DependencyOrigin


@dataclass(frozen=True, slots=True)
class DraftSplit:
    kind: SplitKind
    call: int
    tool: str
    parameter: str | None = None


@dataclass(frozen=True, slots=True)
class DraftTurn:
    calls: tuple[DraftCall, ...]
    operations: frozenset[TurnOperation] = frozenset()
    split: DraftSplit | None = None
    withheld: frozenset[str] = frozenset()
    task: int = 0  # which task (walk) of the conversation the turn serves

    @property
    def explicit(self) -> int:
        return sum(not c.implicit for c in self.calls)


@dataclass(frozen=True, slots=True)
class Draft:
    """An FSP being planned: turns of calls keyed by creation order, and dependencies between keys."""

    turns: tuple[DraftTurn, ...]
    dependencies: tuple[DraftDependency, ...] = ()
    next_key: int = field(default=0)

    def tools(self) -> set[str]:
        return {c.tool for t in self.turns for c in t.calls}

    def covered(self, key: int) -> set[str]:
        """Parameters of call ``key`` already filled by a dependency."""
        return {d.input for d in self.dependencies if d.target == key and d.input is not None}


def turn_type(operations: Iterable[TurnOperation]) -> TurnType:
    """The turn type (docs/method.md section 6) from the operations that shaped a turn. A turn given an explicit call by
    insert-long (``insert-long-source``) states several intents, so it reads as merged."""
    ops = set(operations)
    if SPLIT in ops:
        return "empty"
    merged = MERGED in ops or LONG_SOURCE in ops or PARALLEL in ops
    short, long = SHORT in ops, LONG in ops
    if merged and (short or long):
        return "merge-insert"
    if short and long:
        return "insert-mixed"
    if short:
        return "insert-short"
    if long:
        return "insert-long"
    return "merge" if merged else "normal"


def _facts(
    edge: Edge, source: int, target: int, origin: DependencyOrigin, covered: set[str]
) -> list[DraftDependency]:
    """The dependency facts an edge gives between two calls: one per mapped input not yet filled."""
    if edge.type == "prerequisite":
        return [DraftDependency(source, target, edge.type, None, None, origin)]
    return [
        DraftDependency(source, target, edge.type, output, param, origin)
        for output, param in edge.mapping
        if param not in covered
    ]


def initial_fsp(walk: Walk, later: Sequence[tuple[Walk, Edge | None]] = ()) -> Draft:
    """One function per turn, with the facts of the walk's edges; each later task's walk after it, bridged
    (when it has a bridge) by the edge from an earlier task's call into its first call: a reference
    back, across turns."""
    turns = [DraftTurn((DraftCall(k, tool),)) for k, tool in enumerate(walk.tools)]
    deps: list[DraftDependency] = []
    for k, edge in enumerate(walk.edges):
        deps += _facts(edge, k, k + 1, "walk", set())
    for number, (task, bridge) in enumerate(later, start=1):
        base = len(turns)
        if bridge is not None:
            source = next(t.calls[0].key for t in turns if t.calls[0].tool == bridge.source)
            deps += _facts(bridge, source, base, "insert-long", set())
        turns += [DraftTurn((DraftCall(base + k, tool),), task=number) for k, tool in enumerate(task.tools)]
        for k, edge in enumerate(task.edges):
            deps += _facts(edge, base + k, base + k + 1, "walk", set())
    return Draft(tuple(turns), tuple(deps), len(turns))


def _pick_edge(edges: list[Edge], rng: random.Random) -> Edge:
    return rng.choices(edges, weights=[e.weight for e in edges])[0]


def insert_short(draft: Draft, index: GraphIndex, config: OperationConfig, rng: random.Random) -> Draft:
    """Before some explicit calls, an implicit helper whose output fills one of the call's open required
    inputs (a ``full``/``partial`` in-edge of its tool from a tool not yet in the path)."""
    used = draft.tools()
    deps = list(draft.dependencies)
    key = draft.next_key
    turns = []
    for turn in draft.turns:
        calls = list(turn.calls)
        ops: set[TurnOperation] = set(turn.operations)
        for call in turn.calls:
            if (
                call.implicit
                or rng.random() >= config.insert_short
                or len(calls) >= config.max_calls_per_turn
            ):
                continue
            covered = {d.input for d in deps if d.target == call.key and d.input is not None}
            required = set(index.nodes[call.tool].required)
            options = [
                e
                for e in index.in_edges(call.tool)
                if e.type != "prerequisite"
                and e.source not in used
                and not index.nodes[e.source].issued_required
                and any(param not in covered and param in required for _, param in e.mapping)
            ]
            if not options:
                continue
            edge = _pick_edge(options, rng)
            helper = DraftCall(key, edge.source, implicit=True)
            key += 1
            used.add(edge.source)
            calls.insert(calls.index(call), helper)
            # a helper fills what the call needs, never an optional value nobody asked for
            deps += _facts(
                edge, helper.key, call.key, SHORT, covered | (set(index.nodes[call.tool].inputs) - required)
            )
            ops.add(SHORT)
        changed = len(calls) != len(turn.calls)
        turns.append(replace(turn, calls=tuple(calls), operations=frozenset(ops)) if changed else turn)
    return Draft(tuple(turns), tuple(deps), key)


def merge_turns(draft: Draft, config: OperationConfig, rng: random.Random) -> Draft:
    """Join some turns to the turn before them, within the per-turn limits."""
    merged = [draft.turns[0]]
    for turn in draft.turns[1:]:
        last = merged[-1]
        if (
            rng.random() < config.merge
            and last.task == turn.task
            and last.explicit + turn.explicit <= config.max_merge_calls
            and len(last.calls) + len(turn.calls) <= config.max_calls_per_turn
        ):
            merged[-1] = DraftTurn(
                last.calls + turn.calls, last.operations | turn.operations | {MERGED}, task=turn.task
            )
        else:
            merged.append(turn)
    return replace(draft, turns=tuple(merged))


def insert_long(draft: Draft, index: GraphIndex, config: OperationConfig, rng: random.Random) -> Draft:
    """In some turns after the first, one explicit call takes an open input from an earlier turn's
    explicit call of an in-edge's source tool; when the path has no such call, it is added at the end of
    a random earlier turn with room, as an explicit request."""
    turns = list(draft.turns)
    deps = list(draft.dependencies)
    key = draft.next_key
    for j in range(1, len(turns)):
        if rng.random() >= config.insert_long:
            continue
        earlier = {c.tool: (i, c) for i in range(j) for c in turns[i].calls}
        in_path = {c.tool for t in turns for c in t.calls}
        roomy = [i for i in range(j) if len(turns[i].calls) < config.max_calls_per_turn]
        options: list[tuple[DraftCall, Edge]] = []
        for call in turns[j].calls:
            if call.implicit:
                continue
            covered = {d.input for d in deps if d.target == call.key and d.input is not None}
            linked = {d.source for d in deps if d.target == call.key}
            for edge in index.in_edges(call.tool):
                if edge.type == "prerequisite" or all(p in covered for _, p in edge.mapping):
                    continue
                found = earlier.get(edge.source)
                reuse = found is not None and not found[1].implicit and found[1].key not in linked
                if reuse or (edge.source not in in_path and roomy):
                    options.append((call, edge))
        if not options:
            continue
        call, edge = options[rng.choices(range(len(options)), weights=[e.weight for _, e in options])[0]]
        covered = {d.input for d in deps if d.target == call.key and d.input is not None}
        if edge.source in earlier:
            source_key = earlier[edge.source][1].key
        else:
            i = rng.choice(roomy)
            source_key = key
            key += 1
            turns[i] = replace(
                turns[i],
                calls=(*turns[i].calls, DraftCall(source_key, edge.source)),
                operations=turns[i].operations | {LONG_SOURCE},
            )
        deps += _facts(edge, source_key, call.key, LONG, covered)
        turns[j] = replace(turns[j], operations=turns[j].operations | {LONG})
    return Draft(tuple(turns), tuple(deps), key)


def split_turn(draft: Draft, index: GraphIndex, config: OperationConfig, rng: random.Random) -> Draft:
    """Maybe one empty turn before a turn t: miss-func withholds the tool of one of t's explicit calls
    from the available tools up to and including the empty turn; miss-param has the user leave out a
    required parameter of one of t's explicit calls that no dependency fills. Turn t makes the call."""
    if rng.random() >= config.split:
        return draft
    kinds: tuple[SplitKind, SplitKind] = ("miss-func", "miss-param")
    if rng.random() >= config.miss_func_share:
        kinds = ("miss-param", "miss-func")
    for kind in kinds:
        options: list[tuple[int, DraftSplit]] = []
        for t, turn in enumerate(draft.turns):
            tools = [c.tool for c in turn.calls]
            for call in turn.calls:
                if call.implicit or tools.count(call.tool) > 1:  # parallel calls are asked for together
                    continue
                if kind == "miss-func":
                    options.append((t, DraftSplit(kind, call.key, call.tool)))
                    continue
                covered = draft.covered(call.key)
                for param in index.nodes[call.tool].required:
                    if param not in covered and param not in index.nodes[call.tool].issued:
                        options.append((t, DraftSplit(kind, call.key, call.tool, param)))
        if not options:
            continue
        t, split = options[rng.randrange(len(options))]
        withheld = frozenset({split.tool}) if kind == "miss-func" else frozenset()
        turns = [
            replace(turn, withheld=turn.withheld | withheld) if i < t else turn
            for i, turn in enumerate(draft.turns)
        ]
        turns.insert(t, DraftTurn((), frozenset({SPLIT}), split, withheld, task=draft.turns[t].task))
        return replace(draft, turns=tuple(turns))
    return draft


def _varies(node: Node) -> bool:
    """Whether a user can ask for the call again with another value: its first required input is open
    (a string or a number, with no enum or const)."""
    first = node.required[0]
    return f"in:{first}" not in node.closed and node.type_of(first, "in") in ("string", "integer", "number")


def parallel_calls(draft: Draft, index: GraphIndex, config: OperationConfig, rng: random.Random) -> Draft:
    """Some explicit calls are made again in the same turn for other values the user states ("the weather
    in Paris and in Lyon"): calls with a required input, every input the user's (none filled by an earlier
    call, no id or token), up to ``max_parallel`` calls of the tool and ``max_calls_per_turn`` in all. The
    copies take nothing from other calls and feed nothing; they run in the step of the call they copy."""
    fed = {d.target for d in draft.dependencies}
    key = draft.next_key
    turns = []
    for turn in draft.turns:
        calls = list(turn.calls)
        for call in turn.calls:
            node = index.nodes[call.tool]
            if (
                call.implicit
                or call.key in fed
                or not node.required
                or node.issued_required
                or not _varies(node)
                or rng.random() >= config.parallel
            ):
                continue
            room = min(config.max_parallel - 1, config.max_calls_per_turn - len(calls))
            if room < 1:
                continue
            copies = [DraftCall(key + n, call.tool) for n in range(rng.randint(1, room))]
            key += len(copies)
            at = calls.index(call) + 1
            calls[at:at] = copies
        if len(calls) != len(turn.calls):
            turn = replace(turn, calls=tuple(calls), operations=turn.operations | {PARALLEL})
        turns.append(turn)
    return replace(draft, turns=tuple(turns), next_key=key)


# -- argument sources -----------------------------------------------------------------------------------


def _origin(source: DraftCall, same_turn: bool) -> DependencyOrigin:
    if source.implicit:
        return "insert-short"
    return "walk" if same_turn else "insert-long"


def _id_fits(index: GraphIndex, source: str, output: str, target: str, parameter: str) -> bool:
    """Whether the output's values can be passed as the parameter (``round_a04e`` is no integer)."""
    return compatible(index.nodes[source], output, index.nodes[target], parameter)


def _earlier_source(
    turns: list[DraftTurn], index: GraphIndex, call: DraftCall, parameter: str
) -> DraftDependency | None:
    """A dependency from the nearest earlier call whose output holds ``parameter``."""
    position = {c.key: (a, b) for a, turn in enumerate(turns) for b, c in enumerate(turn.calls)}
    t, i = position[call.key]
    earlier = [c for turn in turns for c in turn.calls if position[c.key] < (t, i)]
    node = index.nodes[call.tool]
    target_object = tool_object(node.ref.rpartition("/")[2])
    by_source = {e.source: e for e in index.in_edges(call.tool)}
    for source in reversed(earlier):
        same_turn = position[source.key][0] == t
        edge = by_source.get(source.tool)
        if edge is not None:
            output = next((o for o, p in edge.mapping if p == parameter), None)
            if output is not None and _id_fits(index, source.tool, output, call.tool, parameter):
                return DraftDependency(
                    source.key, call.key, edge.type, output, parameter, _origin(source, same_turn)
                )
        outputs = sorted(index.nodes[source.tool].outputs)
        output = next(
            (
                o
                for o in outputs
                if field_means(o, parameter, target_object)
                and _id_fits(index, source.tool, o, call.tool, parameter)
            ),
            None,
        )
        if output is not None:
            return DraftDependency(
                source.key, call.key, "full", output, parameter, _origin(source, same_turn)
            )
    return None


def _helper(
    index: GraphIndex, call: DraftCall, parameter: str, used: set[str], rng: random.Random
) -> Edge | None:
    """An in-edge of the call's tool filling ``parameter`` from a tool not in the path that needs no
    issued input itself (its own inputs are stated by the user)."""
    options = [
        e
        for e in index.in_edges(call.tool)
        if e.type != "prerequisite"
        and e.source not in used
        and not index.nodes[e.source].issued_required
        and any(p == parameter and _id_fits(index, e.source, o, call.tool, p) for o, p in e.mapping)
    ]
    if not options:
        return None
    return rng.choices(options, weights=[e.weight for e in options])[0]


def plan_sources(
    draft: Draft, index: GraphIndex, config: OperationConfig, rng: random.Random
) -> Draft | None:
    """Argument-source planning: every required ``issued`` input of every call (an id, a session, a
    token) gets an earlier call whose output holds it, in execution order:

    1. an earlier call whose output carries a field of that meaning (a graph edge between the two
       tools, or a field named for the input: ``hotels[].id`` for ``hotel_id``), nearest first;
    2. else an implicit helper inserted just before the call, from an in-edge of the call's tool whose
       source needs no issued input itself;
    3. else None: a conversation whose user would have to type a system's id is not made.

    User-class inputs need no source here: the user states them."""
    deps = list(draft.dependencies)
    turns = list(draft.turns)
    key = draft.next_key
    used = draft.tools()
    t = 0
    while t < len(turns):
        i = 0
        while i < len(turns[t].calls):
            call = turns[t].calls[i]
            covered = {d.input for d in deps if d.target == call.key and d.input is not None}
            for parameter in index.nodes[call.tool].issued_required:
                if parameter in covered:
                    continue
                found = _earlier_source(turns, index, call, parameter)
                if found is not None:
                    deps.append(found)
                    covered.add(parameter)
                    continue
                edge = _helper(index, call, parameter, used, rng)
                if edge is None or len(turns[t].calls) >= config.max_calls_per_turn:
                    return None
                helper = DraftCall(key, edge.source, implicit=True)
                key += 1
                used.add(edge.source)
                calls = list(turns[t].calls)
                calls.insert(i, helper)
                turns[t] = replace(turns[t], calls=tuple(calls), operations=turns[t].operations | {SHORT})
                for output, param in edge.mapping:
                    if param not in covered and (
                        param == parameter or param in index.nodes[call.tool].required
                    ):
                        deps.append(DraftDependency(helper.key, call.key, edge.type, output, param, SHORT))
                        covered.add(param)
                i += 1  # the helper sits where the call was; the call moved one on
            i += 1
        t += 1
    return replace(draft, turns=tuple(turns), dependencies=tuple(deps), next_key=key)


def plan(
    walk: Walk,
    index: GraphIndex,
    config: OperationConfig,
    rng: random.Random,
    later: Sequence[tuple[Walk, Edge | None]] = (),
) -> Draft | None:
    """The walk's FSP (with its second task, if any) after insert-short, merge, insert-long, parallel,
    argument-source planning and split, in that order; None when some required issued input has no
    source."""
    draft = initial_fsp(walk, later)
    draft = insert_short(draft, index, config, rng)
    draft = merge_turns(draft, config, rng)
    draft = insert_long(draft, index, config, rng)
    draft = parallel_calls(draft, index, config, rng)
    sourced = plan_sources(draft, index, config, rng)
    return None if sourced is None else split_turn(sourced, index, config, rng)


def to_path(
    draft: Draft,
    index: GraphIndex,
    *,
    distractors: int,
    sampler: Sampler,
    seed: int,
    position: int,
    rng: random.Random,
) -> PlannedPath:
    """The record of a draft: calls renamed ``c1``, ``c2``... in execution order, turn types derived from
    the operations, and the available tools picked."""
    names: dict[int, str] = {}
    order: list[str] = []
    for turn in draft.turns:
        for call in turn.calls:
            names[call.key] = f"c{len(names) + 1}"
            order.append(call.tool)
    order = list(dict.fromkeys(order))  # parallel calls share their tool
    starts = {k for k in range(1, len(draft.turns)) if draft.turns[k].task != draft.turns[k - 1].task}
    turns = [
        PlannedTurn(
            type=turn_type(turn.operations),
            operations=sorted(turn.operations | ({NEW_TASK} if k in starts else set())),
            calls=[
                PlannedCall(
                    id=names[c.key],
                    tool_id=c.tool,
                    tool=index.nodes[c.tool].ref,
                    server=index.nodes[c.tool].server,
                    server_id=index.nodes[c.tool].server_id,
                    implicit=c.implicit,
                )
                for c in turn.calls
            ],
            split=None
            if turn.split is None
            else SplitDetail(
                kind=turn.split.kind,
                call=names[turn.split.call],
                tool_id=turn.split.tool,
                parameter=turn.split.parameter,
            ),
            withheld=sorted(turn.withheld),
        )
        for k, turn in enumerate(draft.turns)
    ]
    rank = {key: i for i, key in enumerate(names)}
    deps = sorted(
        draft.dependencies, key=lambda d: (rank[d.target], rank[d.source], d.input or "", d.output or "")
    )
    return PlannedPath(
        sampler=sampler,
        seed=seed,
        index=position,
        turns=turns,
        dependencies=[
            PathDependency(
                source=names[d.source],
                target=names[d.target],
                type=d.type,
                output=d.output,
                input=d.input,
                origin=d.origin,
            )
            for d in deps
        ],
        available_tools=pick_available(index, order, distractors, rng),
    )
