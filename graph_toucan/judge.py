"""Output filtering and edge judgement (docs/method.md section 3), as LLM tasks with offline judges.

Output filtering drops a tool's output fields that restate one of its own inputs, so that
``get_user(user_id) -> {user_id}`` does not look like it feeds ``delete_user(user_id)``.
The edge judge decides, for the ordered pair node -> candidate, whether the node's outputs fill all
(``full``) or some (``partial``, at least one required input) of the candidate's inputs, decide
whether to call it (``prerequisite``), or neither (``none``), and which output field fills which input
parameter.

The offline judge reads meaning from field names, types and descriptions (:func:`field_fit`): the
entity, unit and role must agree (a status message is no message body, days in a month are no
forecast horizon, share counts are no money), and then either the names agree
(``places[].latitude`` -> ``latitude``; a generic ``id`` only for the same object) or the meaning does
(an airport code for an origin given as an airport code, gallons for gallons, a user's id for a
``receiver_id`` described as a user's id). The teacher's prompt (``prompts/edge_judge.md``) asks the
same, shows the source's own inputs and says once what both descriptions repeat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from graph_toucan.argument_sources import classify_parameter, parameter_classes
from graph_toucan.fields import (
    GENERIC,
    SPECIFIC_FORMATS,
    UNITS,
    USER_SUPPLIED,
    described_entities,
    field_object,
    is_outcome,
    json_type,
    name_tokens,
    quantity_kind,
    text_tokens,
    tool_object,
    types_compatible,
    unit_of,
    value_formats,
)
from graph_toucan.llm.task import Prompt, Task, brief
from graph_toucan.records import EdgeType, FieldMapping, Tool
from graph_toucan.schema import SchemaField, leaf_fields

# The offline judge's rules and the judge prompt: a change judges every pair again.
JUDGE_VERSION = 2

# -- what the judges see ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    description: str
    required: bool
    issued: bool = False  # a handle only a system gives out (its class is ``issued``)


def params_of(input_schema: dict[str, Any], classes: dict[str, str] | None = None) -> list[Param]:
    """The top-level input parameters of a tool, issued or not by ``classes`` (the offline rule for
    any it lacks)."""
    props = input_schema.get("properties") or {}
    required = set(input_schema.get("required") or [])
    classes = classes or {}
    return [
        Param(
            name,
            json_type(sub),
            brief((sub or {}).get("description"), 300) if isinstance(sub, dict) else "",
            name in required,
            (classes.get(name) or classify_parameter(name, sub)) == "issued",
        )
        for name, sub in props.items()
    ]


@dataclass(frozen=True)
class Node:
    """A tool as the judges and the pruner see it: filtered outputs, inputs, object words."""

    id: str
    ref: str
    name: str
    description: str
    server_id: str
    category: str | None
    tool_class: str | None
    outputs: tuple[SchemaField, ...]
    params: tuple[Param, ...]
    object: frozenset[str]

    @classmethod
    def of(cls, tool: Tool, outputs: list[SchemaField]) -> Node:
        return cls(
            id=tool.id,
            ref=tool.ref,
            name=tool.name,
            description=tool.description,
            server_id=tool.server_id,
            category=tool.category,
            tool_class=tool.tool_class,
            outputs=tuple(outputs),
            params=tuple(params_of(tool.input_schema, parameter_classes(tool))),
            object=tool_object(tool.name, tool.description),
        )

    def source_view(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "description": brief(self.description, 600),
            "tool_class": self.tool_class,
            "inputs": self._inputs_view(),
            "outputs": [
                {"path": f.path, "type": f.type, "description": brief(f.description, 200)}
                for f in self.outputs
            ],
        }

    def target_view(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "description": brief(self.description, 600),
            "tool_class": self.tool_class,
            "inputs": self._inputs_view(),
        }

    def _inputs_view(self) -> list[dict[str, Any]]:
        return [
            {
                "name": p.name,
                "type": p.type,
                "description": brief(p.description, 200),
                "required": p.required,
                "issued": p.issued,
            }
            for p in self.params
        ]


# -- output filtering -------------------------------------------------------------------------------


class OutputFilterAnswer(BaseModel):
    """Output fields (paths) that repeat one of the tool's own inputs, each with the input it repeats."""

    echoes: list[FieldMapping] = Field(default_factory=list)

    @field_validator("echoes")
    @classmethod
    def _known(cls, echoes: list[FieldMapping], info: ValidationInfo) -> list[FieldMapping]:
        context = info.context or {}
        if not context:
            return echoes
        outputs = {o["path"] for o in context["outputs"]}
        inputs = set((context["tool"]["input_schema"].get("properties") or {}).keys())
        for echo in echoes:
            if echo.output not in outputs:
                raise ValueError(f"{echo.output!r} is not an output field; choose from {sorted(outputs)}")
            if echo.input not in inputs:
                raise ValueError(f"{echo.input!r} is not an input parameter; choose from {sorted(inputs)}")
        return echoes


