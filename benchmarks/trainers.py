"""Exports as trainers read them (issue 16): render pass rates per chat template, datasets load results,
TRL smoke runs, duplicates, validation sizes per seed, and a replay of exported rows against their mocks.

    python benchmarks/trainers.py [--n 50] [--workspace DIR] [--datasets-python PY ...] [--all-templates]

1. An offline ``run_pipeline`` on the bundled example catalog until ``--n`` translations are accepted (as
   ``graph-toucan run --n``, refusal variants and pairs included), exported in every format, and again with
   ``--one-call-per-message``.
2. Duplicates: user messages repeating another family's (exact and near), before and after the export's
   dedup; families removed.
3. Validation sizes for split seeds 0-4 at the default share (0.05): the plain seeded hash (before) and the
   export (after).
4. Render pass rates (graph_toucan.export_check) of the ``trl`` and ``openai`` rows (SFT and DPO) through
   TRL's chat templates, with a tokenizer built locally; ``hermes`` rows through ChatML.
5. ``datasets.load_dataset("json")`` of each format's JSONL with the current datasets and with every
   ``--datasets-python`` interpreter (a venv with another datasets, e.g. 3.6): rows, identical or not, null
   slots injected into call arguments.
6. Two steps of TRL's SFTTrainer (also with ``assistant_only_loss`` on qwen2_5's training template) and
   DPOTrainer on a tiny random Qwen2 model.
7. ``--replay`` rows (default 20) run call by call against their mocks (``tool_refs``, ``seed``): results
   equal to the stored ones.

Needs the ``train`` extra for 4 and 6.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded

from graph_toucan.export import SPLITS, export, split_of
from graph_toucan.export_prep import family_of, request_repeats
from graph_toucan.ids import content_id
from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.mock import DeterministicSimulator, MockRuntime, SandboxPool
from graph_toucan.pipeline import PipelineConfig, run_pipeline
from graph_toucan.store import Store

TEMPLATES = ["qwen2_5", "qwen3", "llama3_1", "llama3_2", "glm4moe", "gemma4", "deepseekv3", "gptoss"]

LOAD_SCRIPT = r"""
import json, sys, datasets
path, cache = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(path, encoding="utf-8")]
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
def argument_nulls(loaded):
    n = 0
    for row in loaded:
        for col in ("messages", "prompt", "chosen", "rejected"):
            for m in row.get(col) or []:
                for c in m.get("tool_calls") or []:
                    a = c["function"]["arguments"]
                    if isinstance(a, dict):
                        n += sum(1 for v in a.values() if v is None)
    return n
try:
    d = datasets.load_dataset("json", data_files=path, split="train", cache_dir=cache)
    got = d.to_list()
    print(json.dumps({"datasets": datasets.__version__, "rows": len(got), "identical": got == rows,
                      "identical_without_null_keys": strip(got) == strip(rows),
                      "argument_null_slots": argument_nulls(got) - argument_nulls(rows)}))
except Exception as exc:
    print(json.dumps({"datasets": datasets.__version__, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}))
