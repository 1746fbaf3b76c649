"""Calling mock tools: argument validation, the sandbox, the value simulator, output validation.

    async with SandboxPool(workers=2) as pool:
        runtime = MockRuntime(pool, DeterministicSimulator(seed=0))
        runtime.add(read_mock_folder(bundled_mock_folder()))
        output = await runtime.call("get_current_weather", {"location": "Boston"}, conversation="c1")

Each mock is published under its tool's name; when two servers have a tool of the same name, both
are published as ``<server slug>__<name>``. A mock can also be found by ``server/tool`` or tool id.
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
    arguments: Validator
    output: Validator | None

    @property
    def ref(self) -> str:
        return self.mock.tool.ref


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
        self._closed: dict[str, set[str]] = {}  # server id -> kinds of id its tools hand out

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
        counts: dict[str, int] = {}
        for mock in self._by_tool.values():
            counts[mock.tool.name] = counts.get(mock.tool.name, 0) + 1
        loaded: dict[str, LoadedMock] = {}
        for mock in sorted(self._by_tool.values(), key=lambda m: (m.tool.server_name, m.tool.name)):
            name = mock.tool.name
            if counts[name] > 1:
                name = f"{slug(mock.tool.server_name) or mock.tool.server_id[:8]}__{name}"
            while name in loaded:  # two servers of the same name: the tool id tells them apart
                name = f"{name}_{mock.tool.id[:6]}"
            old = self._loaded.get(name)
            if old is not None and old.mock.id == mock.id:
                loaded[name] = old
                continue
            output = mock.tool.output_schema
            loaded[name] = LoadedMock(
                mock,
                name,
                schema_validator(mock.tool.input_schema),
                schema_validator(output) if output else None,
            )
        self._loaded = loaded
        servers: dict[str, list[Any]] = {}
        for mock in self._by_tool.values():
            servers.setdefault(mock.tool.server_id, []).append(mock.tool)
        self._closed = {server: produced_kinds(tools) for server, tools in servers.items()}

    def acknowledge(self, conversation: str, values: Iterable[Any]) -> None:
        """Count ``values`` as ids the conversation has seen (the user gave them), so a lookup of
        them is not refused as unknown."""
        store = self.conversations.get(conversation).store
        store.seen.update(str(v) for v in values if isinstance(v, str | int) and not isinstance(v, bool))

    def state(self, conversation: str) -> dict[str, Any]:
        """The conversation's entity store, initial and current (JSON data)."""
        return self.conversations.get(conversation).state()

    def find(self, ref: str) -> LoadedMock:
        """A mock by published name, ``server/tool``, tool id, or tool name when only one has it."""
        if ref in self._loaded:
            return self._loaded[ref]
        matches = [
            m for m in self._loaded.values() if ref in (m.ref, m.mock.tool.id) or m.mock.tool.name == ref
        ]
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(sorted(m.ref for m in matches))
            raise MockError(f"{ref!r} names several mocks ({names}); use SERVER/TOOL")
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
        missing = missing_reference(state.store, tool, arguments, self._closed.get(tool.server_id, set()))
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