def offline_echoes(inputs: dict[str, Any]) -> OutputFilterAnswer:
    """Rule 1: same name as an input. Rule 2: same meaning, judged from names and descriptions: a
    top-level output whose words are the input's words plus only generic words or the tool's own
    object (``read_file(path) -> file_path``, ``set_directory(directory) -> dir_path``), or whose
    name and description words equal the input's."""
    tool = inputs["tool"]
    params = params_of(tool["input_schema"])
    own = tool_object(tool["name"], tool.get("description") or "")
    echoes = []
    for out in inputs["outputs"]:
        path = out["path"]
        leaf = name_tokens(path.replace("[]", "").rsplit(".", 1)[-1])
        for param in params:
            ptoks = name_tokens(param.name)
            if leaf == ptoks:
                echoes.append(FieldMapping(output=path, input=param.name))
                break
            if "[]" in path or not ptoks:
                continue
            extra = set(leaf) - set(ptoks)
            restates = set(ptoks) <= set(leaf) and extra <= GENERIC | own
            same_meaning = _meaning(leaf, out.get("description", "")) == _meaning(ptoks, param.description)
            if restates or (same_meaning and set(leaf) - GENERIC):
                echoes.append(FieldMapping(output=path, input=param.name))
                break
    return OutputFilterAnswer(echoes=echoes)


def _meaning(name: tuple[str, ...], description: str) -> frozenset[str]:
    return frozenset(name) | frozenset(text_tokens(description, limit=4))


OUTPUT_FILTER = Task("output_filter", OutputFilterAnswer, offline_echoes, max_tokens=600)


def filter_inputs(tool: Tool, fields: list[SchemaField] | None = None) -> dict[str, Any]:
    """What the output-filter task is shown: the tool and its output fields (``leaf_fields`` of its
    output schema unless the caller already has them)."""
    fields = leaf_fields(tool.output_schema) if fields is None else fields
    return {
        "tool": tool.model_dump(include={"name", "description", "input_schema"}),
        "outputs": [{"path": f.path, "type": f.type, "description": f.description} for f in fields],
    }


# -- edge judgement ---------------------------------------------------------------------------------


class EdgeAnswer(BaseModel):
    """The judge's answer for source -> target."""

    type: EdgeType
    mapping: list[FieldMapping] = Field(default_factory=list)
    reason: str = Field(default="", max_length=400)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> EdgeAnswer:
        if self.type in ("full", "partial") and not self.mapping:
            raise ValueError(f"a {self.type} edge needs a mapping of output fields to input parameters")
        if self.type in ("none", "prerequisite") and self.mapping:
            raise ValueError(f"a {self.type} edge has no mapping; give an empty list")
        context = info.context or {}
        if not context:
            return self
        outputs = {o["path"] for o in context["source"]["outputs"]}
        params = {p["name"] for p in context["target"]["inputs"]}
        for m in self.mapping:
            if m.output not in outputs:
                raise ValueError(
                    f"mapping output {m.output!r} is not an output field of the source; choose from {sorted(outputs)}"
                )
            if m.input not in params:
                raise ValueError(
                    f"mapping input {m.input!r} is not a parameter of the target; choose from {sorted(params)}"
                )
        required = {p["name"] for p in context["target"]["inputs"] if p.get("required")}
        if self.type == "partial" and required and not required & {m.input for m in self.mapping}:
            raise ValueError(
                "a partial edge must fill at least one required input of the target "
                f"({', '.join(sorted(required))}); filling only optional inputs is type none"
            )
        return self


FLAGS = frozenset({"exist", "exists", "valid", "available", "success", "ok", "found", "allowed", "enabled"})


def flag_fields(outputs: tuple[SchemaField, ...]) -> list[SchemaField]:
    """Top-level yes/no outputs (``exists``, ``valid``) that can decide whether to call another tool."""
    return [
        f for f in outputs if f.type == "boolean" and "[]" not in f.path and set(name_tokens(f.name)) & FLAGS
    ]


