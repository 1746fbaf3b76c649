"""The mock-tool MCP server: every accepted mock, under its original name and schemas (FastMCP 4.1.2).

A thin wrapper over :class:`graph_toucan.mock.runtime.MockRuntime`: each published mock becomes an
MCP tool with the tool's input schema exactly as in the catalog (``$ref`` and all: schemas are not
dereferenced) and its inferred output schema; a call is validated with ``jsonschema``, run in the
sandbox pool, and answered with structured content. A failing call is an MCP tool error whose text
says what went wrong (an id the conversation never produced is a "not found" tool error).

State (the answers and the entity store of :mod:`graph_toucan.mock.state`) is kept per
conversation: ``_meta["graph-toucan/conversation"]`` on a call names it; without it, a
handshake-era MCP session is its own conversation, and stateless (2026-07-28) requests share
``default``. :func:`row_names` serves a dataset row's tools under the names the row uses (and
:func:`row_state` gives the state every session of it starts from).

When mocks are added (:func:`publish`, or :func:`watch` polling a source), connected handshake-era
sessions get ``notifications/tools/list_changed``. FastMCP 4.1.2 has no ``subscriptions/listen``,
so clients on the stateless 2026-07-28 protocol are not notified and should list tools again.

Started by ``graph-toucan serve-mocks`` (stdio or streamable HTTP); loaded by path, so this file
works from a checkout and from the wheel (``graph_toucan/_data/server/``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
import mcp_types
from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.server.dependencies import fastmcp_request_ctx, get_context
from fastmcp.server.middleware import Middleware, MiddlewareContext
from fastmcp.tools.base import Tool, ToolResult

from graph_toucan.mock.errors import MockError
from graph_toucan.mock.runtime import LoadedMock, MockRuntime
from graph_toucan.records import MockTool

CONVERSATION_META = "graph-toucan/conversation"
MODERN_PROTOCOL = "2026-07-28"
_MAX_SESSIONS = 256


class MockMCPTool(Tool):
    """One published mock as an MCP tool (``target``: the runtime's name for it, when served under
    another)."""

    runtime: Any = None
    target: str | None = None

    async def run(self, arguments: dict[str, Any]) -> ToolResult:
        context = fastmcp_request_ctx.get()
        meta = context.meta if context is not None and context.meta else {}
        conversation = str(meta.get(CONVERSATION_META) or "")
        if not conversation and context is not None and context.protocol_version < MODERN_PROTOCOL:
            conversation = f"session:{get_context().session_id}"
        try:
            output = await self.runtime.call(
                self.target or self.name, arguments, conversation=conversation or "default"
            )
        except MockError as exc:
            raise ToolError(str(exc)) from None
        structured = output if isinstance(output, dict) else {"result": output}
        return ToolResult(
            content=[mcp_types.TextContent(type="text", text=json.dumps(output, ensure_ascii=False))],
            structured_content=structured,
        )


def _component(loaded: LoadedMock, runtime: MockRuntime, served: str | None = None) -> MockMCPTool:
    tool = loaded.mock.tool
    return MockMCPTool(
        name=served or loaded.name,
        target=loaded.name,
        title=tool.name,
        description=tool.description or f"{tool.name} of {tool.server_name} (mock)",
        parameters=tool.input_schema,
        output_schema=tool.output_schema,
        tags={tool.tool_class or "query", *tool.tags},
        meta={"graph-toucan": {"server": tool.server_name, "tool": tool.name, "class": tool.tool_class}},
        runtime=runtime,
    )


class _Sessions(Middleware):
    """Remembers handshake-era sessions (stable across requests) so list changes can reach them."""

    def __init__(self) -> None:
        self.sessions: dict[str, Any] = {}

    async def on_request(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        request = fastmcp_request_ctx.get()
        fast = context.fastmcp_context
        if request is not None and fast is not None and request.protocol_version < MODERN_PROTOCOL:
            key = fast.session_id
            self.sessions.pop(key, None)
            self.sessions[key] = request.session
            while len(self.sessions) > _MAX_SESSIONS:
                self.sessions.pop(next(iter(self.sessions)))
        return await call_next(context)

    async def notify(self) -> int:
        """Send tools/list_changed to every remembered session; forget those that are gone."""
        sent = 0
        for key, session in list(self.sessions.items()):
            try:
                await session.send_notification(mcp_types.ToolListChangedNotification())
                sent += 1
            except Exception:  # a closed session: drop it
                self.sessions.pop(key, None)
        return sent


class MockServer:
    """The FastMCP app and what keeps it in step with the runtime's mocks."""

    def __init__(
        self, runtime: MockRuntime, *, name: str = "graph-toucan-mocks", names: dict[str, str] | None = None
    ) -> None:
        self.runtime = runtime
        self.names = names  # served name -> the runtime's name, when serving a dataset row
        self.sessions = _Sessions()
        self.app = FastMCP(
            name,
            instructions="Mock tools generated by graph-toucan: consistent simulated answers, offline.",
            dereference_schemas=False,
            middleware=[self.sessions],
            on_duplicate="replace",
        )
        self._published: dict[str, str] = {}
        self._sync()

    def _sync(self) -> bool:
        """Make the app's tools match the runtime's published mocks; True when anything changed."""
        mocks = self.runtime.mocks
        served = self.names or {name: name for name in mocks}
        wanted = {name: mocks[target].mock.id for name, target in served.items() if target in mocks}
        changed = False
        for name in set(self._published) - set(wanted):
            self.app.local_provider.remove_tool(name)
            changed = True
        for name, target in served.items():
            if target in mocks and self._published.get(name) != mocks[target].mock.id:
                self.app.add_tool(_component(mocks[target], self.runtime, name))
                changed = True
        self._published = wanted
        return changed

    async def publish(self, mocks: Iterable[MockTool]) -> bool:
        """Add mocks (new or newer versions); notify sessions when the tool list changed."""
        self.runtime.add(mocks)
        changed = self._sync()
        if changed:
            await self.sessions.notify()
        return changed

    async def watch(self, source: Callable[[], Awaitable[list[MockTool]]], every: float) -> None:
        """Poll ``source`` for accepted mocks every ``every`` seconds and publish what is new."""
        while True:
            await anyio.sleep(every)
            known = {loaded.mock.id for loaded in self.runtime.mocks.values()}
            fresh = [m for m in await source() if m.status == "accepted" and m.id not in known]
            if fresh:
                await self.publish(fresh)


