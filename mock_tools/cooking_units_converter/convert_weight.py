"""Mock of the computation tool `convert_weight` of "Cooking Units Converter".

Convert between weight units (g, kg, oz, lb)

Written by graph-toucan's offline teacher from the tool's schemas: main() checks the arguments
against the input schema and computes its output from the arguments, with no I/O; the units outputs
are computed for real.
"""


TOOL = "convert_weight"
PARAMETERS = {
    "value": {"types": ["number"], "required": True},
    "from_unit": {"types": ["string"], "required": True, "enum": ["g", "kg", "oz", "lb"]},
    "to_unit": {"types": ["string"], "required": True, "enum": ["g", "kg", "oz", "lb"]},
}


def main(**arguments):
    check_arguments(arguments)
    return {
        "converted_value": float(convert_units(arguments["value"], arguments["from_unit"], arguments["to_unit"])),
        "unit": arguments["to_unit"],
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


UNITS = {
    "mm": ("length", 0.001),
    "cm": ("length", 0.01),
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "in": ("length", 0.0254),
    "ft": ("length", 0.3048),
    "yd": ("length", 0.9144),
    "mi": ("length", 1609.344),
    "nmi": ("length", 1852.0),
    "mg": ("mass", 0.001),
    "g": ("mass", 1.0),
    "kg": ("mass", 1000.0),
    "t": ("mass", 1000000.0),
    "oz": ("mass", 28.349523125),
    "lb": ("mass", 453.59237),
    "st": ("mass", 6350.29318),
    "ml": ("volume", 1.0),
    "cl": ("volume", 10.0),
    "dl": ("volume", 100.0),
    "l": ("volume", 1000.0),
    "m3": ("volume", 1000000.0),
    "tsp": ("volume", 4.92892159375),
    "tbsp": ("volume", 14.78676478125),
    "cup": ("volume", 236.5882365),
    "floz": ("volume", 29.5735295625),
    "pint": ("volume", 473.176473),
    "quart": ("volume", 946.352946),
    "gallon": ("volume", 3785.411784),
    "ms": ("time", 0.001),
    "s": ("time", 1.0),
    "min": ("time", 60.0),
    "h": ("time", 3600.0),
    "day": ("time", 86400.0),
    "week": ("time", 604800.0),
    "m2": ("area", 1.0),
    "km2": ("area", 1000000.0),
    "ha": ("area", 10000.0),
    "acre": ("area", 4046.8564224),
    "ft2": ("area", 0.09290304),
    "mps": ("speed", 1.0),
    "kmh": ("speed", 0.2777777777777778),
    "mph": ("speed", 0.44704),
    "knot": ("speed", 0.5144444444444445),
    "b": ("data", 1.0),
    "kb": ("data", 1000.0),
    "mb": ("data", 1000000.0),
    "gb": ("data", 1000000000.0),
    "tb": ("data", 1000000000000.0),
    "kib": ("data", 1024.0),
    "mib": ("data", 1048576.0),
    "gib": ("data", 1073741824.0),
}


UNIT_ALIASES = {
    "celsius": "c",
    "fahrenheit": "f",
    "kelvin": "k",
    "°c": "c",
    "°f": "f",
    "millimeter": "mm",
    "centimeter": "cm",
    "meter": "m",
    "metre": "m",
    "kilometer": "km",
    "kilometre": "km",
    "inch": "in",
    "inches": "in",
    "foot": "ft",
    "feet": "ft",
    "yard": "yd",
    "mile": "mi",
    "milligram": "mg",
    "gram": "g",
    "kilogram": "kg",
    "ounce": "oz",
    "pound": "lb",
    "lbs": "lb",
    "tonne": "t",
    "stone": "st",
    "milliliter": "ml",
    "millilitre": "ml",
    "liter": "l",
    "litre": "l",
    "teaspoon": "tsp",
    "tablespoon": "tbsp",
    "fl oz": "floz",
    "fl_oz": "floz",
    "fluid ounce": "floz",
    "second": "s",
    "sec": "s",
    "minute": "min",
    "hour": "h",
    "hr": "h",
    "square meter": "m2",
    "square_meters": "m2",
    "square_kilometers": "km2",
    "hectare": "ha",
    "hectares": "ha",
    "km/h": "kmh",
    "kph": "kmh",
    "m/s": "mps",
    "byte": "b",
    "bytes": "b",
}


def unit_key(name):
    key = str(name).strip().lower()
    key = UNIT_ALIASES.get(key, UNIT_ALIASES.get(key.rstrip("s"), key))
    if key not in UNITS and key not in ("c", "f", "k") and key.rstrip("s") in UNITS:
        key = key.rstrip("s")
    return key


def convert_units(value, source, target):
    """``value`` in unit ``source`` expressed in ``target`` (length, mass, volume, time, area, speed,
    data, and the temperatures c, f, k); ValueError for unknown or mismatched units."""
    a, b = unit_key(source), unit_key(target)
    if a in ("c", "f", "k") and b in ("c", "f", "k"):
        celsius = value if a == "c" else (value - 32) * 5 / 9 if a == "f" else value - 273.15
        result = celsius if b == "c" else celsius * 9 / 5 + 32 if b == "f" else celsius + 273.15
        return round(result, 6)
    for unit, given in ((a, source), (b, target)):
        if unit not in UNITS:
            known = ", ".join(sorted(UNITS)) + ", c, f, k"
            raise ValueError(f"unknown unit {given!r}; known units: {known}")
    if UNITS[a][0] != UNITS[b][0]:
        raise ValueError(f"cannot convert {UNITS[a][0]} ({source}) to {UNITS[b][0]} ({target})")
    return round(value * UNITS[a][1] / UNITS[b][1], 6)
