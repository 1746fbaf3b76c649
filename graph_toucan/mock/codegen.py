"""Writing a mock module for one tool: the teacher task ``mock_code`` and its offline implementation.

Every mock follows one contract (docs/method.md section 5): ``main(**arguments)`` checks its arguments
against the input schema and raises ``ValueError``/``TypeError`` naming what is wrong; a ``query`` or
``action`` mock calls ``call_external_api(tool_name, **arguments)`` once and rebuilds the nested
output from the flat values; a ``computation`` mock does no I/O. The offline teacher writes that
contract from the schemas, deterministically: arithmetic, unit conversions and arithmetic
expressions are computed for real; other computation outputs repeat same-named arguments or pick,
seeded by the arguments, among plausible values prepared here.
"""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

from pydantic import BaseModel, Field, field_validator

from graph_toucan.ids import content_id
from graph_toucan.llm.task import Task
from graph_toucan.mock.arithmetic import (
    OPERATION_CALL,
    OPERATION_CODE,
    OPERATION_IMPORTS,
    arithmetic_plan,
    operation_of,
    result_field,
)
from graph_toucan.mock.coherence import concepts
from graph_toucan.mock.families import NOW, Plan, plan_family
from graph_toucan.mock.flatten import FlatField, Shape, first_key, flat_fields, norm, output_shape
from graph_toucan.mock.policy import ALLOWED_MODULES
from graph_toucan.mock.values import value_candidates
from graph_toucan.mock.world import embedded_source
from graph_toucan.records import Tool
from graph_toucan.schema import example_arguments


class MockCode(BaseModel):
    """The teacher's answer: the full source of one mock module."""

    code: str = Field(min_length=20, description="The complete Python module, defining main(**arguments).")

    @field_validator("code")
    @classmethod
    def _unfence(cls, code: str) -> str:
        fenced = re.match(r"^\s*```(?:python|py)?\s*\n(.*?)\n\s*```\s*$", code, re.DOTALL)
        return (fenced.group(1) if fenced else code).strip() + "\n"


def tool_view(tool: Tool) -> dict[str, Any]:
    """What the code task is shown of a tool."""
    return tool.model_dump(
        mode="json",
        include={"name", "server_name", "description", "tool_class", "input_schema", "output_schema"},
    )


