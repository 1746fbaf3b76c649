"""A read-only index of the dependency graph for path sampling: nodes with their parameters and output
fields, and the usable edges (weighted by type, mappings checked) by source and by target.

Sampling touches every node's edges thousands of times; an index of frozen tuples, sorted by id, is
both faster than querying the ``nx.DiGraph`` and independent of set or insertion order, so the same
graph and seed give the same paths in any process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from graph_toucan.argument_sources import classify_parameter, parameter_classes
from graph_toucan.errors import GraphToucanError
from graph_toucan.fields import json_type
from graph_toucan.records import DependencyType, Tool
from graph_toucan.schema import leaf_fields

EDGE_TYPES = ("full", "partial", "prerequisite")


REACH_LIMIT = 8  # steps: more than a walk's default max_steps


class SamplingError(GraphToucanError):
    """A sampling setting or a graph that paths cannot be sampled from."""


class EdgeWeights(BaseModel):
    """How strongly a walk (and an insert) prefers each edge type; 0 never uses that type."""

    model_config = ConfigDict(extra="forbid")

    full: float = Field(3.0, ge=0)
    partial: float = Field(2.0, ge=0)
    prerequisite: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _some_positive(self) -> EdgeWeights:
        if not any(getattr(self, t) > 0 for t in EDGE_TYPES):
            raise ValueError("at least one edge weight (full, partial, prerequisite) must be above 0")
        return self


@dataclass(frozen=True, slots=True)
class Node:
    """One tool of the graph, as sampling sees it."""

    id: str
    ref: str
    server: str
    server_id: str
    category: str | None
    tags: tuple[str, ...]
    inputs: tuple[str, ...]
    required: tuple[str, ...]
    outputs: frozenset[str]
    issued: frozenset[str] = frozenset()
    types: tuple[tuple[str, str], ...] = ()  # ("in:" or "out:" + parameter or output path, JSON type)
    closed: frozenset[str] = frozenset()  # "in:"/"out:" names whose values are an enum or a const

    def type_of(self, name: str, side: str) -> str | None:
        """The JSON type of an input parameter (``side`` "in") or an output path ("out")."""
        return dict(self.types).get(f"{side}:{name}")

    @property
    def issued_required(self) -> tuple[str, ...]:
        """Required parameters that only an earlier call's output can fill."""
        return tuple(p for p in self.required if p in self.issued)


@dataclass(frozen=True, slots=True)
class Edge:
    """A usable edge: ``mapping`` holds only (output, input) pairs that name a real output field of the
    source and a real top-level parameter of the target, one per input; empty for ``prerequisite``."""

    source: str
    target: str
    type: DependencyType
    weight: float
    mapping: tuple[tuple[str, str], ...]


