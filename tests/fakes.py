"""A fake LLM provider on 127.0.0.1 speaking the Anthropic Messages and OpenAI chat-completions wire formats.

Tests queue scripted actions (:class:`Reply`, :class:`HTTPFailure`, :class:`Malformed`, :class:`Hang`); each
request takes the next one. Every request is recorded (path, headers, JSON body), and the number of requests
being handled at once is tracked so a test can check the client's concurrency limit.

Structured output is served as the providers do: an OpenAI ``response_format`` answer is the reply's
text as the message content; an Anthropic request that forces a tool (``tool_choice`` ``{"type": "tool"}``)
gets the reply's JSON as that tool's ``tool_use`` input (text that is not a JSON object comes back as a
text block, as a model that ignores the tool would answer). With ``refuse_structured`` set, the server
answers such requests with the 400 a server without the feature gives.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graph_toucan.evaluate.data import EvalConversation

ANTHROPIC_PATH = "/v1/messages"
OPENAI_PATH = "/v1/chat/completions"


@dataclass
class Reply:
    """A 200 answer whose assistant text is ``text``, with these token counts in the usage block, and the
    tool calls ``(name, arguments)`` in ``tool_calls`` (OpenAI ``tool_calls``, Anthropic ``tool_use``)."""

    text: str
    input_tokens: int = 100
    output_tokens: int = 20
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class HTTPFailure:
    """An HTTP error in the provider's error shape; 429 carries ``retry-after``."""

    status: int
    message: str = "scripted failure"
    retry_after: str | None = None


@dataclass
class Malformed:
    """A 200 with ``Content-Type: application/json`` and a body that is not JSON."""

    body: str = '{"choices": ['


@dataclass
class Hang:
    """Answer nothing for ``seconds`` (longer than the client timeout), then drop the connection."""

    seconds: float = 5.0


