"""The one-command pipeline: resumable after kills with the same final set, robust to a teacher that
returns junk, names functions, invents values or fails, and working through the real OpenAI client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from graph_toucan.errors import LLMError, TransientLLMError
from graph_toucan.ids import content_id
from graph_toucan.llm import LLM, OfflineBackend, OpenAIBackend, ScriptedBackend
from graph_toucan.mock import SandboxPool
from graph_toucan.mock.policy import check_key
from graph_toucan.pipeline import Pipeline, PipelineConfig, run_pipeline
from graph_toucan.records import Conversation
from graph_toucan.store import Store
from graph_toucan.verify import verify
from tests.fakes import FakeLLMServer, PromptBook, Reply, fake_llm_server, first_user_prompt

CLI = [sys.executable, "-c", "from graph_toucan.cli import main; main()"]


def _prepared(tmp_path: Path) -> Store:
    """A workspace with the example catalog imported, annotated, graphed and mocked (offline)."""
    store = Store.open(tmp_path)
    asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), PipelineConfig(n=0, pairs=False)))
    assert store.count("mocks") > 0
    return store


@contextlib.contextmanager
def _offline_answering_teacher(delay_s: float = 0.0) -> Iterator[tuple[FakeLLMServer, OpenAIBackend]]:
    """The fake OpenAI-compatible server on 127.0.0.1 answering every prompt as the offline teacher
    would (after ``delay_s``), and a backend pointed at it."""
    book = PromptBook().install()
    try:
        with fake_llm_server() as fake:
            fake.delay_s = delay_s
            fake.default = lambda body: Reply(json.dumps(book.offline_answer(first_user_prompt(body))[2]))
            yield fake, OpenAIBackend("fake-teacher", api_key="test-key", base_url=f"{fake.url}/v1")
    finally:
        book.uninstall()


def _final_set(workspace: Path) -> tuple[dict[str, str], dict[str, str]]:
    store = Store.open(workspace)
    conversations = {c.id: c.model_dump_json() for c in store.conversations()}
    pairs = {p.id: p.model_dump_json() for p in store.pairs()}
    store.close()
    return conversations, pairs


def _run(workspace: Path, n: int, timeout: float | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*CLI, "-w", str(workspace), "run", "--n", str(n), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_killed_runs_resume_to_the_same_final_set(tmp_path: Path) -> None:
    n = 15
    whole = tmp_path / "whole"
    done = _run(whole, n)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["accepted"] == n

    killed = tmp_path / "killed"
    rng = random.Random(7)
    kills = 0
    for _ in range(4):
        proc = _run(killed, n)
        time.sleep(rng.uniform(0.8, 3.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=60)
    assert kills >= 2  # the run was really interrupted, more than once
    final = _run(killed, n)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()
    assert json.loads(out)["accepted"] == n
    assert _final_set(killed) == _final_set(whole)


def test_run_command_on_a_fresh_workspace_reports_and_reruns_for_free(tmp_path: Path) -> None:
    first = subprocess.run(
        [*CLI, "-w", str(tmp_path), "run", "--n", "5", "--json"], capture_output=True, check=True
    )
    report = json.loads(first.stdout)
    assert report["accepted"] == 5 and report["new_accepted"] == 5 and report["pairs"] > 0
    assert set(report["stages"]) == {
        "import",
        "annotate",
        "graph",
        "mocks",
        "translate",
        "augment",
        "pairs",
        "stats",
        "export",
    }
    assert report["refusal"]["targets"]["irrelevance"] >= 1
    # with no --out the dataset goes to the workspace's dataset/ folder, validation split included
    assert report["exported"]["out"] == str(tmp_path / "dataset")
    assert report["exported"]["rows"]["openai"]["validation"] >= 1
    assert (tmp_path / "dataset" / "openai" / "validation.jsonl").read_text().strip()
    assert any("too few to measure on" in w for w in report["exported"]["warnings"])
    again = subprocess.run(
        [*CLI, "-w", str(tmp_path), "run", "--n", "5", "--json"], capture_output=True, check=True
    )
    rerun = json.loads(again.stdout)
    assert rerun["accepted"] == 5 and rerun["new_accepted"] == 0 and rerun["new_rejected"] == 0
    assert rerun["pairs"] == 0  # nothing repeated
    store = Store.open(tmp_path)  # the allow-list checks passed, kept for the next run
    accepted = {check_key(m.code) for m in store.mocks(status="accepted")}
    assert store.passed_checks() & accepted
    store.close()


class JunkTeacher:
    """A teacher that answers as the offline teacher would, except that it sometimes returns junk,
    names a function in the user's words, invents an argument value, or fails outright."""

    def __init__(self, book: PromptBook) -> None:
        self.book = book
        self.seen: Counter[str] = Counter()
        self.unavailable_once: set[str] = set()

    def __call__(self, request: dict[str, Any]) -> str:
        prompt = first_user_prompt(request)
        name, inputs, answer = self.book.offline_answer(prompt)
        roll = int(content_id(prompt), 16) % 20
        first_try = not inputs.get("feedback") and len(request["messages"]) == 1
        if first_try and roll == 0:
            self.seen["junk"] += 1
            return "I'm sorry, I can't produce JSON today."
        if first_try and roll == 1 and prompt not in self.unavailable_once:
            self.unavailable_once.add(prompt)  # the retry of the same request goes through
            self.seen["transient"] += 1
            raise TransientLLMError("scripted 503")
        if name.startswith("query_"):
            functions = [f for f in inputs["available_functions"] if "_" in f]
            stubborn = int(content_id(inputs["seed"]), 16) % 11 == 0  # names a function on every retry
            if functions and (stubborn or (first_try and roll in (2, 3, 4))):
                self.seen["function name"] += 1
                answer["query"] += f" Use {functions[0]} for this."
        if name == "fill_arguments" and first_try and roll in (5, 6, 7):
            for argument in answer["arguments"]:
                if argument["source"] == "query" and isinstance(argument["value"], str):
                    self.seen["invented"] += 1
                    argument["value"] = "INVENTED-7731"
                    break
        if name == "assistant_answer" and int(content_id(inputs["user"]), 16) % 17 == 0:
            self.seen["outage"] += 1
            raise LLMError("scripted outage: the teacher refused the request")
        return json.dumps(answer)