def code_inputs(tool: Tool, previous: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Inputs of the ``mock_code`` task; ``previous`` lists failed attempts ``{code, error}``."""
    view = tool_view(tool)
    plan = plan_family(view) or arithmetic_plan(view)
    paths = {f.key: f.path for f in flat_fields(tool.output_schema)}
    known = [
        {"arguments": arguments, "expected": {paths.get(k, k): v for k, v in expected.items()}}
        for arguments, expected in (plan.known if plan else [])[:4]
    ]
    return {
        "tool": view,
        "known_answers": known,
        "fields": [f.describe() for f in flat_fields(tool.output_schema)],
        "sample_arguments": sample_arguments(tool.input_schema),
        "allowed_modules": list(ALLOWED_MODULES),
        "previous": previous or [],
    }


def sample_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """Example arguments the teacher is shown: the schema's own values, a realistic value a user would
    state where that is a placeholder (``"example"``, ``"ex"``), and optional ones left out when
    nothing realistic is known."""
    import random

    from graph_toucan.user_values import is_placeholder, stated_value

    rng = random.Random(content_id("sample-arguments", schema))
    required = set(schema.get("required") or [])
    out: dict[str, Any] = {}
    for name, value in example_arguments(schema, include_optional=True).items():
        sub = (schema.get("properties") or {}).get(name)
        if _placeholder(value, name, is_placeholder):
            stated = stated_value(name, sub, rng)
            if not _placeholder(stated, name, is_placeholder):
                value = stated
            elif name not in required:
                continue
        out[name] = value
    return out


def _placeholder(value: Any, name: str, is_placeholder: Any) -> bool:
    if isinstance(value, list):
        return any(_placeholder(v, name, is_placeholder) for v in value)
    return isinstance(value, str) and (
        is_placeholder(value, name) or (len(value.strip()) < 3 and not value.isupper())
    )


def offline_mock_code(inputs: dict[str, Any]) -> MockCode:
    """The offline teacher: the contract rendered from the schemas (previous attempts change nothing)."""
    return MockCode(code=render_mock(inputs["tool"]))


MOCK_CODE = Task("mock_code", MockCode, offline_mock_code, max_tokens=6000, temperature=0.0)


# -- rendering ------------------------------------------------------------------------------------
def render_mock(tool: dict[str, Any]) -> str:
    """The module source for a tool given as :func:`tool_view` gives it."""
    tool_class = tool.get("tool_class") or "query"
    shape = output_shape(tool.get("output_schema"))
    parameters = parameter_rules(tool.get("input_schema") or {})
    seed = content_id(tool.get("server_name"), tool.get("name"))
    plan = plan_family(tool)
    world_names: list[str] = list(plan.helpers) if plan else []
    if tool_class == "computation":
        operation = None if plan else operation_of(tool, parameters)
        fields = flat_fields(tool.get("output_schema"))
        result_key = result_field(fields, set(parameters)) if operation else None
        body, uses_rng = _computation_main(shape, parameters, operation, result_key, seed, plan)
        helpers = [_CHECK, _COMPUTE_HELPERS, *OPERATION_CODE.get(operation or "", [])]
        imports = {*(["json", "random"] if uses_rng else []), *OPERATION_IMPORTS.get(operation or "", [])}
    else:
        body = _external_main(shape, plan)
        helpers = [_CHECK, _PICK]
        imports = set()
    if world_names:
        source, modules = embedded_source(world_names)
        helpers.append(source)
        imports |= set(modules)
    parts = [_docstring(tool, tool_class, plan)]
    if imports:
        parts.append("\n".join(f"import {m}" for m in sorted(imports)))
    constants = f"TOOL = {_flat_literal(tool['name'])}\nPARAMETERS = {_literal(parameters)}"
    if plan is not None and plan.uses_now:
        constants += f"\nNOW = {_q(NOW)}  # the simulated world's time when the conversation gives none"
    parts.append(constants)
    parts.append(body)
    parts.extend(helpers)
    return "\n\n\n".join(p.strip("\n") for p in parts if p) + "\n"


def _docstring(tool: dict[str, Any], tool_class: str, plan: Plan | None = None) -> str:
    summary = " ".join(str(tool.get("description") or "").split())
    if len(summary) > 300:
        summary = summary[:297].rsplit(" ", 1)[0] + "..."
    how = (
        "computes its output from the arguments, with no I/O"
        if tool_class == "computation"
        else "asks call_external_api for flat values and rebuilds the nested output from them"
    )
    if plan is not None:
        how += f"; the {plan.family} outputs are computed for real"
    text = [
        f'Mock of the {tool_class} tool `{tool["name"]}` of "{tool.get("server_name") or ""}".',
        "",
        *textwrap.wrap(summary, 100),
        *([""] if summary else []),
        *textwrap.wrap(
            "Written by graph-toucan's offline teacher from the tool's schemas: main() checks the "
            f"arguments against the input schema and {how}.",
            100,
        ),
    ]
    body = "\n".join(text).replace("\\", "/").replace('"""', "'''")
    return f'"""{body}\n"""'


def parameter_rules(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``PARAMETERS`` of a generated mock: each argument's types, whether required, enum and bounds."""
    required = set(schema.get("required") or [])
    found: dict[str, dict[str, Any]] = {}
    for name, sub in (schema.get("properties") or {}).items():
        sub = sub if isinstance(sub, dict) else {}
        rule: dict[str, Any] = {"types": _types(sub), "required": name in required}
        if isinstance(sub.get("enum"), list) and sub["enum"]:
            rule["enum"] = sub["enum"]
        for bound in ("minimum", "maximum"):
            if isinstance(sub.get(bound), int | float) and not isinstance(sub.get(bound), bool):
                rule[bound] = sub[bound]
        found[name] = rule
    return found


def _types(schema: dict[str, Any]) -> list[str]:
    """The JSON types an argument may have; ``[]`` for any."""
    typ = schema.get("type")
    if isinstance(typ, str):
        return [typ]
    if isinstance(typ, list):
        return [t for t in typ if isinstance(t, str)]
    options = [o for key in ("anyOf", "oneOf") for o in schema.get(key) or [] if isinstance(o, dict)]
    per_option = [_types(o) for o in options]
    if not per_option or any(not types for types in per_option):
        return []
    return list(dict.fromkeys(t for types in per_option for t in types))


def _literal(value: Any, indent: int = 0, width: int = 100) -> str:
    """JSON data as Python source with double quotes, one item per line when it does not fit."""
    flat = _flat_literal(value)
    if len(flat) + 4 * indent <= width or not isinstance(value, dict | list) or not value:
        return flat
    pad = "    " * (indent + 1)
    if isinstance(value, dict):
        items = [f"{pad}{_flat_literal(str(k))}: {_literal(v, indent + 1, width)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + ",\n" + "    " * indent + "}"
    items = [f"{pad}{_literal(v, indent + 1, width)}" for v in value]
    return "[\n" + ",\n".join(items) + ",\n" + "    " * indent + "]"


def _flat_literal(value: Any) -> str:
    """One-line Python source of JSON data."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flat_literal(str(k))}: {_flat_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flat_literal(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _expression(shape: Shape, leaf: Any, indent: int = 1, guard: Any = None) -> str:
    """Source of the output; ``guard(item)`` is the condition under which a list item is present
    (None: every item is)."""
    pad = "    " * indent
    if shape.kind == "object":
        if not shape.children:
            return "{}"
        inner = ",\n".join(
            f"{pad}    {_q(name)}: {_expression(child, leaf, indent + 1, guard)}"
            for name, child in shape.children.items()
        )
        return "{\n" + inner + f",\n{pad}}}"
    if shape.kind == "list":
        if not shape.items:
            return "[]"
        if guard is None:
            inner = ",\n".join(f"{pad}    {_expression(item, leaf, indent + 1)}" for item in shape.items)
            return "[\n" + inner + f",\n{pad}]"
        rows = []
        for n, item in enumerate(shape.items):
            condition = guard(item, n, shape.min_items)
            if condition == "False":
                continue
            source = _expression(item, leaf, indent + 1, guard)
            rows.append(
                f"{pad}    {source} if {condition} else ABSENT"
                if condition != "True"
                else f"{pad}    {source}"
            )
        return "listed(\n" + ",\n".join(rows) + f",\n{pad})"
    if shape.kind == "leaf" and shape.leaf is not None:
        return str(leaf(shape.leaf, indent))
    return _literal(shape.value)


def _present(item: Shape, n: int, min_items: int = 0) -> str:
    """An item of a list is present when call_external_api returned its first key."""
    key = first_key(item)
    if key is None:
        return "True" if n < max(1, min_items) else "False"
    return f"{_q(key)} in flat"


def _external_main(shape: Shape, plan: Plan | None = None) -> str:
    computed = plan.outputs if plan else {}

    def leaf(f: FlatField, _: int) -> str:
        if f.key in computed:
            return computed[f.key]
        return f"pick(flat, {_q(f.key)}, {_q(f.type)})"

    output = _expression(shape, leaf, guard=_present)
    lines = [
        "def main(**arguments):",
        "    check_arguments(arguments)",
        "    flat = call_external_api(TOOL, **arguments)",
    ]
    if plan is not None:
        if plan.uses_now:
            lines.append('    now = flat.get("_now") or NOW')
        lines.extend(f"    {line}" for line in plan.prelude)
    lines.append(f"    return {output}")
    return "\n".join(lines) + "\n"


def _computation_main(
    shape: Shape,
    parameters: dict[str, dict[str, Any]],
    operation: str | None,
    result_key: str | None,
    seed: str,
    plan: Plan | None = None,
) -> tuple[str, bool]:
    """``main`` of a computation mock, and whether it draws from a seeded ``rng``."""
    names = {norm(n): n for n in parameters}
    uses_rng = False
    computed = plan.outputs if plan else {}

    def leaf(f: FlatField, indent: int) -> str:
        nonlocal uses_rng
        if f.key in computed:
            return computed[f.key]
        if f.key == result_key:
            return f"as_type(result, {_q(f.type)})"
        uses_rng = True
        choices = _literal(value_candidates(f, seed), indent)
        source = names.get(norm(f.name)) if not f.indexes else None
        if source is None and not f.indexes:
            source = names.get(norm(f.key))
        if source is None and not f.indexes:  # an argument of the same meaning (path -> file_path)
            source = next((n for n in parameters if concepts(n) & concepts(f.name)), None)
        if source is not None:
            return f"same_or(arguments, {_q(source)}, {_q(f.type)}, rng, {choices})"
        return f"rng.choice({choices})"

    output = _expression(shape, leaf)
    lines = ["def main(**arguments):", "    check_arguments(arguments)"]
    if plan is not None:
        if plan.uses_now:
            lines.append("    now = NOW")
        lines.extend(f"    {line}" for line in plan.prelude)
    if operation:
        lines.append(f"    result = {OPERATION_CALL[operation](parameters)}")
    if uses_rng:
        lines.append("    rng = random.Random(json.dumps(arguments, sort_keys=True, default=str))")
    lines.append(f"    return {output}")
    return "\n".join(lines) + "\n", uses_rng


_q = _flat_literal  # a quoted literal inside generated source


_CHECK = '''
def check_arguments(arguments):
    """Raise ValueError or TypeError naming the argument that does not fit PARAMETERS."""
    for name, rule in PARAMETERS.items():
        if name not in arguments:
            if rule["required"]:
                expected = " or ".join(rule["types"]) or "any value"
                raise ValueError(f"missing required argument '{name}' ({expected})")
            continue
        value = arguments[name]
        if rule["types"] and not any(is_type(value, kind) for kind in rule["types"]):
            expected = " or ".join(rule["types"])
            raise TypeError(f"argument '{name}' must be {expected}, got {type_name(value)} {value!r}")
        if "enum" in rule and value not in rule["enum"]:
            raise ValueError(f"argument '{name}' must be one of {rule['enum']}, got {value!r}")
        if "minimum" in rule and is_type(value, "number") and value < rule["minimum"]:
            raise ValueError(f"argument '{name}' must be at least {rule['minimum']}, got {value!r}")
        if "maximum" in rule and is_type(value, "number") and value > rule["maximum"]:
            raise ValueError(f"argument '{name}' must be at most {rule['maximum']}, got {value!r}")


def is_type(value, kind):
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "null":
        return value is None
    return True


def type_name(value):
    for kind in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if is_type(value, kind):
            return kind
    return "value"
'''

_PICK = '''
ABSENT = object()  # a list item call_external_api did not return


def listed(*items):
    """The items of a list that are present (lists have 1 to 5 items, as the simulator chose)."""
    return [item for item in items if item is not ABSENT]


def pick(flat, key, kind):
    """One flat value from call_external_api, checked against the type the output schema wants."""
    if key not in flat:
        raise RuntimeError(f"call_external_api returned no value for '{key}'")
    value = flat[key]
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not is_type(value, kind):
        raise RuntimeError(f"call_external_api returned {type_name(value)} for '{key}', expected {kind}")
    return value
'''

_COMPUTE_HELPERS = '''
def same_or(arguments, name, kind, rng, choices):
    """The argument of the same name when it has the output's type, else one of the choices."""
    value = arguments.get(name)
    if value is not None and is_type(value, kind):
        return value
    return rng.choice(choices)


def as_type(value, kind):
    if kind == "integer":
        return int(round(value))
    if kind == "string":
        return str(value)
    return value
'''
