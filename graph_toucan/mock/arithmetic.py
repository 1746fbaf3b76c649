"""Arithmetic a computation mock computes for real: the operation a tool plainly performs (add,
subtract, multiply, divide, power, modulo, square root, average, an arithmetic expression), the
source of the helpers the generated module carries, and the operation's known answers that the
property checks hold a mock to (:func:`arithmetic_plan`).
"""

from __future__ import annotations

import json
from typing import Any

from graph_toucan.mock.families import Plan, valid_samples
from graph_toucan.mock.flatten import FlatField, flat_fields, norm
from graph_toucan.schema import example_arguments


def _q(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


_WORDS = {
    "add": ("add", "sum", "plus", "addition"),
    "subtract": ("subtract", "minus", "difference", "subtraction"),
    "multiply": ("multiply", "product", "times", "multiplication"),
    "divide": ("divide", "quotient", "division"),
    "power": ("power", "pow", "exponent", "exponentiate"),
    "sqrt": ("sqrt", "square_root", "root"),
    "modulo": ("modulo", "mod", "remainder"),
    "average": ("average", "mean", "avg"),
    "expression": ("evaluate", "expression", "calculate", "calc", "eval"),
}


# Words a calculator's tool name may have besides the operation.
_GENERIC = {"numbers", "number", "nums", "two", "values", "value", "integers", "ints", "floats", "calc"}
_GENERIC |= {"math", "calculate", "compute", "do", "perform", "of", "the", "a", "tool", "mcp", "list"}
_GENERIC |= {"operation", "arithmetic", "simple", "basic", "get", "result", "find", "x", "y", "numeric"}


def _numeric(parameters: dict[str, dict[str, Any]]) -> list[str]:
    return [n for n, r in parameters.items() if set(r["types"]) & {"number", "integer"}]


def operation_of(tool: dict[str, Any], parameters: dict[str, dict[str, Any]]) -> str | None:
    """The computation a tool plainly performs, judged by its name and parameters: a name of
    operation words only (``add``, ``add_numbers``, ``calculate_sum``; not ``add_table``)."""
    parts = set(norm(tool["name"]).split("_"))
    known = {w for words in _WORDS.values() for w in words} | _GENERIC
    if parts - known:
        return None
    words = parts | {norm(tool["name"])}
    numeric = _numeric(parameters)
    arrays = [n for n, r in parameters.items() if "array" in r["types"]]
    strings = [n for n, r in parameters.items() if "string" in r["types"] and r["required"]]
    for operation in ("add", "subtract", "multiply", "divide", "power", "modulo"):
        if words & set(_WORDS[operation]) and (
            len(numeric) >= 2 or (arrays and operation in ("add", "multiply"))
        ):
            return operation
    if words & set(_WORDS["sqrt"]) and numeric:
        return "sqrt"
    if words & set(_WORDS["average"]) and arrays:
        return "average"
    if words & set(_WORDS["expression"]) and len(strings) == 1 and not numeric:
        return "expression"
    return None


def _two(parameters: dict[str, dict[str, Any]]) -> tuple[str, str]:
    numeric = _numeric(parameters)
    return numeric[0], numeric[1]


def _array(parameters: dict[str, dict[str, Any]]) -> str:
    return next(n for n, r in parameters.items() if "array" in r["types"])


def _binary(symbol: str) -> Any:
    def call(parameters: dict[str, dict[str, Any]]) -> str:
        numeric = _numeric(parameters)
        if len(numeric) < 2:
            return f"numbers(arguments[{_q(_array(parameters))}], {_q(_array(parameters))}, {_q(symbol)})"
        a, b = _two(parameters)
        return f"binary(arguments[{_q(a)}], arguments[{_q(b)}], {_q(symbol)}, {_q(b)})"

    return call


def _required_string(parameters: dict[str, dict[str, Any]]) -> str:
    return next(n for n, r in parameters.items() if "string" in r["types"] and r["required"])


OPERATION_CALL: dict[str, Any] = {
    "add": _binary("+"),
    "subtract": _binary("-"),
    "multiply": _binary("*"),
    "divide": _binary("/"),
    "power": _binary("**"),
    "modulo": _binary("%"),
    "sqrt": lambda p: f"square_root(arguments[{_q(_numeric(p)[0])}])",
    "average": lambda p: f"statistics_mean(arguments[{_q(_array(p))}], {_q(_array(p))})",
    "expression": lambda p: f"evaluate(arguments[{_q(_required_string(p))}])",
}

_PREFERRED_RESULT = (
    "result",
    "value",
    "converted_value",
    "converted",
    "answer",
    "output",
    "sum",
    "product",
    "quotient",
    "difference",
    "total",
    "root",
    "power",
    "mean",
    "average",
)


def result_field(fields: list[FlatField], inputs: set[str]) -> str | None:
    """The output leaf that carries a computed number."""
    candidates = [f for f in fields if not f.indexes and f.name not in inputs]
    numeric = [f for f in candidates if f.type in ("number", "integer")]
    for pool in (numeric, [f for f in candidates if f.type == "string"]):
        for name in _PREFERRED_RESULT:
            for f in pool:
                if norm(f.name) == name or norm(f.name).endswith("_" + name):
                    return f.key
    return numeric[0].key if numeric else None


_BINARY = """
def binary(a, b, operator, b_name):
    if operator in ("/", "%") and b == 0:
        raise ValueError(f"argument '{b_name}' must not be zero")
    try:
        if operator == "+":
            result = a + b
        elif operator == "-":
            result = a - b
        elif operator == "*":
            result = a * b
        elif operator == "/":
            result = a / b
        elif operator == "%":
            result = a % b
        else:
            if abs(b) > 10000:
                raise ValueError(f"argument '{b_name}' is too large an exponent")
            result = a**b
    except OverflowError:
        raise ValueError("the result is too large") from None
    if isinstance(result, complex):
        raise ValueError("the result is not a real number")
    return result


def numbers(values, name, operator):
    if not values or not all(is_type(v, "number") for v in values):
        raise ValueError(f"argument '{name}' must be a non-empty list of numbers")
    result = values[0]
    for value in values[1:]:
        result = binary(result, value, operator, name)
    return result
"""

_SQRT = """
def square_root(value):
    if value < 0:
        raise ValueError(f"cannot take the square root of a negative number ({value})")
    return math.sqrt(value)
"""

_MEAN = """
def statistics_mean(values, name):
    if not values or not all(is_type(v, "number") for v in values):
        raise ValueError(f"argument '{name}' must be a non-empty list of numbers")
    return sum(values) / len(values)
"""

_EVALUATE = '''
FUNCTIONS = {
    "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos, "tan": math.tan, "log": math.log,
    "log10": math.log10, "exp": math.exp, "abs": abs, "round": round,
}
CONSTANTS = {"pi": math.pi, "e": math.e}


def evaluate(text):
    """An arithmetic expression: numbers, + - * / % ^ **, parentheses, a few math functions."""
    tokens = tokenize(text)
    value, position = parse_sum(tokens, 0)
    if position != len(tokens):
        raise ValueError(f"unexpected '{tokens[position]}' in the expression {text!r}")
    return value


def tokenize(text):
    tokens = []
    for match in re.finditer(r"\\s*(\\d+\\.?\\d*(?:[eE][-+]?\\d+)?|\\.\\d+|\\*\\*|[-+*/%^(),]|[A-Za-z_][A-Za-z0-9_]*)", text):
        tokens.append(match.group(1))
    if "".join(tokens) != "".join(text.split()):
        raise ValueError(f"the expression {text!r} contains characters other than numbers and operators")
    if not tokens:
        raise ValueError("the expression is empty")
    return tokens


def parse_sum(tokens, i):
    value, i = parse_product(tokens, i)
    while i < len(tokens) and tokens[i] in ("+", "-"):
        right, j = parse_product(tokens, i + 1)
        value, i = (value + right if tokens[i] == "+" else value - right), j
    return value, i


def parse_product(tokens, i):
    value, i = parse_unary(tokens, i)
    while i < len(tokens) and tokens[i] in ("*", "/", "%"):
        right, j = parse_unary(tokens, i + 1)
        if tokens[i] != "*" and right == 0:
            raise ValueError("division by zero in the expression")
        value = value * right if tokens[i] == "*" else value / right if tokens[i] == "/" else value % right
        i = j
    return value, i


def parse_unary(tokens, i):
    if i < len(tokens) and tokens[i] in ("+", "-"):
        sign = tokens[i]
        value, i = parse_unary(tokens, i + 1)
        return (-value if sign == "-" else value), i
    return parse_power(tokens, i)


def parse_power(tokens, i):
    base, i = parse_atom(tokens, i)
    if i < len(tokens) and tokens[i] in ("^", "**"):
        exponent, i = parse_unary(tokens, i + 1)
        if abs(exponent) > 10000:
            raise ValueError("the exponent is too large")
        try:
            base = base**exponent
        except (OverflowError, ZeroDivisionError):
            raise ValueError("the power is not defined or too large") from None
        if isinstance(base, complex):
            raise ValueError("the result is not a real number")
    return base, i


def parse_atom(tokens, i):
    if i >= len(tokens):
        raise ValueError("the expression ends too early")
    token = tokens[i]
    if token == "(":
        value, i = parse_sum(tokens, i + 1)
        if i >= len(tokens) or tokens[i] != ")":
            raise ValueError("a parenthesis is not closed")
        return value, i + 1
    if token in CONSTANTS:
        return CONSTANTS[token], i + 1
    if token in FUNCTIONS:
        if i + 1 >= len(tokens) or tokens[i + 1] != "(":
            raise ValueError(f"{token} needs parentheses")
        argument, i = parse_atom(tokens, i + 1)
        try:
            return FUNCTIONS[token](argument), i
        except (ValueError, OverflowError) as error:
            raise ValueError(f"{token}({argument}) is not defined: {error}") from None
    try:
        return (float(token) if any(c in token for c in ".eE") else int(token)), i + 1
    except ValueError:
        raise ValueError(f"unknown name '{token}' in the expression") from None
'''

OPERATION_IMPORTS = {"sqrt": ["math"], "expression": ["math", "re"]}
OPERATION_CODE: dict[str, list[str]] = {
    "add": [_BINARY],
    "subtract": [_BINARY],
    "multiply": [_BINARY],
    "divide": [_BINARY],
    "power": [_BINARY],
    "modulo": [_BINARY],
    "sqrt": [_SQRT],
    "average": [_MEAN],
    "expression": [_EVALUATE],
}


# Known answers of the arithmetic operations: (arguments by position among the numeric parameters,
# or the one array / string parameter) -> result.
_ARITHMETIC_KNOWN: dict[str, list[tuple[Any, float]]] = {
    "add": [((2, 3), 5), ((-1.5, 4), 2.5), ((0.1, 0.2), 0.3), ((-7, 15), 8)],
    "subtract": [((10, 4), 6), ((3, 7.5), -4.5), ((3, 8), -5)],
    "multiply": [((6, 7), 42), ((-2, 0.5), -1), ((-3, 4), -12)],
    "divide": [((7, 2), 3.5), ((9, 3), 3)],
    "power": [((2, 10), 1024), ((9, 0.5), 3)],
    "modulo": [((10, 3), 1), ((17, 5), 2)],
    "sqrt": [((16,), 4), ((2,), 1.4142135623730951)],
    "average": [([1, 2, 3, 4], 2.5)],
    "expression": [("2*(3+4)", 14), ("2^10", 1024), ("10/4", 2.5)],
}


def arithmetic_plan(tool: dict[str, Any]) -> Plan | None:
    """Known answers and varying inputs for a computation mock of a recognised arithmetic operation."""
    from graph_toucan.mock.codegen import parameter_rules

    if (tool.get("tool_class") or "query") != "computation":
        return None
    parameters = parameter_rules(tool.get("input_schema") or {})
    operation = operation_of(tool, parameters)
    fields = flat_fields(tool.get("output_schema"))
    result = result_field(fields, set(parameters)) if operation else None
    if operation is None or result is None:
        return None
    rest = {
        name: example_arguments({"properties": {name: sub}, "required": [name]})[name]
        for name, sub in ((tool.get("input_schema") or {}).get("properties") or {}).items()
        if parameters[name]["required"]
    }
    numeric = _numeric(parameters)
    known: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for given, expected in _ARITHMETIC_KNOWN[operation]:
        if operation == "expression":
            arguments = {**rest, _required_string(parameters): given}
        elif isinstance(given, list) or len(numeric) < len(given):
            if not any("array" in r["types"] for r in parameters.values()):
                continue
            values = given if isinstance(given, list) else list(given)
            arguments = {**rest, _array(parameters): values}
        else:
            arguments = {**rest, **dict(zip(numeric, given, strict=False))}
        whole = all(
            not isinstance(v, float) or v.is_integer() or "number" in parameters[k]["types"]
            for k, v in arguments.items()
            if k in parameters and isinstance(v, int | float)
        )
        if whole:  # an integer parameter is given integer samples only
            known.append((arguments, {result: expected}))
    varying = [(known[0][0], known[1][0])] if len(known) > 1 else []
    return valid_samples(Plan("arithmetic", {}, known=known, varying=varying), tool.get("input_schema") or {})