"""


def generate(store: Store, n: int, sampler: str = "graph") -> dict[str, Any]:
    accepted = 0
    for seed in range(10):
        config = PipelineConfig(n=n - accepted, seed=seed, sampler=sampler)  # type: ignore[arg-type]
        report = asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), config))
        accepted += report.accepted
        if accepted >= n:
            break
    return {"translations": accepted, "dataset": store.conversation_count(status="accepted")}


def _rows(folder: Path, fmt: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for split in SPLITS
        for line in (folder / fmt / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    ]


def duplicates(store: Store, report: Any) -> dict[str, Any]:
    everything = list(store.conversations(status="accepted"))
    kept = [c for c in everything if family_of(c) not in report.dedup.dropped]
    out: dict[str, Any] = {"families_removed": len(report.dedup.dropped)}
    out["conversations_removed"] = report.dedup.conversations_before - report.dedup.conversations_after
    for mode in ("exact", "near"):
        total, repeats = request_repeats(everything, mode)
        total_after, repeats_after = request_repeats(kept, mode)
        out[mode] = {
            "before": f"{repeats}/{total} ({repeats / total:.1%})",
            "after": f"{repeats_after}/{total_after} ({repeats_after / max(total_after, 1):.1%})",
        }
    return out


def validation_sizes(store: Store, scratch: Path) -> list[dict[str, Any]]:
    sizes = []
    everything = list(store.conversations(status="accepted"))
    for share, seed in [(s, k) for s in (0.05, 0.01) for k in range(5)]:
        before = sum(1 for c in everything if split_of(family_of(c), seed, share) == "validation")
        report = export(store, scratch / f"seed{seed}", ["trl"], seed=seed, validation_share=share)
        sizes.append(
            {
                "share": share,
                "seed": seed,
                "before": f"{before}/{len(everything)}",
                "after": f"{report.conversations['validation']}/{sum(report.conversations.values())}",
                "warned": bool(report.warnings),
            }
        )
    return sizes


def renders(out: Path, one: Path, templates: list[str]) -> list[dict[str, Any]]:
    from graph_toucan.export_check import chat_template, local_tokenizer, render_rows, row_texts

    table = []
    sample = _rows(out, "trl")[:50]
    for name in templates:
        template = chat_template(name)
        tokenizer = local_tokenizer(template, row_texts(sample), vocab_size=400)
        line: dict[str, Any] = {"template": name}
        for label, folder, fmt in (
            ("trl", out, "trl"),
            ("trl one-call", one, "trl"),
            ("dpo", out, "dpo"),
            ("dpo one-call", one, "dpo"),
            ("openai", out, "openai"),
        ):
            r = render_rows(template, _rows(folder, fmt), tokenizer)
            line[label] = f"{r['passed']}/{r['rows']} ({r['passed'] / r['rows']:.1%})"
            line[f"{label} problem"] = next(iter(r["problems"].values()), "")
        table.append(line)
    hermes = render_rows(chat_template("chatml"), _rows(out, "hermes"))
    table.append({"template": "chatml (hermes rows)", "hermes": f"{hermes['passed']}/{hermes['rows']}"})
    return table


def loads(out: Path, pythons: list[str], scratch: Path) -> list[dict[str, Any]]:
    results = []
    for python in [sys.executable, *pythons]:
        for fmt in ("trl", "dpo", "openai", "sharegpt", "hermes"):
            done = subprocess.run(
                [python, "-c", LOAD_SCRIPT, str(out / fmt / "train.jsonl"), str(scratch / "cache")],
                capture_output=True,
                text=True,
                timeout=600,
                env=os.environ | {"HF_DATASETS_OFFLINE": "1"},
            )
            line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
            try:
                results.append({"format": fmt, **json.loads(line)})
            except json.JSONDecodeError:
                results.append({"format": fmt, "error": line})
    return results


def smoke(out: Path, scratch: Path) -> list[dict[str, Any]]:
    from graph_toucan.export_check import chat_template, dpo_smoke, local_tokenizer, row_texts, sft_smoke

    rows = _rows(out, "trl")
    runs = []
    for name, kwargs in (("qwen2_5", {}), ("qwen2_5_training", {"assistant_only_loss": True})):
        tokenizer = local_tokenizer(chat_template(name), row_texts(rows), vocab_size=1000)
        result = sft_smoke(
            out / "trl" / "train.jsonl", tokenizer, scratch / f"sft-{name}", max_length=4096, **kwargs
        )
        runs.append({"trainer": "SFTTrainer", "template": name, **kwargs, **result})
    tokenizer = local_tokenizer(chat_template("qwen2_5"), row_texts(rows), vocab_size=1000)
    result = dpo_smoke(out / "dpo" / "train.jsonl", tokenizer, scratch / "dpo", max_length=4096)
    runs.append({"trainer": "DPOTrainer", "template": "qwen2_5", **result})
    return runs


async def replay(store: Store, out: Path, count: int) -> dict[str, Any]:
    """Each row's calls, in order, against its mocks with the row's seed; compare with the stored results."""
    rows = [r for r in _rows(out, "trl") if any(m.get("tool_calls") for m in r["messages"])][:count]
    mocks = list(store.mocks(status="accepted"))
    calls = equal = 0
    differing: list[str] = []
    async with SandboxPool(workers=2) as pool:
        for row in rows:
            runtime = MockRuntime(pool, DeterministicSimulator(seed=row["seed"]))
            runtime.add(mocks)
            refs = {r["name"]: r["tool"] for r in row["tool_refs"]}
            key = content_id("translation", row["path_id"], row["teacher"], row["seed"])
            stored = {m["tool_call_id"]: m["content"] for m in row["messages"] if m["role"] == "tool"}
            for m in row["messages"]:
                for call in m.get("tool_calls") or []:
                    name = call["function"]["name"]
                    try:
                        output = await runtime.call(
                            refs[name], call["function"]["arguments"], conversation=key
                        )
                        got = json.dumps(output, ensure_ascii=False, sort_keys=True)
                    except Exception as exc:
                        got = f"error: {exc}"
                    calls += 1
                    same = got == stored[call["id"]] or (
                        got.startswith("error") and "error" in json.loads(stored[call["id"]])
                    )
                    equal += same
                    if not same:
                        differing.append(f"{row['id']} {name}")
    return {"rows": len(rows), "calls": calls, "equal": equal, "differing": differing[:5]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--random", type=int, default=0, help="also this many random-baseline translations")
    parser.add_argument("--workspace", type=Path)
    parser.add_argument(
        "--datasets-python", action="append", default=[], help="python of a venv with another datasets"
    )
    parser.add_argument("--all-templates", action="store_true", help="every TRL template that renders tools")
    parser.add_argument("--replay", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        store = Store.open(args.workspace or scratch / "workspace")
        figures: dict[str, Any] = {"run": generate(store, args.n)}
        if args.random:
            figures["random"] = generate(store, args.random, "random")
        out, one = scratch / "export", scratch / "one-call"
        report = export(store, out)
        export(store, one, ["trl", "dpo"], one_call=True)
        figures["export"] = {
            "rows": report.rows,
            "dedup": report.dedup.as_dict(),
            "warnings": report.warnings,
        }
        figures["duplicates"] = duplicates(store, report)
        figures["validation"] = validation_sizes(store, scratch / "seeds")
        figures["replay"] = asyncio.run(replay(store, out, args.replay))
        figures["loads"] = loads(out, args.datasets_python, scratch)
        try:
            from graph_toucan.export_check import template_names

            templates = template_names() if args.all_templates else TEMPLATES
            figures["renders"] = renders(out, one, templates)
            figures["smoke"] = smoke(out, scratch)
        except ImportError as exc:
            figures["renders"] = figures["smoke"] = f"skipped: {exc}"
        if args.json:
            print(json.dumps(figures, indent=2))
            return
        print(f"run: {figures['run']}; export rows: {report.rows}")
        print(f"duplicates: {json.dumps(figures['duplicates'])}")
        for share in (0.05, 0.01):
            print(
                f"validation at share {share} (seed: before -> after): "
                + "; ".join(
                    f"{v['seed']}: {v['before']} -> {v['after']}{' (warned)' if v['warned'] else ''}"
                    for v in figures["validation"]
                    if v["share"] == share
                )
            )
        r = figures["replay"]
        print(
            f"replay: {r['rows']} rows, {r['equal']}/{r['calls']} calls give the stored result {r['differing']}"
        )
        print("\n| datasets | format | result |\n|---|---|---|")
        for load in figures["loads"]:
            result = load.get("error") or (
                f"{load['rows']} rows, identical {load['identical']}, identical without null keys "
                f"{load['identical_without_null_keys']}, null slots in arguments {load['argument_null_slots']}"
            )
            print(f"| {load.get('datasets', '?')} | {load['format']} | {result} |")
        if isinstance(figures["renders"], str):
            print(figures["renders"])
            return
        columns = ["trl", "trl one-call", "dpo", "dpo one-call", "openai"]
        print("\n| template | " + " | ".join(columns) + " | first problem (trl) |")
        print("|---|" + "---|" * (len(columns) + 1))
        for line in figures["renders"]:
            if "hermes" in line:
                print(f"| {line['template']} | hermes rows: {line['hermes']} |")
                continue
            print(
                f"| {line['template']} | "
                + " | ".join(line[c] for c in columns)
                + f" | {line['trl problem'][:70]} |"
            )
        print()
        for run in figures["smoke"]:
            print(f"smoke: {json.dumps(run)}")


if __name__ == "__main__":
    main()
