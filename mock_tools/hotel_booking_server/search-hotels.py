"""Mock of the query tool `search-hotels` of "Hotel Booking Server".

Search for available hotels based on location coordinates and booking requirements. This tool
returns a paginated list of hotels with their key details including name, address, star rating,
price range, and available room types. Each hotel includes summary information about amenities
and...

Written by graph-toucan's offline teacher from the tool's schemas: main() checks the arguments
against the input schema and asks call_external_api for flat values and rebuilds the nested output
from them.
"""


TOOL = "search-hotels"
PARAMETERS = {
    "latitude": {"types": ["number"], "required": True},
    "longitude": {"types": ["number"], "required": True},
    "name": {"types": ["string"], "required": False},
    "check_in_date": {"types": ["string"], "required": False},
    "check_out_date": {"types": ["string"], "required": False},
    "adults": {"types": ["number"], "required": False, "minimum": 1},
    "children": {"types": ["number"], "required": False, "minimum": 0},
    "search_context": {"types": ["string"], "required": False},
    "facilities": {"types": ["array"], "required": False},
}


def main(**arguments):
    check_arguments(arguments)
    flat = call_external_api(TOOL, **arguments)
    return {
        "hotels": listed(
            {
                "hotel_id": pick(flat, "hotel_0_hotel_id", "string"),
                "name": pick(flat, "hotel_0_name", "string"),
                "address": pick(flat, "hotel_0_address", "string"),
                "rating": pick(flat, "hotel_0_rating", "number"),
                "price": pick(flat, "hotel_0_price", "number"),
                "currency": pick(flat, "hotel_0_currency", "string"),
            } if "hotel_0_hotel_id" in flat else ABSENT,
            {
                "hotel_id": pick(flat, "hotel_1_hotel_id", "string"),
                "name": pick(flat, "hotel_1_name", "string"),
                "address": pick(flat, "hotel_1_address", "string"),
                "rating": pick(flat, "hotel_1_rating", "number"),
                "price": pick(flat, "hotel_1_price", "number"),
                "currency": pick(flat, "hotel_1_currency", "string"),
            } if "hotel_1_hotel_id" in flat else ABSENT,
            {
                "hotel_id": pick(flat, "hotel_2_hotel_id", "string"),
                "name": pick(flat, "hotel_2_name", "string"),
                "address": pick(flat, "hotel_2_address", "string"),
                "rating": pick(flat, "hotel_2_rating", "number"),
                "price": pick(flat, "hotel_2_price", "number"),
                "currency": pick(flat, "hotel_2_currency", "string"),
            } if "hotel_2_hotel_id" in flat else ABSENT,
            {
                "hotel_id": pick(flat, "hotel_3_hotel_id", "string"),
                "name": pick(flat, "hotel_3_name", "string"),
                "address": pick(flat, "hotel_3_address", "string"),
                "rating": pick(flat, "hotel_3_rating", "number"),
                "price": pick(flat, "hotel_3_price", "number"),
                "currency": pick(flat, "hotel_3_currency", "string"),
            } if "hotel_3_hotel_id" in flat else ABSENT,
            {
                "hotel_id": pick(flat, "hotel_4_hotel_id", "string"),
                "name": pick(flat, "hotel_4_name", "string"),
                "address": pick(flat, "hotel_4_address", "string"),
                "rating": pick(flat, "hotel_4_rating", "number"),
                "price": pick(flat, "hotel_4_price", "number"),
                "currency": pick(flat, "hotel_4_currency", "string"),
            } if "hotel_4_hotel_id" in flat else ABSENT,
        ),
        "total_count": pick(flat, "total_count", "integer"),
        "session_id": pick(flat, "session_id", "string"),
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
