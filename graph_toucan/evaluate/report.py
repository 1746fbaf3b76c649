"""The eval report: accuracy per conversation, per turn type, per role and per kind, check pass rates,
the replay's agreement with the dataset, and the worst conversations' transcripts; JSON and Markdown.

``accuracy`` is the share of conversations with every turn correct (and the final mock state equal to
the reference's); ``turn_accuracy`` the share of turns correct.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from graph_toucan.evaluate.scoring import CHECKS

KINDS = ("translation", "miss-func", "miss-params", "irrelevance")


def _share(n: int, total: int) -> float:
    return round(n / total, 4) if total else 0.0


def summarize(results: list[dict[str, Any]], **header: Any) -> dict[str, Any]:
    """The summary of scored conversations; ``header`` (model, data, split ...) goes first."""
    total = len(results)
    correct = sum(r["correct"] for r in results)
    kinds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        kinds[r["kind"]].append(r)
    turns = [t for r in results for t in r["turns"]]
    by_type: dict[str, list[bool]] = defaultdict(list)
    by_role: dict[str, list[bool]] = defaultdict(list)
    for t in turns:
        by_type[t["type"]].append(t["correct"])
        by_role[t["role"]].append(t["correct"])
    per_kind = {
        kind: {
            "conversations": len(rs),
            "correct": sum(r["correct"] for r in rs),
            "accuracy": _share(sum(r["correct"] for r in rs), len(rs)),
            "turns": sum(len(r["turns"]) for r in rs),
            "turn_accuracy": _share(sum(r["turns_correct"] for r in rs), sum(len(r["turns"]) for r in rs)),
        }
        for kind, rs in sorted(kinds.items(), key=lambda kv: KINDS.index(kv[0]) if kv[0] in KINDS else 9)
    }
    replay_calls = sum(r["replay"]["calls"] for r in results)
    return {
        **header,
        "conversations": total,
        "correct": correct,
        "accuracy": _share(correct, total),
        "accuracy_by_kind": {kind: v["accuracy"] for kind, v in per_kind.items()},
        "turns": len(turns),
        "turn_accuracy": _share(sum(t["correct"] for t in turns), len(turns)),
        "kinds": per_kind,
        "turn_types": {
            k: {"turns": len(v), "accuracy": _share(sum(v), len(v))} for k, v in sorted(by_type.items())
        },
        "roles": {
            k: {"turns": len(v), "accuracy": _share(sum(v), len(v))} for k, v in sorted(by_role.items())
        },
        "checks": {c: _share(sum(t["checks"][c] for t in turns), len(turns)) for c in CHECKS},
        "final_state": _share(sum(r["final_state"] for r in results), total),
        "replay": {
            "calls": replay_calls,
            "equal_to_dataset": sum(r["replay"]["equal"] for r in results),
            "final_state_equal_to_dataset": sum(r["replay"]["final_state"] for r in results),
        },
        "seconds_per_conversation": _share(sum(r["seconds"] for r in results), total),
    }


def worst(results: list[dict[str, Any]], n: int = 5) -> list[dict[str, Any]]:
    """The ``n`` conversations with the smallest share of correct turns (longest first on ties)."""
    failed = [r for r in results if not r["correct"]]
    failed.sort(key=lambda r: (r["turns_correct"] / max(len(r["turns"]), 1), -len(r["turns"]), r["id"]))
    return failed[:n]


def transcript(result: dict[str, Any]) -> str:
    """One scored conversation as plain text: per turn the user, the model's messages, the reference's
    calls and what failed."""
    lines = [
        f"conversation {result['id']} ({result['kind']}): {result['turns_correct']}/{len(result['turns'])} turns correct"
    ]
    for k, t in enumerate(result["turns"], start=1):
        mark = "ok" if t["correct"] else "WRONG"
        lines.append(f"turn {k} [{t['type']}, reference {t['role']}s] {mark}")
        lines.append(f"  user: {t['user']}")
        if t["introduced"]:
            lines.append(f"  (now offered: {', '.join(t['introduced'])})")
        for m in t["model"]:
            if m.get("tool_calls"):
                for c in m["tool_calls"]:
                    lines.append(
                        f"  model calls {c['name']}({json.dumps(c['arguments'], ensure_ascii=False)})"
                    )
            elif m["role"] == "tool":
                lines.append(f"    -> {m['content'][:300]}")
            else:
                lines.append(f"  model: {m.get('content', '')[:500]}")
        for step in t["reference"]:
            for c in step:
                lines.append(
                    f"  reference calls {c['name']}({json.dumps(c['arguments'], ensure_ascii=False)})"
                )
        lines.append(f"  reference: {t['reference_answer'][:300]}")
        for p in t["problems"]:
            lines.append(f"  ! {p}")
    return "\n".join(lines)


def markdown(summary: dict[str, Any], results: list[dict[str, Any]], shown: int = 5) -> str:
    lines = [
        f"# Eval of {summary.get('model', 'a model')}",
        "",
        f"Data: `{summary.get('data', '')}` ({summary.get('split', '')}). "
        f"{summary['conversations']} conversations, {summary['turns']} turns.",
        "",
        f"**Accuracy** (every turn correct): {summary['accuracy']:.1%} "
        f"({summary['correct']}/{summary['conversations']}); turn accuracy {summary['turn_accuracy']:.1%}; "
        f"final state equal to the reference's in {summary['final_state']:.1%}.",
        "",
        "| kind | conversations | accuracy | turns | turn accuracy |",
        "|---|---|---|---|---|",
        *(
            f"| {k} | {v['conversations']} | {v['accuracy']:.1%} | {v['turns']} | {v['turn_accuracy']:.1%} |"
            for k, v in summary["kinds"].items()
        ),
        "",
        "| turn type | turns | accuracy |",
        "|---|---|---|",
        *(f"| {k} | {v['turns']} | {v['accuracy']:.1%} |" for k, v in summary["turn_types"].items()),
        "",
        "| the reference ... | turns | accuracy |",
        "|---|---|---|",
        *(f"| {k}s | {v['turns']} | {v['accuracy']:.1%} |" for k, v in summary["roles"].items()),
        "",
        "| check | turns passing |",
        "|---|---|",
        *(f"| {k} | {v:.1%} |" for k, v in summary["checks"].items()),
        "",
        f"Replay: {summary['replay']['equal_to_dataset']} of {summary['replay']['calls']} reference calls "
        "returned the dataset's results; the reference's final state equals the dataset's in "
        f"{summary['replay']['final_state_equal_to_dataset']} conversations.",
        "",
        "| conversation | kind | turns correct | correct |",
        "|---|---|---|---|",
        *(
            f"| {r['id']} | {r['kind']} | {r['turns_correct']}/{len(r['turns'])} | {'yes' if r['correct'] else 'no'} |"
            for r in results
        ),
    ]
    bad = worst(results, shown)
    if bad:
        lines += ["", "## Worst conversations", ""]
        for r in bad:
            lines += ["```text", transcript(r), "```", ""]
    return "\n".join(lines) + "\n"


def write_report(
    folder: Path, summary: dict[str, Any], results: list[dict[str, Any]], shown: int = 5
) -> list[Path]:
    """``report.json`` (summary, every conversation's turns and checks, the worst transcripts) and
    ``report.md``."""
    data = {
        "summary": summary,
        "conversations": [
            {"id": r["id"], "kind": r["kind"], "correct": r["correct"], "turns_correct": r["turns_correct"],
             "turns": [{k: t[k] for k in ("type", "role", "correct", "checks", "problems")} for t in r["turns"]]}
            for r in results
        ],
        "worst": [r | {"transcript": transcript(r)} for r in worst(results, shown)],
    }  # fmt: skip
    paths = [folder / "report.json", folder / "report.md"]
    paths[0].write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    paths[1].write_text(markdown(summary, results, shown), encoding="utf-8")
    return paths
