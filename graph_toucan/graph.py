"""The tool dependency graph (METHOD.md section 3): an ``nx.DiGraph`` built from stored judgements.

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

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx

from graph_toucan.errors import GraphToucanError
from graph_toucan.records import EdgeJudgement, Tool
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
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False))
    tmp.replace(path)


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
