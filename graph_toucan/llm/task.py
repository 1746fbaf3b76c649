"""An LLM task: a prompt template in ``prompts/<name>.md``, an output model, an offline implementation."""

from __future__ import annotations

import json
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

    def render(self, inputs: dict[str, Any]) -> Prompt:
        """The prompt: the task's template over ``inputs``, then the JSON Schema the answer must follow."""
        try:
            body = _environment().get_template(f"{self.name}.md").render(**inputs)
        except jinja2.TemplateNotFound:
            raise GraphToucanError(
                f"task {self.name} has no prompt template prompts/{self.name}.md"
            ) from None
        except jinja2.UndefinedError as exc:
            raise GraphToucanError(f"task {self.name} was given incomplete inputs: {exc.message}") from None
        schema = _schema_text(self.output)
        return Prompt(
            SYSTEM_PROMPT,
            f"{body.strip()}\n\nAnswer with one JSON object valid against this JSON Schema:\n{schema}",
        )

    def parse(self, text: str, inputs: dict[str, Any] | None = None) -> O:
        """Validate the model's text as the output model; :class:`OutputParseError` says what is wrong.

        ``inputs`` reach the model's validators as the validation context, so an answer can be checked
        against what was asked (e.g. a mapping may only name parameters the tool has)."""
        value = extract_json(text)
        try:
            return self.output.model_validate(value, context=inputs)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg']}" for e in exc.errors()[:8]
            )
            raise OutputParseError(f"the JSON does not match the schema: {problems}") from None


def extract_json(text: str) -> Any:
    """The first JSON object in ``text``, tolerating code fences and prose around it."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    for start in (i for i, ch in enumerate(stripped) if ch == "{"):
        try:
            return decoder.raw_decode(stripped, start)[0]
        except json.JSONDecodeError:
            continue
    raise OutputParseError("the answer contains no JSON object")


def feedback(error: OutputParseError) -> str:
    """What the model is told when its answer did not parse."""
    return f"Your answer could not be used: {error}. Answer again with only the corrected JSON object."


@cache
def _schema_text(output: type[BaseModel]) -> str:
    """The JSON Schema every prompt of a task ends with (built once per output model: prompts are
    rendered for every remote request)."""
    return json.dumps(output.model_json_schema(), indent=1)


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
    return environment
