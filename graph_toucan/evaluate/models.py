"""The model under test: chat with tools over the OpenAI (``tools`` / ``tool_calls``) and Anthropic
(``tool_use`` / ``tool_result``) APIs through their official SDKs, and the dataset's own reference.

Messages are kept in one neutral shape and converted per provider on every request::

    {"role": "user", "content": "..."}
    {"role": "assistant", "content": "...", "tool_calls": [{"id", "name", "arguments"}]}
    {"role": "tool", "tool_call_id": "...", "name": "...", "content": "..."}

Functions are ``{"name", "description", "parameters"}``. Failures map to the teacher layer's classes
(:func:`_sdk_error`, on :func:`graph_toucan.llm.http.status_error`): transient ones (429, 5xx, timeouts) are retried with
backoff, the rest end the conversation's evaluation. Every request counts against a
:class:`~graph_toucan.llm.Budget`, priced by the :class:`~graph_toucan.llm.PriceTable`.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import random
from dataclasses import dataclass, field
from typing import Any

from graph_toucan.errors import LLMConfigError, LLMError, TransientLLMError
from graph_toucan.evaluate.data import EvalConversation
from graph_toucan.llm.client import Budget
from graph_toucan.llm.http import status_error
from graph_toucan.llm.pricing import PriceTable

Message = dict[str, Any]
Function = dict[str, Any]


@dataclass
class ModelCall:
    """A call the model asked for; ``arguments`` is None when its JSON could not be read (``raw``)."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw: str = ""


@dataclass
class ModelReply:
    text: str = ""
    calls: list[ModelCall] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0


def _parse_arguments(raw: Any) -> tuple[dict[str, Any] | None, str]:
    if isinstance(raw, dict):
        return raw, json.dumps(raw, ensure_ascii=False)
    text = raw if isinstance(raw, str) else json.dumps(raw)
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return None, text
    return (value, text) if isinstance(value, dict) else (None, text)


