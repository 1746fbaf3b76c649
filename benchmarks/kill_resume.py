"""Kill and resume (issue 19): SIGKILL a ``run`` inside every stage, the automatic import of the bundled
example and the import of a catalog given with ``--catalog`` included, rerun it, and compare with an
uninterrupted run: tool ids, conversation and pair ids with their content, and every exported file.

    python benchmarks/kill_resume.py [--kills 20] [--n 5] [--seed 0] [--json]

Each kill is its own trial on a fresh workspace, at a random point of the stage's usual duration
(measured on the uninterrupted run). Prints one line per trial and ``equal K/K``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.kill_driver

from graph_toucan.resources import example_catalog
from tests.kill_driver import STAGES, final_state, run_to_end, trial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        catalog = root / "catalog"
        shutil.copytree(example_catalog(), catalog)  # the same servers, given as a catalog of one's own
        seconds = run_to_end(root / "baseline", args.n)
        baseline = final_state(root / "baseline")
        targets = [STAGES[i % len(STAGES)] for i in range(args.kills)]
        results = []
        for i, stage in enumerate(targets):
            given = catalog if stage == "import" and i % 2 else None
            landed, equal = trial(root / f"trial{i}", args.n, stage, baseline, seconds, rng, given)
            source = "--catalog" if given else "bundled"
            results.append({"target": stage, "landed": landed, "import": source, "equal": equal})
            if not args.json:
                print(
                    f"kill {i + 1:2d}: target {stage:9s} landed in {landed or 'none (finished)':9s} "
                    f"({source}) -> rerun {'equal' if equal else 'DIFFERENT'}",
                    flush=True,
                )
            shutil.rmtree(root / f"trial{i}", ignore_errors=True)
    equal = sum(r["equal"] for r in results)
    landed = sorted(
        {r["landed"] for r in results if r["landed"]},
        key=lambda s: (s not in STAGES, STAGES.index(s) if s in STAGES else 0),
    )
    summary = {"kills": len(results), "equal": equal, "stages_hit": landed, "trials": results}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"equal {equal}/{len(results)}; kills landed in: {', '.join(landed)}")


if __name__ == "__main__":
    main()
