"""Tool annotation (docs/method.md sections 1-2): tags, class and output schema, each an LLM task with an
offline implementation, and :func:`annotate_tools`, which runs them over a workspace resumably.

Tags group tools for TOUCAN's baseline sampler; the class and the output schema make a tool a node
of the dependency graph."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from graph_toucan.argument_sources import classify_parameter
from graph_toucan.errors import BudgetExceeded, LLMError, SchemaError, every_item_failed
from graph_toucan.fields import VERBS, json_type, name_tokens, word_set
from graph_toucan.llm.client import LLM
from graph_toucan.llm.task import Task
from graph_toucan.output_design import design_schema, infer_schema, parse_result
from graph_toucan.records import ParameterClass, Tool, ToolClass, ToolExample
from graph_toucan.schema import check_schema
from graph_toucan.store import Store

_STOPWORDS = set(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "for",
        "in",
        "on",
        "at",
        "by",
        "with",
        "from",
        "into",
        "via",
        "using",
        "use",
        "used",
        "this",
        "that",
        "these",
        "those",
        "is",
        "are",
        "be",
        "it",
        "its",
        "as",
        "can",
        "will",
        "your",
        "you",
        "get",
        "set",
        "list",
        "make",
        "run",
        "any",
        "all",
        "one",
        "two",
        "tool",
        "tools",
        "server",
        "mcp",
        "api",
        "data",
        "given",
        "specified",
        "based",
        "provide",
        "provides",
        "returns",
        "return",
        "e",
        "g",
        "i",
        "etc",
        "if",
        "when",
        "which",
        "who",
        "what",
        "new",
        "more",
        "about",
        "up",
        "out",
        "not",
        "no",
        "only",
        "also",
        "other",
        "such",
    ]
)
_ACTIONS = {
    "get": "retrieval",
    "fetch": "retrieval",
    "read": "retrieval",
    "search": "search",
    "find": "search",
    "query": "search",
    "list": "listing",
    "create": "creation",
    "add": "creation",
    "send": "messaging",
    "update": "update",
    "edit": "update",
    "delete": "deletion",
    "remove": "deletion",
    "convert": "conversion",
    "calculate": "calculation",
    "compute": "calculation",
    "generate": "generation",
    "analyze": "analysis",
    "book": "booking",
    "download": "download",
    "upload": "upload",
    "check": "validation",
    "validate": "validation",
}


class ToolTags(BaseModel):
    """Exactly three short lowercase tags."""

    tags: list[str] = Field(min_length=3, max_length=3)

    @field_validator("tags")
    @classmethod
    def _short(cls, tags: list[str]) -> list[str]:
        cleaned = [t.strip().lower() for t in tags]
        for tag in cleaned:
            if not tag or len(tag.split()) > 3:
                raise ValueError(f"tag {tag!r} must be one to three words")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("tags must differ from each other")
        return cleaned


def _words(text: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return [w for w in re.findall(r"[a-z]+", spaced.lower()) if len(w) > 2 and w not in _STOPWORDS]


def offline_tags(inputs: dict[str, Any]) -> ToolTags:
    """Domain from the server's category (or its most frequent word), object from the description's
    most frequent noun-like word, operation from the tool name's verb."""
    tool = inputs["tool"]
    name_words = re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", tool["name"]).lower())
    verb = next((_ACTIONS[w] for w in name_words if w in _ACTIONS), "operation")
    counts = Counter(_words(tool.get("description") or "") + _words(" ".join(name_words)) * 2)
    domain = (tool.get("category") or "").lower().split(" & ")[0].strip()
    if not domain or domain == "others":
        domain = next((w for w, _ in counts.most_common() if w != verb), "general")
    obj = next((w for w, _ in counts.most_common() if w not in (domain, verb) and w not in _ACTIONS), "item")
    tags = list(dict.fromkeys([domain, obj, verb]))
    while len(tags) < 3:
        tags.append(f"{obj} {verb}" if f"{obj} {verb}" not in tags else "misc")
    return ToolTags(tags=tags)


TOOL_TAGS = Task("tool_tags", ToolTags, offline_tags, max_tokens=200)


def tags_inputs(tool: Tool) -> dict[str, Any]:
    """What the tags task is shown of a tool."""
    return {
        "tool": tool.model_dump(include={"name", "server_name", "category", "description", "input_schema"})
    }


# -- class ------------------------------------------------------------------------------------------

_ACTION_WORDS = word_set(
    """create add new insert post send write update edit modify set change patch delete remove cancel
    book reserve submit publish upload download save move rename copy execute run start stop kill
    invite join subscribe unsubscribe fork star merge close open approve assign install deploy"""
)
_COMPUTE_WORDS = word_set(
    """convert calculate compute evaluate parse format encode decode hash validate add subtract multiply
    divide power sqrt sum average mean round count diff compare transform render generate"""
)
# Arithmetic words: they make a computation of numbers only (``add_note`` stores a note).
_ARITHMETIC_WORDS = word_set("add subtract multiply divide power sqrt sum average mean round diff")
# Words saying a tool reaches an outside source even when its verb sounds like pure computation.
_OUTSIDE_WORDS = word_set(
    """search fetch api web url http https latest current live online internet database remote real
    exchange market news weather stock price download crawl scrape service account"""
)


