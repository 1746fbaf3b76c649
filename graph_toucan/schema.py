"""JSON Schema repair, validation and example arguments.

Catalogs in the wild say ``dict`` for ``object``, give ``required`` as a string, put ``required: true``
on properties, or leave out ``type: object``. :func:`normalise_schema` repairs what has one obvious
meaning, checks the result against its meta-schema, and raises :class:`SchemaError` naming the
defect for the rest.
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry
from referencing.exceptions import NoSuchResource, Unresolvable

from graph_toucan.errors import SchemaError

# Python / BFCL type names and their JSON Schema meaning.
_TYPE_ALIASES = {
    "dict": "object",
    "map": "object",
    "float": "number",
    "double": "number",
    "int": "integer",
    "long": "integer",
    "str": "string",
    "bool": "boolean",
    "list": "array",
    "tuple": "array",
    "none": "null",
}
_JSON_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")


def normalise_schema(raw: Any) -> tuple[dict[str, Any], list[str]]:
    """Return ``(schema, repairs)`` for a tool's input schema, or raise :class:`SchemaError`.

    >>> normalise_schema({"type": "dict", "properties": {"a": {"type": "int"}}, "required": "a"})[1]
    ['type dict -> object', 'required given as a string, made a list', 'type int -> integer at a']
    """
    repairs: list[str] = []
    if raw is None:
        return {"type": "object", "properties": {}}, ["no input schema, used an empty object schema"]
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"input schema is a string that is not JSON ({exc.msg})") from None
        repairs.append("schema given as a JSON string, parsed")
    if not isinstance(raw, dict):
        raise SchemaError(f"input schema must be a JSON object, got {type(raw).__name__}")
    schema = copy.deepcopy(raw)
    _repair_node(schema, "", repairs)
    if "type" not in schema and ("properties" in schema or not schema):
        schema["type"] = "object"
        repairs.append("missing top-level type, set to object")
    if schema.get("type") != "object":
        raise SchemaError(
            f"input schema must describe an object of arguments, its type is {schema.get('type')!r}"
        )
    schema.setdefault("properties", {})
    check_schema(schema)
    return schema, repairs


def _never_retrieve(uri: str) -> Any:
    """Catalog schemas are untrusted: a ``$ref`` outside the schema itself is never fetched."""
    raise NoSuchResource(ref=uri)


# Only the schema itself and the JSON Schema meta-schemas (which jsonschema adds from its bundled
# copies); every other URI is unresolvable instead of being downloaded.
LOCAL_ONLY = Registry(retrieve=_never_retrieve)


def schema_validator(schema: dict[str, Any], *, format_checker: Any = None) -> Validator:
    """The one way this project builds a jsonschema validator: ``schema``'s declared draft (2020-12
    when it declares none), and a registry that refuses to retrieve any remote ``$ref``.

    Verification asks for the same tools' schemas call after call, so validators are kept: one per
    distinct schema (by its JSON text, at most :data:`_VALIDATORS_KEPT`), and the last
    :data:`_OBJECTS_KEPT` schema objects are found by identity without writing their text (each entry
    holds its object, so its id stays its own). Every conversation read back from the store brings
    its own copies of its tools' schemas: kept by identity alone, a long run held thousands of
    copies of the same few schemas, each with a validator of its own. A schema is never changed in
    place once a validator is made for it."""
    key = (id(schema), id(format_checker))
    kept = _BY_OBJECT.get(key)
    if kept is not None and kept[0] is schema and kept[1] is format_checker:
        _BY_OBJECT.move_to_end(key)
        return kept[2]
    text = (json.dumps(schema, sort_keys=True, default=str), id(format_checker))
    validator = _VALIDATORS.get(text)
    if validator is None:
        cls = validator_for(schema, default=Draft202012Validator)
        validator = cls(schema, registry=LOCAL_ONLY, format_checker=format_checker)
        _VALIDATORS[text] = validator
        if len(_VALIDATORS) > _VALIDATORS_KEPT:
            _VALIDATORS.popitem(last=False)
    else:
        _VALIDATORS.move_to_end(text)
    _BY_OBJECT[key] = (schema, format_checker, validator)
    if len(_BY_OBJECT) > _OBJECTS_KEPT:
        _BY_OBJECT.popitem(last=False)
    return validator


_VALIDATORS_KEPT = 8192  # distinct schemas: a catalog's tools, with room
_OBJECTS_KEPT = 1024  # schema objects in use: one conversation's tools, or the loaded catalog's
_VALIDATORS: OrderedDict[tuple[str, int], Validator] = OrderedDict()
_BY_OBJECT: OrderedDict[tuple[int, int], tuple[Any, Any, Validator]] = OrderedDict()


def schema_problem(validator: Validator, value: Any) -> str | None:
    """The most relevant reason ``value`` is invalid, with where it is, or None when it is valid. A
    ``$ref`` that is not in the schema is a problem too: it is never fetched."""
    try:
        error = best_match(validator.iter_errors(value))
    except Unresolvable as exc:
        return f"the schema refers to {exc} which is not in the schema (remote $ref is never fetched)"
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{error.message}{f' (at {where})' if where else ''}"


def inline_refs(node: Any, root: dict[str, Any], depth: int = 6) -> Any:
    """``node`` (a part of ``root``) with its local ``$ref`` replaced by what they point at, to ``depth``
    levels (a cycle ends there), so the part can be read on its own."""
    if isinstance(node, list):
        return [inline_refs(v, root, depth) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and depth > 0:
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        if isinstance(target, dict):
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return inline_refs({**target, **rest}, root, depth - 1)
    return {k: inline_refs(v, root, depth) for k, v in node.items()}


def unresolved_refs(schema: Any) -> list[str]:
    """The local ``$ref`` of a schema that point at nothing in it (``#/$defs/Email`` with no ``$defs``):
    no value can be checked against them, so no call of the tool can be valid."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                target: Any = schema
                for part in ref[2:].split("/"):
                    target = target.get(part) if isinstance(target, dict) else None
                if target is None:
                    found.append(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return found


def check_schema(schema: dict[str, Any]) -> None:
    """Validate ``schema`` against its declared meta-schema (2020-12 when it declares none)."""
    error = best_match(
        _meta_validator(validator_for(schema, default=Draft202012Validator)).iter_errors(schema)
    )
    if error is not None:
        where = "/".join(str(p) for p in error.path) or "top level"
        raise SchemaError(f"invalid JSON Schema at {where}: {error.message}")


@cache
def _meta_validator(cls: type[Validator]) -> Validator:
    """One validator per meta-schema, built once: ``check_schema`` rebuilds it on every call."""
    return schema_validator(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)


def _repair_node(node: dict[str, Any], where: str, repairs: list[str]) -> None:
    at = f" at {where}" if where else ""
    typ = node.get("type")
    if isinstance(typ, str) and typ.lower() in _TYPE_ALIASES:
        node["type"] = _TYPE_ALIASES[typ.lower()]
        repairs.append(f"type {typ} -> {node['type']}{at}")
    elif isinstance(typ, str) and typ.lower() == "any":
        del node["type"]
        repairs.append(f"type any removed{at}")
    elif isinstance(typ, str) and typ != typ.lower() and typ.lower() in _JSON_TYPES:
        node["type"] = typ.lower()
        repairs.append(f"type {typ} -> {typ.lower()}{at}")

    props = node.get("properties")
    if isinstance(props, list):  # [{"name": "x", "type": ...}, ...]
        node["properties"] = {
            p["name"]: {k: v for k, v in p.items() if k != "name"} for p in props if "name" in p
        }
        repairs.append(f"properties given as a list, made an object{at}")
        props = node["properties"]
    if isinstance(props, dict):
        if "type" not in node:
            node["type"] = "object"
            repairs.append(
                f"missing type set to object{at}" if where else "missing top-level type, set to object"
            )
        flagged = [k for k, v in props.items() if isinstance(v, dict) and isinstance(v.get("required"), bool)]
        for name in flagged:  # draft-3 style `required: true` on the property itself
            req = node.setdefault("required", [])
            if props[name].pop("required") and isinstance(req, list) and name not in req:
                req.append(name)
        if flagged:
            repairs.append(f"required flags on properties moved to a required list{at}")
        _repair_required(node, at, repairs)

    items = node.get("items")
    if isinstance(items, dict):
        _repair_node(items, f"{where}[]", repairs)
    for key in _SUBSCHEMA_MAPS:
        sub = node.get(key)
        if isinstance(sub, dict):
            for name, child in sub.items():
                if isinstance(child, dict):
                    _repair_node(child, f"{where}.{name}".lstrip("."), repairs)
    for key in _SUBSCHEMA_LISTS:
        for child in node.get(key) or []:
            if isinstance(child, dict):
                _repair_node(child, where, repairs)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        _repair_node(extra, f"{where}.*", repairs)


def _repair_required(node: dict[str, Any], at: str, repairs: list[str]) -> None:
    required = node.get("required")
    if required is None or (isinstance(required, list) and all(isinstance(r, str) for r in required)):
        if isinstance(required, list) and len(set(required)) != len(required):
            node["required"] = list(dict.fromkeys(required))
            repairs.append(f"duplicate names removed from required{at}")
        return
    if isinstance(required, str):
        node["required"] = [required]
        repairs.append(f"required given as a string, made a list{at}")
    elif isinstance(required, list):
        node["required"] = list(dict.fromkeys(r for r in required if isinstance(r, str)))
        repairs.append(f"non-string entries dropped from required{at}")
    elif isinstance(required, bool):
        del node["required"]
        repairs.append(f"boolean required on an object removed{at}")
    else:
        raise SchemaError(f"required{at} must be a list of property names, got {type(required).__name__}")


# Values for argument names that a probe call can use as they are.
_NAMED_VALUES: dict[str, Any] = {
    "timezone": "Europe/Paris",
    "source_timezone": "Europe/Paris",
    "target_timezone": "Asia/Tokyo",
    "time": "14:30",
    "city": "Paris",
    "location": "Paris",
    "country": "France",
    "query": "weather in Paris",
    "q": "weather in Paris",
    "keyword": "weather",
    "url": "https://example.com",
    "email": "alice@example.com",
    "language": "en",
    "currency": "EUR",
    "symbol": "AAPL",
    "latitude": 48.8566,
    "lat": 48.8566,
    "longitude": 2.3522,
    "lon": 2.3522,
    "lng": 2.3522,
    "repo_path": ".",
    "path": ".",
}
_FORMAT_VALUES = {
    "date": "2025-06-01",
    "date-time": "2025-06-01T12:00:00Z",
    "time": "12:00:00",
    "email": "alice@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "ipv4": "192.0.2.1",
}


GENERATED_ITEMS = 10  # items a generated list gets at most, whatever the schema's minItems says
GENERATED_CHARS = 256  # characters a generated string gets at most, whatever its minLength says


def schema_count(schema: dict[str, Any], key: str, default: int = 0, cap: int = GENERATED_ITEMS) -> int:
    """``schema[key]`` (``minItems``, ``minLength`` ...) as a count for generating a value: a number
    clamped to ``0..cap`` (a catalog may say ``minItems: 1e9``; nothing is ever allocated from it),
    ``default`` when absent or not a number."""
    value = schema.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        value = default
    return int(max(0, min(value, cap)))


def example_arguments(schema: dict[str, Any], *, include_optional: bool = False) -> dict[str, Any]:
    """Sensible arguments for a tool, from its schema: examples, defaults, enums, formats, names.

    Only required properties are filled unless ``include_optional``; the result is deterministic.

    >>> example_arguments({"type": "object", "properties": {"timezone": {"type": "string"}},
    ...                    "required": ["timezone"]})
    {'timezone': 'Europe/Paris'}
    """
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    return {
        name: example_value(sub if isinstance(sub, dict) else {}, name)
        for name, sub in props.items()
        if include_optional or name in required
    }


def example_value(schema: dict[str, Any], name: str = "") -> Any:
    """One plausible value for ``schema``, preferring what the schema itself offers."""
    allows_null = schema.get("type") == "null" or "null" in (schema.get("type") or [])
    for key in ("const", "default"):
        if key in schema and (schema[key] is not None or allows_null):
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, dict) and o.get("type") != "null"]
        if options:
            return example_value(options[0], name)
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "string")
    lowered = name.lower()
    if typ == "object" or (typ is None and "properties" in schema):
        return example_arguments(schema)
    if typ == "array":
        item = schema.get("items") if isinstance(schema.get("items"), dict) else {"type": "string"}
        singular = lowered[:-1] if lowered.endswith("s") else lowered
        return [example_value(item, singular)] * max(1, schema_count(schema, "minItems", 1))
    if typ in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = _NAMED_VALUES.get(lowered)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        high = schema.get("maximum")
        floor = low + 1 if "minimum" not in schema and "exclusiveMinimum" in schema else low
        pick = max(floor, 5) if high is None else max(floor, min(5, high))
        return int(pick) if typ == "integer" else float(pick)
    if typ == "boolean":
        return False
    if typ == "null":
        return None
    if schema.get("format") in _FORMAT_VALUES:
        return _FORMAT_VALUES[schema["format"]]
    named = _NAMED_VALUES.get(lowered)
    if isinstance(named, str):
        return named
    for key, value in _NAMED_VALUES.items():
        if isinstance(value, str) and lowered.endswith("_" + key):
            return value
    text = "example".ljust(schema_count(schema, "minLength", 0, GENERATED_CHARS), "x")
    high = schema.get("maxLength")
    return text[: max(0, int(high))] if isinstance(high, int | float) and high == high else text