def test_a_junk_teacher_is_retried_with_feedback_and_accepted_data_stays_clean(tmp_path: Path) -> None:
    store = _prepared(tmp_path)
    book = PromptBook().install()
    try:
        teacher = JunkTeacher(book)
        backend = ScriptedBackend([teacher] * 100_000)
        llm = LLM(backend, store, backoff_s=0.001)
        pipeline = Pipeline(store, llm, PipelineConfig(n=25, pairs=False))

        async def translate() -> None:
            async with SandboxPool(1) as pool:
                await pipeline.translate(pool)

        asyncio.run(translate())
    finally:
        book.uninstall()
    report = pipeline.report
    assert {"junk", "transient", "function name", "invented", "outage"} <= set(teacher.seen), teacher.seen
    prompts = [r["messages"][-1]["content"] for r in backend.requests]
    assert any("failed these checks" in p for p in prompts)  # a failed turn comes back with feedback
    assert any("could not be used" in p for p in prompts)  # junk JSON comes back with the parse error
    assert llm.stats.retries > 0  # transient failures were retried
    assert report.failed and all("scripted outage" in r for r in report.failed.values())

    accepted = list(store.conversations(status="accepted", kind="translation"))
    rejected = list(store.conversations(status="rejected"))
    assert len(accepted) == 25 and report.accepted == 25
    assert rejected and all(c.reasons for c in rejected)
    assert any("no_function_names" in r for c in rejected for r in c.reasons)
    assert any(t.attempts > 1 for c in accepted for t in c.turns)  # recovered after feedback
    for conversation in accepted:
        assert all(c.passed for c in verify(conversation))
        names = [t.name for t in conversation.tools]
        for turn in conversation.turns:
            assert not any(name in turn.user for name in names if "_" in name)
            for call in turn.calls:
                assert "INVENTED-7731" not in json.dumps(call.arguments)
    assert report.failed.keys().isdisjoint({c.path_id for c in accepted + rejected})  # failed: not stored


def test_the_openai_backend_translates_through_a_real_http_round_trip(tmp_path: Path) -> None:
    store = _prepared(tmp_path)
    with _offline_answering_teacher() as (fake, backend):
        llm = LLM(backend, store, max_concurrency=4)
        pipeline = Pipeline(store, llm, PipelineConfig(n=4, concurrency=4))

        async def translate() -> None:
            async with SandboxPool(1) as pool:
                await pipeline.translate(pool)
            await pipeline.pairs()
            await llm.aclose()

        asyncio.run(translate())
    accepted = list(store.conversations(status="accepted", teacher="openai/fake-teacher"))
    assert len(accepted) == 4 and pipeline.report.pairs > 0
    assert fake.requests and all(r.path.endswith("/chat/completions") for r in fake.requests)
    tasks = Counter(c.task for c in store.calls())
    assert tasks["fill_arguments"] > 0 and tasks["assistant_answer"] > 0 and tasks["mock_values"] > 0
    assert all(isinstance(c, Conversation) and c.checks for c in accepted)


