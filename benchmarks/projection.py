"""A projection to a larger catalog and dataset from measured per-unit figures (issue 22).

    python benchmarks/projection.py --cpu-ms-per-request 6.1 --requests-per-accepted 20 \\
        --efficiency 0.5 --concurrency 64 --prune-mib 80 --prune-tools 3148 --store-kb 77 \\
        [--tools 50000] [--conversations 1000000] [--budget 30] [--latency 0.1]

Every input is a figure another benchmark printed (``throughput.py`` for CPU per request, requests per
accepted conversation and efficiency; ``pruning_recall.py`` for pruning's peak memory on a catalog of
``--prune-tools`` tools; the store's bytes per accepted conversation from a run). Nothing here is
measured: it multiplies, and says which unit each row scales by. Memory of pruning by a budget is
linear in tools (tools x budget pairs kept, plus one chunk of scores), so it is scaled linearly; the
judging work is tools x budget pairs; translation is conversations x requests per accepted.
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tools", type=int, default=50_000)
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--budget", type=float, default=30, help="judged pairs per tool")
    parser.add_argument("--latency", type=float, default=0.1, help="teacher latency, seconds")
    parser.add_argument("--cpu-ms-per-request", type=float, required=True)
    parser.add_argument("--requests-per-accepted", type=float, required=True)
    parser.add_argument("--efficiency", type=float, required=True, help="measured at --concurrency")
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--prune-mib", type=float, required=True, help="pruning peak memory measured")
    parser.add_argument("--prune-tools", type=int, required=True, help="tools it was measured on")
    parser.add_argument("--store-kb", type=float, required=True, help="store KB per accepted conversation")
    parser.add_argument("--processes", type=int, default=1, help="processes or shards (one core each)")
    a = parser.parse_args()

    requests = a.conversations * a.requests_per_accepted
    cpu_h = requests * a.cpu_ms_per_request / 1000 / 3600
    bound = a.concurrency / a.latency  # requests/s one process keeps in flight at the bound
    per_process = min(a.efficiency * bound, 1000 / a.cpu_ms_per_request)
    wall_h = requests / (per_process * a.processes) / 3600
    rows = [
        ("judged pairs (tools x budget)", f"{a.tools * a.budget:,.0f}", "tools"),
        ("pruning peak memory", f"{a.prune_mib * a.tools / a.prune_tools:,.0f} MiB", "tools (linear)"),
        ("teacher requests", f"{requests:,.0f}", "conversations"),
        ("pipeline CPU", f"{cpu_h:,.1f} core-hours", "requests"),
        (
            f"wall time, {a.processes} process(es) at c={a.concurrency}",
            f"{wall_h:,.1f} h ({per_process:,.0f} requests/s each)",
            "requests / throughput",
        ),
        ("store size", f"{a.conversations * a.store_kb / 2**20:,.1f} GiB", "conversations"),
    ]
    print(f"projection: {a.tools:,} tools, {a.conversations:,} accepted conversations")
    print(f"{'quantity':<44} {'projected':>34}  scales with")
    for name, value, unit in rows:
        print(f"{name:<44} {value:>34}  {unit}")


if __name__ == "__main__":
    main()
