"""Wall time of ``graph-toucan eval`` per conversation against a model endpoint with a fixed latency.

    python benchmarks/eval_latency.py [--n 30] [--latency 0.1] [--concurrency 1 16] [--anthropic]

An offline ``run_pipeline`` on the bundled example catalog (``--n`` accepted translations, with refusal
variants) is exported; then every conversation of the export is evaluated through the OpenAI SDK (or the
Anthropic SDK with ``--anthropic``) against the loopback fake server of ``tests/fakes.py``, which answers
each request after ``--latency`` seconds with the reference's next step (so the calls run against the
mocks as a real model's would). Printed per concurrency: conversations, model requests, wall seconds,
seconds per conversation, requests per second and the accuracy (1.0: the fake answers as the reference).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph_toucan.evaluate import load_conversations, run_eval
from graph_toucan.evaluate.models import make_model
from graph_toucan.export import export
from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.pipeline import PipelineConfig, run_pipeline
from graph_toucan.store import Store
from tests.fakes import ReferenceReplies, fake_llm_server


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--anthropic", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers running the mocks")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        store = Store.open(scratch / "ws")
        asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), PipelineConfig(n=args.n)))
        export(store, scratch / "export", ["trl"], validation_share=0.0)
        store.close()
        conversations = load_conversations(scratch / "export", "all")
        rows = []
        with fake_llm_server() as fake:
            fake.default = ReferenceReplies(conversations, anthropic=args.anthropic)
            fake.delay_s = args.latency
            for concurrency in args.concurrency:
                spec = "anthropic/fake" if args.anthropic else "openai/fake"
                url = fake.url if args.anthropic else f"{fake.url}/v1"
                model = make_model(spec, base_url=url, api_key="fake")
                started = time.perf_counter()
                summary = asyncio.run(
                    run_eval(
                        model,
                        data=scratch / "export",
                        out=scratch / f"eval-{concurrency}",
                        split="all",
                        concurrency=concurrency,
                        workers=args.workers,
                    )
                )
                wall = time.perf_counter() - started
                requests = summary["usage"]["requests"]
                rows.append(
                    {
                        "concurrency": concurrency,
                        "conversations": summary["conversations"],
                        "requests": requests,
                        "wall_s": round(wall, 2),
                        "s_per_conversation": round(wall / summary["conversations"], 3),
                        "requests_per_s": round(requests / wall, 1),
                        "accuracy": summary["accuracy"],
                    }
                )
    if args.json:
        print(json.dumps({"latency_s": args.latency, "runs": rows}, indent=2))
        return
    print(
        f"eval against a fake endpoint answering after {args.latency * 1000:.0f} ms, {args.workers} mock workers"
    )
    print(
        f"{'concurrency':>11} {'convs':>6} {'requests':>8} {'wall s':>7} {'s/conv':>7} {'req/s':>6} {'accuracy':>8}"
    )
    for r in rows:
        print(
            f"{r['concurrency']:>11} {r['conversations']:>6} {r['requests']:>8} {r['wall_s']:>7} "
            f"{r['s_per_conversation']:>7} {r['requests_per_s']:>6} {r['accuracy']:>8}"
        )


if __name__ == "__main__":
    main()