class GraphIndex:
    """Nodes by id and usable edges by source and target, all in sorted order."""

    def __init__(self, nodes: Iterable[Node], edges: Iterable[Edge] = (), *, dropped_edges: int = 0) -> None:
        self.nodes: dict[str, Node] = {n.id: n for n in sorted(nodes, key=lambda n: n.id)}
        self.ids: tuple[str, ...] = tuple(self.nodes)
        out: dict[str, list[Edge]] = {i: [] for i in self.ids}
        into: dict[str, list[Edge]] = {i: [] for i in self.ids}
        for edge in edges:
            out[edge.source].append(edge)
            into[edge.target].append(edge)
        self._out = {k: tuple(sorted(v, key=lambda e: e.target)) for k, v in out.items()}
        self._in = {k: tuple(sorted(v, key=lambda e: e.source)) for k, v in into.items()}
        self.edge_count = sum(len(v) for v in self._out.values())
        self._reach: dict[str, int] | None = None
        self.dropped_edges = dropped_edges
        by_category: dict[str, list[str]] = {}
        for node in self.nodes.values():
            if node.category:
                by_category.setdefault(node.category, []).append(node.id)
        self.by_category = {k: tuple(v) for k, v in by_category.items()}

    def without(self, excluded: Iterable[str]) -> GraphIndex:
        """The index without these nodes and their edges (tools that cannot be simulated)."""
        gone = set(excluded) & set(self.ids)
        if not gone:
            return self
        nodes = [n for n in self.nodes.values() if n.id not in gone]
        edges = [
            e for out in self._out.values() for e in out if e.source not in gone and e.target not in gone
        ]
        return GraphIndex(nodes, edges, dropped_edges=self.dropped_edges)

    def out_edges(self, node: str) -> tuple[Edge, ...]:
        return self._out[node]

    def reach(self, node: str) -> int:
        """How many steps on a walk from ``node`` can go at most, as the depth of a breadth-first search
        over out-edges, capped at :data:`REACH_LIMIT` (worked out for every node at the first call)."""
        if self._reach is None:
            self._reach = dict(zip(self.ids, _reach_depths(self), strict=True))
        return self._reach[node]

    def in_edges(self, node: str) -> tuple[Edge, ...]:
        return self._in[node]

    def resolve(self, ref: str) -> str:
        """A node id from an id, a ``server/tool`` reference or a tool name that is unique."""
        if ref in self.nodes:
            return ref
        found = [n.id for n in self.nodes.values() if n.ref == ref]
        if not found:
            found = [n.id for n in self.nodes.values() if n.ref.rpartition("/")[2] == ref]
        if len(found) != 1:
            raise SamplingError(
                f"{ref!r} names {'no' if not found else len(found)} tools of the graph; "
                "give a tool id or SERVER/TOOL as listed by 'graph-toucan tools list'"
            )
        return found[0]

    @classmethod
    def from_digraph(cls, graph: nx.DiGraph, weights: EdgeWeights | None = None) -> GraphIndex:
        """The index of a dependency graph (graph.py's contract). Edges whose type has weight 0, and
        ``full``/``partial`` edges without one valid mapping entry, are left out (and counted)."""
        weights = weights or EdgeWeights()
        nodes = [_node_from_attributes(node_id, attrs) for node_id, attrs in graph.nodes(data=True)]
        by_id = {n.id: n for n in nodes}
        edges, dropped = [], 0
        for source, target, attrs in graph.edges(data=True):
            kind = attrs.get("type")
            if kind not in EDGE_TYPES:
                raise SamplingError(
                    f"edge {by_id[source].ref} -> {by_id[target].ref} has type {kind!r}, not one of "
                    f"{', '.join(EDGE_TYPES)}; rebuild the graph with 'graph-toucan graph build'"
                )
            weight = float(getattr(weights, kind))
            mapping = _valid_mapping(attrs.get("mapping") or [], by_id[source], by_id[target])
            if weight <= 0 or source == target or (kind != "prerequisite" and not mapping):
                dropped += 1
                continue
            kept = mapping if kind != "prerequisite" else ()
            edges.append(Edge(source, target, cast(DependencyType, kind), weight, kept))
        return cls(nodes, edges, dropped_edges=dropped)

    @classmethod
    def from_tools(cls, tools: Iterable[Tool]) -> GraphIndex:
        """An index without edges over stored tools (the random baseline sampler needs no graph)."""
        nodes = []
        for tool in tools:
            inputs, required = _inputs(tool.input_schema)
            nodes.append(
                Node(
                    id=tool.id,
                    ref=tool.ref,
                    server=tool.server_name,
                    server_id=tool.server_id,
                    category=tool.category,
                    tags=_tags(tool.tags),
                    inputs=inputs,
                    required=required,
                    outputs=frozenset(f.path for f in leaf_fields(tool.output_schema)),
                    issued=frozenset(p for p, c in parameter_classes(tool).items() if c == "issued"),
                    types=_types(tool.input_schema, tool.output_schema),
                    closed=_closed(tool.input_schema, tool.output_schema),
                )
            )
        return cls(nodes)


def _reach_depths(index: GraphIndex, block: int = 1 << 14) -> list[int]:
    """The breadth-first depth from every node at once, capped at :data:`REACH_LIMIT`. The nodes within
    ``d`` steps of a node are the node and those within ``d - 1`` of its successors, kept as bit sets
    (Python ints) over one block of target nodes at a time, so memory is ``n * block`` bits; the depth is
    the number of steps at which any block's set still grew (a set that stops growing stays put). One
    pass over the edges per step, instead of a search over the whole graph from each node."""
    position = {node: i for i, node in enumerate(index.ids)}
    successors = [[position[e.target] for e in index.out_edges(node)] for node in index.ids]
    n = len(index.ids)
    grew = [0] * n  # bit d: something new at distance d
    for low in range(0, n, block):
        within = [1 << (i - low) if low <= i < low + block else 0 for i in range(n)]
        for step in range(REACH_LIMIT):
            changed = False
            ahead = []
            for i, targets in enumerate(successors):
                reached = within[i]
                for j in targets:
                    reached |= within[j]
                if reached != within[i]:
                    grew[i] |= 1 << step
                    changed = True
                ahead.append(reached)
            within = ahead
            if not changed:
                break
    return [bits.bit_count() for bits in grew]


def _tags(tags: Any) -> tuple[str, ...]:
    if not isinstance(tags, list | tuple):
        return ()
    return tuple(sorted({str(t).strip().lower() for t in tags if str(t).strip()}))


