"""Backends: ``anthropic``, ``openai`` (any OpenAI-compatible base URL), ``offline`` and ``scripted``.

A backend turns a request ``{"system", "messages", "max_tokens", "temperature"}`` into a
:class:`Completion`. The two remote ones post the provider's JSON through :mod:`graph_toucan.llm.http`,
which maps failures to :class:`TransientLLMError` (retry: 429, 5xx, timeouts, malformed bodies) or
:class:`LLMError` (give up: bad request, auth).

A request may carry ``output_schema`` (``{"name", "schema", "strict"}``): the OpenAI backend sends it
as ``response_format`` ``json_schema`` (vLLM, SGLang, llama.cpp and Ollama decode to it), the
Anthropic backend as a forced tool whose input schema it is. A server that rejects that form (HTTP
400 naming ``response_format``, ``json_schema``, ``tools`` or ``tool_choice``) raises
:class:`StructuredOutputRefused`; the client then sends the prompt-only form from then on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graph_toucan.errors import LLMConfigError, LLMError, TransientLLMError
from graph_toucan.llm.http import JSONEndpoint

Request = dict[str, Any]

DEFAULT_TIMEOUT_S = 120.0


@dataclass
class Completion:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    oversized: int = 0  # bytes of an answer too large to read (its text is then empty)


class Backend:
    name = "base"
    offline = False
    structured = False  # sends a request's output_schema in the provider's structured-output form

    def __init__(self, model: str) -> None:
        self.model = model
        self.structured_refused: str | None = None  # why the server refused it, once it did

    @property
    def endpoint(self) -> str:
        """Where requests go, for messages that must say which teacher failed."""
        return "(local)"

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


class AnthropicBackend(Backend):
    """Claude through the Messages API (``POST /v1/messages``)."""

    name = "anthropic"
    structured = True
    api_version = "2023-06-01"
    # Prompt caching pays once the stable prefix (tool definition and system prompt) reaches the
    # model's minimum cacheable length (1,024 tokens for Sonnet and Opus, about 4 characters each).
    cache_min_chars = 4096

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        super().__init__(model)
        self.timeout = timeout
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise LLMConfigError(
                "the anthropic teacher needs ANTHROPIC_API_KEY; set it, or use --teacher offline"
            )
        base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
        headers = {"x-api-key": key, "anthropic-version": self.api_version}
        self.http = JSONEndpoint("anthropic", base_url, headers, timeout)

    @property
    def endpoint(self) -> str:
        return self.http.base_url + "/"

    async def complete(self, request: Request) -> Completion:
        # The request's temperature is part of the cache key; Claude is sent the API's default.
        schema = request.get("output_schema")
        payload: dict[str, Any] = {
            "model": self.model,
            "system": request["system"],
            "messages": request["messages"],
            "max_tokens": request["max_tokens"],
        }
        prefix = len(request["system"])
        if schema:
            payload["tools"] = [
                {
                    "name": schema["name"],
                    "description": "Give your answer as this tool's input.",
                    "input_schema": schema["schema"],
                }
            ]
            payload["tool_choice"] = {"type": "tool", "name": schema["name"]}
            prefix += len(json.dumps(schema["schema"]))
        if prefix >= self.cache_min_chars:  # tools and system are the stable prefix of a task's requests
            payload["system"] = [
                {"type": "text", "text": request["system"], "cache_control": {"type": "ephemeral"}}
            ]
        answer = await self.http.post("/v1/messages", payload, structured=bool(schema))
        if answer.oversized:
            return Completion("", oversized=answer.oversized)
        try:
            parts = []
            for block in answer.body["content"]:
                kind = block.get("type")
                if kind == "text":
                    parts.append(block["text"])
                elif kind == "tool_use":
                    parts.append(json.dumps(block["input"], ensure_ascii=False))
            usage = answer.body.get("usage") or {}
            return Completion(
                "".join(parts),
                usage.get("input_tokens") or 0,
                usage.get("output_tokens") or 0,
                cache_read_tokens=usage.get("cache_read_input_tokens") or 0,
                cache_write_tokens=usage.get("cache_creation_input_tokens") or 0,
            )
        except (AttributeError, TypeError, KeyError) as exc:  # fields missing from the body
            raise TransientLLMError(
                f"anthropic returned a malformed body: {exc!r} missing or wrong"
            ) from None

    async def aclose(self) -> None:
        await self.http.aclose()


class OpenAIBackend(Backend):
    """OpenAI, or any OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenRouter) via ``base_url``:
    ``POST {base_url}/chat/completions``."""

    name = "openai"
    structured = True

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        super().__init__(model)
        self.timeout = timeout
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        key = api_key or os.environ.get("OPENAI_API_KEY") or ("unused" if base_url else None)
        if not key:
            raise LLMConfigError(
                "the openai teacher needs OPENAI_API_KEY, or OPENAI_BASE_URL set to a local "
                "OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1); or use --teacher offline"
            )
        base_url = base_url or "https://api.openai.com/v1"
        self.http = JSONEndpoint("openai", base_url, {"authorization": f"Bearer {key}"}, timeout)

    @property
    def endpoint(self) -> str:
        return self.http.base_url + "/"

    async def complete(self, request: Request) -> Completion:
        schema = request.get("output_schema")
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": request["system"]}, *request["messages"]],
            "max_tokens": request["max_tokens"],
            "temperature": request["temperature"],
        }
        if schema:
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema["name"],
                    "schema": schema["schema"],
                    "strict": schema["strict"],
                },
            }
        answer = await self.http.post("/chat/completions", payload, structured=bool(schema))
        if answer.oversized:
            return Completion("", oversized=answer.oversized)
        try:
            text = answer.body["choices"][0]["message"].get("content") or ""
            if not isinstance(text, str):
                raise TypeError("message.content is not a string")
            usage = answer.body.get("usage") or {}
            return Completion(text, usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)
        except (AttributeError, TypeError, IndexError, KeyError) as exc:
            raise TransientLLMError(f"openai returned a malformed body: {exc!r} missing or wrong") from None

    async def aclose(self) -> None:
        await self.http.aclose()


def make_backend(
    teacher: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
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
