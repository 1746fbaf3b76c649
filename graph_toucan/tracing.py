"""Where a value comes from: the user's words, an earlier tool output, or a schema default.

Verification, the offline teacher and distillation share these rules, so "traceable" means one thing.

>>> value_in_text("Boston", "What's the weather in boston today?")
True
>>> value_in_text(12.5, "convert 12.50 dollars")
True
>>> output_values({"places": [{"lat": 1.5}, {"lat": 2.0}]}, "places[].lat")
[1.5, 2.0]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w])|(?<![\w.])-?\.\d+")


def leaves(value: Any) -> Iterator[Any]:
    """The scalar leaves of a JSON value (``None`` included)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value


def numbers_in(text: str) -> set[float]:
    """The numbers written in ``text`` (``1,200`` is 1200)."""
    found = set()
    for match in _NUMBER.findall(text):
        try:
            found.add(float(match.replace(",", "")))
        except ValueError:
            continue
    return found


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def value_in_text(value: Any, text: str) -> bool:
    """Whether a scalar value is written in ``text``: strings case-insensitively, numbers as numbers.
    Booleans and ``None`` are never *written*; callers decide what stands for them."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return float(value) in numbers_in(text)
    if isinstance(value, str):
        wanted = normalise(value)
        return bool(wanted) and wanted in normalise(text)
    return False


def same_value(a: Any, b: Any) -> bool:
    """Equal as JSON values, allowing a number passed as its string and an integral float as an int."""
    if a == b and type(a) is type(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if (isinstance(a, str) and isinstance(b, int | float)) or (
        isinstance(b, str) and isinstance(a, int | float)
    ):
        text, number = (a, b) if isinstance(a, str) else (b, a)
        try:
            return float(text.strip()) == float(number)
        except ValueError:
            return False
    return a == b


def output_values(output: Any, path: str) -> list[Any]:
    """Every value at a field path of an output: ``a.b``, ``items[].id`` (all items) or ``items[0].id``."""
    current = [output]
    for part in filter(None, re.split(r"\.(?![^\[]*\])", path)):
        match = re.fullmatch(r"([^\[\]]+)?((?:\[\d*\])*)", part)
        if match is None:
            return []
        name, brackets = match.group(1), match.group(2)
        nxt: list[Any] = []
        for item in current:
            if name is not None:
                if not isinstance(item, dict) or name not in item:
                    continue
                item = item[name]
            nxt.append(item)
        for index in re.findall(r"\[(\d*)\]", brackets):
            expanded: list[Any] = []
            for item in nxt:
                if not isinstance(item, list):
                    continue
                if index == "":
                    expanded.extend(item)
                elif int(index) < len(item):
                    expanded.append(item[int(index)])
            nxt = expanded
        current = nxt
    return current


def first_index_path(output: Any, path: str) -> str | None:
    """``items[].id`` made concrete (``items[0].id``) for the first item that has the field."""
    if "[]" not in path:
        return path if output_values(output, path) else None
    head, tail = path.split("[]", 1)
    lists = output_values(output, head)
    items = lists[0] if lists and isinstance(lists[0], list) else []
    for i in range(len(items)):
        candidate = f"{head}[{i}]{tail}"
        if "[]" in tail:
            candidate = first_index_path(output, candidate) or ""
        if candidate and output_values(output, candidate):
            return candidate
    return None


def in_outputs(value: Any, outputs: list[Any]) -> bool:
    """Whether a scalar equals a leaf of one of ``outputs``."""
    return any(same_value(value, leaf) for output in outputs for leaf in leaves(output))


def is_default(value: Any, schema: dict[str, Any]) -> bool:
    return "default" in schema and same_value(value, schema["default"])


def named_by_user(arguments: dict[str, Any], said: str) -> list[Any]:
    """The argument values the user's words hold (strings and integers, at any depth): what the user
    names is known to exist, for the mocks. One rule for synthesis and for replay, which sees only
    the exported text."""
    return [v for v in leaves(arguments) if isinstance(v, str | int) and value_in_text(v, said)]
