"""A real teacher through the real SDK clients on the loopback fake server: structured output and its
fallback, failing fast (bad key, dead endpoint, stalls, deadlines), bounded answers, stages whose
every item failed, and a teacher per task group."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import BaseModel, ConfigDict

from graph_toucan.annotate import TOOL_TAGS, annotate_tools, tags_inputs
from graph_toucan.errors import LLMError, LLMOutputError, StageFailed, TeacherUnavailable
from graph_toucan.graph import build_graph
from graph_toucan.llm import LLM, AnthropicBackend, OfflineBackend, OpenAIBackend, ScriptedBackend
from graph_toucan.llm.groups import GROUPS, task_group
from graph_toucan.llm.http import MAX_BODY_BYTES
from graph_toucan.llm.task import MAX_ANSWER_CHARS, Task
from graph_toucan.records import Tool
from graph_toucan.store import Store
from tests.fakes import FakeLLMServer, Hang, HTTPFailure, Reply, fake_llm_server
from tests.test_llm import GOOD, GOOD_TAGS, weather_tools

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
PROVIDERS = ["anthropic", "openai"]
CLI = [sys.executable, "-c", "from graph_toucan.cli import main; main()"]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "ws")
    yield s
    s.close()


@pytest.fixture
def server():
    with fake_llm_server() as fake:
        yield fake


@pytest.fixture
def tool() -> Tool:
    return weather_tools()[0]


def backend(provider: str, url: str, *, timeout: float = 5.0) -> Any:
    if provider == "anthropic":
        return AnthropicBackend("claude-sonnet-4-5", api_key="k", base_url=url, timeout=timeout)
    return OpenAIBackend("gpt-4.1", api_key="k", base_url=f"{url}/v1", timeout=timeout)


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


# -- structured output ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_server_refusing_structured_output_gets_the_prompt_form_and_the_fallback_is_recorded(
    provider, server: FakeLLMServer, store: Store, tool: Tool
) -> None:
    server.refuse_structured = True
    server.default = Reply(GOOD)
    told: list[str] = []
    llm = LLM(backend(provider, server.url), store, notify=told.append, backoff_s=0.01)
    try:
        assert (await llm.run(TOOL_TAGS, tags_inputs(tool))).tags == GOOD_TAGS
        assert (await llm.run(TOOL_TAGS, tags_inputs(weather_tools()[1]))).tags == GOOD_TAGS
    finally:
        await llm.aclose()
    refused, first, second = server.requests
    assert refused.body.get("response_format") or refused.body.get("tools")
    for sent in (first, second):  # after the refusal every request is prompt-only, the schema in the text
        assert "response_format" not in sent.body and "tools" not in sent.body
        assert '"tags"' in sent.messages[0]["content"] and "JSON Schema" in sent.messages[0]["content"]
    assert f"{provider}/" in next(iter(llm.stats.fallbacks)) and len(told) == 1
    assert "structured output" in told[0] and server.url in told[0]
    [row] = store.call_stats()
    assert (row["calls"], row["fallbacks"], row["failures"], row["parse_failures"]) == (3, 1, 0, 0)


def test_strict_only_where_the_schema_allows_it() -> None:
    class Closed(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: str
        count: int

    class Open(BaseModel):
        name: str
        count: int = 0

    closed = Task("test_closed", Closed, lambda _i: Closed(name="x", count=1))
    opened = Task("test_open", Open, lambda _i: Open(name="x"))
    assert closed.output_schema()["strict"] is True
    assert opened.output_schema()["strict"] is False
    assert closed.output_schema()["schema"] == Closed.model_json_schema()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_structured_requests_carry_no_schema_text(provider, server, store, tool) -> None:
    server.default = Reply(GOOD)
    llm = LLM(backend(provider, server.url), store)
    try:
        await llm.run(TOOL_TAGS, tags_inputs(tool))
    finally:
        await llm.aclose()
    [sent] = server.requests
    assert "JSON Schema" not in sent.messages[0]["content"]
    assert llm.stats.fallbacks == {}


# -- failing fast -----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_refused_key_stops_annotation_at_once_naming_teacher_endpoint_and_fix(
    provider, server, store
) -> None:
    server.default = HTTPFailure(401, "invalid x-api-key")
    tools = weather_tools()
    llm = LLM(backend(provider, server.url), store, max_concurrency=1)
    started = time.perf_counter()
    try:
        with pytest.raises(TeacherUnavailable) as caught:
            await annotate_tools(store, llm, tools=tools)
    finally:
        await llm.aclose()
    assert time.perf_counter() - started < 5
    message = str(caught.value)
    assert f"teacher {provider}/" in message and server.url in message and "HTTP 401" in message
    assert ("ANTHROPIC_API_KEY" if provider == "anthropic" else "OPENAI_API_KEY") in message
    assert len(server.requests) == 1  # every later call stops before sending anything


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_dead_endpoint_trips_the_breaker_within_seconds(provider, store) -> None:
    url = dead_url()
    llm = LLM(backend(provider, url), store, max_concurrency=2, backoff_s=0.05)
    started = time.perf_counter()
    try:
        with pytest.raises(TeacherUnavailable, match="times in a row") as caught:
            await annotate_tools(store, llm, tools=weather_tools())
    finally:
        await llm.aclose()
    assert time.perf_counter() - started < 30
    assert url in str(caught.value) and "BASE_URL" in str(caught.value)
    with pytest.raises(TeacherUnavailable):  # later calls fail at once
        await llm.run(TOOL_TAGS, tags_inputs(weather_tools()[0]))


async def test_a_stall_is_reported_as_it_happens_and_the_deadline_bounds_the_call(
    server, store, tool
) -> None:
    server.default = Hang(5.0)
    told: list[str] = []
    llm = LLM(
        backend("openai", server.url, timeout=0.3), store, notify=told.append, backoff_s=0.05, deadline_s=1.0
    )
    started = time.perf_counter()
    try:
        with pytest.raises(LLMError, match=r"deadline|gave up"):
            await llm.run(TOOL_TAGS, tags_inputs(tool))
    finally:
        await llm.aclose()
    assert time.perf_counter() - started < 3
    assert told and all("no answer within 0.3 s" in m and "tool_tags" in m for m in told)


def test_the_cli_exits_non_zero_with_one_line_for_an_unreachable_teacher(tmp_path: Path) -> None:
    env = {"OPENAI_BASE_URL": f"{dead_url()}/v1", "OPENAI_API_KEY": "k", "PATH": "/usr/bin:/bin"}
    subprocess.run([*CLI, "-w", str(tmp_path), "import"], capture_output=True, check=True, env=env)
    done = subprocess.run(
        [*CLI, "-w", str(tmp_path), "--teacher", "openai/gpt-4.1", "annotate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert done.returncode == 1, done.stdout
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: teacher openai/gpt-4.1 at http://127.0.0.1:") and "OPENAI_BASE_URL" in line


# -- bounded answers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
        ('{"tags": ' + "[" * 60 + "]" * 60 + "}", "nested more than"),
        ("", "empty"),
        ("   \n", "empty"),
        ('{"tags": ["' + "x" * (MAX_ANSWER_CHARS + 10) + '"]}', "over the limit"),
        ("x" * (MAX_BODY_BYTES + 10), "bytes long, over the limit"),  # never read whole
    ],
    ids=["deep-recursion", "deep", "empty", "blank", "oversized", "huge-body"],
)
async def test_bad_answers_are_parse_failures_sent_back_and_never_stored_as_usable(
    answer, problem, server, store, tool
) -> None:
    server.refuse_structured = True  # the answers reach the parser as text in both forms
    server.script(Reply(answer), Reply(answer), Reply(answer))
    llm = LLM(backend("openai", server.url), store, parse_retries=2)
    try:
        with pytest.raises(LLMOutputError, match=problem):
            await llm.run(TOOL_TAGS, tags_inputs(tool))
    finally:
        await llm.aclose()
    feedback = server.requests[-1].messages[-1]["content"]
    assert problem.split()[0] in feedback
    assert len(server.requests[-1].messages[-2]["content"]) < 30_000  # an oversized answer is not echoed
    calls = store.calls()
    assert all(c.error is not None for c in calls)  # nothing usable, nothing served from the cache
    assert sum(len(c.response or "") for c in calls) < 4 * 30_000
    assert llm.stats.tasks["tool_tags"].parse_failures == 3


# -- stages whose every item failed -------------------------------------------------------------------


async def test_annotation_whose_every_tool_failed_is_an_error_with_the_first_reason(store) -> None:
    tools = weather_tools()
    llm = LLM(ScriptedBackend(["not json"] * 100), store)
    with pytest.raises(StageFailed, match=r"annotation failed for every one of the 6 tools.*no JSON object"):
        await annotate_tools(store, llm, tools=tools)


async def test_a_graph_whose_every_judgement_failed_says_why(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "ws")
    from graph_toucan.catalog import import_entries, read_catalog
    from graph_toucan.resources import example_catalog

    folder = tmp_path / "catalog"
    folder.mkdir()
    for file in example_catalog().glob("0056.*"):  # a hotel server: its search feeds its details
        (folder / file.name).write_bytes(file.read_bytes())
    assert import_entries(store, read_catalog(folder)).counts.new
    await annotate_tools(store, LLM(OfflineBackend(), store))
    judge = ScriptedBackend(
        [lambda r: '{"type": "sideways"}' if "can feed another tool" in str(r) else '{"echoes": []}'] * 5000
    )
    llm = LLM(OfflineBackend(), store, overrides={"judge": judge})
    with pytest.raises(StageFailed, match=r"edge judgement failed for every one of the .* candidate pairs"):
        await build_graph(store, llm)
    assert judge.requests  # the judge group went to its own teacher
    store.close()


# -- a teacher per task group ---------------------------------------------------------------------------


def test_every_task_has_a_group() -> None:
    import graph_toucan.pipeline  # noqa: F401  (registers every task)
    from graph_toucan.llm.task import TASKS

    for name in TASKS:
        if name.startswith("test_"):
            continue
        assert any(
            name in tasks or (name.startswith("query_") and "query_*" in tasks) for tasks in GROUPS.values()
        ), name
    assert task_group("query_merge") == "translate" and task_group("mock_values") == "values"


async def test_overrides_route_tasks_to_their_group_teacher(server, store, tool) -> None:
    server.default = Reply(GOOD)
    values = OpenAIBackend("gpt-4.1-mini", api_key="k", base_url=f"{server.url}/v1")
    llm = LLM(ScriptedBackend([GOOD]), store, overrides={"annotate": values})
    try:
        assert (await llm.run(TOOL_TAGS, tags_inputs(tool))).tags == GOOD_TAGS
    finally:
        await llm.aclose()
    assert [r.body["model"] for r in server.requests] == ["gpt-4.1-mini"]
    assert llm.teacher_for("annotate") == "openai/gpt-4.1-mini" and llm.teacher == "scripted/scripted"
    [call] = store.calls()
    assert (call.backend, call.model) == ("openai", "gpt-4.1-mini")
    with pytest.raises(LLMError, match="no task group pairs"):
        LLM(OfflineBackend(), store, overrides={"pairs": values})


def test_the_cli_takes_a_teacher_per_stage(monkeypatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from graph_toucan.cli.app import app

    seen: dict[str, Any] = {}

    @app.command("_teachers", hidden=True)
    def _teachers(ctx: typer.Context) -> None:  # pragma: no cover - registered only in this test
        llm = ctx.obj.llm()
        seen.update(llm.teachers)

    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    try:
        result = CliRunner().invoke(
            app,
            [
                "-w",
                str(tmp_path),
                "--teacher",
                "openai/gpt-4.1",
                "--teacher-values",
                "openai/gpt-4.1-mini",
                "--teacher-translate",
                "anthropic/claude-sonnet-4-5",
                "_teachers",
            ],
        )
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "_teachers"]
    assert result.exit_code == 0, result.output
    assert seen["values"] == "openai/gpt-4.1-mini" and seen["translate"] == "anthropic/claude-sonnet-4-5"
    assert seen["annotate"] == seen["judge"] == seen["mocks"] == "openai/gpt-4.1"


# -- over MCP, and prompt caching -----------------------------------------------------------------------


async def test_over_mcp_an_unavailable_teacher_and_a_stage_that_failed_are_tool_errors(
    tmp_path: Path,
) -> None:
    from fastmcp import Client

    from tests.test_server import refused, server

    workspace = tmp_path / "ws"
    with fake_llm_server() as fake:
        fake.default = HTTPFailure(401, "invalid key")

        def teacher(store: Store) -> LLM:
            return LLM(backend("openai", fake.url), store)

        async with Client(server(workspace, teacher)) as client:
            await client.call_tool("import_catalog", {})
            text = await refused(client, "annotate_tools")
    assert "refused the API key" in text and fake.url in text

    def junk(store: Store) -> LLM:
        return LLM(ScriptedBackend(["not json"] * 10_000), store)

    async with Client(server(workspace, junk)) as client:
        text = await refused(client, "annotate_tools")
    assert "annotation failed for every one of the" in text and "no JSON object" in text


async def test_anthropic_marks_a_long_stable_prefix_for_prompt_caching(server) -> None:
    server.default = Reply('{"fields": {}}')
    claude = backend("anthropic", server.url)
    base = {"system": "Answer in JSON.", "max_tokens": 50, "temperature": 0.0}
    try:
        short = {"name": "short", "schema": {"type": "object", "properties": {}}, "strict": False}
        wide = {"name": "wide", "schema": {"type": "object", "description": "x" * 5000}, "strict": False}
        for schema in (short, wide):
            await claude.complete(
                {**base, "messages": [{"role": "user", "content": "hi"}], "output_schema": schema}
            )
    finally:
        await claude.aclose()
    first, second = (r.body for r in server.requests)
    assert first["system"] == "Answer in JSON."  # too short to be cached: sent as it is
    assert second["system"] == [
        {"type": "text", "text": "Answer in JSON.", "cache_control": {"type": "ephemeral"}}
    ]
    assert second["tool_choice"] == {"type": "tool", "name": "wide"}