_TIME_UNITS = frozenset({"second", "minute", "hour", "day", "week", "month", "year"})
_UNIT_WORDS = frozenset(UNITS) | frozenset(UNITS.values())
_SCALARS = ("string", "integer", "number")
_WORDINGS = frozenset({"name", "title", "description", "label", "text", "summary", "message"})


@dataclass(frozen=True)
class Meaning:
    """What a field or parameter holds, read from its name and description: its value formats
    (``airport``, ``currency``, ``date``), unit (``gallon``, ``day``), quantity (``money`` or
    ``count``) and the things it belongs to (a user's id, a month's days)."""

    formats: frozenset[str]
    unit: str | None
    quantity: str | None
    entities: frozenset[str]

    def conflicts(self, other: Meaning) -> str | None:
        """Why the two cannot hold the same value, or None."""
        if self.formats and other.formats and not self.formats & other.formats:
            return f"{'/'.join(sorted(self.formats))} is not {'/'.join(sorted(other.formats))}"
        if self.unit and other.unit and self.unit != other.unit:
            return f"{self.unit}s are not {other.unit}s"
        if self.quantity and other.quantity and self.quantity != other.quantity:
            return f"a {self.quantity} is not a {other.quantity}"
        return None


@lru_cache(maxsize=262144)
def _entities(words: tuple[str, ...], description: str, owner: frozenset[str]) -> frozenset[str]:
    own = (set(words) | described_entities(description)) - GENERIC - _UNIT_WORDS - {"amount"}
    own = {w for w in own if not w.isdigit()}
    return frozenset(own or (owner - _UNIT_WORDS))


@lru_cache(maxsize=262144)
def _meaning_of(name: str, leaf: str, description: str, owner: frozenset[str]) -> Meaning:
    return Meaning(
        value_formats(name, description),
        unit_of(leaf, description),
        quantity_kind(leaf, description),
        _entities(name_tokens(name), description, owner),
    )


def field_meaning(field: SchemaField, source: Node) -> Meaning:
    return _meaning_of(field.path, field.name, field.description, source.object)


def param_meaning(param: Param, target: Node) -> Meaning:
    return _meaning_of(param.name, param.name, param.description, target.object)


@lru_cache(maxsize=65536)
def _outcome(name: str, description: str) -> bool:
    return is_outcome(name, description)


@lru_cache(maxsize=65536)
def _issued_name(name: str) -> bool:
    return classify_parameter(name, {}) == "issued"


def _bound(param: Param, meaning: Meaning) -> bool:
    """Whether a value only fits this parameter when it is about the same thing: ids and other issued
    handles, counts and durations (generic names such as ``url`` are checked by :func:`_named`)."""
    return param.issued or meaning.quantity == "count" or meaning.unit in _TIME_UNITS


def _named(field: SchemaField, param: Param, source: Node, target: Node) -> bool:
    """The names agree: the same words at the field's end, or the item's id for ``<item>_id``; a
    generic name only counts when the field and the target are about the same object."""
    ptoks = name_tokens(param.name)
    path = name_tokens(field.path)
    leaf = name_tokens(field.name)
    if not ptoks or not leaf:
        return False
    field_obj = field_object(field.path) | (source.object if set(leaf) <= GENERIC else frozenset())
    if path[-len(ptoks) :] == ptoks:  # latitude <- places[].latitude, hotel_id <- hotels[].hotel_id
        if not set(ptoks) <= GENERIC:
            return True
        return bool(field_obj & (target.object | set(ptoks)) - GENERIC)
    if leaf[-1] == ptoks[-1] and ptoks[-1] in GENERIC:  # listing_id <- id of a listing tool
        qualifiers = set(ptoks[:-1]) - GENERIC
        return bool(qualifiers) and qualifiers <= field_obj | source.object
    return False


