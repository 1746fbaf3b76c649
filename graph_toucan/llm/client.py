"""``await llm.run(task, inputs)``: cache, budget, bounded concurrency, retries and the call log."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from graph_toucan.errors import (
    BudgetExceeded,
    LLMConfigError,
    LLMError,
    LLMOutputError,
    StructuredOutputRefused,
    TeacherUnavailable,
    TransientLLMError,
)
from graph_toucan.ids import canonical_json, content_id
from graph_toucan.llm.backends import Backend, Completion, Request
from graph_toucan.llm.groups import GROUPS, task_group
from graph_toucan.llm.pricing import PriceTable
from graph_toucan.llm.task import MAX_ANSWER_CHARS, OutputParseError, Task, feedback
from graph_toucan.records import LLMCall
from graph_toucan.store import Store

O = TypeVar("O", bound=BaseModel)  # noqa: E741


@dataclass
class Budget:
    """Limits for one run; cached answers are free and do not count."""

    max_calls: int | None = None
    max_cost_usd: float | None = None
    calls: int = 0
    cost_usd: float = 0.0

    def check(self) -> None:
        if self.max_calls is not None and self.calls >= self.max_calls:
            raise BudgetExceeded(
                f"budget of {self.max_calls} LLM calls spent; rerun to continue "
                "(answers already given are served from the call log for free)"
            )
        if self.max_cost_usd is not None and self.cost_usd >= self.max_cost_usd:
            raise BudgetExceeded(
                f"budget of ${self.max_cost_usd:.2f} spent (${self.cost_usd:.4f}); rerun to "
                "continue (answers already given are served from the call log for free)"
            )


@dataclass
class TaskStats:
    """One task's requests in this run: answered calls, cache hits, retries after a transient failure,
    answers that did not parse (each sent back with feedback), calls that failed for good, tokens, cost."""

    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    parse_failures: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class RunStats:
    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    parse_failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    by_task: dict[str, int] = field(default_factory=dict)
    tasks: dict[str, TaskStats] = field(default_factory=dict)
    fallbacks: dict[str, str] = field(default_factory=dict)  # teacher -> why it gets prompt-only requests

    def task(self, name: str) -> TaskStats:
        return self.tasks.setdefault(name, TaskStats())

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "retries": self.retries,
            "parse_failures": self.parse_failures,
            "failures": self.failures,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost_usd, 6),
            "tasks": {
                k: {**vars(v), "cost_usd": round(v.cost_usd, 6)} for k, v in sorted(self.tasks.items())
            },
            "structured_output_fallbacks": dict(self.fallbacks),
        }


class LLM:
    """The one door to a teacher. Every request is logged in ``store``; identical requests are
    answered from that log, so reruns are free and a crash loses nothing.

    ``backend`` answers every task unless ``overrides`` names another backend for the task's group
    (:mod:`graph_toucan.llm.groups`). A refused key, or ``breaker`` connection failures in a row
    (refused connections, timeouts) of one backend, stop every later call to it at once with
    :class:`TeacherUnavailable`; ``deadline_s`` bounds one call, retries included; ``notify``
    hears about stalls and fallbacks as they happen."""

    def __init__(
        self,
        backend: Backend,
        store: Store,
        *,
        max_concurrency: int = 8,
        max_retries: int = 4,
        parse_retries: int = 2,
        backoff_s: float = 1.0,
        budget: Budget | None = None,
        prices: PriceTable | None = None,
        run_id: str | None = None,
        overrides: dict[str, Backend] | None = None,
        deadline_s: float | None = None,
        breaker: int = 5,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.backend = backend
        self.store = store
        self.max_retries = max_retries
        self.parse_retries = parse_retries
        self.backoff_s = backoff_s
        self.budget = budget or Budget()
        self.prices = prices or PriceTable.load()
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.overrides = dict(overrides or {})
        unknown = set(self.overrides) - set(GROUPS)
        if unknown:
            raise LLMConfigError(
                f"no task group {', '.join(sorted(unknown))}; teachers can be set for {', '.join(GROUPS)}"
            )
        self.deadline_s = deadline_s
        self.breaker = breaker
        self.notify = notify or (lambda _message: None)
        self.stats = RunStats()
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._requests = 0  # holding the semaphore now
        self._inflight: dict[str, asyncio.Lock] = {}
        self._connection_failures: dict[int, int] = {}
        self._tripped: dict[int, str] = {}
        for b in {id(b): b for b in [backend, *self.overrides.values()]}.values():
            if self.budget.max_cost_usd is not None and not b.offline and self.prices.lookup(b.model) is None:
                raise LLMConfigError(
                    f"no price known for model {b.model!r}, so a dollar budget cannot be kept; "
                    "add it with --prices FILE or drop --max-cost"
                )

    @property
    def requests_in_flight(self) -> int:
        """Teacher requests being made now (at most ``max_concurrency``)."""
        return self._requests

    @staticmethod
    def name_of(backend: Backend) -> str:
        return "offline" if backend.offline else f"{backend.name}/{backend.model}"

    @property
    def teacher(self) -> str:
        """The teacher that writes conversations (the ``translate`` group's): conversations, their
        ids and the exports are keyed by it."""
        return self.teacher_for("translate")

    def teacher_for(self, group: str) -> str:
        return self.name_of(self.backend_for_group(group))

    def backend_for_group(self, group: str) -> Backend:
        return self.overrides.get(group, self.backend)

    def backend_for(self, task: str) -> Backend:
        return self.backend_for_group(task_group(task))

    def offline_for(self, group: str) -> bool:
        return self.backend_for_group(group).offline

    @property
    def teachers(self) -> dict[str, str]:
        """Group -> the teacher answering it."""
        return {group: self.teacher_for(group) for group in GROUPS}

    async def run(self, task: Task[O], inputs: dict[str, Any] | BaseModel) -> O:
        """The task's validated answer for ``inputs``; raises :class:`LLMOutputError` after the parse
        retries, :class:`BudgetExceeded` when the budget is spent, :class:`LLMError` on a failed call,
        :class:`TeacherUnavailable` when the teacher cannot answer at all."""
        data = inputs.model_dump(mode="json") if isinstance(inputs, BaseModel) else inputs
        self.stats.by_task[task.name] = self.stats.by_task.get(task.name, 0) + 1
        backend = self.backend_for(task.name)
        if backend.offline:
            return await self._run_offline(backend, task, data)
        while True:
            structured = backend.structured and backend.structured_refused is None
            try:
                return await self._run_remote(backend, task, data, structured)
            except StructuredOutputRefused as exc:
                if backend.structured_refused is None:
                    backend.structured_refused = str(exc)
                    self.stats.fallbacks[self.name_of(backend)] = str(exc)
                    self.notify(
                        f"teacher {self.name_of(backend)} at {backend.endpoint} does not take structured "
                        f"output ({exc}); sending the schema in the prompt instead"
                    )

    async def _run_remote(self, backend: Backend, task: Task[O], data: dict[str, Any], structured: bool) -> O:
        prompt = task.render(data, schema_in_prompt=not structured)
        messages: list[dict[str, str]] = [{"role": "user", "content": prompt.user}]
        errors: list[str] = []
        keys: list[str] = []
        counts = self.stats.task(task.name)
        for _attempt in range(self.parse_retries + 1):
            request: dict[str, Any] = {
                "system": prompt.system,
                "messages": messages,
                "max_tokens": task.max_tokens,
                "temperature": task.temperature,
            }
            if structured:
                request["output_schema"] = task.output_schema()
            keys.append(self._key(backend, task.name, request))
            text = ""  # stays empty when the client refused the answer itself (empty or oversized)
            try:
                text = await self._complete(backend, task.name, request, keys[-1])
                return task.parse(text, data)
            except OutputParseError as exc:
                errors.append(str(exc))
                counts.parse_failures += 1
                self.stats.parse_failures += 1
                shown = text if len(text) <= MAX_ANSWER_CHARS else f"(an answer of {len(text):,} characters)"
                messages = [
                    *messages,
                    {"role": "assistant", "content": shown.strip() or "(an answer that could not be used)"},
                    {"role": "user", "content": feedback(exc)},
                ]
        reason = f"task {task.name}: the answer never validated after {len(errors)} attempts: {errors[-1]}"
        self.store.invalidate_calls(
            keys, f"unusable answer: {reason}"
        )  # a rerun asks again, no junk replayed
        self._log(backend, task.name, {"inputs": data, "attempts": len(errors)}, error=f"failed: {reason}")
        self.stats.failures += 1
        counts.failures += 1
        raise LLMOutputError(reason)

    async def _run_offline(self, backend: Backend, task: Task[O], data: dict[str, Any]) -> O:
        counts = self.stats.task(task.name)
        if not task.log_offline:
            self.stats.calls += 1
            counts.calls += 1
            return task.offline(data)
        request = {"task": task.name, "inputs": data}
        key = self._key(backend, task.name, request)
        cached = self.store.cached_call(key)
        if cached is not None and cached.response is not None:
            self.stats.cache_hits += 1
            counts.cache_hits += 1
            return task.output.model_validate_json(cached.response)
        started = time.perf_counter()
        result = task.offline(data)
        self._log(
            backend,
            task.name,
            request,
            key=key,
            completion=Completion(result.model_dump_json()),
            latency=time.perf_counter() - started,
        )
        self.stats.calls += 1
        counts.calls += 1
        return result

    async def _complete(self, backend: Backend, task: str, request: Request, key: str) -> str:
        lock = self._inflight.setdefault(key, asyncio.Lock())
        try:
            async with lock:  # identical concurrent requests wait for the first, then hit the cache
                cached = self.store.cached_call(key)
                if cached is not None and cached.response is not None:
                    self.stats.cache_hits += 1
                    self.stats.task(task).cache_hits += 1
                    return cached.response
                async with self._semaphore:
                    self._requests += 1
                    try:
                        return await self._call_with_retries(backend, task, request, key)
                    finally:
                        self._requests -= 1
        finally:
            self._inflight.pop(key, None)  # waiters keep their lock object; later callers hit the cache

    def _unavailable(self, backend: Backend, why: str, fix: str) -> TeacherUnavailable:
        message = f"teacher {self.name_of(backend)} at {backend.endpoint} {why}; {fix}"
        self._tripped[id(backend)] = message
        return TeacherUnavailable(message)

    async def _call_with_retries(self, backend: Backend, task: str, request: Request, key: str) -> str:
        counts = self.stats.task(task)
        started_call = time.monotonic()
        for attempt in range(self.max_retries + 1):
            if id(backend) in self._tripped:
                raise TeacherUnavailable(self._tripped[id(backend)])
            self.budget.check()
            self.budget.calls += 1  # reserved before sending, so concurrent runs cannot overspend it
            started = time.perf_counter()
            try:
                completion = await backend.complete(request)
            except TransientLLMError as exc:
                self.budget.calls -= 1
                latency = time.perf_counter() - started
                final = attempt == self.max_retries
                self._log(
                    backend,
                    task,
                    request,
                    key=key,
                    error=f"{'failed' if final else 'retried'}: {exc}",
                    latency=latency,
                )
                if exc.connection:
                    failures = self._connection_failures.get(id(backend), 0) + 1
                    self._connection_failures[id(backend)] = failures
                    if failures >= self.breaker:
                        self.stats.failures += 1
                        counts.failures += 1
                        raise self._unavailable(
                            backend,
                            f"failed {failures} times in a row ({exc})",
                            _connection_fix(backend),
                        ) from None
                    if "no answer within" in str(exc):
                        self.notify(
                            f"teacher {self.name_of(backend)}: {exc} for {task} "
                            f"(attempt {attempt + 1} of {self.max_retries + 1})"
                        )
                delay = exc.retry_after if exc.retry_after is not None else self.backoff_s * 2**attempt
                delay = min(delay, 60.0) * (1 + random.random() / 4)
                over = (
                    self.deadline_s is not None and time.monotonic() - started_call + delay > self.deadline_s
                )
                if final or over:
                    self.stats.failures += 1
                    counts.failures += 1
                    within = f" within the deadline of {self.deadline_s:g} s" if over and not final else ""
                    raise LLMError(
                        f"task {task}: gave up after {attempt + 1} attempts{within}: {exc}"
                    ) from None
                self.stats.retries += 1
                counts.retries += 1
                await asyncio.sleep(delay)
                continue
            except StructuredOutputRefused as exc:
                self.budget.calls -= 1
                self._log(backend, task, request, key=key, error=f"structured output refused: {exc}")
                raise
            except LLMConfigError as exc:
                self.budget.calls -= 1
                self._log(
                    backend,
                    task,
                    request,
                    key=key,
                    error=f"failed: {exc}",
                    latency=time.perf_counter() - started,
                )
                self.stats.failures += 1
                counts.failures += 1
                raise self._unavailable(
                    backend, str(exc).split(";")[0].removeprefix(backend.name + " "), _key_fix(backend)
                ) from None
            except LLMError as exc:
                self.budget.calls -= 1
                self._log(
                    backend,
                    task,
                    request,
                    key=key,
                    error=f"failed: {exc}",
                    latency=time.perf_counter() - started,
                )
                self.stats.failures += 1
                counts.failures += 1
                raise
            self._connection_failures[id(backend)] = 0
            cost = self.prices.cost(backend.model, completion.input_tokens, completion.output_tokens)
            self.budget.cost_usd += cost
            self.stats.calls += 1
            self.stats.input_tokens += completion.input_tokens
            self.stats.output_tokens += completion.output_tokens
            self.stats.cost_usd += cost
            counts.calls += 1
            counts.input_tokens += completion.input_tokens
            counts.output_tokens += completion.output_tokens
            counts.cache_read_tokens += completion.cache_read_tokens
            counts.cost_usd += cost
            text = completion.text
            unusable = None
            if completion.oversized:
                unusable = (
                    f"the answer is more than {completion.oversized:,} bytes long, over the limit of "
                    f"{MAX_ANSWER_CHARS:,} characters"
                )
            elif not text.strip():
                unusable = "the answer is empty"
            elif len(text) > MAX_ANSWER_CHARS:
                unusable = (
                    f"the answer is {len(text):,} characters long, over the limit of {MAX_ANSWER_CHARS:,}"
                )
                completion = Completion(
                    "", completion.input_tokens, completion.output_tokens, completion.cache_read_tokens
                )
            self._log(
                backend,
                task,
                request,
                key=key,
                completion=None if unusable else completion,
                tokens=completion,
                error=f"unusable answer: {unusable}" if unusable else None,
                cost=cost,
                latency=time.perf_counter() - started,
            )
            if unusable:  # never stored as a usable answer; the caller sends it back with feedback
                raise OutputParseError(unusable)
            return text
        raise AssertionError("unreachable")

    def _key(self, backend: Backend, task: str, request: dict[str, Any]) -> str:
        return content_id(backend.name, backend.model, task, request, length=32)

    def _log(
        self,
        backend: Backend,
        task: str,
        request: dict[str, Any],
        *,
        key: str | None = None,
        completion: Completion | None = None,
        tokens: Completion | None = None,
        error: str | None = None,
        cost: float = 0.0,
        latency: float = 0.0,
    ) -> None:
        tokens = tokens or completion
        self.store.log_call(
            LLMCall(
                key=key or content_id("failure", canonical_json(request), length=32),
                task=task,
                backend=backend.name,
                model=backend.model,
                request=request,
                response=completion.text if completion else None,
                input_tokens=tokens.input_tokens if tokens else 0,
                output_tokens=tokens.output_tokens if tokens else 0,
                latency_s=round(latency, 4),
                cost_usd=cost,
                error=error,
                run_id=self.run_id,
            )
        )

    async def aclose(self) -> None:
        for backend in {id(b): b for b in [self.backend, *self.overrides.values()]}.values():
            await backend.aclose()


def _connection_fix(backend: Backend) -> str:
    if backend.name == "openai":
        return (
            "check that the server is running and that OPENAI_BASE_URL points at it, raise "
            "--teacher-timeout for a slow server, or use --teacher offline"
        )
    return "check the network and ANTHROPIC_BASE_URL, raise --teacher-timeout, or use --teacher offline"


def _key_fix(backend: Backend) -> str:
    variable = "OPENAI_API_KEY" if backend.name == "openai" else "ANTHROPIC_API_KEY"
    return f"set {variable} to a valid key for this endpoint, or use --teacher offline"
