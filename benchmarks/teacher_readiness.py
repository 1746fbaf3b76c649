"""How ready the teacher path is for a real teacher, measured against a fake provider on 127.0.0.1.

Four figures, each printed as a table (``--json`` for the raw numbers):

1. **Prompt hygiene**: every prompt a whole pipeline run sends (annotate, graph, mocks, translation,
   refusal), checked for HTML escapes, text cut inside JSON or mid-word, headings with nothing under
   them and mentions of documents the model cannot see.
2. **Retry rate with and without structured output**: the same run with a "messy" fake model that
   answers in code fences, with prose around the JSON, with extra keys, with a wrong shape or with a
   refusal to follow the schema; when the request carries a structured-output schema the fake server
   decodes to it (as vLLM, SGLang or Anthropic's forced tools do) and the answer is clean JSON.
3. **Time to fail** for an unreachable endpoint and for a bad key (``graph-toucan annotate``), with
   the exit status.
4. **Calls and tokens per accepted conversation, by task**, from the workspace's call log (the fake
   model's token counts are the request's characters / 4: the system prompt, the messages and, for
   Anthropic, the tool definitions; an OpenAI ``response_format`` schema is not counted as prompt).

Runs on any checkout (``PYTHONPATH=/path/to/other/checkout python benchmarks/teacher_readiness.py``
measures that code with this script), so before and after come from the same measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.fakes, when run from a checkout

SERVERS = ("0056.", "0059.", "0113.", "0115.", "0166.", "0978.", "0039.")  # hotels, weather, money, time

ESCAPES = re.compile(r"\\u00(27|26|3c|3e|22)|&#3?9;|&amp;|&quot;|&lt;|&gt;")
# Text cut off: an ellipsis right after a JSON key or value, or inside a word.
CUT_JSON = re.compile(r"\":\s*(\.\.\.|…)|[\[{,]\s*(\.\.\.|…)\s*$|\"[^\"\n]*(\.\.\.|…)$", re.M)
CUT_WORD = re.compile(r"\w(…|\.\.\.)(?=[\s\"}\]]|$)", re.M)
OUTSIDE = re.compile(r"METHOD\.md|DESIGN\.md|docs/method|section \d+ of|see the paper", re.I)


def dangling(text: str) -> bool:
    """A heading line (ending in ':') with nothing under it: the end of the text, or a blank line
    followed by another heading or the end."""
    lines = text.rstrip().splitlines()
    if lines and lines[-1].rstrip().endswith(":"):
        return True
    if any(re.match(r"^\s+\w[\w ]*:\s*$", line) for line in lines):  # "  parameters: " and nothing
        return True
    for i, line in enumerate(lines[:-1]):
        if not line.rstrip().endswith(":") or line.lstrip().startswith("-"):
            continue
        rest = [x for x in lines[i + 1 :] if x.strip()]
        if not rest or (not lines[i + 1].strip() and rest[0].rstrip().endswith(":")):
            return True
    return False


def hygiene(prompts: list[str]) -> dict[str, int]:
    counts = Counter()
    for p in prompts:
        found = {
            "escapes": bool(ESCAPES.search(p)),
            "cut inside JSON": bool(CUT_JSON.search(p)),
            "cut mid-word": bool(CUT_WORD.search(p)),
            "dangling heading": dangling(p),
            "outside documents": bool(OUTSIDE.search(p)),
            "a before a vowel": bool(re.search(r"\ba (action|[aeiou]\w+) tool\b", p)),
            "placeholder example": bool(
                re.search(r'^Example call arguments: .*"(example|ex|string|foo|test)"', p, re.M)
            ),
        }
        counts.update(k for k, v in found.items() if v)
        counts["any"] += any(found.values())
    counts["prompts"] = len(prompts)
    return dict(counts)


def _last_user(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message["content"]
            if isinstance(content, str):
                return content
            return "".join(b.get("text", "") or json.dumps(b.get("content", "")) for b in content)
    return ""


def _structured(body: dict[str, Any]) -> bool:
    return bool(body.get("response_format")) or (body.get("tool_choice") or {}).get("type") == "tool"


def _tokens(body: dict[str, Any]) -> int:
    return len(json.dumps({k: body[k] for k in ("system", "messages", "tools") if k in body})) // 4


def messy(answer: dict[str, Any], key: str) -> str:
    """What a model that ignores the format now and then writes, chosen by a hash of the prompt."""
    from graph_toucan.ids import content_id

    text = json.dumps(answer)
    roll = int(content_id(key), 16) % 20
    if roll < 3:
        return f"```json\n{json.dumps(answer, indent=2)}\n```"
    if roll < 5:
        return f"Here is the JSON you asked for:\n{text}\nLet me know if you need anything else."
    if roll < 6:
        return json.dumps({**answer, "confidence": 0.9, "notes": "looks right"})
    if roll < 7:
        return "I'm sorry, but I can't answer in that format. The tool looks like a query tool to me."
    if roll < 8:
        return json.dumps({"answer": answer})
    return text


def pipeline_run(provider: str, n: int, *, refuse: bool, messy_model: bool) -> dict[str, Any]:
    """One run of the pipeline over SERVERS through the fake provider; the fake model answers what
    the offline teacher would, made messy where the request has no structured output."""
    from graph_toucan.catalog import import_entries, read_catalog
    from graph_toucan.llm import LLM
    from graph_toucan.llm.backends import AnthropicBackend, OpenAIBackend
    from graph_toucan.pipeline import Pipeline, PipelineConfig
    from graph_toucan.resources import example_catalog
    from graph_toucan.store import Store
    from tests.fakes import PromptBook, Reply, fake_llm_server, first_user_prompt

    book = PromptBook().install()
    with tempfile.TemporaryDirectory() as tmp, fake_llm_server() as fake:
        if refuse and hasattr(fake, "refuse_structured"):
            fake.refuse_structured = True

        def answer(body: dict[str, Any]) -> Any:
            _task, _inputs, offline = book.offline_answer(first_user_prompt(body))
            text = json.dumps(offline)
            if messy_model and not _structured(body):
                text = messy(offline, _last_user(body))
            return Reply(text, input_tokens=_tokens(body), output_tokens=len(text) // 4)

        fake.default = answer
        catalog = Path(tmp) / "catalog"
        catalog.mkdir()
        for file in example_catalog().iterdir():
            if file.name.startswith(SERVERS):
                (catalog / file.name).write_bytes(file.read_bytes())
        store = Store.open(Path(tmp) / "ws")
        import_entries(store, read_catalog(catalog))
        if provider == "anthropic":
            backend = AnthropicBackend("claude-sonnet-4-5", api_key="fake", base_url=fake.url, timeout=30)
        else:
            backend = OpenAIBackend("gpt-4.1", api_key="fake", base_url=f"{fake.url}/v1", timeout=30)
        llm = LLM(backend, store, max_concurrency=8, backoff_s=0.01)
        pipeline = Pipeline(
            store, llm, PipelineConfig(n=n, concurrency=8, pairs=True, catalogs=[str(catalog)])
        )
        started = time.perf_counter()

        async def whole() -> Any:
            try:
                return await pipeline.run()
            finally:
                await llm.aclose()

        try:
            report = asyncio.run(whole())
        finally:
            book.uninstall()
        elapsed = time.perf_counter() - started
        prompts = [_last_user(r.body) for r in fake.requests if r.body.get("messages")]
        first_prompts = [first_user_prompt(r.body) for r in fake.requests if r.body.get("messages")]
        by_task: dict[str, Counter[str]] = defaultdict(Counter)
        for call in store.calls():
            row = by_task[call.task]
            row["calls"] += call.response is not None or call.error is not None
            row["input_tokens"] += call.input_tokens
            row["output_tokens"] += call.output_tokens
            users = [m for m in (call.request or {}).get("messages", []) if m.get("role") == "user"]
            row["parse retries"] += len(users) > 1 and call.error is None
        accepted = report.accepted
        turns = [t for c in store.conversations(status="accepted") for t in c.turns]
        structured_requests = sum(_structured(r.body) for r in fake.requests)
        store.close()
    calls = sum(r["calls"] for r in by_task.values())
    retries = sum(r["parse retries"] for r in by_task.values())
    return {
        "provider": provider,
        "refused structured": refuse,
        "messy model": messy_model,
        "accepted": accepted,
        "seconds": round(elapsed, 1),
        "requests": len(fake.requests),
        "structured requests": structured_requests,
        "calls": calls,
        "parse retries": retries,
        "retry rate": round(retries / max(calls, 1), 4),
        "retried turns": sum(t.attempts > 1 for t in turns),
        "hygiene": hygiene(list(dict.fromkeys(prompts + first_prompts))),
        "by task": {t: dict(r) for t, r in sorted(by_task.items())},
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_fail(kind: str) -> dict[str, Any]:
    """``graph-toucan annotate`` against a dead endpoint or a server that answers 401."""
    from tests.fakes import HTTPFailure, fake_llm_server

    cli = [sys.executable, "-c", "from graph_toucan.cli import main; main()"]
    with tempfile.TemporaryDirectory() as tmp, fake_llm_server() as fake:
        env = {**os.environ, "OPENAI_API_KEY": "sk-bad"}
        subprocess.run([*cli, "-w", tmp, "import"], env=env, capture_output=True, check=True)
        if kind == "unreachable":
            env["OPENAI_BASE_URL"] = f"http://127.0.0.1:{_free_port()}/v1"
        else:
            fake.default = HTTPFailure(401, "Incorrect API key provided")
            env["OPENAI_BASE_URL"] = f"{fake.url}/v1"
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [*cli, "-w", tmp, "--teacher", "openai/gpt-4.1", "annotate"],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            rc, err, out = done.returncode, done.stderr, done.stdout
        except subprocess.TimeoutExpired:
            rc, err, out = "timeout", "", ""
        seconds = time.perf_counter() - started
    message = (err.strip().splitlines() or out.strip().splitlines() or [""])[-1]
    return {
        "case": kind,
        "seconds": round(seconds, 1),
        "stage seconds": stage_time_to_fail(kind),
        "exit": rc,
        "message": message[:300],
    }


def stage_time_to_fail(kind: str) -> float:
    """The annotate stage alone, in this process (no CLI start-up): seconds until it gives up."""
    from graph_toucan.annotate import annotate_tools
    from graph_toucan.catalog import import_entries, read_catalog
    from graph_toucan.llm import LLM
    from graph_toucan.llm.backends import OpenAIBackend
    from graph_toucan.resources import example_catalog
    from graph_toucan.store import Store
    from tests.fakes import HTTPFailure, fake_llm_server

    with tempfile.TemporaryDirectory() as tmp, fake_llm_server() as fake:
        store = Store.open(Path(tmp))
        import_entries(store, read_catalog(example_catalog()))
        if kind == "unreachable":
            url = f"http://127.0.0.1:{_free_port()}/v1"
        else:
            fake.default = HTTPFailure(401, "Incorrect API key provided")
            url = f"{fake.url}/v1"
        llm = LLM(OpenAIBackend("gpt-4.1", api_key="sk-bad", base_url=url), store)

        async def annotate() -> None:
            try:
                await annotate_tools(store, llm)
            except Exception:
                pass
            finally:
                await llm.aclose()

        started = time.perf_counter()
        asyncio.run(annotate())
        store.close()
        return round(time.perf_counter() - started, 1)


def startup() -> float:
    """Seconds the CLI takes to start and print its help (part of every time-to-fail)."""
    started = time.perf_counter()
    cli = [sys.executable, "-c", "from graph_toucan.cli import main; main()"]
    subprocess.run([*cli, "--help"], capture_output=True, check=True)
    return round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=6, help="conversations to accept per run")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skip-fail", action="store_true", help="skip the time-to-fail runs")
    parser.add_argument("--only-fail", action="store_true", help="only the time-to-fail runs")
    args = parser.parse_args()
    results: dict[str, Any] = {"runs": [], "fail": []}
    for provider, refuse in (("openai", False), ("openai", True), ("anthropic", False), ("anthropic", True)):
        if args.only_fail:
            break
        results["runs"].append(pipeline_run(provider, args.n, refuse=refuse, messy_model=True))
    if not args.skip_fail:
        results["fail"] = [time_to_fail("unreachable"), time_to_fail("bad key")]
        results["cli_startup_s"] = startup()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("== runs over a messy fake model (structured output honoured, or refused by the server)")
    for r in results["runs"]:
        h = r["hygiene"]
        print(
            f"{r['provider']:9} refused={r['refused structured']!s:5} accepted {r['accepted']:3}  "
            f"requests {r['requests']:5} (structured {r['structured requests']:5})  calls {r['calls']:5}  "
            f"parse retries {r['parse retries']:4}  retry rate {r['retry rate']:.3f}  "
            f"retried turns {r['retried turns']:3}  {r['seconds']} s"
        )
        print(
            f"          prompts {h['prompts']}: with any defect {h.get('any', 0)}; "
            + ", ".join(f"{k} {v}" for k, v in h.items() if k not in ("prompts", "any"))
        )
    for r in results["runs"]:
        if r["refused structured"]:
            continue
        print(
            f"== calls and tokens per accepted conversation by task ({r['provider']}, {r['accepted']} accepted)"
        )
        accepted = max(r["accepted"], 1)
        total = Counter()
        for task, row in r["by task"].items():
            total.update(row)
            print(
                f"  {task:22} calls {row['calls'] / accepted:7.2f}  input tokens {row['input_tokens'] / accepted:9.0f}"
                f"  output tokens {row['output_tokens'] / accepted:7.0f}"
            )
        print(
            f"  {'all':22} calls {total['calls'] / accepted:7.2f}  input tokens {total['input_tokens'] / accepted:9.0f}"
            f"  output tokens {total['output_tokens'] / accepted:7.0f}"
        )
    for f in results["fail"]:
        print(
            f"== {f['case']} teacher: the command failed after {f['seconds']} s (the stage alone: "
            f"{f['stage seconds']} s), exit {f['exit']}: {f['message']}"
        )
    if "cli_startup_s" in results:
        print(f"   (the CLI itself takes {results['cli_startup_s']} s to start on this machine)")


if __name__ == "__main__":
    main()
