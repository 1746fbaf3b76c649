"""Every prompt, rendered with realistic inputs, reads cleanly: a whole pipeline run (annotate, graph,
mocks, translation, refusal variants) goes through the real OpenAI client to the loopback fake server,
and every prompt it sends is checked. A retried turn sends its feedback only to the prompt at fault.
Then a corpus of realistic answers (code fences, prose around the JSON, extra keys, a refusal to follow
the schema) for every task, through both real backends: each is accepted or retried with feedback."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from graph_toucan.llm import LLM, AnthropicBackend, OpenAIBackend, ScriptedBackend
from graph_toucan.llm.task import TASKS, Task
from graph_toucan.mock import SandboxPool
from graph_toucan.pipeline import Pipeline, PipelineConfig
from graph_toucan.refusal import Mixture
from graph_toucan.resources import example_catalog
from graph_toucan.store import Store
from tests.fakes import PromptBook, Reply, fake_llm_server, first_user_prompt

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")

SERVERS = ("0056.", "0059.", "0113.", "0978.", "0039.")  # hotels, weather, money, time

ESCAPES = re.compile(r"\\u00(27|26|3c|3e|22)|&#3?9;|&amp;|&quot;|&lt;|&gt;")
CUT = re.compile(r"\w(…|\.\.\.)(?=[\s\"}\]]|$)|\":\s*(…|\.\.\.)", re.M)
OUTSIDE = re.compile(r"METHOD\.md|DESIGN\.md|docs/|section \d|the paper", re.I)


def dangling(text: str) -> str | None:
    """A heading (a line ending in ':') with nothing under it, or a label with no value."""
    lines = text.rstrip().splitlines()
    for i, line in enumerate(lines):
        stripped = line.rstrip()
        if (
            re.search(r"\w:\s*$", line)
            and line.strip().endswith(":")
            and not stripped.lstrip().startswith("-")
        ):
            following = [x for x in lines[i + 1 :] if x.strip()]
            if not following or (
                i + 1 < len(lines) and not lines[i + 1].strip() and following[0].endswith(":")
            ):
                return line
        if re.match(r"^\s+\w[\w ]*:\s*$", line):  # "  parameters: " with nothing after it
            return line
    return None


def catalog(tmp: Path) -> Path:
    folder = tmp / "catalog"
    folder.mkdir()
    for file in example_catalog().iterdir():
        if file.name.startswith(SERVERS):
            (folder / file.name).write_bytes(file.read_bytes())
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The prompts of one pipeline run over five servers (refusal variants of every kind included),
    with the task and inputs of each."""
    tmp = tmp_path_factory.mktemp("prompts")
    book = PromptBook().install()
    try:
        with fake_llm_server() as fake:
            fake.default = lambda body: Reply(json.dumps(book.offline_answer(first_user_prompt(body))[2]))
            store = Store.open(tmp / "ws")
            llm = LLM(OpenAIBackend("gpt-4.1", api_key="k", base_url=f"{fake.url}/v1"), store)
            config = PipelineConfig(
                n=3,
                catalogs=[catalog(tmp)],
                mixture=Mixture(irrelevance=0.3, miss_func=0.2, miss_params=0.2),
                pairs=False,
            )

            async def whole() -> Any:
                try:
                    return await Pipeline(store, llm, config).run()
                finally:
                    await llm.aclose()

            report = asyncio.run(whole())
            prompts = [first_user_prompt(r.body) for r in fake.requests]
            tasks = {p: book.lookup(p) for p in prompts}
            store.close()
    finally:
        book.uninstall()
    assert report.accepted == 3
    return {"prompts": list(dict.fromkeys(prompts)), "tasks": tasks}


def test_the_run_renders_every_task(run: dict[str, Any]) -> None:
    seen = Counter(name for name, _ in run["tasks"].values())
    for name in ("tool_tags", "tool_class", "parameter_classes", "output_schema", "output_filter"):
        assert seen[name], name
    for name in (
        "edge_judge",
        "mock_code",
        "mock_values",
        "fill_arguments",
        "assistant_answer",
        "irrelevance",
    ):
        assert seen[name], name
    assert any(name.startswith("query_") for name in seen)


def test_no_prompt_has_escapes_cuts_dangling_headings_or_outside_documents(run: dict[str, Any]) -> None:
    problems = []
    for prompt in run["prompts"]:
        task = run["tasks"][prompt][0]
        if found := ESCAPES.search(prompt):
            problems.append((task, "escape", found.group()))
        if found := CUT.search(prompt):
            problems.append((task, "cut", prompt[max(0, found.start() - 60) : found.end() + 10]))
        if found := OUTSIDE.search(prompt):
            problems.append((task, "outside document", found.group()))
        if found := dangling(prompt):
            problems.append((task, "dangling", found))
        if re.search(r"\ba (action|a\w*|e\w*|i\w*|o\w*|u\w*) tool\b", prompt) and " a user" not in prompt:
            problems.append((task, "article", re.search(r"\ba [aeiou]\w* tool\b", prompt).group()))
        example = re.search(r"^Example call arguments: (.*)$", prompt, re.M)
        if example and re.search(r'"(example|ex|string|foo|test)"', example.group(1)):
            problems.append((task, "placeholder", example.group(1)))
    assert not problems, problems[:10]


