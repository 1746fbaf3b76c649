"""Pruning recall against exhaustive judging on the TOUCAN catalog, with the offline judge.

    python benchmarks/pruning_recall.py [CATALOG] [--samples 3] [--size 300] [--caps 10 30 60]
                                        [--budgets 30] [--workspace DIR]

The catalog's usable tools are imported and annotated offline (pass --workspace to keep and reuse that
workspace), their outputs filtered as ``graph build`` does. Then, for each of ``--samples`` random samples
of ``--size`` tools (seeds 0, 1, ...), every ordered pair of the sample is judged by the offline judge: the
edges it finds are the truth. For each cap, pruning runs twice: within the sample (the sample is the
catalog) and over the whole catalog (the tools compete with all others for the cap); recall is the share
of the sample's edges that pruning kept as candidates, and judged pairs per tool is how many candidates a
tool kept on average. Each ``--budgets`` value B is the global selection (``PruneConfig(budget=B)``: B x
tools pairs in all, ranked over all pairs) measured the same way, with the peak memory pruning the whole
catalog took (tracemalloc, numpy included). A table, then the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "toucan" / "mcp_servers"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalog", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--caps", type=int, nargs="+", default=[10, 30, 60])
    parser.add_argument("--budgets", type=float, nargs="*", default=[30])
    parser.add_argument("--floor", type=int, default=5)
    parser.add_argument("--workspace", type=Path)
    args = parser.parse_args()
    if not args.catalog.exists():
        sys.exit(f"no catalog at {args.catalog}; pass the TOUCAN mcp_servers folder")
    with tempfile.TemporaryDirectory() as tmp:
        run(args, args.workspace or Path(tmp))


def load_nodes(catalog: Path, workspace: Path) -> list:
    from graph_toucan.annotate import annotate_tools
    from graph_toucan.catalog import import_entries, read_catalog
    from graph_toucan.graph import filtered_outputs
    from graph_toucan.judge import Node
    from graph_toucan.llm import LLM, make_backend
    from graph_toucan.store import Store

    store = Store.open(workspace)
    if store.count("tools") == 0:
        import_entries(store, read_catalog(catalog))
    llm = LLM(make_backend("offline"), store)
    asyncio.run(annotate_tools(store, llm))
    tools = [t for t in store.tools() if t.tool_class and t.output_schema]

    async def filtered() -> list:
        return await asyncio.gather(*(filtered_outputs(t, llm) for t in tools))

    return [Node.of(t, outputs) for t, (_, outputs, _) in zip(tools, asyncio.run(filtered()), strict=True)]


def run(args: argparse.Namespace, workspace: Path) -> None:
    from graph_toucan.judge import judge_nodes
    from graph_toucan.pruning import PruneConfig, candidates

    started = time.perf_counter()
    nodes = load_nodes(args.catalog, workspace)
    figures: dict[str, object] = {"tools": len(nodes), "prepare_s": round(time.perf_counter() - started, 1)}
    configs: dict[str, PruneConfig] = {
        f"cap {cap}": PruneConfig(cap=cap, floor=min(args.floor, cap)) for cap in args.caps
    }
    configs |= {f"budget {b:g}": PruneConfig(floor=min(args.floor, int(b)), budget=b) for b in args.budgets}
    over_catalog = {}
    for cap, config in configs.items():
        started = time.perf_counter()
        tracemalloc.start()
        over_catalog[cap] = {(s, t) for s, ts in candidates(nodes, config).items() for t in ts}
        figures[f"prune_full_catalog_{cap}_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
        figures[f"prune_full_catalog_{cap}_s"] = round(time.perf_counter() - started, 1)
        figures[f"judged_pairs_per_tool_full_catalog_{cap}"] = round(len(over_catalog[cap]) / len(nodes), 1)
    rows = []
    for seed in range(args.samples):
        sample = random.Random(seed).sample(nodes, min(args.size, len(nodes)))
        started = time.perf_counter()
        judged = {(s.id, t.id): judge_nodes(s, t) for s in sample for t in sample if s.id != t.id}
        edges = {k for k, a in judged.items() if a.type != "none"}
        by_type = Counter(judged[k].type for k in edges)
        seconds = time.perf_counter() - started
        for cap, config in configs.items():
            within = {(s, t) for s, ts in candidates(sample, config).items() for t in ts}
            rows.append(
                {
                    "seed": seed,
                    "tools": len(sample),
                    "ordered_pairs": len(judged),
                    "edges": len(edges),
                    "edges_by_type": dict(sorted(by_type.items())),
                    "exhaustive_judging_s": round(seconds, 1),
                    "cap": cap,
                    "recall_within_sample": round(len(edges & within) / max(len(edges), 1), 4),
                    "judged_pairs_per_tool_within_sample": round(len(within) / len(sample), 1),
                    "recall_over_full_catalog": round(len(edges & over_catalog[cap]) / max(len(edges), 1), 4),
                    "missed_within_sample": sorted(
                        f"{_ref(nodes, s)} -> {_ref(nodes, t)}" for s, t in edges - within
                    )[:5],
                }
            )
    figures["samples"] = rows
    print(
        f"{'seed':>4} {'tools':>5} {'edges':>5} {'selection':>10} {'recall(sample)':>14} {'pairs/tool':>10} {'recall(catalog)':>15}"
    )
    for r in rows:
        print(
            f"{r['seed']:>4} {r['tools']:>5} {r['edges']:>5} {r['cap']:>10} {r['recall_within_sample']:>14.2%} "
            f"{r['judged_pairs_per_tool_within_sample']:>10} {r['recall_over_full_catalog']:>15.2%}"
        )
    for cap in configs:
        mine = [r for r in rows if r["cap"] == cap]
        found = sum(r["edges"] for r in mine)
        print(
            f"{cap}: recall within samples {sum(r['recall_within_sample'] * r['edges'] for r in mine) / max(found, 1):.2%}, "
            f"over the full catalog {sum(r['recall_over_full_catalog'] * r['edges'] for r in mine) / max(found, 1):.2%}, "
            f"{sum(r['judged_pairs_per_tool_within_sample'] for r in mine) / len(mine):.1f} judged pairs per tool in a sample, "
            f"{figures[f'judged_pairs_per_tool_full_catalog_{cap}']} over the catalog, "
            f"peak memory {figures[f'prune_full_catalog_{cap}_peak_mib']} MiB over the catalog"
        )
    print(json.dumps(figures, indent=2))


def _ref(nodes: list, node_id: str) -> str:
    return next(n.ref for n in nodes if n.id == node_id)


if __name__ == "__main__":
    main()
