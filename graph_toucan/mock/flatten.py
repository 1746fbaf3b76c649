"""Flat keys of an output schema, and the shape that rebuilds the nested output from them.

docs/method.md section 5: ``call_external_api`` returns a *flat* dict of simple values; nested objects
join their names (``user.name -> user_name``) and lists get up to five item slots (``items[].name ->
item_0_name ... item_4_name``; a list of scalars ``tags -> tag_0 ... tag_4``), of which the simulator
fills a seeded 1 to 5 (:func:`graph_toucan.mock.values.choose_lengths`): an item is present when its
keys are. Paths use the notation of
:func:`graph_toucan.schema.leaf_fields` (``items[].name``), so a graph edge's field mapping names the
same leaves. What has no scalar leaves (a free-form object, a list of lists) is a constant.

>>> [f.key for f in flat_fields({"type": "object", "properties": {
...     "user": {"type": "object", "properties": {"name": {"type": "string"}}},
...     "items": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}}}}}})]
['user_name', 'item_0_id', 'item_1_id', 'item_2_id', 'item_3_id', 'item_4_id']
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from graph_toucan.schema import GENERATED_CHARS, schema_count

LIST_ITEMS = 5  # item slots per list (fewer when the schema's maxItems says so)
_MAX_DEPTH = 6
_SCALARS = ("string", "integer", "number", "boolean")


@dataclass(frozen=True)
class FlatField:
    """One flat key: where it sits in the output (``path``, list ``indexes``) and its leaf schema."""

    key: str
    path: str
    type: str
    schema: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    indexes: tuple[int, ...] = ()
    list_item: bool = False
    min_items: tuple[int, ...] = field(default=(), compare=False, hash=False)

    @property
    def name(self) -> str:
        """The leaf's own name: ``name`` for ``items[].name``, ``tag`` for an item of a list ``tags``."""
        last = self.path.replace("[]", "").rsplit(".", 1)[-1]
        return singular(last) if self.list_item else last

    @property
    def description(self) -> str:
        return str(self.schema.get("description") or "")

    def describe(self) -> dict[str, Any]:
        """What a teacher is shown of this key."""
        info: dict[str, Any] = {"key": self.key, "type": self.type}
        for name in ("description", "format", "enum", "minimum", "maximum", "pattern"):
            if name in self.schema:
                info[name] = self.schema[name]
        return info


@dataclass(frozen=True)
class Shape:
    """How to rebuild one node of the output: ``object`` (children), ``list`` (items), ``leaf`` (a flat
    key) or ``const`` (a fixed value)."""

    kind: str
    children: dict[str, Shape] = field(default_factory=dict)
    items: tuple[Shape, ...] = ()
    leaf: FlatField | None = None
    value: Any = None
    min_items: int = 0


@functools.lru_cache(maxsize=1 << 16)
def norm(name: str) -> str:
    """A field or tool name in snake case (``firstName``, ``First Name`` -> ``first_name``): the form
    every mock module compares names in. Names come from a catalog's schemas, a bounded set, so the
    answers are remembered (a translation asks for the same names again and again)."""
    spaced = _CAMEL.sub(r"\1_\2", name)
    return _NON_WORD.sub("_", spaced.lower()).strip("_")


_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def singular(name: str) -> str:
    """``items -> item``, ``entries -> entry``, ``addresses -> address``; other names unchanged."""
    lowered = name.lower()
    if lowered.endswith("ies") and len(name) > 4:
        return name[:-3] + "y"
    if lowered.endswith(("sses", "xes", "ches", "shes")):
        return name[:-2]
    if lowered.endswith("s") and not lowered.endswith(("ss", "us", "is")) and len(name) > 3:
        return name[:-1]
    return name