def create_server(
    runtime: MockRuntime, *, name: str = "graph-toucan-mocks", names: dict[str, str] | None = None
) -> MockServer:
    """The mock server over ``runtime`` (whose pool the caller starts and closes); ``names`` (from
    :func:`row_names`) serves only those tools, under those names."""
    return MockServer(runtime, name=name, names=names)


def row_functions(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The function definitions of an exported row (openai, sharegpt or hermes ``tools``)."""
    tools = row.get("tools")
    if isinstance(tools, str):
        tools = json.loads(tools)
    if not isinstance(tools, list):
        raise MockError(
            "the row has no 'tools' list; give a row of a graph-toucan export (openai or sharegpt)"
        )
    found = []
    for entry in tools:
        function = entry.get("function", entry) if isinstance(entry, dict) else {}
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise MockError(f"a tool of the row has no function name: {json.dumps(entry)[:200]}")
        found.append(function)
    return found


def row_state(row: dict[str, Any]) -> dict[str, Any] | None:
    """The mock entity store a dataset row's conversation started from (its ``mock_state``), if any."""
    state = row.get("mock_state")
    state = json.loads(state) if isinstance(state, str) else state
    return state.get("initial") if isinstance(state, dict) else None


def row_names(row: dict[str, Any], runtime: MockRuntime) -> dict[str, str]:
    """Served name -> the runtime's mock name, for every function of ``row``: by its ``tool_refs``
    (every function the conversation offers, those a miss-func turn adds later included), else matched
    by description and parameters, else by name. Raises :class:`MockError` naming what has no mock."""
    mocks = runtime.mocks
    names: dict[str, str] = {}
    missing = []
    for ref in row.get("tool_refs") or []:
        try:
            names[ref["name"]] = runtime.find(ref.get("tool_id") or ref["tool"]).name
        except MockError:
            try:
                names[ref["name"]] = runtime.find(ref["tool"]).name
            except MockError:
                missing.append(ref["name"])
    for function in [] if names or missing else row_functions(row):
        name = function["name"]
        schema = function.get("parameters") or function.get("input_schema") or {}
        same = [
            n
            for n, m in mocks.items()
            if m.mock.tool.input_schema == schema
            and (m.mock.tool.description or "") == (function.get("description") or "")
        ]
        if len(same) != 1:
            same = [n for n, m in mocks.items() if name in (n, m.mock.tool.name) or n.endswith(f"__{name}")]
        if len(same) == 1:
            names[name] = same[0]
        else:
            missing.append(name)
    if missing:
        raise MockError(
            f"no mock for the row's function(s) {', '.join(missing)}; serve the mocks of the workspace "
            "that made the dataset (--dir <workspace>/mock_tools)"
        )
    return names
