"""An LLM task: a prompt template in ``prompts/<name>.md``, an output model, an offline implementation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Generic, TypeVar

import jinja2
from pydantic import BaseModel, ValidationError

from graph_toucan.errors import GraphToucanError
from graph_toucan.resources import data_dir

O = TypeVar("O", bound=BaseModel)  # noqa: E741

SYSTEM_PROMPT = (
    "You generate data for training tool-using assistants. Follow the instructions exactly and answer "
    "with one JSON object only, with no text before or after it."
)
MAX_ANSWER_CHARS = 200_000  # an answer longer than this is a failure, never stored as a usable one
MAX_ANSWER_DEPTH = 40  # nesting of objects and lists no task's answer needs

TASKS: dict[str, Task[Any]] = {}


class OutputParseError(ValueError):
    """The model's text is not JSON, or not valid for the task's output model."""


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str


@dataclass(frozen=True)
class Task(Generic[O]):
    """A named step the teacher performs. ``offline(inputs)`` answers it without any model."""

    name: str
    output: type[O]
    offline: Callable[[dict[str, Any]], O] = field(repr=False)
    max_tokens: int = 1024
    temperature: float = 0.0
    log_offline: bool = True  # False for cheap, deterministic offline answers whose results are stored anyway

    def __post_init__(self) -> None:
        TASKS[self.name] = self

    def render(self, inputs: dict[str, Any], *, schema_in_prompt: bool = True) -> Prompt:
        """The prompt: the task's template over ``inputs``, then the JSON Schema the answer must follow
        (left out when the request carries it as structured output: ``schema_in_prompt=False``)."""
        try:
            body = _environment().get_template(f"{self.name}.md").render(**inputs)
        except jinja2.TemplateNotFound:
            raise GraphToucanError(
                f"task {self.name} has no prompt template prompts/{self.name}.md"
            ) from None
        except jinja2.UndefinedError as exc:
            raise GraphToucanError(f"task {self.name} was given incomplete inputs: {exc.message}") from None
        if not schema_in_prompt:
            return Prompt(SYSTEM_PROMPT, body.strip())
        schema = _schema_text(self.output)
        return Prompt(
            SYSTEM_PROMPT,
            f"{body.strip()}\n\nAnswer with one JSON object valid against this JSON Schema:\n{schema}",
        )

    def output_schema(self) -> dict[str, Any]:
        """The output model's schema as a request's structured-output form: strict where the schema
        allows it (every object closed, with every property required), else plain."""
        return _output_schema(self.name, self.output)

    def parse(self, text: str, inputs: dict[str, Any] | None = None) -> O:
        """Validate the model's text as the output model; :class:`OutputParseError` says what is wrong.

        ``inputs`` reach the model's validators as the validation context, so an answer can be checked
        against what was asked (e.g. a mapping may only name parameters the tool has). An empty answer,
        one over :data:`MAX_ANSWER_CHARS` or one nested deeper than :data:`MAX_ANSWER_DEPTH` is a
        parse failure like any other."""
        value = extract_json(text)
        if _depth(value) > MAX_ANSWER_DEPTH:
            raise OutputParseError(f"the JSON is nested more than {MAX_ANSWER_DEPTH} levels deep")
        try:
            return self.output.model_validate(value, context=inputs)
        except RecursionError:
            raise OutputParseError("the JSON is nested too deeply to read") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg']}" for e in exc.errors()[:8]
            )
            raise OutputParseError(f"the JSON does not match the schema: {problems}") from None


def extract_json(text: str) -> Any:
    """The first JSON object in ``text``, tolerating code fences and prose around it."""
    stripped = text.strip()
    if not stripped:
        raise OutputParseError("the answer is empty")
    if len(stripped) > MAX_ANSWER_CHARS:
        raise OutputParseError(
            f"the answer is {len(stripped):,} characters long, over the limit of {MAX_ANSWER_CHARS:,}; "
            "answer with the JSON object only"
        )
    try:
        return json.loads(stripped)
    except json.JSONDecodeError:
        pass
    except RecursionError:
        raise OutputParseError("the JSON is nested too deeply to read") from None
    decoder = json.JSONDecoder()
    for start in (i for i, ch in enumerate(stripped) if ch == "{"):
        try:
            return decoder.raw_decode(stripped, start)[0]
        except json.JSONDecodeError:
            continue
        except RecursionError:
            raise OutputParseError("the JSON is nested too deeply to read") from None
    raise OutputParseError("the answer contains no JSON object")


def _depth(value: Any, limit: int = MAX_ANSWER_DEPTH + 1) -> int:
    """How deeply ``value`` nests (counted up to ``limit``, without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list) and depth > deepest:
            deepest = depth
            if deepest >= limit:
                return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def feedback(error: OutputParseError) -> str:
    """What the model is told when its answer did not parse."""
    return f"Your answer could not be used: {error}. Answer again with only the corrected JSON object."


