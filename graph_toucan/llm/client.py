"""``await llm.run(task, inputs)``: cache, budget, bounded concurrency, retries and the call log."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from graph_toucan.errors import BudgetExceeded, LLMConfigError, LLMError, LLMOutputError, TransientLLMError
from graph_toucan.ids import canonical_json, content_id
from graph_toucan.llm.backends import Backend, Completion, Request
from graph_toucan.llm.pricing import PriceTable
from graph_toucan.llm.task import OutputParseError, Task, feedback
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
class RunStats:
    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    by_task: dict[str, int] = field(default_factory=dict)


class LLM:
    """The one door to a teacher. Every request is logged in ``store``; identical requests are
    answered from that log, so reruns are free and a crash loses nothing."""

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
    ) -> None:
        self.backend = backend
        self.store = store
        self.max_retries = max_retries
        self.parse_retries = parse_retries
        self.backoff_s = backoff_s
        self.budget = budget or Budget()
        self.prices = prices or PriceTable.load()
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.stats = RunStats()
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._inflight: dict[str, asyncio.Lock] = {}
        if (
            self.budget.max_cost_usd is not None
            and not backend.offline
            and self.prices.lookup(backend.model) is None
        ):
            raise LLMConfigError(
                f"no price known for model {backend.model!r}, so a dollar budget cannot be kept; "
                "add it with --prices FILE or drop --max-cost"
            )

    @property
    def teacher(self) -> str:
        return "offline" if self.backend.offline else f"{self.backend.name}/{self.backend.model}"

    async def run(self, task: Task[O], inputs: dict[str, Any] | BaseModel) -> O:
        """The task's validated answer for ``inputs``; raises :class:`LLMOutputError` after the parse
        retries, :class:`BudgetExceeded` when the budget is spent, :class:`LLMError` on a failed call."""
        data = inputs.model_dump(mode="json") if isinstance(inputs, BaseModel) else inputs
        self.stats.by_task[task.name] = self.stats.by_task.get(task.name, 0) + 1
        if self.backend.offline:
            return await self._run_offline(task, data)
        prompt = task.render(data)
        messages: list[dict[str, str]] = [{"role": "user", "content": prompt.user}]
        errors: list[str] = []
        keys: list[str] = []
        for _attempt in range(self.parse_retries + 1):
            request = {
                "system": prompt.system,
                "messages": messages,
                "max_tokens": task.max_tokens,
                "temperature": task.temperature,
            }
            keys.append(self._key(task.name, request))
            text = await self._complete(task.name, request)
            try:
                return task.parse(text, data)
            except OutputParseError as exc:
                errors.append(str(exc))
                messages = [
                    *messages,
                    {"role": "assistant", "content": text},
                    {"role": "user", "content": feedback(exc)},
                ]
        reason = f"task {task.name}: the answer never validated after {len(errors)} attempts: {errors[-1]}"
        self.store.invalidate_calls(keys, reason)  # a rerun asks the model again instead of replaying junk
        self._log(task.name, {"inputs": data, "attempts": len(errors)}, error=reason)
        self.stats.failures += 1
        raise LLMOutputError(reason)

    async def _run_offline(self, task: Task[O], data: dict[str, Any]) -> O:
        if not task.log_offline:
            self.stats.calls += 1
            return task.offline(data)
        request = {"task": task.name, "inputs": data}
        key = self._key(task.name, request)
        cached = self.store.cached_call(key)
        if cached is not None and cached.response is not None:
            self.stats.cache_hits += 1
            return task.output.model_validate_json(cached.response)
        started = time.perf_counter()
        result = task.offline(data)
        self._log(
            task.name,
            request,
            key=key,
            completion=Completion(result.model_dump_json()),
            latency=time.perf_counter() - started,
        )
        self.stats.calls += 1
        return result

    async def _complete(self, task: str, request: Request) -> str:
        key = self._key(task, request)
        lock = self._inflight.setdefault(key, asyncio.Lock())
        try:
            async with lock:  # identical concurrent requests wait for the first, then hit the cache
                cached = self.store.cached_call(key)
                if cached is not None and cached.response is not None:
                    self.stats.cache_hits += 1
                    return cached.response
                async with self._semaphore:
                    return await self._call_with_retries(task, request, key)
        finally:
            self._inflight.pop(key, None)  # waiters keep their lock object; later callers hit the cache

    async def _call_with_retries(self, task: str, request: Request, key: str) -> str:
        for attempt in range(self.max_retries + 1):
            self.budget.check()
            self.budget.calls += 1  # reserved before sending, so concurrent runs cannot overspend it
            started = time.perf_counter()
            try:
                completion = await self.backend.complete(request)
            except TransientLLMError as exc:
                self.budget.calls -= 1
                self._log(task, request, key=key, error=str(exc), latency=time.perf_counter() - started)
                if attempt == self.max_retries:
                    self.stats.failures += 1
                    raise LLMError(f"task {task}: gave up after {attempt + 1} attempts: {exc}") from None
                self.stats.retries += 1
                delay = exc.retry_after if exc.retry_after is not None else self.backoff_s * 2**attempt
                await asyncio.sleep(min(delay, 60.0) * (1 + random.random() / 4))
                continue
            except LLMError as exc:
                self.budget.calls -= 1
                self._log(task, request, key=key, error=str(exc), latency=time.perf_counter() - started)
                self.stats.failures += 1
                raise
            cost = self.prices.cost(self.backend.model, completion.input_tokens, completion.output_tokens)
            self.budget.cost_usd += cost
            self.stats.calls += 1
            self.stats.input_tokens += completion.input_tokens
            self.stats.output_tokens += completion.output_tokens
            self.stats.cost_usd += cost
            self._log(
                task,
                request,
                key=key,
                completion=completion,
                cost=cost,
                latency=time.perf_counter() - started,
            )
            return completion.text
        raise AssertionError("unreachable")

    def _key(self, task: str, request: dict[str, Any]) -> str:
        return content_id(self.backend.name, self.backend.model, task, request, length=32)

    def _log(
        self,
        task: str,
        request: dict[str, Any],
        *,
        key: str | None = None,
        completion: Completion | None = None,
        error: str | None = None,
        cost: float = 0.0,
        latency: float = 0.0,
    ) -> None:
        self.store.log_call(
            LLMCall(
                key=key or content_id("failure", canonical_json(request), length=32),
                task=task,
                backend=self.backend.name,
                model=self.backend.model,
                request=request,
                response=completion.text if completion else None,
                input_tokens=completion.input_tokens if completion else 0,
                output_tokens=completion.output_tokens if completion else 0,
                latency_s=round(latency, 4),
                cost_usd=cost,
                error=error,
                run_id=self.run_id,
            )
        )

    async def aclose(self) -> None:
        await self.backend.aclose()