def field_fit(field: SchemaField, param: Param, source: Node, target: Node) -> str | None:
    """Why this output field can be passed as this parameter, or None when it cannot.

    The field must not merely report how the call went (a status message is no message body); its
    type must fit (one item of a list output fills a scalar parameter); formats, units and
    quantities must agree (share counts are no money, days in a month no forecast horizon); a
    value bound to a thing (an id, a count, a duration) must belong to the same thing; an issued
    input takes only what its own server gave out, and a value the source was itself given (the same
    parameter, stated by the user) passes nothing on. Then either
    the names agree, or the meaning does: the same specific format (an airport code for a travel
    origin given as an airport code), the same unit of measure (gallons), or an id of the same
    entity from the same server (``user_id`` for a ``receiver_id`` "User ID of the user ...")."""
    item = field.type == "array" and param.type in _SCALARS
    if not (item or types_compatible(field.type, param.type)):
        return None
    if param.issued and source.server_id != target.server_id:
        return None  # a handle one system issued means nothing to another
    have, want = field_meaning(field, source), param_meaning(param, target)
    how = "one item of " if item else ""
    why = None
    last = name_tokens(param.name)[-1:]
    if last and name_tokens(field.path)[-1:] == last and _named(field, param, source, target):
        why = f"{how}{field.path} -> {param.name}"
    elif formats := have.formats & want.formats & SPECIFIC_FORMATS:
        codes = (
            field.type in ("string", "array")
            and param.type in ("string", "array")
            and not set(name_tokens(field.name)) & _WORDINGS
        )
        if codes:
            why = f"{how}{field.path} -> {param.name} (both {sorted(formats)[0]} values)"
    if why is None:
        numeric = field.type in ("integer", "number") and param.type in ("integer", "number")
        if numeric and have.unit and have.unit == want.unit and have.unit not in _TIME_UNITS | {"percent"}:
            why = f"{field.path} -> {param.name} (both in {have.unit}s)"
    shared = have.entities & want.entities
    if (
        why is None
        and shared
        and source.server_id == target.server_id
        and _issued_name(field.name)
        and _id_like(param)
        and not _echoes_an_input(have, source)
    ):
        why = f"{how}{field.path} -> {param.name} (both ids of a {sorted(shared)[0]})"
    if why is None or _outcome(field.name, field.description) or have.conflicts(want):
        return None
    if _bound(param, want) and have.entities and want.entities and not shared:
        return None
    if not param.issued and _restates_a_stated_input(field, param, source):
        return None
    return why


_IDENTIFIER = re.compile(r"\b(identifier|id) of\b|\b(unique|its) (id|identifier)\b", re.IGNORECASE)


def _id_like(param: Param) -> bool:
    """An input that names one thing by its handle: an issued id, or a slug or key described as the
    thing's identifier (``titleSlug``: "The URL slug/identifier of the problem")."""
    return param.issued or _described_as_identifier(param.description)


@lru_cache(maxsize=65536)
def _described_as_identifier(description: str) -> bool:
    return bool(_IDENTIFIER.search(description))


def _restates_a_stated_input(field: SchemaField, param: Param, source: Node) -> bool:
    """The source was given this very value (``get_package_info(package_name) -> name`` for a
    ``package_name``): the user stated it already, so passing it on is no dependency."""
    want = name_tokens(param.name)
    leaf = set(name_tokens(field.name))
    return any(name_tokens(p.name) == want and leaf <= set(want) for p in source.params if not p.issued)


def _echoes_an_input(have: Meaning, source: Node) -> bool:
    """An id of the very thing the source was called with (``get_coin(id) -> coin_id``) passes
    nothing new on."""
    return any(
        p.issued and _entities(name_tokens(p.name), p.description, source.object) & have.entities
        for p in source.params
    )


def field_fills(field: SchemaField, param: Param, source: Node, target: Node) -> bool:
    """Can this output field be passed as this parameter? (see :func:`field_fit`)"""
    return field_fit(field, param, source, target) is not None


