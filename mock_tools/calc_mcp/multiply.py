"""Mock of the computation tool `multiply` of "计算器(Calc MCP)".

将两个数相乘 Multiply two numbers. 参数(Parameters): a: 第一个数 (First number) b: 第二个数 (Second number)
返回(Return): 两个数的积 (Product of the two numbers)

Written by graph-toucan's offline teacher from the tool's schemas: main() checks the arguments
against the input schema and computes its output from the arguments, with no I/O.
"""


TOOL = "multiply"
PARAMETERS = {"a": {"types": ["number"], "required": True}, "b": {"types": ["number"], "required": True}}


def main(**arguments):
    check_arguments(arguments)
    result = binary(arguments["a"], arguments["b"], "*", "b")
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