def _inputs(schema: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Top-level parameters and the required ones among them, in schema order."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    names = tuple(props) if isinstance(props, dict) else ()
    required = schema.get("required") if isinstance(schema, dict) else None
    wanted = set(required) if isinstance(required, list) else set()
    return names, tuple(n for n in names if n in wanted)


def _node_from_attributes(node_id: str, attrs: dict[str, Any]) -> Node:
    missing = [k for k in ("ref", "server", "server_id", "input_schema", "outputs") if k not in attrs]
    if missing:
        raise SamplingError(
            f"graph node {node_id} lacks {', '.join(missing)}; the graph file is older or hand-made: "
            "rebuild it with 'graph-toucan graph build'"
        )
    inputs, required = _inputs(attrs["input_schema"])
    return Node(
        id=str(node_id),
        ref=str(attrs["ref"]),
        server=str(attrs["server"]),
        server_id=str(attrs["server_id"]),
        category=attrs.get("category") or None,
        tags=_tags(attrs.get("tags")),
        inputs=inputs,
        required=required,
        outputs=frozenset(str(o) for o in attrs["outputs"] or []),
        issued=_issued(attrs),
        types=_types(attrs["input_schema"], attrs.get("output_schema")),
        closed=_closed(attrs["input_schema"], attrs.get("output_schema")),
    )


def _types(input_schema: Any, output_schema: Any) -> tuple[tuple[str, str], ...]:
    props = input_schema.get("properties") if isinstance(input_schema, dict) else None
    inputs = (
        [(f"in:{n}", _input_type(s)) for n, s in (props or {}).items()] if isinstance(props, dict) else []
    )
    inputs += (
        [  # the items of a list parameter: "in:ids[]"
            (f"in:{n}[]", json_type(s["items"]))
            for n, s in (props or {}).items()
            if isinstance(props, dict) and isinstance(s, dict) and isinstance(s.get("items"), dict)
        ]
        if isinstance(props, dict)
        else []
    )
    outputs = [
        (f"out:{f.path}", f.type)
        for f in leaf_fields(output_schema if isinstance(output_schema, dict) else None)
    ]
    return tuple(inputs + outputs)


def _input_type(schema: Any) -> str:
    """A parameter's JSON type; ``ref`` for one defined elsewhere (a ``$ref``), which no output is known
    to fit."""
    return "ref" if isinstance(schema, dict) and "$ref" in schema else json_type(schema)


def _closed(input_schema: Any, output_schema: Any) -> frozenset[str]:
    def closed(schema: Any) -> bool:  # values of a set, a format or a few characters: not free text
        if not isinstance(schema, dict):
            return False
        small = isinstance(schema.get("maxLength"), int) and schema["maxLength"] <= 3
        if "enum" in schema or "const" in schema or "pattern" in schema or small:
            return True
        return any(closed(o) for k in ("anyOf", "oneOf") for o in schema.get(k) or [])

    props = input_schema.get("properties") if isinstance(input_schema, dict) else None
    inputs = {f"in:{n}" for n, s in props.items() if closed(s)} if isinstance(props, dict) else set()
    outputs = {
        f"out:{f.path}"
        for f in leaf_fields(output_schema if isinstance(output_schema, dict) else None)
        if f.closed
    }
    return frozenset(inputs | outputs)


def compatible(source: Node, output: str, target: Node, param: str) -> bool:
    """Whether values of ``output`` can be passed as ``param``: a parameter with an enum only takes an
    output with one, an object only an object (and back), a number never free text, a parameter defined
    by a ``$ref`` nothing; an item of a list may fill a scalar and a scalar a list."""
    if f"in:{param}" in target.closed and f"out:{output}" not in source.closed:
        return False
    wanted, given = target.type_of(param, "in"), source.type_of(output, "out")
    if wanted == "array" and given != "array":  # one value passed as a list of one: the item's type
        wanted = target.type_of(f"{param}[]", "in")
    if wanted == "ref":
        return False
    if None in (wanted, given):
        return True
    if "object" in (wanted, given):
        return wanted == given
    if wanted == "integer":
        return given in ("integer", "array")
    return not (wanted == "number" and given not in ("integer", "number", "array"))


def _issued(attrs: dict[str, Any]) -> frozenset[str]:
    """The issued parameters of a graph node: annotated, else the offline rule (an older graph file)."""
    classes = attrs.get("parameter_classes")
    if not isinstance(classes, dict):
        props = (attrs.get("input_schema") or {}).get("properties") or {}
        classes = {n: classify_parameter(n, s) for n, s in props.items()}
    return frozenset(str(p) for p, c in classes.items() if c == "issued")


def _valid_mapping(raw: list[Any], source: Node, target: Node) -> tuple[tuple[str, str], ...]:
    """The mapping entries naming a real source output and target parameter, the first per input."""
    seen: set[str] = set()
    kept = []
    inputs = set(target.inputs)
    for entry in raw:
        if not isinstance(entry, dict):
            continue
        output, param = entry.get("output"), entry.get("input")
        if (
            output in source.outputs
            and param in inputs
            and param not in seen
            and compatible(source, str(output), target, str(param))
        ):
            seen.add(param)
            kept.append((str(output), str(param)))
    return tuple(kept)