def judge_nodes(source: Node, target: Node) -> EdgeAnswer:
    """The offline judgement of source -> target (see the module docstring)."""
    if source.id == target.id:
        return EdgeAnswer(type="none", reason="a tool does not feed itself")
    mapping: list[FieldMapping] = []
    reasons: list[str] = []
    used: set[str] = set()
    for param in target.params:
        if set(name_tokens(param.name)) <= USER_SUPPLIED:
            continue  # free text and paging the user states in their own words
        fits = ((f, field_fit(f, param, source, target)) for f in source.outputs if f.path not in used)
        found = next(((f, why) for f, why in fits if why), None)
        if found is not None:
            mapping.append(FieldMapping(output=found[0].path, input=param.name))
            reasons.append(found[1])
            used.add(found[0].path)
    filled = {m.input for m in mapping}
    required = [p for p in target.params if p.required]
    if mapping and required and not filled & {p.name for p in required}:
        mapping, reasons = [], []  # filling only optional inputs is no dependency
    if mapping:
        missing = [
            p.name for p in required if p.name not in filled and not set(name_tokens(p.name)) <= USER_SUPPLIED
        ]
        pairs = "; ".join(reasons)
        if missing:
            return EdgeAnswer(
                type="partial",
                mapping=mapping,
                reason=f"{pairs}; {', '.join(missing)} must come from elsewhere"[:400],
            )
        return EdgeAnswer(type="full", mapping=mapping, reason=f"{pairs} fill every required input"[:400])
    flags = flag_fields(source.outputs)
    shared = (source.object & target.object) - GENERIC - FLAGS
    if flags and shared and source.tool_class != "action" and target.tool_class in ("action", "query"):
        return EdgeAnswer(
            type="prerequisite",
            reason=f"{flags[0].path} tells whether to go on with the {sorted(shared)[0]}",
        )
    return EdgeAnswer(type="none", reason="no output of the source fits an input of the target")


def offline_edge(inputs: dict[str, Any]) -> EdgeAnswer:
    """The offline judge over the task's inputs (the same views the teacher is shown)."""
    return judge_nodes(
        _node_from_view(inputs["source"], outputs=True), _node_from_view(inputs["target"], outputs=False)
    )


def _node_from_view(view: dict[str, Any], *, outputs: bool) -> Node:
    name = view["ref"].rsplit("/", 1)[-1]
    return Node(
        id=view["ref"],
        ref=view["ref"],
        name=name,
        description=view.get("description", ""),
        server_id=view["ref"].rsplit("/", 1)[0],
        category=None,
        tool_class=view.get("tool_class"),
        outputs=tuple(
            SchemaField(o["path"], o["type"], o.get("description", "")) for o in view.get("outputs", [])
        )
        if outputs
        else (),
        params=tuple(
            Param(p["name"], p["type"], p.get("description", ""), p["required"], bool(p.get("issued")))
            for p in view.get("inputs", [])
        ),
        object=tool_object(name, view.get("description", "")),
    )


_LONG = 80


def trim_repeats(inputs: dict[str, Any]) -> dict[str, Any]:
    """The judge's inputs with repeated long text said once: the opening both tools' descriptions share
    (BFCL's "This tool belongs to the ... API" preamble) becomes ``shared_preamble``, and a long field
    or parameter description given before is replaced by a pointer to where it was given."""
    source, target = dict(inputs["source"]), dict(inputs["target"])
    preamble = _common_opening(source.get("description", ""), target.get("description", ""))
    if preamble:
        source["description"] = source["description"][len(preamble) :].lstrip(" :-")
        target["description"] = target["description"][len(preamble) :].lstrip(" :-")
    seen: dict[str, str] = {}

    def once(items: list[dict[str, Any]], key: str, where: str) -> list[dict[str, Any]]:
        out = []
        for item in items:
            text = item.get("description", "")
            if len(text) >= _LONG and text in seen:
                item = {**item, "description": f"(as for {seen[text]})"}
            elif len(text) >= _LONG:
                seen[text] = f"{where} {item[key]}"
            out.append(item)
        return out

    source["inputs"] = once(source.get("inputs", []), "name", "source input")
    source["outputs"] = once(source.get("outputs", []), "path", "source output")
    target["inputs"] = once(target.get("inputs", []), "name", "target input")
    return {**inputs, "source": source, "target": target, "shared_preamble": preamble.strip()}


def _common_opening(a: str, b: str) -> str:
    """The opening two descriptions share, cut at a sentence or "description:" end, when long."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    if n < _LONG or a == b:
        return ""
    cut = max(a.rfind(". ", 0, n), a.lower().rfind("description:", 0, n))
    if cut < _LONG // 2:
        return ""
    return a[: cut + (len("description:") if a.lower().startswith("description:", cut) else 1)]


@dataclass(frozen=True)
class _EdgeJudgeTask(Task[EdgeAnswer]):
    def render(self, inputs: dict[str, Any], *, schema_in_prompt: bool = True) -> Prompt:
        return super().render(trim_repeats(inputs), schema_in_prompt=schema_in_prompt)


EDGE_JUDGE = _EdgeJudgeTask("edge_judge", EdgeAnswer, offline_edge, max_tokens=600, log_offline=False)


def edge_inputs(source: Node, target: Node) -> dict[str, Any]:
    return {"source": source.source_view(), "target": target.target_view()}
