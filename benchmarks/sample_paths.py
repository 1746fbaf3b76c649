"""Path sampling on the full TOUCAN graph: paths per second and peak memory for N paths with node
operations (graph sampler) and for TOUCAN's random baseline, a rerun with the same seed (which must add
nothing), and the two samplers' distributions side by side.

    python benchmarks/sample_paths.py [CATALOG] [--n 100000] [--seed 0] [--workspace DIR]
                                      [--more K [--sampler random|graph]]

The workspace is prepared first (import, offline annotation, offline graph build; each skipped or
reused when already done, so pass --workspace to keep it for a second run). Each sampling phase runs in
its own process so that its peak resident memory is its own.

With ``--more K`` it measures resuming instead: the first N paths of the sampler's stream are written
through a ``PathFeed`` (as ``graph-toucan run`` samples), then a new process opens a feed on the same
workspace and adds K more, timed (the population apart from the feed: opening it, reading its cursor,
and the K paths); last the stored paths are compared byte for byte with the first N + K paths of a
fresh, uninterrupted stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def peak_mib() -> float:
    """This process's peak resident memory. Linux's VmHWM, since ``ru_maxrss`` carries the parent's
    peak over fork and exec (a phase started by a large parent would report the parent's size)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def prepare(catalog: Path, workspace: Path) -> dict[str, object]:
    """Import, annotate and build the graph offline (reusing whatever the workspace already has)."""
    from graph_toucan.annotate import annotate_tools
    from graph_toucan.catalog import import_entries, read_catalog
    from graph_toucan.graph import build_graph
    from graph_toucan.llm import LLM, make_backend
    from graph_toucan.store import Store

    store = Store.open(workspace)
    started = time.perf_counter()
    if store.count("tools") == 0:
        import_entries(store, read_catalog(catalog))
    llm = LLM(make_backend("offline"), store)
    asyncio.run(annotate_tools(store, llm))
    graph, report = asyncio.run(build_graph(store, llm))
    return {
        "prepare_s": round(time.perf_counter() - started, 1),
        "tools": report.tools,
        "nodes": graph.number_of_nodes(),
        "edges": report.edges,
        "servers": len({graph.nodes[n]["server_id"] for n in graph.nodes}),
    }


def phase(workspace: Path, sampler: str, n: int, seed: int) -> dict[str, object]:
    """Sample N paths into the store exactly as ``graph-toucan sample`` does, timed."""
    from graph_toucan.graph_index import GraphIndex
    from graph_toucan.sampling import SampleConfig, baseline_tools, sample_paths, store_paths
    from graph_toucan.store import Store

    store = Store.open(workspace)
    config = SampleConfig()
    started = time.perf_counter()
    if sampler == "graph":
        from graph_toucan.graph import load_graph

        index = GraphIndex.from_digraph(load_graph(store), config.walk.edge_weights)
    else:
        index = GraphIndex.from_tools(baseline_tools(store.tools()))
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    sampled, new = store_paths(
        store, sample_paths(sampler, index, config, seed), n, run_id=f"bench-{sampler}"
    )
    wall = time.perf_counter() - started
    return {
        "sampler": sampler,
        "load_s": round(load_s, 2),
        "sample_and_store_s": round(wall, 1),
        "paths": sampled,
        "new": new,
        "paths_per_s": round(sampled / wall) if wall else 0,
        "peak_rss_mib": peak_mib(),
        "usable_edges": index.edge_count,
        "dropped_edges": index.dropped_edges,
    }


def feed_phase(workspace: Path, sampler: str, n: int, seed: int, fill: bool) -> dict[str, object]:
    """Through a ``PathFeed``: ``fill``, write the stream's first N paths; else add N more, timed."""
    from graph_toucan.path_feed import PathFeed
    from graph_toucan.sampling import SampleConfig, population
    from graph_toucan.store import Store

    store = Store.open(workspace)
    config = SampleConfig()
    started = time.perf_counter()
    index = population(store, sampler, config)
    population_s = time.perf_counter() - started
    started = time.perf_counter()
    feed = PathFeed(store, sampler, seed, config, index=index)
    open_s = time.perf_counter() - started
    started = time.perf_counter()
    if fill:
        feed.take(max(0, n - feed.stored))
    else:
        feed.extend(n)
    add_s = time.perf_counter() - started
    figures: dict[str, object] = {
        "population_s": round(population_s, 2),
        "open_s": round(open_s, 3),
        "add_s": round(add_s, 3),
        "resume_s": round(open_s + add_s, 3),
        "resumed": feed.resumed,
        "new": feed.new,
        "stored": feed.stored,
    }
    store.close()
    return figures


def same_as_fresh(workspace: Path, sampler: str, seed: int) -> dict[str, object]:
    """Whether the stored paths of the stream are, byte for byte, a fresh stream's first paths."""
    from itertools import islice

    from graph_toucan.sampling import SampleConfig, population, sample_paths
    from graph_toucan.store import Store

    store = Store.open(workspace)
    config = SampleConfig()
    stored = [
        row[0]
        for row in store.db.execute(
            "select data from paths where sampler = ? and seed = ? order by position", [sampler, seed]
        )
    ]
    fresh = islice(sample_paths(sampler, population(store, sampler, config), config, seed), len(stored))
    same = [p.model_dump_json(exclude={"id"}) for p in fresh] == stored
    store.close()
    return {"stored": len(stored), "byte_identical_to_fresh": same}


def _run_more(args: argparse.Namespace, workspace: Path) -> dict[str, object]:
    def run(phase: str, n: int) -> dict[str, object]:
        command = [sys.executable, __file__, str(args.catalog), "--n", str(n), "--seed", str(args.seed)]
        command += ["--workspace", str(workspace), "--sampler", args.sampler, "--phase", phase]
        return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)

    return {
        "sampler": args.sampler,
        "first": run("fill", args.n),
        "more": run("more", args.more),
        "check": run("check", 0),
    }


