"""Mock of the computation tool `evaluate_expression` of "计算器(Calc MCP)".

计算数学表达式 Evaluate a mathematical expression. 参数(Parameters): expression: 要计算的数学表达式字符串 (The
mathematical expression string to evaluate) 返回(Return): 表达式计算结果 (Result of the evaluated expression)
抛出(Raises): ValueError: 当表达式无效或包含不安全代码时 (When the expression is invalid or contains unsafe code)

Written by graph-toucan's offline teacher from the tool's schemas: main() checks the arguments
against the input schema and computes its output from the arguments, with no I/O.
"""


import math
import re


TOOL = "evaluate_expression"
PARAMETERS = {"expression": {"types": ["string"], "required": True}}


def main(**arguments):
    check_arguments(arguments)
    result = evaluate(arguments["expression"])
    return {
        "result": as_type(result, "number"),
    }


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
    for match in re.finditer(r"\s*(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+|\*\*|[-+*/%^(),]|[A-Za-z_][A-Za-z0-9_]*)", text):
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
