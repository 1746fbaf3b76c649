"""Mock of the query tool `fetch_html` of "Fetch MCP Server".

Fetch a website and return the content as HTML

Written by graph-toucan's offline teacher from the tool's schemas: main() checks the arguments
against the input schema and asks call_external_api for flat values and rebuilds the nested output
from them.
"""


TOOL = "fetch_html"
PARAMETERS = {
    "url": {"types": ["string"], "required": True},
    "headers": {"types": ["object"], "required": False},
    "max_length": {"types": ["number"], "required": False},
    "start_index": {"types": ["number"], "required": False},
}


def main(**arguments):
    check_arguments(arguments)
    flat = call_external_api(TOOL, **arguments)
    return {
        "html": pick(flat, "html", "string"),
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
