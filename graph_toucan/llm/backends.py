"""Backends: ``anthropic``, ``openai`` (any OpenAI-compatible base URL), ``offline`` and ``scripted``.

A backend turns a request ``{"system", "messages", "max_tokens", "temperature"}`` into a
:class:`Completion`, and maps its SDK's failures to :class:`TransientLLMError` (retry: 429, 5xx,
timeouts, malformed bodies) or :class:`LLMError` (give up: bad request, auth).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graph_toucan.errors import LLMConfigError, LLMError, TransientLLMError

Request = dict[str, Any]


@dataclass
class Completion:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0


class Backend:
    name = "base"
    offline = False

    def __init__(self, model: str) -> None:
        self.model = model

    async def complete(self, request: Request) -> Completion:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release network resources."""


class OfflineBackend(Backend):
    """No model at all: :class:`~graph_toucan.llm.client.LLM` calls each task's offline implementation."""

    name = "offline"
    offline = True

    def __init__(self, model: str = "offline") -> None:
        super().__init__(model)


Reply = str | Exception | Callable[[Request], str]


class ScriptedBackend(Backend):
    """For tests: answers from a queue of replies (text, an exception to raise, or a function of the
    request) and records every request it was sent."""

    name = "scripted"

    def __init__(self, replies: list[Reply] | None = None, model: str = "scripted") -> None:
        super().__init__(model)
        self.replies: list[Reply] = list(replies or [])
        self.requests: list[Request] = []

    async def complete(self, request: Request) -> Completion:
        self.requests.append(request)
        if not self.replies:
            raise LLMError("the scripted backend has no reply left; queue more replies in the test")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        text = reply(request) if callable(reply) else reply
        return Completion(text, input_tokens=len(str(request)) // 4, output_tokens=len(text) // 4)


def _status_error(exc: Exception, provider: str) -> LLMError:
    """Map an SDK exception (both SDKs share the same shape) to our retry classes."""
    import anthropic
    import openai

    status = getattr(exc, "status_code", None)
    if isinstance(exc, anthropic.APITimeoutError | openai.APITimeoutError):
        return TransientLLMError(f"{provider} request timed out")
    if isinstance(exc, anthropic.APIResponseValidationError | openai.APIResponseValidationError):
        return TransientLLMError(f"{provider} returned a malformed body: {exc}")
    if isinstance(exc, anthropic.APIConnectionError | openai.APIConnectionError):
        return TransientLLMError(f"cannot reach {provider}: {exc}")
    if status == 429 or (status is not None and status >= 500):
        response = getattr(exc, "response", None)
        retry_after = None
        if response is not None:
            try:
                retry_after = float(response.headers.get("retry-after", ""))
            except ValueError:
                retry_after = None
        return TransientLLMError(f"{provider} answered HTTP {status}", retry_after=retry_after)
    if status in (401, 403):
        return LLMConfigError(
            f"{provider} refused the API key (HTTP {status}); check the key for this backend"
        )
    return LLMError(f"{provider} rejected the request (HTTP {status}): {exc}")


class AnthropicBackend(Backend):
    """Claude through the ``anthropic`` SDK (Messages API)."""

    name = "anthropic"

    def __init__(
        self, model: str, *, api_key: str | None = None, base_url: str | None = None, timeout: float = 120.0
    ) -> None:
        import anthropic

        super().__init__(model)
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise LLMConfigError(
                "the anthropic teacher needs ANTHROPIC_API_KEY; set it, or use --teacher offline"
            )
        self.client = anthropic.AsyncAnthropic(api_key=key, base_url=base_url, timeout=timeout, max_retries=0)

    async def complete(self, request: Request) -> Completion:
        import anthropic

        # The Messages API of the anthropic SDK 2.x takes no temperature; the request keeps it for the cache key.
        try:
            message = await self.client.messages.create(
                model=self.model,
                system=request["system"],
                messages=request["messages"],
                max_tokens=request["max_tokens"],
            )
        except anthropic.APIError as exc:
            raise _status_error(exc, "anthropic") from None
        except ValueError as exc:  # JSON or model validation of a body the SDK could not read
            raise TransientLLMError(f"anthropic returned a malformed body: {exc}") from None
        try:
            text = "".join(block.text for block in message.content if getattr(block, "type", "") == "text")
            return Completion(text, message.usage.input_tokens or 0, message.usage.output_tokens or 0)
        except (AttributeError, TypeError) as exc:  # fields missing from a loosely parsed body
            raise TransientLLMError(f"anthropic returned a malformed body: {exc}") from None

    async def aclose(self) -> None:
        await self.client.close()


class OpenAIBackend(Backend):
    """OpenAI, or any OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenRouter) via ``base_url``."""

    name = "openai"

    def __init__(
        self, model: str, *, api_key: str | None = None, base_url: str | None = None, timeout: float = 120.0
    ) -> None:
        import openai

        super().__init__(model)
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        key = api_key or os.environ.get("OPENAI_API_KEY") or ("unused" if base_url else None)
        if not key:
            raise LLMConfigError(
                "the openai teacher needs OPENAI_API_KEY, or OPENAI_BASE_URL set to a local "
                "OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1); or use --teacher offline"
            )
        self.client = openai.AsyncOpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=0)

    async def complete(self, request: Request) -> Completion:
        import openai

        try:
            response = await self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": request["system"]}, *request["messages"]],
                max_tokens=request["max_tokens"],
                temperature=request["temperature"],
            )
        except openai.APIError as exc:
            raise _status_error(exc, "openai") from None
        except ValueError as exc:
            raise TransientLLMError(f"openai returned a malformed body: {exc}") from None
        try:
            text = response.choices[0].message.content or ""
            usage = response.usage
            return Completion(
                text, usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0
            )
        except (AttributeError, TypeError, IndexError) as exc:
            raise TransientLLMError(f"openai returned a malformed body: {exc}") from None

    async def aclose(self) -> None:
        await self.client.close()


def make_backend(
    teacher: str, *, api_key: str | None = None, base_url: str | None = None, timeout: float = 120.0
) -> Backend:
    """A backend from a teacher name: ``offline``, ``anthropic/MODEL`` or ``openai/MODEL``."""
    provider, _, model = teacher.partition("/")
    if provider == "offline":
        return OfflineBackend()
    if provider == "scripted":
        raise LLMConfigError("the scripted teacher is for tests: build ScriptedBackend([...]) in Python")
    if provider not in ("anthropic", "openai"):
        raise LLMConfigError(
            f"unknown teacher {teacher!r}; use offline, anthropic/MODEL or openai/MODEL "
            "(e.g. anthropic/claude-sonnet-4-5, openai/gpt-4.1)"
        )
    if not model:
        raise LLMConfigError(
            f"teacher {teacher!r} names no model; write it as {provider}/MODEL, "
            "e.g. anthropic/claude-sonnet-4-5 or openai/gpt-4.1"
        )
    if provider == "anthropic":
        return AnthropicBackend(model, api_key=api_key, base_url=base_url, timeout=timeout)
    return OpenAIBackend(model, api_key=api_key, base_url=base_url, timeout=timeout)
