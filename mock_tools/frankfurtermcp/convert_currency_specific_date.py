"""Mock of the computation tool `convert_currency_specific_date` of "FrankfurterMCP".

Convert an amount from one currency to another using the exchange rates for a specific date. If
there is no exchange rate available for the specific date, the rate for the closest available date
before the specified date will be used.

Written by graph-toucan's offline teacher from the tool's schemas: main() checks the arguments
against the input schema and computes its output from the arguments, with no I/O; the currency
outputs are computed for real.
"""


import datetime
import math
import re


TOOL = "convert_currency_specific_date"
PARAMETERS = {
    "amount": {"types": ["number"], "required": True},
    "from_currency": {"types": ["string"], "required": True},
    "to_currency": {"types": ["string"], "required": True},
    "specific_date": {"types": ["string"], "required": True},
}
NOW = "2025-06-01T12:00:00Z"  # the simulated world's time when the conversation gives none


def main(**arguments):
    check_arguments(arguments)
    now = NOW
    rate = exchange_rate(arguments["from_currency"], arguments["to_currency"], arguments.get("specific_date") or now[:10])
    return {
        "converted_amount": float(convert_money(arguments["amount"], rate)),
        "rate": rate,
        "date": str(arguments.get("specific_date") or now[:10])[:10],
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


def parse_date(text):
    """The date of ``YYYY-MM-DD`` (a time after it is ignored); ValueError naming the format otherwise."""
    match = re.match(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})", str(text))
    if not match:
        raise ValueError(f"cannot read the date {text!r}; use YYYY-MM-DD")
    try:
        return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError as error:
        raise ValueError(f"{text!r} is not a valid date: {error}") from None


CURRENCIES = {
    "USD": (1.0, "United States Dollar"),
    "EUR": (0.92, "Euro"),
    "GBP": (0.79, "British Pound"),
    "JPY": (151.2, "Japanese Yen"),
    "CHF": (0.88, "Swiss Franc"),
    "CAD": (1.36, "Canadian Dollar"),
    "AUD": (1.52, "Australian Dollar"),
    "NZD": (1.66, "New Zealand Dollar"),
    "CNY": (7.23, "Chinese Yuan"),
    "HKD": (7.82, "Hong Kong Dollar"),
    "SGD": (1.35, "Singapore Dollar"),
    "INR": (83.4, "Indian Rupee"),
    "KRW": (1350.0, "South Korean Won"),
    "MXN": (17.1, "Mexican Peso"),
    "BRL": (5.05, "Brazilian Real"),
    "ZAR": (18.6, "South African Rand"),
    "SEK": (10.6, "Swedish Krona"),
    "NOK": (10.8, "Norwegian Krone"),
    "DKK": (6.88, "Danish Krone"),
    "PLN": (4.0, "Polish Zloty"),
    "CZK": (23.3, "Czech Koruna"),
    "HUF": (362.0, "Hungarian Forint"),
    "TRY": (32.2, "Turkish Lira"),
    "ILS": (3.7, "Israeli New Shekel"),
    "THB": (36.5, "Thai Baht"),
    "IDR": (15900.0, "Indonesian Rupiah"),
    "PHP": (56.5, "Philippine Peso"),
    "MYR": (4.7, "Malaysian Ringgit"),
    "AED": (3.6725, "UAE Dirham"),
    "SAR": (3.75, "Saudi Riyal"),
}


def exchange_rate(base, quote, date="2025-06-01"):
    """Units of ``quote`` per unit of ``base`` on ``date``: the table's cross rate with a small daily
    drift, the same for every tool that asks."""
    a, b = str(base).strip().upper(), str(quote).strip().upper()
    for code in (a, b):
        if code not in CURRENCIES:
            raise ValueError(f"unknown currency {code!r}; use a three-letter code such as USD, EUR or JPY")
    if a == b:
        return 1.0
    day = parse_date(date).toordinal()

    def drift(code):
        if code == "USD":
            return 1.0
        return 1 + 0.015 * math.sin(day / 29 + sum(ord(c) for c in code))

    rate = CURRENCIES[b][0] * drift(b) / (CURRENCIES[a][0] * drift(a))
    digits = max(2, 6 - math.floor(math.log10(rate)))
    return round(rate, digits)


def convert_money(amount, rate):
    return round(amount * rate, 2)