_READ_VERBS = word_set("get fetch read retrieve list search find query lookup look show view describe")


class ToolClassAnswer(BaseModel):
    """computation: no outside information; query: reads an outside source and changes nothing;
    action: changes outside state."""

    tool_class: ToolClass
    reason: str = Field(default="", max_length=400)


def offline_class(inputs: dict[str, Any]) -> ToolClassAnswer:
    """The class from the name's verbs, the MCP read-only hint, and whether the description mentions
    an outside source. A compute word over numbers only (or lists of numbers) is computation; so is
    any other compute word (``count_words``, ``format_date``) with no outside source, unless the tool
    reads (``get_transaction_count``). Arithmetic words over anything else are not: ``add_note``
    stores a note, an action."""
    tool = inputs["tool"]
    names = name_tokens(tool["name"])
    words = set(names)
    described = set(name_tokens(tool.get("description") or ""))
    props = (tool.get("input_schema") or {}).get("properties") or {}
    numeric = bool(props) and all(_numeric(p) for p in props.values())
    outside = bool(words & _OUTSIDE_WORDS) or len(described & _OUTSIDE_WORDS) >= 2
    leading = next((w for w in names if w in VERBS), "")
    compute = words & _COMPUTE_WORDS
    if compute and (numeric or not (outside or leading in _READ_VERBS or compute <= _ARITHMETIC_WORDS)):
        return ToolClassAnswer(
            tool_class="computation", reason="transforms its inputs with no outside source"
        )
    if words & _ACTION_WORDS and tool.get("read_only") is not True and leading not in _READ_VERBS:
        verb = sorted(words & _ACTION_WORDS)[0]
        return ToolClassAnswer(tool_class="action", reason=f"'{verb}' changes outside state")
    return ToolClassAnswer(tool_class="query", reason="reads an outside source without changing it")


def _numeric(prop: Any) -> bool:
    """A number, an integer, or a list of them."""
    kind = json_type(prop)
    if kind == "array" and isinstance(prop, dict):
        kind = json_type(prop.get("items") or {})
    return kind in ("number", "integer")


TOOL_CLASS = Task("tool_class", ToolClassAnswer, offline_class, max_tokens=300)


# -- parameter classes --------------------------------------------------------------------------------


class ParameterClassesAnswer(BaseModel):
    """Each input parameter: ``user`` (a person states it) or ``issued`` (only a tool output holds it)."""

    classes: dict[str, ParameterClass]

    @field_validator("classes")
    @classmethod
    def _every_parameter(
        cls, classes: dict[str, ParameterClass], info: ValidationInfo
    ) -> dict[str, ParameterClass]:
        inputs = info.context
        if not isinstance(inputs, dict) or "tool" not in inputs:
            return classes
        wanted = set((inputs["tool"]["input_schema"].get("properties") or {}).keys())
        unknown, absent = set(classes) - wanted, wanted - set(classes)
        if unknown or absent:
            raise ValueError(
                f"classes must name exactly the parameters {sorted(wanted)}"
                + (f"; not {sorted(unknown)}" if unknown else "")
                + (f"; missing {sorted(absent)}" if absent else "")
            )
        return classes


def offline_parameter_classes_answer(inputs: dict[str, Any]) -> ParameterClassesAnswer:
    tool = inputs["tool"]
    props = tool["input_schema"].get("properties") or {}
    return ParameterClassesAnswer(classes={n: classify_parameter(n, s) for n, s in props.items()})


PARAMETER_CLASSES = Task(
    "parameter_classes", ParameterClassesAnswer, offline_parameter_classes_answer, max_tokens=600
)


# -- output schema ----------------------------------------------------------------------------------