@dataclass(frozen=True)
class SchemaField:
    """One leaf of an output schema: ``path`` as in ``user.name`` or ``items[].id``."""

    path: str
    type: str
    description: str = ""
    closed: bool = False  # its values are an enum or a const

    @property
    def name(self) -> str:
        """The last name on the path (``id`` for ``items[].id``)."""
        return self.path.replace("[]", "").rsplit(".", 1)[-1]


def leaf_fields(schema: dict[str, Any] | None, *, max_depth: int = 6) -> list[SchemaField]:
    """The scalar leaves (and lists of scalars) of a JSON schema, in document order.

    Local ``$ref`` (``#/$defs/...``, ``#/definitions/...``) are followed; cycles and depth beyond
    ``max_depth`` stop the descent, so any schema gives a finite answer.

    >>> [f.path for f in leaf_fields({"type": "object", "properties": {
    ...     "items": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
    ...     "total": {"type": "integer"}}})]
    ['items[].id', 'total']
    """
    if not isinstance(schema, dict):
        return []
    found: list[SchemaField] = []
    _leaves(schema, schema, "", found, max_depth, frozenset())
    return found


def _leaves(
    root: dict[str, Any], node: Any, path: str, found: list[SchemaField], depth: int, seen: frozenset[str]
) -> None:
    if not isinstance(node, dict) or depth < 0:
        return
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in seen or not ref.startswith("#/"):
            return
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        _leaves(root, target, path, found, depth, seen | {ref})
        return
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in node.get(key) or [] if isinstance(o, dict) and o.get("type") != "null"]
        if options and "type" not in node and "properties" not in node:
            _leaves(root, options[0], path, found, depth, seen)
            return
    typ = node.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), None)
    props = node.get("properties")
    if isinstance(props, dict) and props and typ in (None, "object"):
        for name, sub in props.items():
            _leaves(root, sub, f"{path}.{name}" if path else name, found, depth - 1, seen)
        return
    items = node.get("items")
    if typ == "array" and isinstance(items, dict):
        if isinstance(items.get("properties"), dict) or "$ref" in items:
            _leaves(root, items, f"{path or 'items'}[]", found, depth - 1, seen)
            return
        found.append(SchemaField(path or "result", "array", str(node.get("description") or "")))
        return
    found.append(
        SchemaField(
            path or "result",
            str(typ or "string"),
            str(node.get("description") or ""),
            closed=any(k in node for k in ("enum", "const", "pattern")),
        )
    )
