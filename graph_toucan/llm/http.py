"""The teachers' HTTP transport: JSON over one aiohttp session per event loop.

The provider SDKs spend 2-3 ms of CPU on every request (typed request transforms, response models,
httpx's connection pool), which at dozens of requests in flight is most of what the pipeline's one
core does. Both chat APIs are plain JSON over HTTPS, so the backends post them here, and this module
maps what can go wrong to the client's retry classes:

- no answer within the timeout, or no connection: :class:`TransientLLMError` with ``connection``;
- 429 and 5xx: :class:`TransientLLMError`, with the server's ``Retry-After``;
- a 2xx body that is not JSON: :class:`TransientLLMError` ("malformed body");
- a 400/404/422 naming the structured-output fields of a request that carried them:
  :class:`StructuredOutputRefused`;
- 401 and 403: :class:`LLMConfigError`; any other status: :class:`LLMError`.

A body is read up to :data:`MAX_BODY_BYTES`; past it, the answer is reported as oversized and the
rest is never held in memory.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from graph_toucan import __version__
from graph_toucan.errors import LLMConfigError, LLMError, StructuredOutputRefused, TransientLLMError
from graph_toucan.llm.task import MAX_ANSWER_CHARS

# JSON escapes (\uXXXX) can make an answer six times longer on the wire; anything past this is
# over the answer limit whatever it holds.
MAX_BODY_BYTES = 6 * MAX_ANSWER_CHARS + (1 << 20)
# Words of a 400 that says the server does not take the structured-output form of the request.
_STRUCTURED_WORDS = re.compile(r"response_format|json_schema|tool_choice|\btools?\b|structured|guided", re.I)
_CHUNK = 1 << 16


@dataclass
class Answer:
    """A 2xx answer: its JSON body, or only its size when it was over :data:`MAX_BODY_BYTES`."""

    body: dict[str, Any]
    oversized: int = 0  # bytes read before giving up, when the body was too large to hold


class JSONEndpoint:
    """POSTs JSON to ``base_url`` for one provider (named in every error) with fixed headers."""

    def __init__(self, provider: str, base_url: str, headers: dict[str, str], timeout: float) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.headers = {
            "content-type": "application/json",
            "user-agent": f"graph-toucan/{__version__}",
            **headers,
        }
        self.timeout = timeout
        self._sessions: dict[int, tuple[asyncio.AbstractEventLoop, Any, Any]] = {}
        import aiohttp  # noqa: F401  (loaded with the backend: a quarter second, not on the first request)

    async def _session(self) -> Any:
        import aiohttp

        loop = asyncio.get_running_loop()
        entry = self._sessions.get(id(loop))
        if entry is None or entry[0] is not loop:
            for key, (other, session, _) in list(self._sessions.items()):
                if other.is_closed():  # a finished asyncio.run: its sockets went with it
                    session.detach()
                    del self._sessions[key]
            # The client's semaphore bounds the requests in flight, so the connector does not.
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            session = aiohttp.ClientSession(connector=connector, timeout=timeout, headers=self.headers)
            closer = _close_at_shutdown(session)
            await closer.__anext__()
            entry = (loop, session, closer)
            self._sessions[id(loop)] = entry
        return entry[1]

    async def post(self, path: str, payload: dict[str, Any], *, structured: bool = False) -> Answer:
        import aiohttp

        data = json.dumps(payload, ensure_ascii=False).encode()
        try:
            async with (await self._session()).post(self.base_url + path, data=data) as response:
                raw, size = await _read_capped(response.content)
                if response.status >= 300:
                    raise status_error(
                        self.provider, response.status, response.headers, _error_message(raw), structured
                    )
        except TimeoutError:
            raise TransientLLMError(
                f"{self.provider} request timed out: no answer within {self.timeout:g} s", connection=True
            ) from None
        except aiohttp.ClientError as exc:
            raise TransientLLMError(f"cannot reach {self.provider}: {exc}", connection=True) from None
        if raw is None:
            return Answer({}, oversized=size)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise TransientLLMError(f"{self.provider} returned a malformed body: {exc}") from None
        if not isinstance(body, dict):
            raise TransientLLMError(f"{self.provider} returned a malformed body: not a JSON object")
        return Answer(body)

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        for key, (other, session, closer) in list(self._sessions.items()):
            if other is loop:
                await closer.aclose()  # closes the session
            else:
                session.detach()
            del self._sessions[key]


def status_error(
    provider: str, status: int, headers: Any, message: str, structured: bool = False
) -> LLMError:
    """The retry class of an HTTP error answer (see the module docstring); ``structured`` when the
    request carried the structured-output form, so a 400 about it is a refusal of that form."""
    if structured and status in (400, 404, 422) and _STRUCTURED_WORDS.search(message):
        return StructuredOutputRefused(f"{provider} refused structured output (HTTP {status}): {message}")
    if status == 429 or status >= 500:
        try:
            retry_after: float | None = float(headers.get("retry-after", ""))
        except ValueError:
            retry_after = None
        return TransientLLMError(f"{provider} answered HTTP {status}: {message}", retry_after=retry_after)
    if status in (401, 403):
        return LLMConfigError(
            f"{provider} refused the API key (HTTP {status}); check the key for this backend"
        )
    return LLMError(f"{provider} rejected the request (HTTP {status}): {message}")


async def _close_at_shutdown(session: Any) -> AsyncIterator[None]:
    """Started once per session: the loop's shutdown (``asyncio.run`` and ``anyio.run`` finalize
    every live async generator) closes the session, whoever forgot to call :meth:`aclose`."""
    try:
        yield
    finally:
        await session.close()


async def _read_capped(stream: Any) -> tuple[bytes | None, int]:
    """The body, or ``None`` and the bytes read once it passes :data:`MAX_BODY_BYTES`."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None, size
        chunks.append(chunk)
    return b"".join(chunks), size


def _error_message(raw: bytes | None) -> str:
    """What an error body says: ``error.message`` of either provider, else the text, cut short."""
    if raw is None:
        return "(an oversized error body)"
    text = raw.decode(errors="replace")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        return text[:500] or "(no body)"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"][:500]
    return text[:500]
