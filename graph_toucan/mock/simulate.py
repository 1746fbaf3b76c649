"""Value simulators: what ``call_external_api`` returns inside a running mock.

Two simulators share one contract: flat values for a tool's flat keys, consistent with the call's
arguments and with what the same conversation already returned.

- :class:`DeterministicSimulator`: :func:`~graph_toucan.mock.values.generate_values`, seeded by the
  simulator's seed, the tool and the arguments.
- :class:`TeacherSimulator`: the teacher LLM (task ``mock_values``), shown the conversation's
  earlier external calls; keys it leaves out or gets the type wrong are filled by the generator.

Per conversation (:class:`Conversation`, keyed by an id): the same call returns the same answer,
an id returned earlier keeps its attributes (asking about ``hotel_7f3a`` again, or seeing it in
a later list, gives the same name and price as the first time), and the entity store
(:mod:`graph_toucan.mock.state`) shows what the conversation's action tools wrote. Every answer
also carries ``_now``, the simulated world's current time, which time tools compute from.
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from graph_toucan.ids import canonical_json, content_id
from graph_toucan.llm.client import LLM
from graph_toucan.llm.task import Task
from graph_toucan.mock.coherence import choose_lengths
from graph_toucan.mock.families import NOW
from graph_toucan.mock.flatten import FlatField, flat_fields, norm
from graph_toucan.mock.state import EntityStore, overlay
from graph_toucan.mock.values import Scalar, echo_values, generate_values, within_bounds
from graph_toucan.records import Tool

_HISTORY_SHOWN = 8


def _is_id(name: str) -> bool:
    key = norm(name)
    return key in ("id", "uuid") or key.endswith(("_id", "_uuid"))


@dataclass
class ExternalCall:
    """One answered ``call_external_api`` request."""

    tool: str
    arguments: dict[str, Any]
    values: dict[str, Scalar]


@dataclass
class Conversation:
    """What one conversation has seen: answered calls (by tool and arguments) and the entities
    behind the ids that were returned."""

    id: str
    history: list[ExternalCall] = field(default_factory=list)
    answers: dict[str, dict[str, Scalar]] = field(default_factory=dict)
    entities: dict[str, dict[str, Scalar]] = field(default_factory=dict)
    store: EntityStore = field(default_factory=EntityStore)
    initial: dict[str, Any] = field(default_factory=lambda: EntityStore().to_json())
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @staticmethod
    def _call_key(tool: str, arguments: dict[str, Any]) -> str:
        return f"{tool}\n{canonical_json(arguments)}"

    @staticmethod
    def _entity_key(value: Any) -> str | None:
        return canonical_json(value) if isinstance(value, str | int) and not isinstance(value, bool) else None

    def answered(self, tool: str, arguments: dict[str, Any]) -> dict[str, Scalar] | None:
        found = self.answers.get(self._call_key(tool, arguments))
        return dict(found) if found is not None else None

    def reconcile(
        self, fields: list[FlatField], arguments: dict[str, Any], values: dict[str, Scalar]
    ) -> dict[str, Scalar]:
        """``values`` made consistent with known entities: the attributes of an id given in the
        arguments, or of an id the answer itself reuses, are the ones returned before."""
        values = dict(values)
        for name, value in arguments.items():
            if not _is_id(name):
                continue
            for f in fields:  # an output field named like the id argument repeats it
                if not f.indexes and norm(f.name) == norm(name) and _same_type(value, values.get(f.key)):
                    values[f.key] = value
            key = self._entity_key(value)
            if key in self.entities:
                self._apply(self.entities[key], [f for f in fields if not f.indexes], values)
        for group in _groups(fields):
            for f in group:
                key = self._entity_key(values.get(f.key)) if _is_id(f.name) else None
                if key in self.entities:
                    self._apply(self.entities[key], [g for g in group if g is not f], values)
        return values

    @staticmethod
    def _apply(entity: dict[str, Scalar], fields: list[FlatField], values: dict[str, Scalar]) -> None:
        for f in fields:
            known = entity.get(norm(f.name))
            if known is not None and _same_type(known, values.get(f.key)):
                values[f.key] = known

    def checkpoint(self) -> tuple[Any, ...]:
        """What :meth:`rollback` needs to forget the calls made after this point (a retried turn)."""
        entities = {k: dict(v) for k, v in self.entities.items()}
        return len(self.history), dict(self.answers), entities, self.store.copy()

    def rollback(self, point: tuple[Any, ...]) -> None:
        size, answers, entities, store = point
        del self.history[size:]
        self.answers, self.entities = dict(answers), {k: dict(v) for k, v in entities.items()}
        self.store = store.copy()

    def seed_state(self, state: dict[str, Any] | None) -> None:
        """Start from a given store (``EntityStore.to_json`` data) instead of an empty one."""
        self.store = EntityStore.from_json(state)
        self.initial = self.store.to_json()

    def state(self) -> dict[str, Any]:
        """The initial and the current store, as JSON data (what an exported conversation carries)."""
        return {"initial": self.initial, "final": self.store.to_json()}

    def record(
        self, tool: str, fields: list[FlatField], arguments: dict[str, Any], values: dict[str, Scalar]
    ) -> None:
        """Remember the answer and the entities it describes."""
        self.answers[self._call_key(tool, arguments)] = dict(values)
        self.history.append(ExternalCall(tool, dict(arguments), dict(values)))
        for group in _groups(fields):
            for f in group:
                key = self._entity_key(values.get(f.key)) if _is_id(f.name) else None
                if key is None:
                    continue
                entity = self.entities.setdefault(key, {})
                for other in group:
                    if other is not f and other.key in values:
                        entity.setdefault(norm(other.name), values[other.key])
        top = [f for f in fields if not f.indexes]
        for name, value in arguments.items():
            key = self._entity_key(value) if _is_id(name) else None
            if key is None:
                continue
            entity = self.entities.setdefault(key, {})
            for f in top:
                if norm(f.name) != norm(name) and f.key in values:
                    entity.setdefault(norm(f.name), values[f.key])


def _groups(fields: list[FlatField]) -> list[list[FlatField]]:
    """Fields that describe one object: same list indexes and same parent path."""
    groups: dict[tuple[Any, ...], list[FlatField]] = {}
    for f in fields:
        parent = f.path.rsplit(".", 1)[0] if "." in f.path else ""
        groups.setdefault((f.indexes, parent, f.list_item), []).append(f)
    return list(groups.values())


def _same_type(a: Any, b: Any) -> bool:
    if b is None:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return isinstance(a, int) or not isinstance(b, int)
    return type(a) is type(b)


class Conversations:
    """Conversations by id, the least recently used dropped beyond ``limit``; each new one starts from
    ``initial`` (``EntityStore.to_json`` data, e.g. a dataset row's initial mock state) when given."""

    def __init__(self, limit: int = 1024, *, initial: dict[str, Any] | None = None) -> None:
        self.limit = limit
        self.initial = initial
        self._items: OrderedDict[str, Conversation] = OrderedDict()

    def get(self, conversation_id: str) -> Conversation:
        found = self._items.get(conversation_id)
        if found is None:
            found = self._items[conversation_id] = Conversation(conversation_id)
            if self.initial:
                found.seed_state(self.initial)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(conversation_id)
        return found


class Simulator:
    """Base of the value simulators: caching, consistency and the flat keys; subclasses invent values."""

    name = "simulator"

    def __init__(self, seed: int = 0, *, now: str = NOW) -> None:
        self.seed = seed
        self.now = now
        self._fields: dict[str, list[FlatField]] = {}

    def fields(self, tool: Tool) -> list[FlatField]:
        key = content_id(tool.id, tool.output_schema)
        if key not in self._fields:
            self._fields[key] = flat_fields(tool.output_schema)
        return self._fields[key]

    def rng(self, tool: Tool, arguments: dict[str, Any]) -> random.Random:
        return random.Random(f"{self.seed}/{tool.ref}/{canonical_json(arguments)}")

    async def values(
        self, tool: Tool, arguments: dict[str, Any], conversation: Conversation
    ) -> dict[str, Scalar]:
        """The flat values of one ``call_external_api(tool, **arguments)`` in ``conversation``."""
        async with conversation.lock:
            lengths_rng = random.Random(f"{self.seed}/{tool.ref}/{canonical_json(arguments)}/lengths")
            fields, _ = choose_lengths(self.fields(tool), arguments, lengths_rng)
            known = conversation.answered(tool.ref, arguments)
            if known is not None:
                return {**overlay(conversation.store, tool, fields, arguments, known), "_now": self.now}
            fresh = await self.generate(tool, fields, arguments, conversation)
            values = conversation.reconcile(fields, arguments, fresh)
            values = overlay(conversation.store, tool, fields, arguments, values)
            conversation.record(tool.ref, fields, arguments, values)
            return {**values, "_now": self.now}

    async def generate(
        self, tool: Tool, fields: list[FlatField], arguments: dict[str, Any], conversation: Conversation
    ) -> dict[str, Scalar]:
        raise NotImplementedError


class DeterministicSimulator(Simulator):
    """Plausible values from names and formats, seeded by ``seed``, the tool and the arguments."""

    name = "deterministic"

    async def generate(
        self, tool: Tool, fields: list[FlatField], arguments: dict[str, Any], conversation: Conversation
    ) -> dict[str, Scalar]:
        return generate_values(
            fields, arguments, self.rng(tool, arguments), now=self.now, current=about_now(tool)
        )


def about_now(tool: Tool) -> bool:
    """Whether a tool reports the present (current weather, latest rates, today's price)."""
    words = set(norm(tool.name).split("_"))
    return bool(words & {"current", "latest", "now", "today", "live", "realtime"})


class FlatValues(BaseModel):
    """The teacher's answer: one simple value per flat key."""

    values: dict[str, str | int | float | bool | None] = Field(
        description="Every requested key with a plain value (string, number or boolean)."
    )


def offline_values(inputs: dict[str, Any]) -> FlatValues:
    """The offline teacher answers with the deterministic generator."""
    tool = inputs["tool"]
    rng = random.Random(f"{inputs['seed']}/{tool['ref']}/{canonical_json(inputs['arguments'])}")
    wanted = {f["key"] for f in inputs["fields"]}
    fields = [f for f in flat_fields(inputs["output_schema"]) if f.key in wanted]
    return FlatValues(values=dict(generate_values(fields, inputs["arguments"], rng, now=inputs.get("now"))))


MOCK_VALUES = Task("mock_values", FlatValues, offline_values, max_tokens=2048, temperature=0.0)


def values_inputs(
    tool: Tool,
    fields: list[FlatField],
    arguments: dict[str, Any],
    conversation: Conversation,
    seed: int,
    now: str = NOW,
) -> dict[str, Any]:
    """What the teacher is shown for one external call."""
    return {
        "tool": {
            "ref": tool.ref,
            "name": tool.name,
            "server_name": tool.server_name,
            "description": tool.description,
            "tool_class": tool.tool_class,
        },
        "arguments": arguments,
        "fields": [f.describe() for f in fields],
        "output_schema": tool.output_schema or {},
        "history": [
            {"tool": c.tool, "arguments": c.arguments, "returned": dict(list(c.values.items())[:40])}
            for c in conversation.history[-_HISTORY_SHOWN:]
        ],
        "seed": seed,
        "now": now,
        "today": now[:10],
        "lists": _list_sizes(fields),
    }


def _list_sizes(fields: list[FlatField]) -> dict[str, int]:
    """How many items each top-level list has in this answer (the simulator chose 1 to 5)."""
    sizes: dict[str, int] = {}
    for f in fields:
        if f.indexes:
            name = f.path.split("[]")[0]
            sizes[name] = max(sizes.get(name, 0), f.indexes[0] + 1)
    return sizes


class TeacherSimulator(Simulator):
    """Values written by the teacher LLM, consistent with the conversation so far. Keys missing from
    its answer, or of the wrong type, are filled by the deterministic generator (counted in
    ``filled``), so a call always gets a complete answer."""

    name = "teacher"

    def __init__(self, llm: LLM, seed: int = 0, *, now: str = NOW) -> None:
        super().__init__(seed, now=now)
        self.llm = llm
        self.filled = 0
        self.repaired = 0

    async def generate(
        self, tool: Tool, fields: list[FlatField], arguments: dict[str, Any], conversation: Conversation
    ) -> dict[str, Scalar]:
        answer = await self.llm.run(
            MOCK_VALUES, values_inputs(tool, fields, arguments, conversation, self.seed, self.now)
        )
        fallback = generate_values(
            fields, arguments, self.rng(tool, arguments), now=self.now, current=about_now(tool)
        )
        echoes = echo_values(fields, arguments)
        values: dict[str, Scalar] = {}
        for f in fields:
            value = coerce(f, answer.values.get(f.key))
            if value is None:
                self.filled += 1
                value = fallback[f.key]
            elif f.key in echoes and value != echoes[f.key]:
                self.repaired += 1  # an output that means an argument repeats it, whatever the teacher said
                value = echoes[f.key]
            values[f.key] = value
        return values


def coerce(f: FlatField, value: Any) -> Scalar | None:
    """``value`` as the field's type when it plainly is one (``"3"`` for an integer), else None."""
    result: Scalar | None = None
    if value is None:
        return None
    if f.type == "boolean":
        if isinstance(value, bool):
            result = value
        elif isinstance(value, str) and value.lower() in ("true", "false"):
            result = value.lower() == "true"
    elif f.type in ("integer", "number"):
        number: Any = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return None
        if isinstance(number, bool) or not isinstance(number, int | float):
            return None
        if f.type == "integer":
            if isinstance(number, float) and not number.is_integer():
                return None
            result = int(number)
        else:
            result = number
        if not within_bounds(result, f.schema):
            return None
    elif isinstance(value, str):
        result = value
    elif isinstance(value, int | float):
        result = str(value)
    enum = f.schema.get("enum")
    if result is not None and isinstance(enum, list) and enum and result not in enum:
        return None
    return result