def distributions(workspace: Path, tools_total: int, servers_total: int) -> dict[str, dict[str, object]]:
    from graph_toucan.path_stats import PathStats
    from graph_toucan.store import Store

    store = Store.open(workspace)
    out = {}
    for sampler in ("graph", "random"):
        stats = PathStats()
        for path in store.paths(sampler=sampler):
            stats.add(path)
        out[sampler] = stats.as_dict(tools_total=tools_total, servers_total=servers_total)
    return out


def _run_phase(args: argparse.Namespace, workspace: Path, sampler: str) -> dict[str, object]:
    command = [sys.executable, __file__, str(args.catalog), "--n", str(args.n), "--seed", str(args.seed)]
    command += ["--workspace", str(workspace), "--phase", sampler]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def _side_by_side(figures: dict[str, dict[str, object]]) -> str:
    rows = ["| figure | graph | random |", "|---|---|---|"]

    def cell(value: object) -> str:
        if isinstance(value, dict) and "mean" in value:
            return f"{value['mean']} ({value['min']}-{value['max']})"
        if isinstance(value, dict):
            return ", ".join(
                f"{k} {v['share']:.1%}" if isinstance(v, dict) else f"{k} {v}" for k, v in value.items()
            )
        return str(value)

    for key in figures["graph"]:
        if key in ("available_tools", "distractors"):
            continue
        rows.append(
            f"| {key.replace('_', ' ')} | {cell(figures['graph'][key])} | {cell(figures['random'][key])} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "catalog",
        nargs="?",
        type=Path,
        help="a TOUCAN mcp_servers folder (default: $GRAPH_TOUCAN_TOUCAN_DIR/mcp_servers)",
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--more", type=int, help="measure adding K paths to N stored (see above)")
    parser.add_argument("--sampler", choices=["graph", "random"], default="random")
    parser.add_argument(
        "--phase", choices=["graph", "random", "fill", "more", "check"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.catalog is None:
        from graph_toucan.resources import toucan_servers

        args.catalog = toucan_servers()
    if args.phase in ("fill", "more"):
        print(json.dumps(feed_phase(args.workspace, args.sampler, args.n, args.seed, args.phase == "fill")))
        return
    if args.phase == "check":
        print(json.dumps(same_as_fresh(args.workspace, args.sampler, args.seed)))
        return
    if args.phase:
        print(json.dumps(phase(args.workspace, args.phase, args.n, args.seed)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        workspace = args.workspace or Path(tmp)
        figures: dict[str, object] = {"catalog": str(args.catalog), "n": args.n, "seed": args.seed}
        figures["graph"] = prepare(args.catalog, workspace)
        if args.more is not None:
            figures["resume"] = _run_more(args, workspace)
            print(json.dumps(figures, indent=2))
            return
        phases = [_run_phase(args, workspace, s) for s in ("graph", "random")]
        rerun = _run_phase(args, workspace, "graph")
        phases.append(
            {"sampler": "graph (rerun, same seed)", **{k: v for k, v in rerun.items() if k != "sampler"}}
        )
        figures["sampling"] = phases
        graph = figures["graph"]
        assert isinstance(graph, dict)
        dists = distributions(workspace, int(graph["nodes"]), int(graph["servers"]))
        figures["distributions"] = dists
        print(json.dumps(figures, indent=2))
        print()
        print(_side_by_side(dists))


if __name__ == "__main__":
    main()