class ChatModel:
    """A model that answers a conversation with text or tool calls."""

    name = "model"
    offline = False

    def __init__(
        self,
        model: str,
        *,
        budget: Budget | None = None,
        prices: PriceTable | None = None,
        system: str | None = None,
        max_tokens: int = 1024,
        max_retries: int = 4,
        backoff_s: float = 1.0,
    ) -> None:
        self.model = model
        self.budget = budget or Budget()
        self.prices = prices or PriceTable.load()
        self.system = system
        self.max_tokens = max_tokens
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.requests = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = 0.0
        if self.budget.max_cost_usd is not None and self.prices.lookup(model) is None:
            raise LLMConfigError(
                f"no price known for model {model!r}, so a dollar budget cannot be kept; "
                "add it with --prices FILE or drop --max-cost"
            )

    @property
    def label(self) -> str:
        return f"{self.name}/{self.model}"

    def session(self, conversation: EvalConversation) -> ChatModel:
        """What answers one conversation (API models are stateless: themselves)."""
        return self

    async def reply(self, messages: list[Message], functions: list[Function]) -> ModelReply:
        """The model's next message, with retries of transient failures, within the budget."""
        for attempt in range(self.max_retries + 1):
            self.budget.check()
            self.budget.calls += 1
            try:
                reply = await self._send(messages, functions)
            except TransientLLMError as exc:
                self.budget.calls -= 1
                if attempt == self.max_retries:
                    raise LLMError(f"{self.label}: gave up after {attempt + 1} attempts: {exc}") from None
                delay = exc.retry_after if exc.retry_after is not None else self.backoff_s * 2**attempt
                await asyncio.sleep(min(delay, 60.0) * (1 + random.random() / 4))
                continue
            except LLMError:
                self.budget.calls -= 1
                raise
            cost = self.prices.cost(self.model, reply.input_tokens, reply.output_tokens)
            self.budget.cost_usd += cost
            self.requests += 1
            self.input_tokens += reply.input_tokens
            self.output_tokens += reply.output_tokens
            self.cost_usd += cost
            return reply
        raise AssertionError("unreachable")

    async def _send(self, messages: list[Message], functions: list[Function]) -> ModelReply:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release network resources."""


class SDKChatModel(ChatModel):
    """A chat model behind a provider's official async SDK client (its own retries off: :meth:`reply`
    retries). Subclasses say how to build the client, the request and the reply; the sending, the
    mapping of the SDK's failures and of malformed bodies are here."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 120.0,
        **options: Any,
    ) -> None:
        sdk = self._sdk()  # a missing SDK fails before anything else
        super().__init__(model, **options)
        self.client = self._client(sdk, api_key, base_url, timeout)

    sdk = ""  # the SDK's module, imported on first use (each is an optional dependency)

    def _sdk(self) -> Any:
        return importlib.import_module(self.sdk)

    def _client(self, sdk: Any, api_key: str | None, base_url: str | None, timeout: float) -> Any:
        raise NotImplementedError

    def _request(self, messages: list[Message], functions: list[Function]) -> dict[str, Any]:
        raise NotImplementedError

    async def _create(self, request: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _reply(self, response: Any) -> ModelReply:
        raise NotImplementedError

    async def _send(self, messages: list[Message], functions: list[Function]) -> ModelReply:
        sdk = self._sdk()
        request = self._request(messages, functions)
        try:
            response = await self._create(request)
        except sdk.APIError as exc:
            raise _sdk_error(exc, self.name) from None
        except ValueError as exc:
            raise TransientLLMError(f"{self.name} returned a malformed body: {exc}") from None
        try:
            return self._reply(response)
        except (AttributeError, TypeError, IndexError) as exc:
            raise TransientLLMError(f"{self.name} returned a malformed body: {exc}") from None

    async def aclose(self) -> None:
        await self.client.close()


class OpenAIChatModel(SDKChatModel):
    """Chat completions with ``tools``: OpenAI or any compatible server (vLLM, Ollama, llama.cpp)."""

    name = sdk = "openai"

    def _client(self, sdk: Any, api_key: str | None, base_url: str | None, timeout: float) -> Any:
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        key = api_key or os.environ.get("OPENAI_API_KEY") or ("unused" if base_url else None)
        if not key:
            raise LLMConfigError(
                "the openai model needs OPENAI_API_KEY, or --base-url (OPENAI_BASE_URL) of a local "
                "OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1"
            )
        return sdk.AsyncOpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=0)

    @staticmethod
    def wire_messages(messages: list[Message], system: str | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
        for m in messages:
            if m["role"] == "tool":
                out.append({"role": "tool", "tool_call_id": m["tool_call_id"], "content": m["content"]})
            elif m["role"] == "assistant" and m.get("tool_calls"):
                out.append(
                    {
                        "role": "assistant",
                        "content": m.get("content") or None,
                        "tool_calls": [
                            {
                                "id": c["id"],
                                "type": "function",
                                "function": {
                                    "name": c["name"],
                                    "arguments": c.get("raw")
                                    or json.dumps(c["arguments"], ensure_ascii=False),
                                },
                            }
                            for c in m["tool_calls"]
                        ],
                    }
                )
            else:
                out.append({"role": m["role"], "content": m.get("content") or ""})
        return out

    def _request(self, messages: list[Message], functions: list[Function]) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": self.wire_messages(messages, self.system),
            "max_tokens": self.max_tokens,
            "temperature": 0,
        }
        if functions:
            request["tools"] = [{"type": "function", "function": f} for f in functions]
        return request

    async def _create(self, request: dict[str, Any]) -> Any:
        return await self.client.chat.completions.create(**request)

    def _reply(self, response: Any) -> ModelReply:
        message = response.choices[0].message
        calls = []
        for i, c in enumerate(message.tool_calls or []):
            arguments, raw = _parse_arguments(c.function.arguments)
            calls.append(ModelCall(c.id or f"call_{i}", c.function.name, arguments, raw))
        usage = response.usage
        return ModelReply(
            message.content or "",
            calls,
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
        )


class AnthropicChatModel(SDKChatModel):
    """The Messages API with ``tools``: ``tool_use`` blocks out, ``tool_result`` blocks back."""

    name = sdk = "anthropic"

    def _client(self, sdk: Any, api_key: str | None, base_url: str | None, timeout: float) -> Any:
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise LLMConfigError("the anthropic model needs ANTHROPIC_API_KEY")
        return sdk.AsyncAnthropic(api_key=key, base_url=base_url, timeout=timeout, max_retries=0)

    @staticmethod
    def wire_messages(messages: list[Message]) -> list[dict[str, Any]]:
        """Neutral messages as Anthropic's: tool results as ``tool_result`` blocks of one user message
        per step, and no empty text block (the API refuses them)."""
        out: list[dict[str, Any]] = []
        for m in messages:
            if m["role"] == "tool":
                block = {"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": m["content"]}
                if out and out[-1]["role"] == "user" and out[-1].get("_results"):
                    out[-1]["content"].append(block)
                else:
                    out.append({"role": "user", "content": [block], "_results": True})
            elif m["role"] == "assistant":
                blocks: list[dict[str, Any]] = []
                if m.get("content"):
                    blocks.append({"type": "text", "text": m["content"]})
                for c in m.get("tool_calls") or []:
                    blocks.append(
                        {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"] or {}}
                    )
                out.append(
                    {"role": "assistant", "content": blocks or [{"type": "text", "text": "(no answer)"}]}
                )
            else:
                out.append({"role": "user", "content": m.get("content") or "(empty)"})
        for m in out:
            m.pop("_results", None)
        return out

    def _request(self, messages: list[Message], functions: list[Function]) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": self.wire_messages(messages),
            "max_tokens": self.max_tokens,
        }
        if self.system:
            request["system"] = self.system
        if functions:
            request["tools"] = [
                {"name": f["name"], "description": f["description"], "input_schema": f["parameters"]}
                for f in functions
            ]
        return request

    async def _create(self, request: dict[str, Any]) -> Any:
        return await self.client.messages.create(**request)

    def _reply(self, response: Any) -> ModelReply:
        text, calls = [], []
        for block in response.content:
            kind = getattr(block, "type", "")
            if kind == "text":
                text.append(block.text)
            elif kind == "tool_use":
                arguments, raw = _parse_arguments(block.input)
                calls.append(ModelCall(block.id, block.name, arguments, raw))
        usage = response.usage
        return ModelReply("".join(text), calls, usage.input_tokens or 0, usage.output_tokens or 0)