@cache
def _output_schema(name: str, output: type[BaseModel]) -> dict[str, Any]:
    schema = output.model_json_schema()
    return {"name": name, "schema": schema, "strict": _strict_ok(schema)}


def _strict_ok(schema: Any) -> bool:
    """Whether OpenAI's strict mode takes ``schema`` as it is: every object lists all its properties
    as required and forbids others (pydantic models with defaults do not)."""
    if isinstance(schema, list):
        return all(_strict_ok(s) for s in schema)
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False or set(schema.get("required") or []) != set(
            properties
        ):
            return False
    return all(_strict_ok(v) for k, v in schema.items() if k not in ("enum", "const", "default", "examples"))


@cache
def _schema_text(output: type[BaseModel]) -> str:
    """The JSON Schema every prompt of a task ends with (built once per output model: prompts are
    rendered for every remote request)."""
    return json.dumps(output.model_json_schema(), indent=1)


_SENTENCE_END = re.compile(r"[.!?;:](?=\s)|\n")


def brief(text: Any, limit: int = 600) -> str:
    """``text`` within ``limit`` characters, shortened at a sentence end where one falls in the second
    half of the limit, else at a word boundary, and marked " (shortened)"; never cut inside a word."""
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if ends and ends[-1] >= limit // 2:
        return head[: ends[-1]].rstrip() + " (shortened)"
    cut = head.rfind(" ")
    return head[: cut if cut > 0 else limit].rstrip(" ,;:-") + " (shortened)"


def brief_json(value: Any, limit: int = 1200) -> str:
    """``value`` as JSON of at most about ``limit`` characters that still parses: long lists keep their
    first items and say how many more there were, long strings are shortened with :func:`brief`,
    objects with many fields keep the first ones; never JSON cut in the middle."""
    text = _tojson(value)
    for items, chars, fields in ((5, 300, 40), (3, 160, 20), (2, 80, 12), (1, 40, 6)):
        if len(text) <= limit:
            return text
        text = _tojson(_shrink(value, items, chars, fields))
    return text


def _shrink(value: Any, items: int, chars: int, fields: int, depth: int = 0) -> Any:
    if depth > MAX_ANSWER_DEPTH:
        return "(nested deeper)"
    if isinstance(value, str):
        return brief(value, chars)
    if isinstance(value, list):
        kept = [_shrink(v, items, chars, fields, depth + 1) for v in value[:items]]
        return kept + ([f"(+{len(value) - items} more items)"] if len(value) > items else [])
    if isinstance(value, dict):
        keys = sorted(value)[:fields]
        kept = {k: _shrink(value[k], items, chars, fields, depth + 1) for k in keys}
        if len(value) > fields:
            kept["(more fields)"] = len(value) - fields
        return kept
    return value


def article(word: Any) -> str:
    """``a`` or ``an`` before ``word`` (``an action tool``)."""
    return "an" if str(word or "").strip()[:1].lower() in ("a", "e", "i", "o", "u") else "a"


def _tojson(value: Any, indent: int | None = None) -> str:
    """JSON as a model should read it: Jinja's own ``tojson`` escapes it for HTML (``'`` becomes
    ``\\u0027``, ``&`` becomes ``\\u0026``), which prompts are not."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=indent, default=str)


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(data_dir("prompts")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )
    environment.filters["tojson"] = _tojson
    environment.filters["brief"] = brief
    environment.filters["brief_json"] = brief_json
    environment.filters["article"] = article
    return environment
