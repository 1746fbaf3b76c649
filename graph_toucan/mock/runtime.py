"""Calling mock tools: argument validation, the sandbox, the value simulator, output validation.

    async with SandboxPool(workers=2) as pool:
        runtime = MockRuntime(pool, DeterministicSimulator(seed=0))
        runtime.add(read_mock_folder(bundled_mock_folder()))
        output = await runtime.call("get_current_weather", {"location": "Boston"}, conversation="c1")

Each mock is published under its tool's name; when two servers have a tool of the same name, both
are published as ``<server slug>__<name>``, and when those servers also share their name, as
``<server slug>_<server id prefix>__<name>``: every mock has a name of its own. A mock can also be
found by tool id (a dictionary lookup: the ids are computed once, when mocks are added) or
``server/tool``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jsonschema.protocols import Validator

from graph_toucan.ids import content_id
from graph_toucan.mock.errors import MockArgumentsError, MockCallError, MockError, MockNotFoundError
from graph_toucan.mock.files import slug
from graph_toucan.mock.sandbox import SandboxPool
from graph_toucan.mock.simulate import Conversations, DeterministicSimulator, Simulator
from graph_toucan.mock.state import apply_effect, missing_reference, produced_kinds
from graph_toucan.records import MockTool
from graph_toucan.schema import schema_problem, schema_validator

__all__ = ["LoadedMock", "MockRuntime", "schema_problem", "schema_validator"]


@dataclass
class LoadedMock:
    """A mock ready to call: its record, published name and schema validators."""

    mock: MockTool
    name: str

    @property
    def ref(self) -> str:
        return self.mock.tool.ref

    @property
    def arguments(self) -> Validator:
        """Made at the first call (schema validators are kept by :func:`schema_validator`)."""
        return schema_validator(self.mock.tool.input_schema)

    @property
    def output(self) -> Validator | None:
        output = self.mock.tool.output_schema
        return schema_validator(output) if output else None


class MockRuntime:
    """The accepted mocks of a workspace or folder, served through one sandbox pool and simulator."""

    def __init__(
        self,
        pool: SandboxPool,
        simulator: Simulator | None = None,
        *,
        conversations: Conversations | None = None,
    ) -> None:
        self.pool = pool
        self.simulator = simulator or DeterministicSimulator()
        self.conversations = conversations or Conversations()
        self._by_tool: dict[str, MockTool] = {}
        self._loaded: dict[str, LoadedMock] = {}
        self._servers: dict[str, list[Any]] = {}  # server id -> its tools
        self._closed: dict[str, set[str]] = {}  # server id -> kinds of id its tools hand out (as used)
        self._ids: dict[str, LoadedMock] = {}  # tool id -> mock
        self._index: dict[str, LoadedMock | None] = {}  # server/tool and tool name -> mock (None: several)

    @property
    def mocks(self) -> dict[str, LoadedMock]:
        """Published name -> mock."""
        return dict(self._loaded)

    def add(self, mocks: Iterable[MockTool]) -> set[str]:
        """Publish accepted mocks (a newer mock of the same tool replaces the old one); returns the
        names that are new or now name something else."""
        before = {name: loaded.mock.id for name, loaded in self._loaded.items()}
        for mock in mocks:
            if mock.status != "accepted":
                raise MockError(f"mock of {mock.tool.ref} is {mock.status}, not accepted: {mock.error}")
            self._by_tool[mock.tool.id] = mock
        self._publish()
        return {name for name, loaded in self._loaded.items() if before.get(name) != loaded.mock.id}

    def _publish(self) -> None:
        """Names and lookup tables, computed once per change (a lookup hashes nothing). A tool name two
        servers share is published as ``<server slug>__<name>``; when the servers also share their
        name, the server id's prefix joins the slug, so every mock has a name of its own."""
        by_id = {tool_id: mock.tool for tool_id, mock in self._by_tool.items()}
        counts: dict[str, int] = {}
        for tool in by_id.values():
            counts[tool.name] = counts.get(tool.name, 0) + 1
        qualified: dict[str, int] = {}
        for tool in by_id.values():
            if counts[tool.name] > 1:
                key = f"{slug(tool.server_name)}__{tool.name}"
                qualified[key] = qualified.get(key, 0) + 1
        old_by_mock = {loaded.mock.id: loaded for loaded in self._loaded.values()}
        loaded: dict[str, LoadedMock] = {}
        ids: dict[str, LoadedMock] = {}
        order = sorted(by_id, key=lambda i: (by_id[i].server_name, by_id[i].name, by_id[i].server_id))
        for tool_id in order:
            mock, tool = self._by_tool[tool_id], by_id[tool_id]
            name = tool.name
            if counts[name] > 1:
                server = slug(tool.server_name) or tool.server_id[:8]
                if qualified[f"{slug(tool.server_name)}__{name}"] > 1:
                    server = f"{server}_{tool.server_id[:8]}"
                name = f"{server}__{name}"
            while name in loaded:  # only if a name itself looks like a qualified one
                name = f"{name}_{tool_id[:6]}"
            mock_id = content_id("mock", tool_id, mock.key)
            old = old_by_mock.get(mock_id)
            if old is not None and old.name == name:
                loaded[name] = ids[tool_id] = old
                continue
            loaded[name] = ids[tool_id] = LoadedMock(mock, name)
        self._loaded = loaded
        index: dict[str, LoadedMock | None] = {}
        for item in loaded.values():  # ref and bare name: ambiguous when two mocks have them
            tool = item.mock.tool
            for ref in {item.ref, tool.name}:
                index[ref] = None if ref in index and index[ref] is not item else item
        self._ids = ids
        self._index = index
        servers: dict[str, list[Any]] = {}
        for tool in by_id.values():
            servers.setdefault(tool.server_id, []).append(tool)
        self._servers, self._closed = servers, {}

    def _produced(self, server_id: str) -> set[str]:
        """The kinds of id a server's tools hand out, worked out the first time a call needs them (a
        catalog has thousands of servers; a run's conversations use a few hundred)."""
        kinds = self._closed.get(server_id)
        if kinds is None:
            kinds = self._closed[server_id] = produced_kinds(self._servers.get(server_id, []))
        return kinds

    def acknowledge(self, conversation: str, values: Iterable[Any]) -> None:
        """Count ``values`` as ids the conversation has seen (the user gave them), so a lookup of
        them is not refused as unknown."""
        store = self.conversations.get(conversation).store
        store.seen.update(str(v) for v in values if isinstance(v, str | int) and not isinstance(v, bool))

    def state(self, conversation: str) -> dict[str, Any]:
        """The conversation's entity store, initial and current (JSON data)."""
        return self.conversations.get(conversation).state()

    def find(self, ref: str) -> LoadedMock:
        """A mock by published name, tool id, ``server/tool``, or tool name when only one has it."""
        found = self._loaded.get(ref) or self._ids.get(ref)
        if found is not None:
            return found
        if ref in self._index:
            found = self._index[ref]
            if found is not None:
                return found
            names = ", ".join(
                sorted(m.name for m in self._loaded.values() if ref in (m.ref, m.mock.tool.name))
            )
            raise MockError(
                f"{ref!r} names several mocks ({names}); use SERVER/TOOL, the published name or the tool id"
            )
        raise MockError(
            f"no mock named {ref!r}; 'graph-toucan mock show' lists them, 'graph-toucan mock build' makes them"
        )

    async def call(
        self,
        ref: str,
        arguments: dict[str, Any],
        *,
        conversation: str = "default",
        validate_arguments: bool = True,
    ) -> Any:
        """Run the mock of ``ref`` on ``arguments`` within ``conversation``; returns its output.

        Raises :class:`MockArgumentsError` for arguments that break the input schema (or that the mock
        rejects), :class:`MockNotFoundError` for an id the conversation never produced (or deleted),
        :class:`MockCallError` when the mock fails or its output breaks the output schema."""
        loaded = self.find(ref)
        if not isinstance(arguments, dict):
            raise MockArgumentsError(f"arguments for {loaded.ref} must be a JSON object")
        if validate_arguments:
            problem = schema_problem(loaded.arguments, arguments)
            if problem is not None:
                raise MockArgumentsError(f"invalid arguments for {loaded.ref}: {problem}")
        tool = loaded.mock.tool
        state = self.conversations.get(conversation)
        missing = missing_reference(state.store, tool, arguments, self._produced(tool.server_id))
        if missing is not None:
            raise MockNotFoundError(f"{loaded.ref}: {missing}")

        async def external(_name: str, external_arguments: dict[str, Any]) -> dict[str, Any]:
            return dict(await self.simulator.values(tool, external_arguments, state))

        output = await self.pool.run(
            loaded.mock.code,
            arguments,
            name=loaded.ref,
            external=external,
            seed=content_id(self.simulator.seed, tool.ref, arguments),
        )
        if loaded.output is not None:
            problem = schema_problem(loaded.output, output)
            if problem is not None:
                raise MockCallError(
                    f"mock {loaded.ref} returned output that breaks its output schema: {problem}",
                    kind="schema",
                )
        async with state.lock:
            apply_effect(state.store, tool, arguments, output, self.simulator.now)
        return output