Action = Reply | HTTPFailure | Malformed | Hang
Script = Action | Callable[[dict[str, Any]], Action]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def system(self) -> str:
        """The system prompt, in either wire format."""
        if self.path == ANTHROPIC_PATH:
            return self.body["system"]
        return self.body["messages"][0]["content"]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation without the system prompt, in either wire format."""
        if self.path == ANTHROPIC_PATH:
            return self.body["messages"]
        return self.body["messages"][1:]


@dataclass
class FakeLLMServer:
    """State shared with the handler threads; start it with :func:`fake_llm_server`."""

    actions: list[Script] = field(default_factory=list)
    default: Script | None = None  # used when the queue is empty; else the server answers 400
    refuse_structured: bool = False  # answer 400 to response_format and tools, as an older server does
    delay_s: float = 0.0  # sleep before every answer (for concurrency tests)
    requests: list[Recorded] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *actions: Script) -> None:
        with self.lock:
            self.actions.extend(actions)

    def _next(self, body: dict[str, Any]) -> Action | None:
        with self.lock:
            action = self.actions.pop(0) if self.actions else self.default
        return action(body) if callable(action) else action


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_unparsed": raw.decode(errors="replace")}
        with fake.lock:
            fake.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        try:
            self._answer(fake, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing to answer
        finally:
            with fake.lock:
                fake.in_flight -= 1

    def _answer(self, fake: FakeLLMServer, body: dict[str, Any]) -> None:
        if self.path not in (ANTHROPIC_PATH, OPENAI_PATH):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        if fake.delay_s:
            time.sleep(fake.delay_s)
        anthropic = self.path == ANTHROPIC_PATH
        if fake.refuse_structured and (body.get("response_format") or body.get("tools")):
            field = "tools" if anthropic else "response_format"
            self._send(400, _error(anthropic, 400, f"{field}: this server does not support {field}"))
            return
        action = fake._next(body)
        if action is None:
            self._send(400, _error(anthropic, 400, "the fake server has no scripted action left"))
        elif isinstance(action, Reply):
            self._send(200, _anthropic_reply(body, action) if anthropic else _openai_reply(body, action))
        elif isinstance(action, HTTPFailure):
            headers = {"retry-after": action.retry_after} if action.retry_after is not None else {}
            self._send(action.status, _error(anthropic, action.status, action.message), headers)
        elif isinstance(action, Malformed):
            self._send_raw(200, action.body.encode())
        elif isinstance(action, Hang):
            fake.stopping.wait(action.seconds)
            self.close_connection = True
        else:
            raise TypeError(f"unknown fake action {action!r}")

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode(), headers)

    def _send_raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the listen backlog: the default 5 drops connections of a concurrent client
    fake: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a cancelled request) is not an error of the server's."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _call_ids(reply: Reply) -> list[str]:
    stamp = time.monotonic_ns()
    return [f"call_{stamp}_{i}" for i in range(len(reply.tool_calls))]


def _anthropic_reply(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    uses = [
        {"type": "tool_use", "id": i, "name": name, "input": arguments}
        for i, (name, arguments) in zip(_call_ids(reply), reply.tool_calls, strict=True)
    ]
    content: list[dict[str, Any]] = (
        [{"type": "text", "text": reply.text}] if reply.text or not uses else []
    ) + uses
    forced = (body.get("tool_choice") or {}).get("type") == "tool"
    if forced and not uses:  # structured output: the answer is the forced tool's input
        try:
            value = json.loads(reply.text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            name = body["tool_choice"]["name"]
            content = [
                {"type": "tool_use", "id": f"toolu_{time.monotonic_ns()}", "name": name, "input": value}
            ]
    return {
        "id": f"msg_fake{time.monotonic_ns()}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "unknown"),
        "content": content,
        "stop_reason": "tool_use" if any(c["type"] == "tool_use" for c in content) else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
    }


def _openai_reply(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    calls = [
        {"id": i, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
        for i, (name, arguments) in zip(_call_ids(reply), reply.tool_calls, strict=True)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": f"chatcmpl-fake{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "unknown"),
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
        },
    }


def _error(anthropic: bool, status: int, message: str) -> dict[str, Any]:
    if anthropic:
        kind = {400: "invalid_request_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(
            status, "api_error"
        )
        return {"type": "error", "error": {"type": kind, "message": message}}
    kind = {400: "invalid_request_error", 429: "rate_limit_exceeded"}.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


@contextmanager
def fake_llm_server() -> Iterator[FakeLLMServer]:
    """Serve a :class:`FakeLLMServer` on a free port of 127.0.0.1 for the duration of the block."""
    fake = FakeLLMServer()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.stopping.set()  # wakes any Hang
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class PromptBook:
    """Remembers the task and inputs of every prompt rendered while it is installed, so a fake teacher
    (a scripted backend or the fake HTTP server) can answer a prompt as the offline teacher would, or
    corrupt that answer on purpose. Only the *model* is faked: the LLM client, the backends' wire code
    and everything that consumes the answers run for real."""

    def __init__(self) -> None:
        from graph_toucan.llm.task import Task

        self._task_cls = Task
        self._original = Task.render
        self.prompts: dict[str, tuple[str, dict[str, Any]]] = {}
        self.lock = threading.Lock()

    def install(self) -> PromptBook:
        book, original = self, self._original

        def render(task: Any, inputs: dict[str, Any], **options: Any) -> Any:
            prompt = original(task, inputs, **options)
            with book.lock:
                book.prompts[prompt.user] = (task.name, inputs)
            return prompt

        self._task_cls.render = render  # type: ignore[method-assign]
        return self

    def uninstall(self) -> None:
        self._task_cls.render = self._original  # type: ignore[method-assign]

    def lookup(self, prompt: str) -> tuple[str, dict[str, Any]]:
        with self.lock:
            return self.prompts[prompt]

    def offline_answer(self, prompt: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """(task name, inputs, the offline teacher's answer as JSON-ready data)."""
        from graph_toucan.llm.task import TASKS

        name, inputs = self.lookup(prompt)
        return name, inputs, TASKS[name].offline(inputs).model_dump(mode="json")


def first_user_prompt(body: dict[str, Any]) -> str:
    """The task prompt of a request in the scripted backend's, Anthropic's or OpenAI's shape."""
    messages = [m for m in body["messages"] if m["role"] == "user"]
    content = messages[0]["content"]
    return content if isinstance(content, str) else content[0]["text"]


# -- a model under test that knows the answers (graph-toucan eval) ---------------------------------------


def offered_at(conversation: EvalConversation, k: int) -> frozenset[str]:
    """The functions a conversation of an eval offers in turn ``k`` (0-based)."""
    names = {f["name"] for f in conversation.functions}
    for turn in conversation.turns[: k + 1]:
        names |= {f["name"] for f in turn.introduced}
    return frozenset(names)


class ReferenceReplies:
    """A fake model behind the fake server: finds the conversation and turn a request is in (by the user
    messages so far and the tools offered) and answers with the reference's next step, or its answer;
    ``changed`` maps (conversation id, turn) to a replacement step list."""

    def __init__(self, conversations: list[EvalConversation], anthropic: bool) -> None:
        self.anthropic = anthropic
        self.index: dict[tuple[tuple[str, ...], frozenset[str]], list[tuple[EvalConversation, int]]] = {}
        for c in conversations:
            for k in range(len(c.turns)):
                key = (tuple(t.user for t in c.turns[: k + 1]), offered_at(c, k))
                self.index.setdefault(key, []).append((c, k))
        for alike in self.index.values():  # a refusal variant repeats its source's turns before the split
            assert (
                len(
                    {
                        json.dumps([[(x.name, x.arguments) for x in s] for s in c.turns[k].steps])
                        for c, k in alike
                    }
                )
                == 1
            )

        self.changed: dict[tuple[str, int], list[list[tuple[str, dict[str, Any]]]]] = {}

    def __call__(self, body: dict[str, Any]) -> Reply:
        messages = body["messages"]
        users = [i for i, m in enumerate(messages) if m["role"] == "user" and isinstance(m["content"], str)]
        tools = frozenset(
            t["name"] if self.anthropic else t["function"]["name"] for t in body.get("tools", [])
        )
        conversation, k = self.index[(tuple(messages[i]["content"] for i in users), tools)][0]
        after = messages[users[-1] :]
        if self.anthropic:
            done = sum(
                1
                for m in after
                if m["role"] == "assistant" and any(b["type"] == "tool_use" for b in m["content"])
            )
        else:
            done = sum(1 for m in after if m["role"] == "assistant" and m.get("tool_calls"))
        steps = self.changed.get(
            (conversation.id, k), [[(c.name, c.arguments) for c in s] for s in conversation.turns[k].steps]
        )
        if done < len(steps):
            return Reply("", tool_calls=steps[done])
        return Reply(conversation.turns[k].answer or "Done.")