class OutputSchemaAnswer(BaseModel):
    """A JSON Schema of type object for what the tool returns."""

    output_schema: dict[str, Any]

    @field_validator("output_schema")
    @classmethod
    def _valid(cls, schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
            raise ValueError('the output schema must be {"type": "object", "properties": {...}}')
        if not schema["properties"]:
            raise ValueError("the output schema must name at least one output field")
        try:
            check_schema(schema)
        except SchemaError as exc:
            raise ValueError(str(exc)) from None
        return schema


def offline_output_schema(inputs: dict[str, Any]) -> OutputSchemaAnswer:
    """The structure of the real examples when there are some, else the offline designer's schema."""
    tool = inputs["tool"]
    if inputs.get("inferred_schema"):
        schema = inputs["inferred_schema"]
    else:
        schema = design_schema(
            tool["name"], tool.get("description") or "", tool["input_schema"], inputs["tool_class"]
        )
    return OutputSchemaAnswer(output_schema=schema)


OUTPUT_SCHEMA = Task("output_schema", OutputSchemaAnswer, offline_output_schema, max_tokens=2000)


def drop_echoes(schema: dict[str, Any], input_schema: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The schema without top-level fields that only repeat an input of the same name. Handles a
    system issues (a paginating tool's ``session_id`` or ``cursor``) pass through and are kept: a later
    call needs them."""
    inputs = {name_tokens(n) for n in (input_schema.get("properties") or {})}
    props = schema.get("properties") or {}
    dropped = [n for n in props if name_tokens(n) in inputs and classify_parameter(n, props[n]) != "issued"]
    if not dropped or len(dropped) == len(props):
        return schema, []
    kept = {n: v for n, v in props.items() if n not in dropped}
    required = [n for n in schema.get("required") or [] if n in kept]
    return {**schema, "properties": kept, "required": required}, dropped


def schema_inputs(tool: Tool, tool_class: ToolClass | None, examples: list[ToolExample]) -> dict[str, Any]:
    """What the output-schema task is shown: the tool, its class and up to four real results."""
    usable = [e for e in examples if not e.is_error][:4]
    results = [e.structured if e.structured is not None else e.result for e in usable]
    return {
        "tool": tool.model_dump(include={"name", "server_name", "description", "input_schema"}),
        "tool_class": tool_class,
        "examples": [
            {"arguments": e.arguments, "result": _clip(parse_result(r))}
            for e, r in zip(usable, results, strict=True)
        ],
        "inferred_schema": infer_schema(results) if results else None,
    }


def _clip(value: Any, limit: int = 1500) -> Any:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return value if len(text) <= limit else text[:limit] + " ...(cut)"


# -- running all three ------------------------------------------------------------------------------


@dataclass
class AnnotateReport:
    tools: int = 0
    annotated: int = 0
    already: int = 0
    echoes_dropped: int = 0
    from_examples: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tools": self.tools,
            "annotated": self.annotated,
            "already_annotated": self.already,
            "schemas_from_examples": self.from_examples,
            "echo_fields_dropped": self.echoes_dropped,
            "failed": [{"tool": t, "reason": r} for t, r in self.failed],
        }


def needs_annotation(tool: Tool) -> bool:
    return not (tool.tags and tool.tool_class and tool.output_schema and tool.parameter_classes is not None)


async def annotate_tool(tool: Tool, llm: LLM, examples: list[ToolExample]) -> tuple[Tool, list[str]]:
    """The tool with tags, class and output schema filled (those it has are kept)."""
    tags = tool.tags or (await llm.run(TOOL_TAGS, tags_inputs(tool))).tags
    tool_class = (
        tool.tool_class
        or (await llm.run(TOOL_CLASS, {"tool": tool.model_dump(include=_CLASS_FIELDS)})).tool_class
    )
    dropped: list[str] = []
    schema = tool.output_schema
    if not schema:
        answer = await llm.run(OUTPUT_SCHEMA, schema_inputs(tool, tool_class, examples))
        schema, dropped = drop_echoes(answer.output_schema, tool.input_schema)
    classes = tool.parameter_classes
    if classes is None:
        properties = tool.input_schema.get("properties") or {}
        classes = (
            (await llm.run(PARAMETER_CLASSES, {"tool": tool.model_dump(include=_CLASS_FIELDS)})).classes
            if properties
            else {}
        )
    update = {"tags": tags, "tool_class": tool_class, "output_schema": schema, "parameter_classes": classes}
    return tool.model_copy(update=update), dropped


_CLASS_FIELDS = {"name", "server_name", "category", "description", "input_schema", "read_only"}


async def annotate_tools(
    store: Store,
    llm: LLM,
    *,
    tools: list[Tool] | None = None,
    batch: int = 64,
    progress: Callable[[int], None] | None = None,
) -> AnnotateReport:
    """Annotate every tool of the workspace that lacks tags, class or output schema.

    Resumable: finished tools are written batch by batch and skipped on a rerun, and the teacher's
    answers are in the call log. A tool whose answers never validate is reported, not written."""
    tools = store.tools() if tools is None else tools
    report = AnnotateReport(tools=len(tools))
    todo = [t for t in tools if needs_annotation(t)]
    report.already = len(tools) - len(todo)
    if progress and report.already:
        progress(report.already)
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        examples = [store.examples(t.id) for t in chunk]
        results = await asyncio.gather(
            *(annotate_tool(t, llm, e) for t, e in zip(chunk, examples, strict=True)), return_exceptions=True
        )
        with store.transaction():
            for tool, result, tool_examples in zip(chunk, results, examples, strict=True):
                if isinstance(result, BudgetExceeded):
                    raise result
                if isinstance(result, LLMError):
                    report.failed.append((tool.ref, str(result)))
                    continue
                if isinstance(result, BaseException):
                    raise result
                annotated, dropped = result
                store.update_tool(annotated)
                report.annotated += 1
                report.echoes_dropped += len(dropped)
                report.from_examples += any(not e.is_error for e in tool_examples)
        if progress:
            progress(len(chunk))
    every_item_failed("annotation", "tools", report.failed, report.annotated)
    return report
