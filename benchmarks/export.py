"""Export time per format and the statistics report of an offline run (issue 7).

    python benchmarks/export.py [--n 1000] [--random 250] [--repeat 3] [--workspace DIR] [--json]

1. ``run_pipeline`` with the offline teacher on the bundled example catalog until ``--n`` translations are
   accepted (as ``graph-toucan run --n``; seed 1, 2, ... continue when a seed's path stream runs out), with
   the refusal variants and preference pairs ``graph-toucan run`` adds.
2. Each format exported alone (best of ``--repeat`` wall times, reading the store included), then all four
   together with the dataset card and the statistics files: rows, megabytes written, seconds.
3. With ``--random N``, a random-baseline run into the same workspace; then the statistics Markdown table
   (graph and random side by side, MAGNET and TOUCAN reference rows).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph_toucan.export import FORMATS, export
from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.pipeline import PipelineConfig, run_pipeline
from graph_toucan.stats import compute_stats, stats_markdown
from graph_toucan.store import Store


def generate(store: Store, n: int, sampler: str, max_seeds: int = 10) -> dict[str, Any]:
    """Accepted translations of ``sampler`` until ``n`` (as ``graph-toucan run --n``), continuing with the next
    seed when a seed's path stream runs out; refusal variants and pairs come on top."""
    started = time.perf_counter()
    accepted = rejected = pairs = 0
    seeds = []
    for seed in range(max_seeds):
        config = PipelineConfig(n=n - accepted, sampler=sampler, seed=seed)  # type: ignore[arg-type]
        report = asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), config))
        accepted, rejected, pairs = (
            accepted + report.accepted,
            rejected + report.rejected,
            pairs + report.pairs,
        )
        seeds.append({"seed": seed, "accepted": report.accepted, "exhausted": report.exhausted})
        if accepted >= n:
            break
    return {
        "sampler": sampler,
        "translations_accepted": accepted,
        "translations_rejected": rejected,
        "pairs": pairs,
        "seeds": seeds,
        "dataset": store.conversation_count(status="accepted"),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _megabytes(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 2)


def time_exports(store: Store, scratch: Path, repeat: int) -> list[dict[str, Any]]:
    """Each format alone (best of ``repeat``), then all formats in one pass."""
    rows = []
    for formats in [[f] for f in FORMATS] + [list(FORMATS)]:
        best, report = float("inf"), None
        for _ in range(repeat):
            out = scratch / "+".join(formats)
            shutil.rmtree(out, ignore_errors=True)
            started = time.perf_counter()
            report = export(store, out, formats)
            best = min(best, time.perf_counter() - started)
        assert report is not None
        render = sum(report.seconds[f] for f in formats)
        rows.append(
            {
                "formats": "+".join(formats) if len(formats) < len(FORMATS) else "all (one pass)",
                "rows": sum(sum(report.rows[f].values()) for f in formats),
                "megabytes": _megabytes(report.out / formats[0] if len(formats) == 1 else report.out),
                "seconds": round(best, 3),
                "render_write_seconds": round(render, 3),
                "stats_and_card_seconds": report.seconds["stats_and_card"],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="accepted conversations of the graph sampler")
    parser.add_argument("--random", type=int, default=0, help="accepted conversations of the random baseline")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workspace", type=Path, help="reuse (and extend) this workspace")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(args.workspace or Path(tmp) / "workspace")
        runs = [generate(store, args.n, "graph")]
        timings = time_exports(store, Path(tmp) / "exports", args.repeat)
        if args.random:
            runs.append(generate(store, args.random, "random"))
        stats = compute_stats(store)
        figures = {"runs": runs, "exports": timings, "stats": stats.as_dict()}
        if args.json:
            print(json.dumps(figures, indent=2))
            return
        for run in runs:
            print(
                f"run {run['sampler']}: {run['translations_accepted']} translations accepted "
                f"({run['translations_rejected']} rejected) over seeds "
                + ", ".join(f"{s['seed']} ({s['accepted']})" for s in run["seeds"])
                + f"; {run['pairs']} pairs; {run['dataset']} accepted conversations in the workspace; "
                f"{run['seconds']} s"
            )
        print(
            f"\n| export | rows | MB | wall s (best of {args.repeat}) | of which render + write | "
            "of which stats + card |"
        )
        print("|---|---|---|---|---|---|")
        for t in timings:
            print(
                f"| {t['formats']} | {t['rows']} | {t['megabytes']} | {t['seconds']} | "
                f"{t['render_write_seconds']} | {t['stats_and_card_seconds']} |"
            )
        print()
        print(stats_markdown(stats, level=2))


if __name__ == "__main__":
    main()
