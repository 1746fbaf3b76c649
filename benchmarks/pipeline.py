"""Figures of the whole pipeline (issue 6).

    python benchmarks/pipeline.py [--n 300] [--remote-n 24] [--latency 0.1] [--json]

1. Offline teacher: ``run_pipeline`` on a fresh workspace with the bundled example catalog; accepted
   conversations per second end to end (import to pairs) and for the translation stage alone; peak
   memory of this process.
2. A fake OpenAI-compatible server on 127.0.0.1 that answers every request after a fixed latency (the
   answers are the offline teacher's, looked up from the rendered prompt): conversations per second
   at concurrency 1, 8 and 32 through the real OpenAI client, and LLM requests per accepted
   conversation (retries and the simulator's value requests included).
3. The accepted set: average turns, calls per turn and calls per conversation, beside MAGNET's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakes: the fake teacher server

from graph_toucan.llm import LLM, OfflineBackend, OpenAIBackend
from graph_toucan.mock import SandboxPool
from graph_toucan.pipeline import Pipeline, PipelineConfig, run_pipeline
from graph_toucan.store import Store
from tests.fakes import PromptBook, Reply, fake_llm_server, first_user_prompt

MAGNET = {"turns": 4.71, "calls": 15.13}


def shape(store: Store) -> dict[str, float]:
    """Averages over the accepted conversations."""
    turns = calls = steps = n = 0
    for conversation in store.conversations(status="accepted"):
        n += 1
        turns += len(conversation.turns)
        calls += len(conversation.calls)
        steps += sum(len(t.steps) for t in conversation.turns)
    return {
        "conversations": n,
        "turns_per_conversation": round(turns / n, 3),
        "calls_per_turn": round(calls / turns, 3),
        "steps_per_turn": round(steps / turns, 3),
        "calls_per_conversation": round(calls / n, 3),
    }


def offline(n: int, workspace: Path) -> dict[str, Any]:
    store = Store.open(workspace)
    started = time.perf_counter()
    report = asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), PipelineConfig(n=n)))
    elapsed = time.perf_counter() - started
    return {
        "accepted": report.accepted,
        "rejected": report.rejected,
        "pairs": report.pairs,
        "seconds": round(elapsed, 2),
        "stages": report.stages,
        "accepted_per_s_end_to_end": round(report.accepted / elapsed, 1),
        "accepted_per_s_translate": round(report.accepted / report.stages["translate"], 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "accepted_set": shape(store),
    }


def remote(prepared: Path, n: int, concurrency: int, latency: float) -> dict[str, Any]:
    """Translate ``n`` conversations through the fake server, from a copy of a prepared workspace."""
    workspace = Path(tempfile.mkdtemp(prefix=f"gt-bench-c{concurrency}-"))
    shutil.copytree(prepared, workspace, dirs_exist_ok=True)
    store = Store.open(workspace)
    book = PromptBook().install()
    try:
        with fake_llm_server() as fake:
            fake.delay_s = latency
            fake.default = lambda body: Reply(json.dumps(book.offline_answer(first_user_prompt(body))[2]))
            backend = OpenAIBackend("fake-teacher", api_key="bench", base_url=f"{fake.url}/v1")
            llm = LLM(backend, store, max_concurrency=concurrency)
            pipeline = Pipeline(store, llm, PipelineConfig(n=n, concurrency=concurrency, pairs=False))

            async def translate() -> float:
                async with SandboxPool(pipeline.workers) as pool:
                    started = time.perf_counter()
                    await pipeline.translate(pool)
                    elapsed = time.perf_counter() - started
                await llm.aclose()
                return elapsed

            elapsed = asyncio.run(translate())
            requests = len(fake.requests)
    finally:
        book.uninstall()
        shutil.rmtree(workspace, ignore_errors=True)
    report = pipeline.report
    return {
        "concurrency": concurrency,
        "sandbox_workers": pipeline.workers,
        "accepted": report.accepted,
        "rejected": report.rejected,
        "seconds": round(elapsed, 2),
        "conversations_per_s": round((report.accepted + report.rejected) / elapsed, 2),
        "accepted_per_s": round(report.accepted / elapsed, 2),
        "llm_requests_per_accepted": round(requests / max(report.accepted, 1), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="accepted conversations, offline run")
    parser.add_argument(
        "--remote-n",
        type=int,
        default=24,
        help="accepted conversations per remote run (at least 3 x concurrency)",
    )
    parser.add_argument("--latency", type=float, default=0.1, help="fake server latency in seconds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gt-bench-pipeline-"))
    try:
        figures: dict[str, Any] = {"offline": offline(args.n, root / "offline")}
        prepared = root / "prepared"
        store = Store.open(prepared)
        asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), PipelineConfig(n=0, pairs=False)))
        store.close()
        figures["remote"] = [remote(prepared, max(args.remote_n, 3 * c), c, args.latency) for c in (1, 8, 32)]
        figures["magnet"] = MAGNET
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    o = figures["offline"]
    print(
        f"offline teacher: {o['accepted']} accepted, {o['rejected']} rejected, {o['pairs']} pairs in {o['seconds']} s"
    )
    print(
        f"  accepted/s end to end {o['accepted_per_s_end_to_end']}, translate stage {o['accepted_per_s_translate']}"
    )
    print(f"  stages (s): {o['stages']}  peak RSS {o['peak_rss_mib']} MiB")
    s = o["accepted_set"]
    print(
        f"  accepted set: {s['turns_per_conversation']} turns, {s['calls_per_turn']} calls/turn, "
        f"{s['steps_per_turn']} steps/turn, {s['calls_per_conversation']} calls/conversation "
        f"(MAGNET multi-turn: {MAGNET['turns']} turns, {MAGNET['calls']} calls)"
    )
    print(f"fake OpenAI server, {args.latency * 1000:.0f} ms per request:")
    for r in figures["remote"]:
        print(
            f"  concurrency {r['concurrency']:>2}: {r['conversations_per_s']} conversations/s "
            f"({r['accepted']} accepted, {r['rejected']} rejected in {r['seconds']} s), "
            f"{r['llm_requests_per_accepted']} LLM requests per accepted conversation"
        )


if __name__ == "__main__":
    main()
