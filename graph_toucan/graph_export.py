"""Writing the dependency graph for other tools and for people: GraphML, node-link JSON, and a
self-contained interactive HTML page (Bokeh with its JavaScript inlined, so it opens offline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx

from graph_toucan.atomic import replacing, write_atomic
from graph_toucan.errors import GraphToucanError

EXPORT_FORMATS = ("graphml", "json", "html")
_CLASS_COLOURS = {"computation": "#2b8cbe", "query": "#31a354", "action": "#de2d26"}
_EDGE_COLOURS = {"full": "#444444", "partial": "#9e9ac8", "prerequisite": "#fdae6b"}


def export_graph(graph: nx.DiGraph, fmt: str, out: Path) -> Path:
    """Write ``graph`` to ``out`` in ``fmt``; returns the path written."""
    if fmt not in EXPORT_FORMATS:
        raise GraphToucanError(f"unknown graph format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        write_atomic(out, json.dumps(nx.node_link_data(graph, edges="edges"), ensure_ascii=False, indent=1))
    elif fmt == "graphml":
        with replacing(out) as tmp:
            nx.write_graphml(_scalar_attributes(graph), tmp)
    else:
        write_atomic(out, graph_html(graph))
    return out


def _scalar_attributes(graph: nx.DiGraph) -> nx.DiGraph:
    """GraphML holds only scalars: lists and dicts become JSON text, None is left out."""

    def clean(attrs: dict[str, Any]) -> dict[str, Any]:
        return {
            k: (json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v)
            for k, v in attrs.items()
            if v is not None
        }

    copy = nx.DiGraph()
    copy.add_nodes_from((n, clean(d)) for n, d in graph.nodes(data=True))
    copy.add_edges_from((a, b, clean(d)) for a, b, d in graph.edges(data=True))
    return copy


LABELLED_NODES = 200  # graphs up to this many tools show every name; larger ones the names a search finds


def graph_html(graph: nx.DiGraph, *, seed: int = 7) -> str:
    """An interactive page: every tool as a dot coloured by class, edges coloured by type; typing
    in the search box highlights the matching tools with their neighbours and lists their edges."""
    from bokeh.embed import file_html
    from bokeh.layouts import column, row
    from bokeh.models import Arrow, ColumnDataSource, CustomJS, Div, HoverTool, LabelSet, TextInput, VeeHead
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    nodes = list(graph.nodes)
    position = nx.spring_layout(graph.to_undirected(), seed=seed, k=None, iterations=40) if nodes else {}
    index = {n: i for i, n in enumerate(nodes)}
    attrs = [graph.nodes[n] for n in nodes]
    node_source = ColumnDataSource(
        {
            "x": [float(position[n][0]) for n in nodes],
            "y": [float(position[n][1]) for n in nodes],
            "ref": [a.get("ref", n) for n, a in zip(nodes, attrs, strict=True)],
            "tool_class": [a.get("tool_class") or "" for a in attrs],
            "color": [_CLASS_COLOURS.get(a.get("tool_class") or "", "#888888") for a in attrs],
            "degree": [graph.degree(n) for n in nodes],
            "alpha": [0.8] * len(nodes),
            "size": [6 + min(graph.degree(n), 30) / 3 for n in nodes],
            "name": [a.get("name") or a.get("ref", n) for n, a in zip(nodes, attrs, strict=True)],
            # every name is shown on a graph small enough to read; on a big one, those a search finds
            "label_alpha": [0.85 if len(nodes) <= LABELLED_NODES else 0.0] * len(nodes),
        }
    )
    edges = list(graph.edges(data=True))
    edge_source = ColumnDataSource(
        {
            "x0": [float(position[a][0]) for a, _, _ in edges],
            "y0": [float(position[a][1]) for a, _, _ in edges],
            # the arrowhead stops just short of the target's dot, so that it shows
            "x1": [float(position[a][0] + 0.96 * (position[b][0] - position[a][0])) for a, b, _ in edges],
            "y1": [float(position[a][1] + 0.96 * (position[b][1] - position[a][1])) for a, b, _ in edges],
            "src": [index[a] for a, _, _ in edges],
            "dst": [index[b] for _, b, _ in edges],
            "type": [d.get("type", "") for _, _, d in edges],
            "mapping": [
                ", ".join(f"{m['output']} -> {m['input']}" for m in d.get("mapping", [])) for _, _, d in edges
            ],
            "color": [_EDGE_COLOURS.get(d.get("type", ""), "#999999") for _, _, d in edges],
            "alpha": [0.25] * len(edges),
        }
    )
    plot = figure(
        title=f"tool dependency graph: {graph.number_of_nodes()} tools, {graph.number_of_edges()} edges",
        width=1100,
        height=800,
        tools="pan,wheel_zoom,box_zoom,reset,tap",
        active_scroll="wheel_zoom",
    )
    plot.axis.visible = False
    plot.grid.visible = False
    head = VeeHead(size=7, line_color="color", fill_color="color", line_alpha="alpha", fill_alpha="alpha")
    plot.add_layout(
        Arrow(
            end=head,
            x_start="x0",
            y_start="y0",
            x_end="x1",
            y_end="y1",
            source=edge_source,
            line_color="color",
            line_alpha="alpha",
            line_width=1,
        )
    )
    dots = plot.scatter(
        "x", "y", source=node_source, size="size", fill_color="color", fill_alpha="alpha", line_alpha="alpha"
    )
    plot.add_layout(
        LabelSet(
            x="x",
            y="y",
            text="name",
            source=node_source,
            x_offset=5,
            y_offset=3,
            text_font_size="8pt",
            text_alpha="label_alpha",
        )
    )
    plot.add_tools(
        HoverTool(
            renderers=[dots], tooltips=[("tool", "@ref"), ("class", "@tool_class"), ("degree", "@degree")]
        )
    )
    details = Div(text="Type part of a tool or server name to see its neighbourhood.", width=1100)
    search = TextInput(title="search tools", placeholder="e.g. weather or search-hotels", width=400)
    search.js_on_change(
        "value",
        CustomJS(
            args={"nodes": node_source, "edges": edge_source, "details": details},
            code=_SEARCH_JS % LABELLED_NODES,
        ),
    )
    legend = Div(
        text="nodes: <b style='color:#2b8cbe'>computation</b> <b style='color:#31a354'>query</b> "
        "<b style='color:#de2d26'>action</b> &nbsp; edges: <b style='color:#444'>full</b> "
        "<b style='color:#9e9ac8'>partial</b> <b style='color:#fdae6b'>prerequisite</b>"
    )
    return file_html(
        column(row(search, legend), plot, details), INLINE, title="graph-toucan dependency graph"
    )


_SEARCH_JS = """
const text = cb_obj.value.trim().toLowerCase();
const n = nodes.data, e = edges.data;
const hit = n.ref.map(r => text.length > 0 && r.toLowerCase().includes(text));
const near = hit.slice();
const lines = [];
for (let i = 0; i < e.src.length; i++) {
  const touches = hit[e.src[i]] || hit[e.dst[i]];
  e.alpha[i] = text.length === 0 ? 0.25 : (touches ? 0.9 : 0.02);
  if (touches) {
    near[e.src[i]] = true; near[e.dst[i]] = true;
    if (lines.length < 200) {
      lines.push(`${n.ref[e.src[i]]} &rarr; ${n.ref[e.dst[i]]} <i>${e.type[i]}</i> ${e.mapping[i]}`);
    }
  }
}
const labelled = n.ref.length <= %d ? 0.85 : 0.0;
for (let i = 0; i < n.ref.length; i++) {
  n.alpha[i] = text.length === 0 ? 0.8 : (hit[i] ? 1.0 : (near[i] ? 0.7 : 0.05));
  n.label_alpha[i] = text.length === 0 ? labelled : (hit[i] || near[i] ? 1.0 : 0.0);
}
const count = hit.filter(Boolean).length;
details.text = text.length === 0 ? "" :
  `<b>${count} tools match</b><br>` + (lines.length ? lines.join("<br>") : "no edges");
nodes.change.emit(); edges.change.emit();
"""
