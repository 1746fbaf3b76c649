"""Output filtering and edge judgement (docs/method.md section 3), as LLM tasks with offline judges.

Output filtering drops a tool's output fields that restate one of its own inputs, so that
``get_user(user_id) -> {user_id}`` does not look like it feeds ``delete_user(user_id)``.
The edge judge decides, for the ordered pair node -> candidate, whether the node's outputs fill all
(``full``) or some (``partial``) of the candidate's inputs, decide whether to call it
(``prerequisite``), or neither (``none``), and which output field fills which input parameter.

The offline judge reads field names, types and descriptions and the tools' classes: a field fills
a parameter when their names agree (``places[].latitude`` -> ``latitude``); a generic name
(``id``, ``name``, ``url``) only counts when both sides are about the same object
(``hotels[].hotel_id`` -> ``get_hotel_details(id)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from graph_toucan.fields import (
    GENERIC,
    USER_SUPPLIED,
    field_object,
    json_type,
    name_tokens,
    text_tokens,
    tool_object,
    types_compatible,
)
from graph_toucan.llm.task import Task
from graph_toucan.records import EdgeType, FieldMapping, Tool
from graph_toucan.schema import SchemaField, leaf_fields

# -- what the judges see ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    description: str
    required: bool


def params_of(input_schema: dict[str, Any]) -> list[Param]:
    """The top-level input parameters of a tool."""
    props = input_schema.get("properties") or {}
    required = set(input_schema.get("required") or [])
    return [
        Param(
            name,
            json_type(sub),
            str((sub or {}).get("description") or "")[:300] if isinstance(sub, dict) else "",
            name in required,
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
            params=tuple(params_of(tool.input_schema)),
            object=tool_object(tool.name, tool.description),
        )

    def source_view(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "description": self.description[:600],
            "tool_class": self.tool_class,
            "outputs": [
                {"path": f.path, "type": f.type, "description": f.description[:200]} for f in self.outputs
            ],
        }

    def target_view(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "description": self.description[:600],
            "tool_class": self.tool_class,
            "inputs": [
                {"name": p.name, "type": p.type, "description": p.description[:200], "required": p.required}
                for p in self.params
            ],
        }


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
        return self


FLAGS = frozenset({"exist", "exists", "valid", "available", "success", "ok", "found", "allowed", "enabled"})


def flag_fields(outputs: tuple[SchemaField, ...]) -> list[SchemaField]:
    """Top-level yes/no outputs (``exists``, ``valid``) that can decide whether to call another tool."""
    return [
        f for f in outputs if f.type == "boolean" and "[]" not in f.path and set(name_tokens(f.name)) & FLAGS
    ]


def field_fills(field: SchemaField, param: Param, source: Node, target: Node) -> bool:
    """Can this output field be passed as this parameter? Names must agree; a generic name only
    counts when the field and the target are about the same object."""
    if not types_compatible(field.type, param.type):
        return False
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


def judge_nodes(source: Node, target: Node) -> EdgeAnswer:
    """The offline judgement of source -> target (see the module docstring)."""
    if source.id == target.id:
        return EdgeAnswer(type="none", reason="a tool does not feed itself")
    mapping: list[FieldMapping] = []
    for param in target.params:
        if set(name_tokens(param.name)) <= USER_SUPPLIED:
            continue  # free text and paging the user states in their own words
        field = next((f for f in source.outputs if field_fills(f, param, source, target)), None)
        if field is not None:
            mapping.append(FieldMapping(output=field.path, input=param.name))
    if mapping:
        filled = {m.input for m in mapping}
        missing = [
            p.name
            for p in target.params
            if p.required and p.name not in filled and not set(name_tokens(p.name)) <= USER_SUPPLIED
        ]
        pairs = ", ".join(f"{m.output} -> {m.input}" for m in mapping)
        if missing:
            return EdgeAnswer(
                type="partial",
                mapping=mapping,
                reason=f"{pairs}; {', '.join(missing)} must come from elsewhere",
            )
        return EdgeAnswer(type="full", mapping=mapping, reason=f"{pairs} fill every required input")
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
            Param(p["name"], p["type"], p.get("description", ""), p["required"])
            for p in view.get("inputs", [])
        )
        if not outputs
        else (),
        object=tool_object(name, view.get("description", "")),
    )


EDGE_JUDGE = Task("edge_judge", EdgeAnswer, offline_edge, max_tokens=600, log_offline=False)


def edge_inputs(source: Node, target: Node) -> dict[str, Any]:
    return {"source": source.source_view(), "target": target.target_view()}