def _part(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or "field"


def output_shape(schema: dict[str, Any] | None) -> Shape:
    """The shape of an output schema (an object schema for every annotated tool)."""
    builder = _Builder(schema if isinstance(schema, dict) else {})
    shape = builder.node(builder.root, "", "", (), _MAX_DEPTH, frozenset())
    return shape


def flat_fields(schema: dict[str, Any] | None) -> list[FlatField]:
    """The flat keys of an output schema, in document order."""
    found: list[FlatField] = []
    _collect(output_shape(schema), found)
    return found


def _collect(shape: Shape, found: list[FlatField]) -> None:
    if shape.kind == "leaf" and shape.leaf is not None:
        found.append(shape.leaf)
    for child in shape.children.values():
        _collect(child, found)
    for item in shape.items:
        _collect(item, found)


def unflatten(shape: Shape, flat: dict[str, Any]) -> Any:
    """Rebuild the nested output from flat values (what a generated ``main`` does)."""
    if shape.kind == "object":
        return {name: unflatten(child, flat) for name, child in shape.children.items()}
    if shape.kind == "list":
        return [
            unflatten(item, flat)
            for n, item in enumerate(shape.items)
            if item_present(item, n, flat, shape.min_items)
        ]
    if shape.kind == "leaf" and shape.leaf is not None:
        return flat[shape.leaf.key]
    return shape.value


def first_key(shape: Shape) -> str | None:
    """The first flat key inside ``shape`` (None when it has none)."""
    if shape.kind == "leaf" and shape.leaf is not None:
        return shape.leaf.key
    for child in [*shape.children.values(), *shape.items]:
        found = first_key(child)
        if found is not None:
            return found
    return None


def item_present(item: Shape, n: int, flat: dict[str, Any], min_items: int = 0) -> bool:
    """Whether list item ``n`` is in the answer: its first key is (items without keys: the first
    ``max(1, minItems)``)."""
    key = first_key(item)
    return n < max(1, min_items) if key is None else key in flat


class _Builder:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.keys: set[str] = set()

    def resolve(self, node: Any, seen: frozenset[str]) -> tuple[dict[str, Any], frozenset[str]]:
        """Follow local ``$ref`` and take the first non-null option of ``anyOf``/``oneOf``/``allOf``."""
        for _ in range(32):
            if not isinstance(node, dict):
                return {}, seen
            ref = node.get("$ref")
            if isinstance(ref, str):
                if ref in seen or not ref.startswith("#/"):
                    return {}, seen
                seen = seen | {ref}
                target: Any = self.root
                for part in ref[2:].split("/"):
                    target = target.get(part) if isinstance(target, dict) else None
                node = target
                continue
            if "type" not in node and "properties" not in node:
                for key in ("anyOf", "oneOf", "allOf"):
                    options = [
                        o for o in node.get(key) or [] if isinstance(o, dict) and o.get("type") != "null"
                    ]
                    if options:
                        node = options[0]
                        break
                else:
                    return node, seen
                continue
            return node, seen
        return {}, seen

    def key(self, wanted: str) -> str:
        key, n = wanted, 2
        while key in self.keys:
            key = f"{wanted}_{n}"
            n += 1
        self.keys.add(key)
        return key

    def node(
        self,
        raw: Any,
        path: str,
        prefix: str,
        indexes: tuple[int, ...],
        depth: int,
        seen: frozenset[str],
        mins: tuple[int, ...] = (),
    ) -> Shape:
        node, seen = self.resolve(raw, seen)
        typ = _type_of(node)
        if depth < 0:
            return Shape("const", value=[] if typ == "array" else {} if typ == "object" else None)
        props = node.get("properties")
        if isinstance(props, dict) and props and typ in (None, "object"):
            children = {
                name: self.node(
                    sub,
                    f"{path}.{name}" if path else name,
                    f"{prefix}{_part(name)}_",
                    indexes,
                    depth - 1,
                    seen,
                    mins,
                )
                for name, sub in props.items()
            }
            return Shape("object", children=children)
        if typ == "object":
            return Shape("const", value=self.minimal(node, seen))
        if typ == "array":
            return self.array(node, path, prefix, indexes, depth, seen, mins)
        if typ == "null":
            return Shape("const", value=None)
        leaf_path = path or "result"
        key = self.key(prefix[:-1] if prefix else "result")
        return Shape("leaf", leaf=FlatField(key, leaf_path, typ or "string", node, indexes, min_items=mins))

    def array(
        self,
        node: dict[str, Any],
        path: str,
        prefix: str,
        indexes: tuple[int, ...],
        depth: int,
        seen: frozenset[str],
        mins: tuple[int, ...] = (),
    ) -> Shape:
        count = _item_count(node)
        low = node.get("minItems", 0)
        mins = (*mins, min(low if isinstance(low, int) else 0, count))
        items, item_seen = self.resolve(node.get("items"), seen)
        item_type = _type_of(items)
        list_name = path.replace("[]", "").rsplit(".", 1)[-1] if path else "items"
        stem = prefix[: -len(_part(list_name)) - 1] if prefix else ""
        item_prefix = f"{stem}{_part(singular(list_name))}_"
        if isinstance(items.get("properties"), dict) and items["properties"]:
            item_path = f"{path or 'items'}[]"
            return Shape(
                "list",
                min_items=mins[-1],
                items=tuple(
                    self.node(
                        items, item_path, f"{item_prefix}{i}_", (*indexes, i), depth - 1, item_seen, mins
                    )
                    for i in range(count)
                ),
            )
        if item_type in _SCALARS or (not items and item_type is None):
            return Shape(
                "list",
                min_items=mins[-1],
                items=tuple(
                    Shape(
                        "leaf",
                        leaf=FlatField(
                            self.key(f"{item_prefix}{i}"),
                            path or "result",
                            item_type or "string",
                            items,
                            (*indexes, i),
                            list_item=True,
                            min_items=mins,
                        ),
                    )
                    for i in range(count)
                ),
            )
        return Shape("const", value=self.minimal(node, seen))

    def minimal(self, raw: Any, seen: frozenset[str], depth: int = 4) -> Any:
        """The smallest valid value of a part that has no flat keys (a list of lists, a free object)."""
        node, seen = self.resolve(raw, seen)
        if "const" in node:
            return node["const"]
        if node.get("enum"):
            return node["enum"][0]
        typ = _type_of(node)
        if typ == "array":
            count = schema_count(node, "minItems")
            return [self.minimal(node.get("items"), seen, depth - 1) for _ in range(count)] if depth else []
        if typ in ("integer", "number"):
            low = node.get("minimum", node.get("exclusiveMinimum"))
            value = low if isinstance(low, int | float) else 0
            if "exclusiveMinimum" in node and "minimum" not in node:
                value = value + 1 if typ == "integer" else value + 0.5
            return int(value) if typ == "integer" else float(value)
        if typ == "boolean":
            return False
        if typ == "string":
            return "x" * schema_count(node, "minLength", 0, GENERATED_CHARS)
        if typ == "null":
            return None
        raw_props = node.get("properties")
        props: dict[str, Any] = raw_props if isinstance(raw_props, dict) else {}
        required = [r for r in node.get("required") or [] if r in props]
        return {r: self.minimal(props[r], seen, depth - 1) for r in required} if depth else {}


def _type_of(node: dict[str, Any]) -> str | None:
    typ = node.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "null")
    if typ is None and "properties" in node:
        return "object"
    if typ is None and node.get("enum"):
        first = node["enum"][0]
        return {bool: "boolean", int: "integer", float: "number"}.get(type(first), "string")
    if typ is None and "const" in node:
        return {bool: "boolean", int: "integer", float: "number"}.get(type(node["const"]), "string")
    return typ if isinstance(typ, str) else None


def _item_count(node: dict[str, Any]) -> int:
    low = node.get("minItems", 0)
    high = node.get("maxItems")
    count = max(LIST_ITEMS, low if isinstance(low, int) else 0)
    if isinstance(high, int):
        count = min(count, high)
    return min(count, 10)
