"""Peak memory and offline speed of ``graph-toucan run`` at several ``--n`` (issue 22).

    python benchmarks/run_memory.py [--catalog DIR] [--prepared WS] [--n 2000 20000]

Each ``--n`` runs the whole pipeline with the offline teacher in a child process of its own (so its
peak resident memory is its own), on a fresh copy of a prepared workspace (``--prepared``: imported,
annotated, graph and mocks built, as ``throughput.py`` prepares it; without it, a fresh workspace with
the catalog or the bundled example, every stage included). Printed per n: accepted and rejected,
seconds, accepted conversations per second end to end, seconds per stage, the child's peak RSS (also
as it stood when each stage ended, and the resident memory each stage left), and the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import asyncio, json, resource, sys, time
from pathlib import Path
from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.pipeline import Pipeline, PipelineConfig, run_pipeline
from graph_toucan.store import Store

workspace, n, catalogs = Path(sys.argv[1]), int(sys.argv[2]), [Path(p) for p in sys.argv[3:]]
peak_by_stage, rss_after_stage, stage = {}, {}, Pipeline._stage


async def measured(self, name, work):  # the high-water mark when each stage ends, and what it leaves
    await stage(self, name, work)
    peak_by_stage[name] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    rss_after_stage[name] = round(int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20, 1)


Pipeline._stage = measured
store = Store.open(workspace)
started = time.perf_counter()
config = PipelineConfig(n=n, catalogs=catalogs, export_dir=workspace / "dataset")
report = asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), config))
elapsed = time.perf_counter() - started
print(json.dumps({
    "n": n, "accepted": report.accepted, "rejected": report.rejected, "pairs": report.pairs,
    "seconds": round(elapsed, 1), "accepted_per_s": round(report.accepted / elapsed, 2),
    "stages": report.stages,
    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "peak_rss_mib_by_stage": peak_by_stage, "rss_mib_after_stage": rss_after_stage,
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, action="append", default=[])
    parser.add_argument("--prepared", type=Path)
    parser.add_argument("--n", type=int, nargs="+", default=[2000, 20000])
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    for n in args.n:
        workspace = Path(tempfile.mkdtemp(prefix=f"gt-run-memory-{n}-"))
        try:
            if args.prepared:
                shutil.copytree(args.prepared, workspace, dirs_exist_ok=True)
            load = os.getloadavg()[0]
            catalogs = [] if args.prepared else [str(c) for c in args.catalog]
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(workspace), str(n), *catalogs],
                capture_output=True,
                text=True,
                cwd=root,
                check=True,
            ).stdout
            figures = json.loads(out.strip().splitlines()[-1]) | {"load_1min": round(load, 2)}
        finally:
            shutil.rmtree(workspace, ignore_errors=True)
        print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
