"""The depth of an export (issue 15): how many turns and calls its conversations hold, beside MAGNET's
published figures and BFCL v3 multi_turn_base's ground truth, and acceptance by path length.

    python benchmarks/depth.py --data DATASET_DIR [--workspace WS] [--json]

Counted from the export's ``openai`` rows (``train.jsonl`` and ``validation.jsonl``), with its own rules,
never the ``stats`` report's: a *user turn* is a user message; a turn's *calls* are the tool calls of the
assistant messages after it and before the next user message; a conversation is *multi-turn* with two or
more user turns. Rows are counted all together and by kind (translation, refusal variants, irrelevance).

With ``--workspace`` (the run's ``gt-workspace``), also the acceptance of translations by the number of
planned calls of their path, in buckets, with the commonest rejection reasons of each bucket; with
``--run-json`` (what ``graph-toucan run --json`` printed), the throughput in accepted conversations per second.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from statistics import mean
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fidelity import Workspace, read_jsonl
from rich.console import Console
from rich.table import Table

# MAGNET (its paper's multi-turn samples) and BFCL v3 multi_turn_base (its public ground truth).
REFERENCE = {
    "MAGNET": {"turns_multi": 4.71, "calls_multi": 15.13, "calls_per_turn": 3.2},
    "BFCL multi_turn_base": {
        "turns_multi": 3.71,
        "calls_multi": 5.74,
        "calls_per_turn": 1.56,
        "multi_call_turns": 37.5,
        "max_turns": 7,
        "max_calls": 10,
    },
}
BUCKETS = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 14), (15, 99)]


def turns_of(row: dict[str, Any]) -> list[int]:
    """Calls per user turn of one row."""
    calls: list[int] = []
    for message in row["messages"]:
        if message["role"] == "user":
            calls.append(0)
        elif message["role"] == "assistant" and calls:
            calls[-1] += len(message.get("tool_calls") or [])
    return calls


def shape(rows: list[dict[str, Any]]) -> dict[str, Any]:
    per_row = [turns_of(r) for r in rows]
    multi = [t for t in per_row if len(t) >= 2]
    turns = [c for t in per_row for c in t]
    return {
        "conversations": len(per_row),
        "multi_turn": len(multi),
        "turns_multi": round(mean(len(t) for t in multi), 2) if multi else 0,
        "calls_multi": round(mean(sum(t) for t in multi), 2) if multi else 0,
        "calls_per_turn": round(sum(turns) / len(turns), 2) if turns else 0,
        "multi_call_turns": round(100 * sum(c >= 2 for c in turns) / len(turns), 1) if turns else 0,
        "max_turns": max((len(t) for t in per_row), default=0),
        "max_calls": max((sum(t) for t in per_row), default=0),
    }


def bucket(calls: int) -> str:
    low, high = next((lo, hi) for lo, hi in BUCKETS if lo <= calls <= hi)
    return f"{low}-{high}" if high < 99 else f"{low}+"


def reason_name(reason: str) -> str:
    text = reason.split(": ", 1)[1] if reason.startswith("turn ") else reason
    head = text.split(":", 1)[0]
    return head if head.replace("_", "").isalpha() and " " not in head else " ".join(text.split()[:4])


def acceptance(ws: Workspace) -> dict[str, Any]:
    by_bucket: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for rec in ws.convs.values():
        if rec.get("kind") != "translation":
            continue
        path = ws.paths.get(rec["path_id"]) or {}
        name = bucket(sum(len(t["calls"]) for t in path.get("turns", [])))
        by_bucket[name][rec["status"]] += 1
        if rec["status"] == "rejected":
            reasons[name].update({reason_name(r) for r in rec.get("reasons") or []} or {"(none)"})
    order = [bucket(lo) for lo, _ in BUCKETS]
    return {
        name: {
            "accepted": by_bucket[name]["accepted"],
            "all": by_bucket[name].total(),
            "rate": round(100 * by_bucket[name]["accepted"] / by_bucket[name].total(), 1),
            "reasons": dict(reasons[name].most_common(3)),
        }
        for name in order
        if by_bucket[name].total()
    }


def throughput(run: dict[str, Any]) -> dict[str, Any]:
    """Accepted conversations per second, of the translate stage and of the whole run (``run --json``)."""
    stages = run.get("stages") or {}
    accepted = run.get("accepted", 0)
    total = sum(stages.values())
    return {
        "accepted": accepted,
        "translate_s": stages.get("translate"),
        "total_s": round(total, 1),
        "per_second_translate": round(accepted / stages["translate"], 2) if stages.get("translate") else None,
        "per_second_total": round(accepted / total, 2) if total else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="an export's folder (its openai/ rows are read)")
    parser.add_argument("--workspace", help="the run's workspace, for acceptance by path length")
    parser.add_argument("--run-json", help="the output of 'graph-toucan run --json', for the throughput")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    rows = read_jsonl(Path(args.data) / "openai")
    result: dict[str, Any] = {"all": shape(rows)}
    for kind in sorted({r.get("kind") or "translation" for r in rows}):
        result[kind] = shape([r for r in rows if (r.get("kind") or "translation") == kind])
    if args.workspace:
        ws = Workspace(args.workspace)
        result["acceptance_by_length"] = acceptance(ws)
    if args.run_json:
        result["throughput"] = throughput(json.loads(Path(args.run_json).read_text()))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    console = Console(width=150)
    keys = ["turns_multi", "calls_multi", "calls_per_turn", "multi_call_turns", "max_turns", "max_calls"]
    labels = ["user turns / multi-turn conv.", "calls / multi-turn conv.", "calls / user turn",
              "turns with 2+ calls (%)", "most turns", "most calls"]  # fmt: skip
    kinds = [k for k in result if k not in ("acceptance_by_length", "throughput")]
    table = Table(title="shape of the export")
    for column in ["", *kinds, *REFERENCE]:
        table.add_column(column)
    table.add_row(
        "conversations", *[str(result[k]["conversations"]) for k in kinds], *["" for _ in REFERENCE]
    )
    for key, label in zip(keys, labels, strict=True):
        table.add_row(
            label, *[str(result[k][key]) for k in kinds], *[str(r.get(key, "–")) for r in REFERENCE.values()]
        )
    console.print(table)
    if "acceptance_by_length" in result:
        table = Table(title="translations: acceptance by planned calls")
        for column in ["calls", "accepted", "all", "rate", "top rejection reasons"]:
            table.add_column(column)
        for name, v in result["acceptance_by_length"].items():
            reasons = ", ".join(f"{r} {n}" for r, n in v["reasons"].items())
            table.add_row(name, str(v["accepted"]), str(v["all"]), f"{v['rate']}%", reasons)
        console.print(table)
    if "throughput" in result:
        console.print(f"throughput: {result['throughput']}")


if __name__ == "__main__":
    main()
