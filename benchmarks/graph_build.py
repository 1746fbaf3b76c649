"""Dependency graph on the full TOUCAN catalog with the offline teacher: annotation and graph build
wall time and peak memory, judged pairs with pruning versus all ordered pairs, edges by type; then
pruning recall: on a random sample of tools, every ordered pair is judged offline and the share of
the edges found that pruning kept as candidates is reported.

    python benchmarks/graph_build.py [CATALOG] [--sample 300] [--budget 30 | --cap 30] [--floor 5]
                                      [--workspace DIR]

Pass --workspace to keep (and on a second run reuse) the annotated workspace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import tempfile
import time
from pathlib import Path


def peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "catalog",
        nargs="?",
        type=Path,
        help="a TOUCAN mcp_servers folder (default: $GRAPH_TOUCAN_TOUCAN_DIR/mcp_servers)",
    )
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--budget", type=float, default=None, help="pairs per tool (the default, 30)")
    parser.add_argument("--cap", type=int, default=None, help="instead of a budget: candidates per tool")
    parser.add_argument("--floor", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workspace", type=Path)
    args = parser.parse_args()
    if args.catalog is None:
        from graph_toucan.resources import toucan_servers

        args.catalog = toucan_servers()
    with tempfile.TemporaryDirectory() as tmp:
        run(args, args.workspace or Path(tmp))


def run(args: argparse.Namespace, workspace: Path) -> None:
    from graph_toucan.annotate import annotate_tools
    from graph_toucan.catalog import import_entries, read_catalog
    from graph_toucan.graph import build_graph
    from graph_toucan.judge import Node, judge_nodes
    from graph_toucan.llm import LLM, make_backend
    from graph_toucan.pruning import PruneConfig, candidates
    from graph_toucan.schema import leaf_fields
    from graph_toucan.store import Store

    store = Store.open(workspace)
    figures: dict[str, object] = {}
    started = time.perf_counter()
    if store.count("tools") == 0:
        import_entries(store, read_catalog(args.catalog))
    figures["import_s"] = round(time.perf_counter() - started, 1)
    llm = LLM(make_backend("offline"), store)
    started = time.perf_counter()
    annotated = asyncio.run(annotate_tools(store, llm))
    figures["annotate_s"] = round(time.perf_counter() - started, 1)
    figures["annotate"] = {k: v for k, v in annotated.as_dict().items() if k != "failed"}
    figures["peak_rss_after_annotate_mib"] = peak_mib()

    config = PruneConfig(cap=args.cap, floor=args.floor, budget=args.budget)
    started = time.perf_counter()
    graph, report = asyncio.run(build_graph(store, llm, config=config))
    figures["build_s"] = round(time.perf_counter() - started, 1)
    figures["build"] = {
        k: v for k, v in report.as_dict().items() if k not in ("filter_failed", "failed_judgements")
    }
    figures["judged_pairs_per_tool"] = round(report.candidate_pairs / max(report.nodes, 1), 1)
    figures["share_of_all_pairs_judged"] = f"{report.candidate_pairs / max(report.all_pairs, 1):.4%}"
    figures["peak_rss_after_build_mib"] = peak_mib()

    started = time.perf_counter()
    _, again = asyncio.run(build_graph(store, llm, config=config))
    figures["rebuild_s"] = round(time.perf_counter() - started, 1)
    figures["rebuild_judged_now"] = again.judged

    # pruning recall on a random sample: judge all ordered pairs, see which edges pruning kept
    tools = {t.id: t for t in store.tools() if t.tool_class and t.output_schema}
    nodes = [
        Node.of(
            tools[n],
            [f for f in leaf_fields(tools[n].output_schema) if f.path in set(graph.nodes[n]["outputs"])],
        )
        for n in graph.nodes
    ]
    rng = random.Random(args.seed)
    sample = rng.sample(nodes, min(args.sample, len(nodes)))
    started = time.perf_counter()
    edges = {
        (s.id, t.id) for s in sample for t in sample if s.id != t.id and judge_nodes(s, t).type != "none"
    }
    judge_all_s = time.perf_counter() - started
    pairs = len(sample) * (len(sample) - 1)
    full_catalog = {(s, t) for s, targets in candidates(nodes, config).items() for t in targets}
    within_sample = {(s, t) for s, targets in candidates(sample, config).items() for t in targets}
    figures["recall_sample"] = {
        "tools": len(sample),
        "ordered_pairs_judged": pairs,
        "offline_judge_pairs_per_s": round(pairs / judge_all_s),
        "edges_found": len(edges),
        "kept_by_pruning_over_full_catalog": f"{len(edges & full_catalog) / max(len(edges), 1):.2%}",
        "kept_by_pruning_within_sample": f"{len(edges & within_sample) / max(len(edges), 1):.2%}",
        "judged_per_tool_within_sample": round(len(within_sample) / len(sample), 1),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
