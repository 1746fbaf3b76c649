"""The LLM layer against a fake provider on 127.0.0.1: both wire formats, retries, parse feedback, the call-log
cache, budgets and the concurrency limit; plus the offline and scripted backends and teacher-name errors."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from graph_toucan.annotate import TOOL_TAGS, ToolTags, offline_tags, tags_inputs
from graph_toucan.errors import (
    BudgetExceeded,
    LLMConfigError,
    LLMError,
    LLMOutputError,
    TeacherUnavailable,
    TransientLLMError,
)
from graph_toucan.llm import (
    LLM,
    AnthropicBackend,
    Budget,
    OfflineBackend,
    OpenAIBackend,
    PriceTable,
    ScriptedBackend,
    make_backend,
)
from graph_toucan.llm.task import SYSTEM_PROMPT
from graph_toucan.records import Server, Tool
from graph_toucan.store import Store
from tests.fakes import (
    ANTHROPIC_PATH,
    OPENAI_PATH,
    FakeLLMServer,
    Hang,
    HTTPFailure,
    Malformed,
    Reply,
    fake_llm_server,
)

CATALOG_FILE = (
    Path(__file__).resolve().parents[1]
    / "examples/toucan/mcp_servers/0059.@smithery-ai_national-weather-service_labeled.json"
)
MODELS = {"anthropic": "claude-sonnet-4-5", "openai": "gpt-4.1"}
PATHS = {"anthropic": ANTHROPIC_PATH, "openai": OPENAI_PATH}
GOOD = '{"tags": ["weather", "current conditions", "retrieval"]}'
GOOD_TAGS = ["weather", "current conditions", "retrieval"]

PROVIDERS = ["anthropic", "openai"]

# anthropic 2.x warns that claude-sonnet-4-5 is deprecated; it is still in the price table, which is the point.
pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")


def weather_tools() -> list[Tool]:
    """The six tools of the bundled National Weather Service catalog entry, as real Tool records."""
    data = json.loads(CATALOG_FILE.read_text())
    meta = data["metadata"]
    server = Server(
        name=meta["server_name"],
        qualified_name="@smithery-ai/national-weather-service",
        source="toucan",
        primary_label=data["labels"]["primary_label"],
    )
    return [
        Tool(
            server_id=server.id,
            server_name=server.name,
            name=raw["name"],
            description=raw["description"],
            input_schema=raw["input_schema"],
            category=server.primary_label,
            source=server.source,
        )
        for raw in meta["remote_server_response"]["tools"]
    ]


@pytest.fixture
def tools() -> list[Tool]:
    found = weather_tools()
    assert [t.name for t in found][:2] == ["get_current_weather", "get_weather_forecast"]
    assert len({t.id for t in found}) == 6
    return found


@pytest.fixture
def tool(tools: list[Tool]) -> Tool:
    return tools[0]


@pytest.fixture
def store(tmp_path: Path):
    db = Store(tmp_path / "gt.db")
    yield db
    db.close()


@pytest.fixture
def server():
    with fake_llm_server() as fake:
        yield fake


def backend_for(provider: str, fake: FakeLLMServer, *, model: str | None = None, timeout: float = 5.0):
    model = model or MODELS[provider]
    if provider == "anthropic":
        return AnthropicBackend(model, api_key="test-key", base_url=fake.url, timeout=timeout)
    return OpenAIBackend(model, api_key="test-key", base_url=f"{fake.url}/v1", timeout=timeout)


@pytest.fixture
async def make_llm(store: Store, server: FakeLLMServer):
    """Build LLMs over the fake server (backoff 10 ms); their HTTP clients are closed at teardown."""
    made: list[LLM] = []

    def make(
        provider: str = "openai", *, model: str | None = None, timeout: float = 5.0, **kwargs: Any
    ) -> LLM:
        kwargs.setdefault("backoff_s", 0.01)
        llm = LLM(backend_for(provider, server, model=model, timeout=timeout), store, **kwargs)
        made.append(llm)
        return llm

    yield make
    for llm in made:
        await llm.aclose()


# -- both wire formats ---------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_happy_path_sends_prompt_and_logs_usage_and_cost(provider, make_llm, server, store, tool):
    server.script(Reply(GOOD, input_tokens=1200, output_tokens=30))
    llm = make_llm(provider)

    tags = await llm.run(TOOL_TAGS, tags_inputs(tool))

    assert isinstance(tags, ToolTags)
    assert tags.tags == GOOD_TAGS
    [request] = server.requests
    assert request.path == PATHS[provider]
    assert request.body["model"] == MODELS[provider]
    assert request.body["max_tokens"] == 200
    assert request.system == SYSTEM_PROMPT
    [message] = request.messages
    assert message["role"] == "user"
    assert "`get_current_weather`" in message["content"]
    assert '"United States Weather" (category: Weather)' in message["content"]
    assert '"location"' in message["content"]  # the tool's input schema
    assert '"tags"' not in message["content"]  # the output JSON Schema travels as structured output
    if provider == "anthropic":  # a forced tool whose input schema is the output model's
        [forced] = request.body["tools"]
        assert request.body["tool_choice"] == {"type": "tool", "name": "tool_tags"}
        assert forced["name"] == "tool_tags" and forced["input_schema"] == ToolTags.model_json_schema()
    else:
        form = request.body["response_format"]
        assert form["type"] == "json_schema" and form["json_schema"]["name"] == "tool_tags"
        assert form["json_schema"]["schema"] == ToolTags.model_json_schema()
        assert form["json_schema"]["strict"] is False  # ToolTags has defaults: not every property is required
    if provider == "anthropic":  # anthropic 2.x sends the key as a bearer token, older SDKs as x-api-key
        assert "test-key" in (request.headers.get("x-api-key"), request.headers.get("authorization", "")[7:])
        assert request.headers["anthropic-version"]
    else:
        assert request.headers["authorization"] == "Bearer test-key"

    [call] = store.calls()
    # list prices: claude-sonnet-4-5 $3/$15, gpt-4.1 $2/$8 per million input/output tokens
    expected_cost = {"anthropic": (1200 * 3 + 30 * 15) / 1e6, "openai": (1200 * 2 + 30 * 8) / 1e6}[provider]
    assert (call.task, call.backend, call.model) == ("tool_tags", provider, MODELS[provider])
    assert (call.input_tokens, call.output_tokens) == (1200, 30)
    assert call.cost_usd == pytest.approx(expected_cost)
    assert json.loads(call.response) == json.loads(GOOD)
    assert call.error is None
    assert 0 < call.latency_s < 5
    assert call.run_id == llm.run_id
    assert call.request["messages"] == [{"role": "user", "content": message["content"]}]
    [stats] = store.call_stats()
    assert stats["calls"] == 1 and stats["failures"] == 0
    assert stats["cost_usd"] == pytest.approx(expected_cost)
    assert llm.stats.calls == 1 and llm.stats.input_tokens == 1200 and llm.stats.output_tokens == 30
    assert llm.stats.cost_usd == pytest.approx(expected_cost)
    assert llm.teacher == f"{provider}/{MODELS[provider]}"


FAILURES = {
    "429": (HTTPFailure(429, "slow down", retry_after="0"), "HTTP 429"),
    "500": (HTTPFailure(500, "internal error"), "HTTP 500"),
    "malformed": (Malformed('{"choices": ['), "malformed body"),
    "timeout": (Hang(5.0), "timed out"),
}


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_transient_failure_is_retried_and_both_attempts_logged(
    provider, failure, make_llm, server, store, tool
):
    action, expected_error = FAILURES[failure]
    server.script(action, Reply(GOOD, input_tokens=50, output_tokens=10))
    # A 429 says retry-after: 0, so the 1 s backoff must not be waited for.
    llm = make_llm(provider, timeout=0.5, max_retries=1, backoff_s=1.0 if failure == "429" else 0.01)

    started = time.perf_counter()
    tags = await llm.run(TOOL_TAGS, tags_inputs(tool))
    elapsed = time.perf_counter() - started

    assert tags.tags == GOOD_TAGS
    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body
    failed, succeeded = store.calls()
    assert expected_error in failed.error
    assert failed.response is None and failed.input_tokens == 0 and failed.cost_usd == 0
    assert failed.backend == provider
    assert succeeded.error is None and json.loads(succeeded.response) == json.loads(GOOD)
    assert succeeded.input_tokens == 50
    assert failed.key == succeeded.key
    assert store.cached_call(succeeded.key).response == succeeded.response
    assert llm.stats.retries == 1 and llm.stats.calls == 1 and llm.stats.failures == 0
    [row] = store.call_stats()
    assert (row["calls"], row["retries"], row["failures"], row["parse_failures"]) == (2, 1, 0, 0)
    assert llm.stats.tasks["tool_tags"].retries == 1
    if failure == "429":
        assert elapsed < 0.8
    if failure == "timeout":
        assert failed.latency_s >= 0.4


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_every_attempt_failing_raises_and_caches_nothing(provider, make_llm, server, store, tool):
    server.script(HTTPFailure(500, "overloaded"), HTTPFailure(500, "overloaded"))
    llm = make_llm(provider, max_retries=1)

    with pytest.raises(LLMError, match=rf"gave up after 2 attempts: {provider} answered HTTP 500") as info:
        await llm.run(TOOL_TAGS, tags_inputs(tool))

    assert not isinstance(info.value, LLMOutputError)
    assert len(server.requests) == 2
    assert [c.error is not None for c in store.calls()] == [True, True]
    assert llm.stats.failures == 1

    server.script(Reply(GOOD))
    again = make_llm(provider, max_retries=1)
    assert (await again.run(TOOL_TAGS, tags_inputs(tool))).tags == GOOD_TAGS
    assert len(server.requests) == 3  # nothing was served from the log
    assert again.stats.cache_hits == 0 and again.stats.calls == 1


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (400, LLMError, "rejected the request \\(HTTP 400\\)"),
        (401, TeacherUnavailable, "refused the API key"),
    ],
)
async def test_client_errors_are_not_retried(status, error, message, make_llm, server, store, tool):
    server.script(HTTPFailure(status, "no"), Reply(GOOD))
    llm = make_llm("openai", max_retries=3)

    with pytest.raises(error, match=message):
        await llm.run(TOOL_TAGS, tags_inputs(tool))

    assert len(server.requests) == 1
    [call] = store.calls()
    assert f"HTTP {status}" in call.error
    assert llm.stats.retries == 0


# -- parse feedback ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_parse_feedback_carries_previous_answer_and_problem(provider, make_llm, server, store, tool):
    junk = "Sure! The tags are weather, forecast and lookup."
    wrong = '{"tags": ["weather"]}'
    server.script(Reply(junk), Reply(wrong), Reply(GOOD))
    llm = make_llm(provider, parse_retries=2)

    tags = await llm.run(TOOL_TAGS, tags_inputs(tool))

    assert tags.tags == GOOD_TAGS
    first, second, third = server.requests
    prompt = first.messages[0]
    assert [m["role"] for m in first.messages] == ["user"]
    assert second.messages[:2] == [prompt, {"role": "assistant", "content": junk}]
    assert second.messages[2]["role"] == "user"
    assert "no JSON object" in second.messages[2]["content"]
    assert len(second.messages) == 3
    assert third.messages[:3] == second.messages
    assert third.messages[3] == {"role": "assistant", "content": wrong}
    assert third.messages[4]["role"] == "user"
    assert len(third.messages) == 5
    assert "does not match the schema" in third.messages[4]["content"]
    assert "tags" in third.messages[4]["content"] and "at least 3" in third.messages[4]["content"]
    assert {r.system for r in server.requests} == {SYSTEM_PROMPT}
    assert [c.response for c in store.calls()] == [junk, wrong, GOOD]

    # The whole conversation is in the log: a rerun asks nothing.
    rerun = make_llm(provider, parse_retries=2)
    assert (await rerun.run(TOOL_TAGS, tags_inputs(tool))).tags == GOOD_TAGS
    assert len(server.requests) == 3
    assert rerun.stats.cache_hits == 3


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_answers_that_never_parse_raise_and_log_a_failure(provider, make_llm, server, store, tool):
    server.script(Reply("no idea"), Reply("still no idea"))
    llm = make_llm(provider, parse_retries=1)

    with pytest.raises(LLMOutputError, match="never validated after 2 attempts: the answer contains no JSON"):
        await llm.run(TOOL_TAGS, tags_inputs(tool))

    assert len(server.requests) == 2
    failure = store.calls()[-1]
    assert "never validated" in failure.error
    assert failure.request == {"inputs": tags_inputs(tool), "attempts": 2}
    assert failure.task == "tool_tags" and failure.backend == provider
    assert llm.stats.failures == 1
    # The junk answers are marked unusable, so a rerun asks the model again instead of replaying them.
    assert all(c.error for c in store.calls())
    server.script(Reply(GOOD))
    rerun = make_llm(provider, parse_retries=1)
    assert (await rerun.run(TOOL_TAGS, tags_inputs(tool))).tags == GOOD_TAGS
    assert len(server.requests) == 3 and rerun.stats.cache_hits == 0


# -- cache ---------------------------------------------------------------------------------------


async def test_cache_serves_a_rerun_without_requests_and_is_keyed_by_model(make_llm, server, store, tool):
    server.script(Reply(GOOD))
    first = await make_llm("openai").run(TOOL_TAGS, tags_inputs(tool))

    fresh = make_llm("openai")
    second = await fresh.run(TOOL_TAGS, tags_inputs(tool))

    assert second == first
    assert len(server.requests) == 1
    assert fresh.stats.cache_hits == 1 and fresh.stats.calls == 0
    assert len(store.calls()) == 1

    server.script(Reply(GOOD))
    other = make_llm("openai", model="gpt-4.1-mini")
    await other.run(TOOL_TAGS, tags_inputs(tool))
    assert len(server.requests) == 2 and server.requests[1].body["model"] == "gpt-4.1-mini"
    assert other.stats.cache_hits == 0


async def test_cache_for_the_offline_backend(store, tool):
    first = LLM(OfflineBackend(), store)
    tags = await first.run(TOOL_TAGS, tags_inputs(tool))
    second = LLM(OfflineBackend(), store)

    assert await second.run(TOOL_TAGS, tags_inputs(tool)) == tags
    assert first.stats.calls == 1 and first.stats.cache_hits == 0
    assert second.stats.calls == 0 and second.stats.cache_hits == 1
    assert len(store.calls()) == 1


# -- budget --------------------------------------------------------------------------------------


async def test_call_budget_stops_and_a_rerun_completes_from_the_log(make_llm, server, store, tools):
    server.default = Reply(GOOD)
    five = tools[:5]
    llm = make_llm("openai", budget=Budget(max_calls=2))

    done = []
    with pytest.raises(BudgetExceeded, match="budget of 2 LLM calls spent"):
        for t in five:
            done.append(await llm.run(TOOL_TAGS, tags_inputs(t)))
    assert len(done) == 2
    assert len(server.requests) == 2
    assert llm.budget.calls == 2

    rerun = make_llm("openai", budget=Budget(max_calls=5))
    results = [await rerun.run(TOOL_TAGS, tags_inputs(t)) for t in five]

    assert [r.tags for r in results] == [GOOD_TAGS] * 5
    assert len(server.requests) == 5
    assert rerun.stats.cache_hits == 2 and rerun.stats.calls == 3 and rerun.budget.calls == 3
    prompts = [r.messages[0]["content"] for r in server.requests]
    assert all(f"`{t.name}`" in p for t, p in zip(five, prompts, strict=True))


async def test_dollar_budget_with_a_price_file(make_llm, server, store, tools, tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"house-model": {"input": 1000.0, "output": 0.0}}))
    server.default = Reply(GOOD, input_tokens=1000, output_tokens=7)  # $1.00 a call
    five = tools[:5]

    with pytest.raises(LLMConfigError, match="no price known for model 'house-model'"):
        make_llm("openai", model="house-model", budget=Budget(max_cost_usd=2.0))

    llm = make_llm(
        "openai", model="house-model", budget=Budget(max_cost_usd=2.0), prices=PriceTable.load(prices)
    )
    with pytest.raises(BudgetExceeded, match=r"budget of \$2\.00 spent \(\$2\.0000\)"):
        for t in five:
            await llm.run(TOOL_TAGS, tags_inputs(t))
    assert len(server.requests) == 2
    assert [c.cost_usd for c in store.calls()] == pytest.approx([1.0, 1.0])

    rerun = make_llm(
        "openai", model="house-model", budget=Budget(max_cost_usd=5.0), prices=PriceTable.load(prices)
    )
    for t in five:
        await rerun.run(TOOL_TAGS, tags_inputs(t))
    assert len(server.requests) == 5
    assert rerun.stats.cache_hits == 2 and rerun.stats.calls == 3
    assert rerun.budget.cost_usd == pytest.approx(3.0)


def test_price_file_errors_and_prefix_lookup(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"m": {"input": 1}}')
    with pytest.raises(LLMConfigError, match=r"price file .* is not usable"):
        PriceTable.load(bad)
    table = PriceTable.load()
    assert table.lookup("claude-sonnet-4-5-20250929") == (3.0, 15.0)
    assert table.lookup("gpt-4.1-mini-2025-04-14") == (0.4, 1.6)
    assert table.lookup("llama-3") is None
    assert table.cost("gpt-4.1", 1_000_000, 500_000) == pytest.approx(6.0)


def test_no_dollar_budget_check_for_offline(store):
    llm = LLM(OfflineBackend(), store, budget=Budget(max_cost_usd=0.5))
    assert llm.teacher == "offline"


# -- concurrency ---------------------------------------------------------------------------------


async def test_concurrency_limit_holds_at_the_server(make_llm, server, tools):
    server.default = Reply(GOOD)
    server.delay_s = 0.2
    llm = make_llm("openai", max_concurrency=2)

    started = time.perf_counter()
    results = await asyncio.gather(*(llm.run(TOOL_TAGS, tags_inputs(t)) for t in tools))
    elapsed = time.perf_counter() - started

    assert len(results) == 6 and all(r.tags == GOOD_TAGS for r in results)
    assert len(server.requests) == 6
    assert server.max_in_flight == 2  # the limit was reached and never passed
    assert 0.55 < elapsed < 1.5  # three waves of two


async def test_identical_concurrent_runs_make_one_request(make_llm, server, tool):
    server.default = Reply(GOOD)
    server.delay_s = 0.1
    llm = make_llm("openai")

    results = await asyncio.gather(*(llm.run(TOOL_TAGS, tags_inputs(tool)) for _ in range(4)))

    assert {tuple(r.tags) for r in results} == {tuple(GOOD_TAGS)}
    assert len(server.requests) == 1
    assert llm.stats.calls == 1 and llm.stats.cache_hits == 3


async def test_call_budget_holds_under_concurrency(make_llm, server, tools):
    server.default = Reply(GOOD)
    server.delay_s = 0.1
    llm = make_llm("openai", max_concurrency=8, budget=Budget(max_calls=2))

    results = await asyncio.gather(
        *(llm.run(TOOL_TAGS, tags_inputs(t)) for t in tools[:5]), return_exceptions=True
    )

    assert sum(isinstance(r, BudgetExceeded) for r in results) == 3
    assert len(server.requests) == 2


# -- offline and scripted backends ---------------------------------------------------------------


async def test_offline_backend_is_deterministic_and_logged(tmp_path, tools):
    answers = []
    for name in ("a.db", "b.db"):
        db = Store(tmp_path / name)
        llm = LLM(OfflineBackend(), db)
        answers.append([(await llm.run(TOOL_TAGS, tags_inputs(t))).tags for t in tools])
        calls = db.calls()
        assert {(c.backend, c.model, c.task) for c in calls} == {("offline", "offline", "tool_tags")}
        assert all(c.error is None and c.cost_usd == 0 and c.input_tokens == 0 for c in calls)
        assert [json.loads(c.response)["tags"] for c in calls] == answers[-1]
        db.close()

    assert answers[0] == answers[1]
    current, forecast, *_ = answers[0]
    assert current == ["weather", "current", "retrieval"]
    assert forecast[0] == "weather" and forecast[2] == "retrieval"
    assert answers[0] == [offline_tags(tags_inputs(t)).tags for t in tools]
    assert all(len(set(tags)) == 3 for tags in answers[0])


async def test_scripted_backend_records_requests_and_retries(store, tool):
    backend = ScriptedBackend([TransientLLMError("flaky", retry_after=0), "not json", GOOD])
    llm = LLM(backend, store, backoff_s=0.01)

    tags = await llm.run(TOOL_TAGS, tags_inputs(tool))

    assert tags.tags == GOOD_TAGS
    assert len(backend.requests) == 3
    request = backend.requests[0]
    assert request["system"] == SYSTEM_PROMPT
    assert "`get_current_weather`" in request["messages"][0]["content"]
    assert (request["max_tokens"], request["temperature"]) == (200, 0.0)
    assert backend.requests[2]["messages"][1] == {"role": "assistant", "content": "not json"}
    assert [(c.backend, c.error) for c in store.calls()] == [
        ("scripted", "retried: flaky"),
        ("scripted", None),
        ("scripted", None),
    ]
    assert llm.stats.retries == 1

    with pytest.raises(LLMError, match="no reply left"):
        await llm.run(
            TOOL_TAGS,
            tags_inputs(Tool(server_id="s", server_name="S", name="other", input_schema={}, source="test")),
        )


# -- teacher names -------------------------------------------------------------------------------


def test_make_backend_errors(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)

    with pytest.raises(LLMConfigError, match="needs ANTHROPIC_API_KEY; set it"):
        make_backend("anthropic/claude-sonnet-4-5")
    with pytest.raises(LLMConfigError, match="unknown teacher 'nope/x'"):
        make_backend("nope/x")
    with pytest.raises(LLMConfigError, match="unknown teacher 'gpt4'; use offline, anthropic/MODEL"):
        make_backend("gpt4")  # not "write it as gpt4/MODEL"
    with pytest.raises(LLMConfigError, match="names no model; write it as openai/MODEL"):
        make_backend("openai")
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY") as raised:
        make_backend("openai/gpt-4.1")
    assert "--base-url" not in str(raised.value) and "OPENAI_BASE_URL" in str(raised.value)
    with pytest.raises(LLMConfigError, match="scripted teacher is for tests"):
        make_backend("scripted/x")


def test_make_backend_builds_backends(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")

    assert isinstance(make_backend("offline"), OfflineBackend)
    anthropic_backend = make_backend("anthropic/claude-haiku-4-5")
    assert isinstance(anthropic_backend, AnthropicBackend) and anthropic_backend.model == "claude-haiku-4-5"
    local = make_backend("openai/qwen3", base_url="http://127.0.0.1:9/v1")  # a local server needs no key
    assert isinstance(local, OpenAIBackend) and local.model == "qwen3"


def test_prompts_show_json_as_written_not_escaped_for_html():
    from graph_toucan.translate_tasks import ASSISTANT_ANSWER

    inputs = {
        "turn": 1,
        "style": {"persona": "a chef", "tone": "casual", "length": "short"},
        "history": [],
        "user": "Anything at O'Hare?",
        "calls": [
            {"function": "f", "arguments": {"q": "O'Hare & <gate>"}, "output": {"a": "B&B"}, "error": None}
        ],
        "split": None,
        "feedback": [],
    }
    text = ASSISTANT_ANSWER.render(inputs).user
    assert '"O\'Hare & <gate>"' in text and '"B&B"' in text
    assert "\\u0027" not in text and "\\u0026" not in text and "\\u003c" not in text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_backend_serves_one_event_loop_after_another_and_closes_its_connections(
    provider, server, store, tools
):
    """The CLI runs each command in its own ``asyncio.run``: the backend's HTTP session belongs to one
    loop, a new loop gets a new one, and a loop's shutdown closes it even when nobody called aclose."""
    import gc
    import warnings

    server.default = Reply(GOOD)
    backend = backend_for(provider, server)
    unclosed: list[str] = []

    async def ask(tool: Tool) -> list[str]:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: unclosed.append(str(context.get("message"))))
        return (await LLM(backend, store, parse_retries=0).run(TOOL_TAGS, tags_inputs(tool))).tags

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert asyncio.run(ask(tools[0])) == GOOD_TAGS
        assert asyncio.run(ask(tools[1])) == GOOD_TAGS  # the first loop is gone: a session of its own
        gc.collect()
    assert len(server.requests) == 2
    assert [m for m in unclosed if "Unclosed" in m] == []
    assert [w for w in caught if "Unclosed" in str(w.message)] == []
    assert all(session.closed for _, session, _ in backend.http._sessions.values())