def reference_reply(conversation: EvalConversation, messages: list[Message]) -> ModelReply:
    """What the dataset's reference says next: in the turn of the last user message, its next step of
    calls (as many steps as the model side has made), then its answer."""
    turn = sum(1 for m in messages if m["role"] == "user") - 1
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    done = sum(1 for m in messages[last_user:] if m["role"] == "assistant" and m.get("tool_calls"))
    reference = conversation.turns[turn]
    if done < len(reference.steps):
        calls = [
            ModelCall(f"ref_{turn}_{done}_{i}", c.name, dict(c.arguments), json.dumps(c.arguments))
            for i, c in enumerate(reference.steps[done])
        ]
        return ModelReply(calls=calls)
    return ModelReply(text=reference.answer)


class ReferenceModel(ChatModel):
    """The dataset's own calls and answers: the harness's self-check (it must score 100%)."""

    name = "reference"
    offline = True

    def __init__(self, **options: Any) -> None:
        super().__init__("reference", **{k: v for k, v in options.items() if k in ("system",)})

    @property
    def label(self) -> str:
        return "reference"

    def session(self, conversation: EvalConversation) -> ChatModel:
        return _ReferenceSession(self, conversation)


class _ReferenceSession(ChatModel):
    name = "reference"
    offline = True

    def __init__(self, parent: ReferenceModel, conversation: EvalConversation) -> None:
        super().__init__("reference")
        self.parent = parent
        self.conversation = conversation

    async def reply(self, messages: list[Message], functions: list[Function]) -> ModelReply:
        self.parent.requests += 1
        return reference_reply(self.conversation, messages)


def make_model(
    spec: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float = 120.0,
    budget: Budget | None = None,
    prices: PriceTable | None = None,
    system: str | None = None,
    max_tokens: int = 1024,
) -> ChatModel:
    """``reference``, ``openai/MODEL`` or ``anthropic/MODEL``."""
    if spec == "reference":
        return ReferenceModel(system=system)
    provider, _, model = spec.partition("/")
    if provider not in ("openai", "anthropic") or not model:
        raise LLMConfigError(
            f"--model {spec!r}: give reference, openai/MODEL (any OpenAI-compatible server with "
            "--base-url) or anthropic/MODEL, e.g. openai/gpt-4.1 or anthropic/claude-sonnet-4-5"
        )
    options: dict[str, Any] = {"budget": budget, "prices": prices, "system": system, "max_tokens": max_tokens}
    cls = OpenAIChatModel if provider == "openai" else AnthropicChatModel
    return cls(model, api_key=api_key, base_url=base_url, timeout=timeout, **options)


def _sdk_error(exc: Exception, provider: str) -> LLMError:
    """The retry class of an exception of the ``openai`` or ``anthropic`` SDK (both share its shape)."""
    import anthropic
    import openai

    if isinstance(exc, anthropic.APITimeoutError | openai.APITimeoutError):
        return TransientLLMError(f"{provider} request timed out: {exc}", connection=True)
    if isinstance(exc, anthropic.APIResponseValidationError | openai.APIResponseValidationError):
        return TransientLLMError(f"{provider} returned a malformed body: {exc}")
    if isinstance(exc, anthropic.APIConnectionError | openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        return TransientLLMError(f"cannot reach {provider}: {cause or exc}", connection=True)
    response = getattr(exc, "response", None)
    headers = response.headers if response is not None else {}
    return status_error(provider, getattr(exc, "status_code", None) or 0, headers, str(exc))
