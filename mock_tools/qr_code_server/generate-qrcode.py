"""Mock of the computation tool `generate-qrcode` of "QR Code Server".

Generate QR codes in various formats with customizable error correction levels and sizes

Written by graph-toucan's offline teacher from the tool's schemas: main() checks the arguments
against the input schema and computes its output from the arguments, with no I/O.
"""


import json
import random


TOOL = "generate-qrcode"
PARAMETERS = {
    "content": {"types": ["string"], "required": True},
    "errorCorrectionLevel": {"types": ["string"], "required": False, "enum": ["L", "M", "Q", "H"]},
    "size": {"types": ["number"], "required": False, "minimum": 1, "maximum": 10},
    "format": {"types": ["string"], "required": False, "enum": ["image", "text"]},
}


def main(**arguments):
    check_arguments(arguments)
    rng = random.Random(json.dumps(arguments, sort_keys=True, default=str))
    return {
        "image_url": rng.choice([
            "https://example.com/image_url/xfcjd8",
            "https://example.com/image_url/9nz3hl",
            "https://example.com/image_url/38j9gx",
            "https://example.com/image_url/326zlv",
        ]),
        "image_format": rng.choice(["jpeg", "png", "svg"]),
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
