"""Wall time and peak memory to import the full TOUCAN catalog: into a fresh workspace, then again
into the same one (which must be idempotent: nothing new, nothing updated).

    python benchmarks/import_catalog.py [CATALOG] [--statuses usable,tools_invalid]

Each phase runs in its own process so that its peak resident memory is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def phase(catalog: Path, workspace: Path, statuses: list[str]) -> dict[str, float | int]:
    from graph_toucan.catalog import import_entries, read_catalog
    from graph_toucan.records import ServerStatus
    from graph_toucan.store import Store

    started = time.perf_counter()
    store = Store.open(workspace)
    report = import_entries(store, read_catalog(catalog, statuses=[ServerStatus(s) for s in statuses]))
    wall = time.perf_counter() - started
    return {
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "servers": report.servers,
        "tools_read": report.tools_read,
        "new": report.counts.new,
        "updated": report.counts.updated,
        "unchanged": report.counts.unchanged,
        "skipped": len(report.skipped),
        "tools_in_store": store.count("tools"),
        "db_mib": round((workspace / "graph_toucan.db").stat().st_size / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "catalog",
        nargs="?",
        type=Path,
        help="a TOUCAN mcp_servers folder (default: $GRAPH_TOUCAN_TOUCAN_DIR/mcp_servers)",
    )
    parser.add_argument("--statuses", default="usable")
    parser.add_argument("--phase-workspace", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.catalog is None:
        from graph_toucan.resources import toucan_servers

        args.catalog = toucan_servers()
    statuses = args.statuses.split(",")
    if args.phase_workspace:
        print(json.dumps(phase(args.catalog, args.phase_workspace, statuses)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for name in ("fresh workspace", "existing workspace"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    str(args.catalog),
                    "--statuses",
                    args.statuses,
                    "--phase-workspace",
                    tmp,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            rows.append((name, json.loads(out)))
    print(f"catalog: {args.catalog} (statuses: {args.statuses})")
    keys = list(rows[0][1])
    print(f"{'phase':<20}" + "".join(f"{k:>15}" for k in keys))
    for name, row in rows:
        print(f"{name:<20}" + "".join(f"{row[k]!s:>15}" for k in keys))


if __name__ == "__main__":
    main()