def test_more_conversations_than_request_slots_are_in_flight_and_the_requests_stay_bounded(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A conversation spends part of its time off the teacher (simulated calls, checks), so the
    pipeline keeps half as many again in flight as ``concurrency``; the teacher still never sees more
    than ``concurrency`` requests at once."""
    from graph_toucan.streaming import items_in_flight
    from graph_toucan.translate import Translator

    store = _prepared(tmp_path)
    running = peak = 0
    original = Translator.translate

    async def counted(self: Translator, path: Any, *, seed: int = 0) -> Conversation:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            return await original(self, path, seed=seed)
        finally:
            running -= 1

    monkeypatch.setattr(Translator, "translate", counted)
    with _offline_answering_teacher(delay_s=0.02) as (fake, backend):
        llm = LLM(backend, store, max_concurrency=4)
        pipeline = Pipeline(store, llm, PipelineConfig(n=12, concurrency=4, pairs=False))

        async def translate() -> None:
            async with SandboxPool(pipeline.workers) as pool:
                await pipeline.translate(pool)
            await llm.aclose()

        asyncio.run(translate())
    assert items_in_flight(4) == pipeline.in_flight == 6
    assert peak == 6  # six conversations at once for four request slots
    assert fake.max_in_flight == 4  # the slots were filled and never exceeded
    assert pipeline.report.accepted == len(store.conversation_ids(status="accepted")) == 12


def test_the_parallel_calls_of_a_step_are_filled_in_one_round_trip(tmp_path: Path) -> None:
    """Calls of one step need nothing from each other: their fill_arguments requests are at the
    teacher together, and the conversation is the one a call-by-call fill makes (the offline one)."""
    from graph_toucan.path_feed import PathFeed
    from graph_toucan.pipeline import translator_for
    from graph_toucan.sampling import SampleConfig
    from graph_toucan.translate import steps_of

    store = _prepared(tmp_path)
    PathFeed(store, "graph", 0, SampleConfig()).extend(200)
    path = next(
        p
        for p in store.paths()
        if any(
            len(step) > 1 for t in p.turns if t.split is None for step in steps_of(t.calls, p.dependencies)
        )
    )
    with _offline_answering_teacher(delay_s=0.05) as (fake, backend):
        llm = LLM(backend, store, max_concurrency=8)

        async def translate() -> Conversation:
            async with SandboxPool(2) as pool:
                conversation = await translator_for(store, llm, pool).translate(path)
            await llm.aclose()
            return conversation

        conversation = asyncio.run(translate())
    assert fake.max_in_flight >= 2  # one conversation, so only a step's fills overlap
    assert any(len(step) > 1 for turn in conversation.turns for step in turn.steps)


def test_conversations_list_after_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "-w", str(tmp_path), "run", "--n", "3", "--no-pairs"],
        capture_output=True,
        check=True,
        text=True,
    )
    said = " ".join(done.stdout.split())
    assert f"dataset: {tmp_path / 'dataset'} (trl " in said and "look at it:" in said, done.stdout
    assert "accepted translations 3" in " ".join(said.replace("│", " ").split())
    assert "warning" in done.stderr and "too few" in done.stderr
    listed = subprocess.run(
        [*CLI, "-w", str(tmp_path), "conversations", "list", "--json"], capture_output=True, check=True
    )
    rows = json.loads(listed.stdout)
    assert len([r for r in rows if r["status"] == "accepted" and r["kind"] == "translation"]) == 3


def test_an_automatic_import_killed_halfway_is_completed_on_rerun(tmp_path: Path) -> None:
    """A kill inside the import of the bundled example leaves some of its tools; the rerun imports the
    rest (before, it saw tools and imported nothing, and the path stream ran out early)."""
    from graph_toucan.catalog import import_entries, read_catalog
    from graph_toucan.pipeline import EXAMPLE_IMPORT
    from graph_toucan.resources import example_catalog

    store = Store.open(tmp_path / "killed")
    store.record_run(EXAMPLE_IMPORT, "import example", "started", time.time(), {})
    entries = list(read_catalog(example_catalog()))
    import_entries(store, entries[:3])  # the kill came after three servers
    partial = store.count("tools")
    pipeline = Pipeline(store, LLM(OfflineBackend(), store), PipelineConfig(n=1))
    asyncio.run(pipeline.import_catalog())
    assert 0 < partial < store.count("tools") == 98
    assert store.run_status(EXAMPLE_IMPORT) == "done"

    # a workspace holding the user's own catalog is left as it is: the example is not added to it
    own = Store.open(tmp_path / "own")
    import_entries(own, entries[:3])
    asyncio.run(Pipeline(own, LLM(OfflineBackend(), own), PipelineConfig(n=1)).import_catalog())
    assert own.count("tools") == partial and own.run_status(EXAMPLE_IMPORT) is None
