"""The tool dependency graph (docs/method.md section 3): an ``nx.DiGraph`` built from stored judgements.

Nodes are tool ids, with attributes ``ref`` (``server/tool``), ``name``, ``server`` (server name),
``server_id``, ``category``, ``tags``, ``tool_class``, ``description``, ``input_schema``,
``output_schema`` and ``outputs`` (the output field paths left after output filtering).
An edge ``source -> target`` means the source's output feeds the target; its attributes are
``type`` (``full`` | ``partial`` | ``prerequisite``), ``mapping`` (a list of
``{"output": "items[].id", "input": "repo_id"}``, empty for ``prerequisite``) and ``reason``.

``graph build`` saves the graph as ``<workspace>/graph.json`` (networkx node-link form), which
:func:`load_graph` reads back, so later stages do not depend on which teacher judged the edges.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from graph_toucan.argument_sources import classify_parameter, parameter_classes
from graph_toucan.atomic import write_atomic
from graph_toucan.errors import BudgetExceeded, GraphToucanError, LLMError, StageFailed, every_item_failed
from graph_toucan.ids import content_id
from graph_toucan.judge import EDGE_JUDGE, JUDGE_VERSION, OUTPUT_FILTER, Node, filter_inputs
from graph_toucan.llm.client import LLM
from graph_toucan.pruning import PruneConfig, candidates
from graph_toucan.records import EdgeJudgement, Tool
from graph_toucan.schema import SchemaField, leaf_fields
from graph_toucan.store import Store

GRAPH_FILE = "graph.json"


def node_attributes(tool: Tool, outputs: list[str]) -> dict[str, Any]:
    return {
        "ref": tool.ref,
        "name": tool.name,
        "server": tool.server_name,
        "server_id": tool.server_id,
        "category": tool.category,
        "tags": list(tool.tags),
        "tool_class": tool.tool_class,
        "parameter_classes": parameter_classes(tool),
        "description": tool.description,
        "input_schema": tool.input_schema,
        "output_schema": tool.output_schema,
        "outputs": outputs,
    }


def to_digraph(nodes: Iterable[tuple[Tool, list[str]]], judgements: Iterable[EdgeJudgement]) -> nx.DiGraph:
    """The graph of ``nodes`` (tool, filtered output paths) with one edge per judgement that found
    a dependency (``none`` and failed judgements add no edge)."""
    graph = nx.DiGraph()
    for tool, outputs in nodes:
        graph.add_node(tool.id, **node_attributes(tool, outputs))
    for j in judgements:
        if j.error or j.type == "none" or j.source_id not in graph or j.target_id not in graph:
            continue
        graph.add_edge(
            j.source_id,
            j.target_id,
            type=j.type,
            mapping=[m.model_dump() for m in j.mapping],
            reason=j.reason,
        )
    return graph


def graph_path(store: Store) -> Path:
    return store.workspace / GRAPH_FILE


def save_graph(graph: nx.DiGraph, path: Path) -> None:
    """Write node-link JSON atomically (a killed write leaves the previous graph intact)."""
    data = nx.node_link_data(graph, edges="edges")
    write_atomic(path, json.dumps(data, ensure_ascii=False))


def read_graph(path: Path) -> nx.DiGraph:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise GraphToucanError(
            f"no dependency graph at {path}; run 'graph-toucan graph build' first"
        ) from None
    except (OSError, ValueError) as exc:
        raise GraphToucanError(
            f"cannot read the graph {path}: {exc}; rerun 'graph-toucan graph build'"
        ) from None
    return nx.node_link_graph(data, directed=True, edges="edges")


def load_graph(store: Store) -> nx.DiGraph:
    """The graph last built in this workspace."""
    return read_graph(graph_path(store))


# -- building ---------------------------------------------------------------------------------------


@dataclass
class BuildReport:
    tools: int = 0
    nodes: int = 0
    not_annotated: int = 0
    outputs: int = 0
    outputs_filtered: int = 0
    filter_failed: list[tuple[str, str]] = field(default_factory=list)
    candidate_pairs: int = 0
    judged: int = 0
    reused: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    edges: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def all_pairs(self) -> int:
        return self.nodes * (self.nodes - 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tools": self.tools,
            "nodes": self.nodes,
            "not_annotated": self.not_annotated,
            "output_fields": self.outputs,
            "output_fields_filtered": self.outputs_filtered,
            "filter_failed": [{"tool": t, "reason": r} for t, r in self.filter_failed],
            "all_ordered_pairs": self.all_pairs,
            "candidate_pairs": self.candidate_pairs,
            "judged_now": self.judged,
            "reused_judgements": self.reused,
            "failed_judgements": [{"source": s, "target": t, "reason": r} for s, t, r in self.failed],
            "edges": self.edges,
            "seconds": round(self.seconds, 2),
        }


def judgement_key(source: Node, target: Node, source_digest: str, target_digest: str, judge: str) -> str:
    """What a judgement depends on: both tools, the source's filtered outputs, the judge, and the
    version of the judging rules and prompt (so a changed judge judges again)."""
    outputs = [(f.path, f.type, f.description) for f in source.outputs]
    return content_id(
        "edge", source.id, source_digest, outputs, target.id, target_digest, judge, JUDGE_VERSION
    )


async def filtered_outputs(tool: Tool, llm: LLM) -> tuple[list[SchemaField], list[SchemaField], str | None]:
    """The tool's output fields, those left after dropping the ones that repeat its own inputs, and
    why the filter failed when it never answered validly (then only same-name echoes are dropped).
    Issued handles that pass through (a ``session_id`` a paginating tool returns) are never dropped."""
    fields = leaf_fields(tool.output_schema)
    try:
        answer = await llm.run(OUTPUT_FILTER, filter_inputs(tool, fields))
    except BudgetExceeded:
        raise
    except LLMError as exc:
        inputs = set((tool.input_schema.get("properties") or {}).keys())
        return fields, [f for f in fields if f.name not in inputs or _passes_through(f)], str(exc)
    echoes = {e.output for e in answer.echoes}
    return fields, [f for f in fields if f.path not in echoes or _passes_through(f)], None


def _passes_through(field: SchemaField) -> bool:
    return classify_parameter(field.name, {}) == "issued"


BUILD_STATE = "graph-build-state"  # the runs-table row with what the saved graph was built from


def build_inputs(tools: list[Tool], config: PruneConfig, judge: str) -> dict[str, Any]:
    """What a graph depends on: every tool's content (its record: digest, annotations, schemas), the
    pruning settings, the judge and the version of its rules."""
    return {
        "tools": {t.id: content_id(t.model_dump(mode="json")) for t in tools},
        "settings": content_id(asdict(config), judge, JUDGE_VERSION),
    }


async def build_graph(
    store: Store,
    llm: LLM,
    *,
    config: PruneConfig | None = None,
    batch: int = 512,
    progress: Callable[[str, int, int], None] | None = None,
    reuse: bool = False,
) -> tuple[nx.DiGraph, BuildReport]:
    """Filter outputs, prune candidates, judge the pairs not judged before, and save the graph.

    ``progress(stage, done, total)`` is told how far each stage got. Judgements are written batch by
    batch, so a killed build resumes where it stopped and a rebuild after adding tools judges only
    the new pairs. With ``reuse``, a saved graph built from the same tools (by content) and settings
    is returned as it is (the re-check of ``run``: only a changed tool makes it build)."""
    started = time.perf_counter()
    report = BuildReport()
    tools = store.tools()
    config = config or PruneConfig()
    inputs = build_inputs(tools, config, llm.teacher)
    if reuse and graph_path(store).exists():
        saved = store.run_summary(BUILD_STATE)
        if saved is not None and saved.get("inputs") == inputs:
            graph = load_graph(store)
            report.tools, report.nodes = len(tools), graph.number_of_nodes()
            report.edges = dict(Counter(d["type"] for _, _, d in graph.edges(data=True)))
            report.seconds = time.perf_counter() - started
            return graph, report
    report.tools = len(tools)
    annotated = [t for t in tools if t.tool_class and t.output_schema]
    report.not_annotated = len(tools) - len(annotated)
    report.nodes = len(annotated)
    if tools and not annotated:
        raise StageFailed(
            f"none of the {len(tools)} tools is annotated, so the graph would have no node; run "
            "'graph-toucan annotate' (the annotate_tools tool over MCP) first and check that it succeeds"
        )
    nodes: list[Node] = []
    by_id: dict[str, Tool] = {}
    for start in range(0, len(annotated), batch):
        chunk = annotated[start : start + batch]
        results = await asyncio.gather(*(filtered_outputs(t, llm) for t in chunk))
        for tool, (fields, outputs, failure) in zip(chunk, results, strict=True):
            report.outputs += len(fields)
            report.outputs_filtered += len(fields) - len(outputs)
            if failure:
                report.filter_failed.append((tool.ref, failure))
            nodes.append(Node.of(tool, outputs))
            by_id[tool.id] = tool
        if progress:
            progress("filter outputs", len(nodes), len(annotated))
    node_of = {n.id: n for n in nodes}
    cands = candidates(nodes, config)
    keyed: dict[str, tuple[Node, Node]] = {}
    judge = llm.teacher_for("judge")
    for source_id, targets in cands.items():
        s = node_of[source_id]
        for target_id in targets:
            t = node_of[target_id]
            keyed[judgement_key(s, t, by_id[s.id].digest, by_id[t.id].digest, judge)] = (s, t)
    report.candidate_pairs = len(keyed)
    stored = store.judgements(keyed)
    todo = [k for k in keyed if k not in stored or stored[k].error]
    report.reused = len(keyed) - len(todo)
    views = {n.id: (n.source_view(), n.target_view()) for n in nodes}
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        answers = await asyncio.gather(
            *(_judge(llm, keyed[k], views, k) for k in chunk), return_exceptions=True
        )
        fresh = []
        for answer in answers:
            if isinstance(answer, BudgetExceeded):
                store.add_judgements(fresh)
                raise answer
            if isinstance(answer, BaseException):
                raise answer
            fresh.append(answer)
        store.add_judgements(fresh)
        stored.update({j.key: j for j in fresh})
        report.judged += len(fresh)
        if progress:
            progress("judge pairs", report.reused + report.judged, len(keyed))
    judgements = [stored[k] for k in keyed]
    report.failed = [
        (keyed[j.key][0].ref, keyed[j.key][1].ref, j.error) for j in judgements if j.error is not None
    ]
    every_item_failed(
        "edge judgement",
        "candidate pairs",
        [(f"{s} -> {t}", e or "") for s, t, e in report.failed],
        len(judgements) - len(report.failed),
    )
    graph = to_digraph(((by_id[n.id], [f.path for f in n.outputs]) for n in nodes), judgements)
    report.edges = dict(Counter(d["type"] for _, _, d in graph.edges(data=True)))
    save_graph(graph, graph_path(store))
    if not report.failed:  # a build with failed judgements is retried by the next one
        store.record_run(BUILD_STATE, "graph build", "done", time.time(), {"inputs": inputs})
    report.seconds = time.perf_counter() - started
    return graph, report


def build_graph_offline(
    db: Path, config: PruneConfig | None = None, *, progress: Callable[[str, int, int], None] | None = None
) -> tuple[BuildReport, int]:
    """:func:`build_graph` with the offline teacher on the workspace database at ``db``, opened and
    closed here: the entry point of a worker process (see :mod:`graph_toucan.workers`). The report and
    the teacher calls made."""
    from graph_toucan.llm import OfflineBackend

    store = Store(db)
    try:
        llm = LLM(OfflineBackend(), store)
        _, report = asyncio.run(build_graph(store, llm, config=config, progress=progress))
        return report, llm.stats.calls
    finally:
        store.close()


async def _judge(
    llm: LLM, pair: tuple[Node, Node], views: dict[str, tuple[dict[str, Any], dict[str, Any]]], key: str
) -> EdgeJudgement:
    source, target = pair
    base = {"key": key, "source_id": source.id, "target_id": target.id, "judge": llm.teacher_for("judge")}
    try:
        answer = await llm.run(EDGE_JUDGE, {"source": views[source.id][0], "target": views[target.id][1]})
    except BudgetExceeded:
        raise
    except LLMError as exc:
        return EdgeJudgement(**base, type="none", reason="the judge gave no valid answer", error=str(exc))
    return EdgeJudgement(**base, type=answer.type, mapping=answer.mapping, reason=answer.reason)


# -- reading ----------------------------------------------------------------------------------------


def graph_stats(graph: nx.DiGraph, *, top: int = 10) -> dict[str, Any]:
    """Nodes, edges by type, components, degree distribution, most connected and isolated tools."""
    components = sorted((len(c) for c in nx.weakly_connected_components(graph)), reverse=True)
    isolated = [graph.nodes[n].get("ref", n) for n in nx.isolates(graph)]

    def distribution(degrees: list[int]) -> dict[str, int]:
        buckets = {"0": 0, "1": 0, "2-4": 0, "5-9": 0, "10-29": 0, "30+": 0}
        for d in degrees:
            key = (
                "0"
                if d == 0
                else "1"
                if d == 1
                else "2-4"
                if d < 5
                else "5-9"
                if d < 10
                else "10-29"
                if d < 30
                else "30+"
            )
            buckets[key] += 1
        return buckets

    by_degree = sorted(graph.nodes, key=lambda n: (-graph.degree(n), graph.nodes[n].get("ref", n)))
    servers = {graph.nodes[n].get("server") for n in graph.nodes}
    cross = sum(
        1 for a, b in graph.edges if graph.nodes[a].get("server_id") != graph.nodes[b].get("server_id")
    )
    return {
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "edges_by_type": dict(sorted(Counter(d["type"] for _, _, d in graph.edges(data=True)).items())),
        "cross_server_edges": cross,
        "servers": len(servers),
        "components": len(components),
        "largest_component": components[0] if components else 0,
        "in_degree": distribution([d for _, d in graph.in_degree()]),
        "out_degree": distribution([d for _, d in graph.out_degree()]),
        "most_connected": [
            {"tool": graph.nodes[n].get("ref", n), "in": graph.in_degree(n), "out": graph.out_degree(n)}
            for n in by_degree[:top]
        ],
        "isolated": len(isolated),
        "isolated_tools": sorted(isolated)[:top],
    }


def find_node(graph: nx.DiGraph, ref: str) -> str:
    """The node id for a tool id, ``server/tool`` or a unique tool name."""
    if ref in graph:
        return ref
    exact = [n for n, d in graph.nodes(data=True) if d.get("ref") == ref]
    if not exact:
        exact = [n for n, d in graph.nodes(data=True) if d.get("name") == ref]
    if len(exact) == 1:
        return exact[0]
    if not exact:
        raise GraphToucanError(f"no tool {ref!r} in the graph; use SERVER/TOOL as 'tools list' shows it")
    names = ", ".join(sorted(graph.nodes[n].get("ref", n) for n in exact)[:20])
    raise GraphToucanError(f"{ref!r} names {len(exact)} tools ({names}); use SERVER/TOOL")


def neighbourhood(graph: nx.DiGraph, node: str) -> dict[str, Any]:
    """A node with its in and out edges (type, mapping, reason)."""

    def edge(a: str, b: str, other: str) -> dict[str, Any]:
        d = graph.edges[a, b]
        return {
            "tool": graph.nodes[other].get("ref", other),
            "type": d["type"],
            "mapping": d["mapping"],
            "reason": d["reason"],
        }

    attrs = graph.nodes[node]
    return {
        "tool": attrs.get("ref", node),
        "tool_class": attrs.get("tool_class"),
        "outputs": attrs.get("outputs", []),
        "in": [edge(a, node, a) for a in sorted(graph.predecessors(node))],
        "out": [edge(node, b, b) for b in sorted(graph.successors(node))],
    }