def test_json_in_prompts_is_whole(run: dict[str, Any]) -> None:
    """Results shown to the teacher (``f(args) -> result``) are JSON that parses, however long."""
    checked = 0
    for prompt in run["prompts"]:
        for line in prompt.splitlines():
            match = re.match(r"^- (?:c\d+ )?[\w-]+\((\{.*\})\) -> (\{.*\}|\[.*\])$", line)
            if match:
                json.loads(match.group(1))
                json.loads(match.group(2))
                checked += 1
    assert checked > 0


def test_a_retried_turn_sends_feedback_only_to_the_prompt_at_fault(tmp_path: Path) -> None:
    """An empty answer fails ``answer_present``: the retry sends the feedback to the answer prompt only,
    and the query, the fills and the mock values are not asked again (their answers are reused)."""
    store = Store.open(tmp_path / "ws")
    book = PromptBook().install()
    sent: list[tuple[str, str]] = []
    blanked = []

    def teacher(request: dict[str, Any]) -> str:
        prompt = first_user_prompt(request)
        name, _inputs, answer = book.offline_answer(prompt)
        sent.append((name, request["messages"][-1]["content"]))
        if name == "assistant_answer" and not blanked:
            blanked.append(prompt)
            return json.dumps({"content": " "})
        return json.dumps(answer)

    try:
        llm = LLM(ScriptedBackend([teacher] * 100_000), store)
        pipeline = Pipeline(store, llm, PipelineConfig(n=1, catalogs=[catalog(tmp_path)], pairs=False))

        async def translate() -> None:
            await pipeline.import_catalog()
            await pipeline.annotate()
            await pipeline.graph()
            async with SandboxPool(1) as pool:
                await pipeline.mocks(pool)
                start = len(sent)
                await pipeline.translate(pool)
                sent[:] = sent[start:]

        asyncio.run(translate())
    finally:
        book.uninstall()
    names = [n for n, _ in sent]
    first = names.index("assistant_answer")
    retry = names.index("assistant_answer", first + 1)
    assert names[first + 1 : retry] == []  # nothing but the answer asked again
    assert "answer_present" in sent[retry][1]
    assert not any("answer_present" in text for name, text in sent if name != "assistant_answer")
    [conversation] = [c for c in store.conversations(status="accepted")][:1]
    retried = [t for t in conversation.turns if t.attempts > 1]
    assert retried and retried[0].retried_for == ["answer_present"]
    store.close()


# -- a realistic corpus of answers, through both real backends ----------------------------------------


def variants(answer: dict[str, Any]) -> dict[str, str]:
    text = json.dumps(answer)
    return {
        "code fence": f"```json\n{json.dumps(answer, indent=2)}\n```",
        "prose around": f"Sure, here is the answer.\n{text}\nI hope this helps!",
        "extra keys": json.dumps({**answer, "confidence": 0.8, "explanation": "by the description"}),
    }


def corpus_inputs(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The first realistic inputs of each task in the run."""
    found: dict[str, dict[str, Any]] = {}
    for name, inputs in run["tasks"].values():
        found.setdefault(name, inputs)
    return found


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_realistic_answers_are_accepted_or_retried_with_useful_feedback(
    run: dict[str, Any], provider: str, tmp_path
) -> None:
    inputs = corpus_inputs(run)
    assert len(inputs) >= 12
    refusal = "I'm sorry, I can't provide that in JSON. The tool looks like a search tool."

    async def check() -> None:
        with fake_llm_server() as fake:
            fake.refuse_structured = (
                True  # answers reach the parser as text, as from a server without the feature
            )
            store = Store.open(tmp_path / provider)
            if provider == "anthropic":
                backend: Any = AnthropicBackend("claude-sonnet-4-5", api_key="k", base_url=fake.url)
            else:
                backend = OpenAIBackend("gpt-4.1", api_key="k", base_url=f"{fake.url}/v1")
            llm = LLM(backend, store)
            try:
                for name, data in sorted(inputs.items()):
                    task: Task[Any] = TASKS[name]
                    good = task.offline(data).model_dump(mode="json")
                    for kind, text in variants(good).items():
                        before = len(fake.requests)
                        fake.script(Reply(text))
                        answer = await llm.run(task, data)
                        assert answer.model_dump(mode="json") == good, (name, kind)
                        assert len(fake.requests) - before <= 2, (name, kind)  # the refusal, once, then one
                        store.db.execute("delete from llm_calls")  # the next variant is asked, not replayed
                    before = len(fake.requests)
                    fake.script(Reply(refusal), Reply(json.dumps(good)))
                    answer = await llm.run(task, data)
                    assert answer.model_dump(mode="json") == good, name
                    retry = fake.requests[-1]
                    assert len(fake.requests) - before == 2, name
                    assert retry.messages[-2]["content"] == refusal  # the answer given, then what was wrong
                    assert "no JSON object" in retry.messages[-1]["content"]
                    store.db.execute("delete from llm_calls")
            finally:
                await llm.aclose()
                store.close()

    asyncio.run(check())
