"""The simulated world's arithmetic: calendars, time zones, exchange rates, units, encodings, hashes.

Every function here is plain Python over the modules the sandbox allows (``math``, ``re``,
``datetime``, ``json``), so the same source runs in two places: in the parent (the value simulator
uses it for rates and local times) and inside generated mocks, which embed it
(:func:`embedded_source`) because a mock may import nothing else. Encodings, hashes and text
utilities are in :mod:`graph_toucan.mock.world_text`. One implementation means a rate
quoted by one tool is the rate another tool converts with.

>>> days_in_month("2024-02-10"), days_in_month("2025-02-10"), iso_week("2021-01-01")
(29, 28, 53)
>>> local_datetime("2025-07-15T10:00:00Z", "Europe/Paris")
'2025-07-15T12:00:00+02:00'
"""

from __future__ import annotations

import ast
import datetime
import inspect
import math
import re
import sys
from functools import cache

# -- time zones: standard offset in minutes and the daylight-saving rule ------------------------------
ZONES = {
    "UTC": (0, ""),
    "Etc/UTC": (0, ""),
    "GMT": (0, ""),
    "Europe/London": (0, "eu"),
    "Europe/Dublin": (0, "eu"),
    "Europe/Lisbon": (0, "eu"),
    "Atlantic/Reykjavik": (0, ""),
    "Europe/Paris": (60, "eu"),
    "Europe/Berlin": (60, "eu"),
    "Europe/Madrid": (60, "eu"),
    "Europe/Rome": (60, "eu"),
    "Europe/Amsterdam": (60, "eu"),
    "Europe/Brussels": (60, "eu"),
    "Europe/Vienna": (60, "eu"),
    "Europe/Zurich": (60, "eu"),
    "Europe/Stockholm": (60, "eu"),
    "Europe/Oslo": (60, "eu"),
    "Europe/Copenhagen": (60, "eu"),
    "Europe/Warsaw": (60, "eu"),
    "Europe/Prague": (60, "eu"),
    "Europe/Budapest": (60, "eu"),
    "Africa/Lagos": (60, ""),
    "Europe/Athens": (120, "eu"),
    "Europe/Helsinki": (120, "eu"),
    "Europe/Kyiv": (120, "eu"),
    "Europe/Kiev": (120, "eu"),
    "Europe/Bucharest": (120, "eu"),
    "Africa/Johannesburg": (120, ""),
    "Europe/Istanbul": (180, ""),
    "Europe/Moscow": (180, ""),
    "Africa/Nairobi": (180, ""),
    "Asia/Riyadh": (180, ""),
    "Asia/Tehran": (210, ""),
    "Asia/Dubai": (240, ""),
    "Asia/Karachi": (300, ""),
    "Asia/Kolkata": (330, ""),
    "Asia/Calcutta": (330, ""),
    "Asia/Kathmandu": (345, ""),
    "Asia/Dhaka": (360, ""),
    "Asia/Bangkok": (420, ""),
    "Asia/Jakarta": (420, ""),
    "Asia/Ho_Chi_Minh": (420, ""),
    "Asia/Shanghai": (480, ""),
    "Asia/Hong_Kong": (480, ""),
    "Asia/Singapore": (480, ""),
    "Asia/Taipei": (480, ""),
    "Asia/Manila": (480, ""),
    "Australia/Perth": (480, ""),
    "Asia/Tokyo": (540, ""),
    "Asia/Seoul": (540, ""),
    "Australia/Adelaide": (570, "au"),
    "Australia/Brisbane": (600, ""),
    "Australia/Sydney": (600, "au"),
    "Australia/Melbourne": (600, "au"),
    "Pacific/Auckland": (720, "nz"),
    "America/Sao_Paulo": (-180, ""),
    "America/Argentina/Buenos_Aires": (-180, ""),
    "America/Halifax": (-240, "us"),
    "America/New_York": (-300, "us"),
    "America/Toronto": (-300, "us"),
    "America/Detroit": (-300, "us"),
    "America/Bogota": (-300, ""),
    "America/Lima": (-300, ""),
    "America/Chicago": (-360, "us"),
    "America/Mexico_City": (-360, ""),
    "America/Denver": (-420, "us"),
    "America/Phoenix": (-420, ""),
    "America/Los_Angeles": (-480, "us"),
    "America/Vancouver": (-480, "us"),
    "America/Anchorage": (-540, "us"),
    "Pacific/Honolulu": (-600, ""),
}
ZONE_ALIASES = {
    "us/eastern": "America/New_York",
    "us/central": "America/Chicago",
    "us/mountain": "America/Denver",
    "us/pacific": "America/Los_Angeles",
    "est": "America/New_York",
    "edt": "America/New_York",
    "cst": "America/Chicago",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "cet": "Europe/Paris",
    "bst": "Europe/London",
    "jst": "Asia/Tokyo",
    "ist": "Asia/Kolkata",
    "z": "UTC",
    "utc": "UTC",
    "gmt": "GMT",
}
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def zone_name(zone):
    """The canonical name of a time zone (``Europe/Paris``, ``UTC``, ``UTC+05:30``); ValueError if unknown."""
    text = str(zone).strip()
    for name in ZONES:
        if name.lower() == text.lower():
            return name
    if text.lower() in ZONE_ALIASES:
        return ZONE_ALIASES[text.lower()]
    if fixed_offset(text) is not None:
        return text
    raise ValueError(f"unknown time zone {zone!r}; use an IANA name such as Europe/Paris or America/New_York")


def fixed_offset(text):
    """Minutes east of UTC of ``UTC+5``, ``GMT-03:00``, ``+05:30`` or ``Etc/GMT+5`` (POSIX sign), else None."""
    match = re.match(r"^(?:(etc/)?(?:utc|gmt))?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", str(text).strip().lower())
    if not match:
        return None
    minutes = int(match.group(3)) * 60 + int(match.group(4) or 0)
    sign = -1 if match.group(2) == "-" else 1
    if match.group(1):
        sign = -sign  # Etc/GMT+5 is five hours *behind* UTC
    return sign * minutes if minutes <= 14 * 60 else None


def nth_sunday(year, month, n):
    """The ``n``-th Sunday of a month (``n = -1``: the last)."""
    if n > 0:
        first = datetime.date(year, month, 1)
        return first + datetime.timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))
    last = datetime.date(year, month, days_in_month(f"{year:04d}-{month:02d}-01"))
    return last - datetime.timedelta(days=(last.weekday() + 1) % 7)


def utc_offset(zone, moment):
    """Minutes east of UTC in ``zone`` at the naive UTC datetime ``moment`` (daylight saving included)."""
    name = zone_name(zone)
    fixed = fixed_offset(name)
    if fixed is not None:
        return fixed
    standard, rule = ZONES[name]
    year = moment.year

    def at(day, hour, offset):  # a local wall-clock time on ``day`` as naive UTC
        return datetime.datetime(day.year, day.month, day.day, hour) - datetime.timedelta(minutes=offset)

    if rule == "eu":
        start = datetime.datetime.combine(nth_sunday(year, 3, -1), datetime.time(1))
        end = datetime.datetime.combine(nth_sunday(year, 10, -1), datetime.time(1))
        return standard + 60 if start <= moment < end else standard
    if rule == "us":
        start = at(nth_sunday(year, 3, 2), 2, standard)
        end = at(nth_sunday(year, 11, 1), 2, standard + 60)
        return standard + 60 if start <= moment < end else standard
    if rule in ("au", "nz"):
        end = at(nth_sunday(year, 4, 1), 3, standard + 60)
        start = at(nth_sunday(year, 10, 1) if rule == "au" else nth_sunday(year, 9, -1), 2, standard)
        return standard + 60 if moment < end or moment >= start else standard
    return standard


def parse_moment(text):
    """A naive datetime and its UTC offset in minutes (None when the text gives none), from ISO 8601,
    ``YYYY-MM-DD HH:mm[:ss]``, a bare date, or ``HH:mm`` (on 2025-06-01); ValueError otherwise."""
    value = str(text).strip()
    match = re.match(
        r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$",
        value,
    )
    clock = re.match(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$", value)
    if clock:
        match = None
        parts = ("2025", "06", "01", clock.group(1), clock.group(2), clock.group(3), None)
    elif match:
        parts = match.groups()
    else:
        raise ValueError(f"cannot read the date or time {text!r}; use YYYY-MM-DD or YYYY-MM-DD HH:mm:ss")
    year, month, day, hour, minute, second, zone = parts
    try:
        moment = datetime.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError as error:
        raise ValueError(f"{text!r} is not a valid date or time: {error}") from None
    offset = None
    if zone == "Z":
        offset = 0
    elif zone:
        digits = zone.replace(":", "")
        offset = (1 if digits[0] == "+" else -1) * (int(digits[1:3]) * 60 + int(digits[3:5]))
    return moment, offset


def to_utc(text, zone="UTC"):
    """The naive UTC datetime of a time written in ``zone`` (or carrying its own offset)."""
    moment, offset = parse_moment(text)
    if offset is None:
        guess = moment - datetime.timedelta(minutes=utc_offset(zone, moment))
        offset = utc_offset(zone, guess)
        if utc_offset(zone, moment - datetime.timedelta(minutes=offset)) != offset:
            offset = utc_offset(zone, moment - datetime.timedelta(minutes=offset))
    return moment - datetime.timedelta(minutes=offset)


def iso_offset(minutes):
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def local_datetime(utc_text, zone):
    """``utc_text`` (a UTC time) as ISO 8601 local time in ``zone``, with its offset."""
    moment = to_utc(utc_text, "UTC")
    offset = utc_offset(zone, moment)
    local = moment + datetime.timedelta(minutes=offset)
    return local.replace(microsecond=0).isoformat() + iso_offset(offset)


def convert_zone(text, source, target):
    """A wall-clock time in ``source`` as ISO 8601 local time in ``target``."""
    moment = to_utc(text, source)
    return local_datetime(moment.replace(microsecond=0).isoformat() + "Z", target)


def zone_difference_hours(text, source, target):
    """Hours ``target`` is ahead of ``source`` at that time (``7.0``, ``-5.5``)."""
    moment = to_utc(text, source)
    return (utc_offset(target, moment) - utc_offset(source, moment)) / 60


def is_dst(zone, utc_text):
    name = zone_name(zone)
    if fixed_offset(name) is not None:
        return False
    moment = to_utc(utc_text, "UTC")
    return utc_offset(name, moment) != ZONES[name][0]


def format_moment(iso_text, pattern):
    """An ISO 8601 time in a dayjs-style pattern (``YYYY-MM-DD HH:mm:ss``, ``h:mm A``, ``MM/DD/YY``)."""
    moment, _ = parse_moment(iso_text)
    hour12 = moment.hour % 12 or 12
    tokens = {
        "YYYY": f"{moment.year:04d}",
        "YY": f"{moment.year % 100:02d}",
        "MM": f"{moment.month:02d}",
        "DD": f"{moment.day:02d}",
        "HH": f"{moment.hour:02d}",
        "hh": f"{hour12:02d}",
        "h": str(hour12),
        "mm": f"{moment.minute:02d}",
        "ss": f"{moment.second:02d}",
        "A": "AM" if moment.hour < 12 else "PM",
        "dddd": WEEKDAYS[moment.weekday()],
    }
    return re.sub(r"YYYY|YY|MM|DD|HH|hh|h|mm|ss|A|dddd", lambda m: tokens[m.group(0)], str(pattern))


# -- calendars ----------------------------------------------------------------------------------------
def parse_date(text):
    """The date of ``YYYY-MM-DD`` (a time after it is ignored); ValueError naming the format otherwise."""
    match = re.match(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})", str(text))
    if not match:
        raise ValueError(f"cannot read the date {text!r}; use YYYY-MM-DD")
    try:
        return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError as error:
        raise ValueError(f"{text!r} is not a valid date: {error}") from None


def days_in_month(text):
    day = parse_date(text)
    leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
    return [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][day.month - 1]


def is_leap_year(year):
    year = int(year)
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def iso_week(text):
    return parse_date(text).isocalendar()[1]


def week_of_year(text):
    """The week number with weeks starting on Sunday and week 1 holding 1 January (dayjs ``week()``)."""
    day = parse_date(text)
    end_of_week = day + datetime.timedelta(days=5 - day.weekday() if day.weekday() != 6 else 6)
    if day.month == 12 and end_of_week.year > day.year:
        return 1
    january = datetime.date(day.year, 1, 1)
    first_sunday = january - datetime.timedelta(days=(january.weekday() + 1) % 7)
    return (day - first_sunday).days // 7 + 1


def weekday_name(text):
    return WEEKDAYS[parse_date(text).weekday()]


def day_of_year(text):
    day = parse_date(text)
    return (day - datetime.date(day.year, 1, 1)).days + 1


def unix_timestamp(text, zone="UTC"):
    """Seconds since 1970-01-01T00:00:00Z of a time written in ``zone`` (UTC unless it says otherwise)."""
    moment = to_utc(text, zone)
    return int((moment - datetime.datetime(1970, 1, 1)).total_seconds())


def from_timestamp(seconds):
    if abs(seconds) > 1e11:  # milliseconds
        seconds = seconds / 1000
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=seconds)
    return moment.replace(microsecond=0).isoformat() + "Z"


def days_between(start, end):
    return (parse_date(end) - parse_date(start)).days


def add_days(text, days):
    return (parse_date(text) + datetime.timedelta(days=int(days))).isoformat()


def relative_phrase(text, now):
    """``3 days ago`` or ``in 2 hours``: ``text`` relative to ``now`` (both read as UTC)."""
    seconds = (to_utc(text, "UTC") - to_utc(now, "UTC")).total_seconds()
    size = abs(seconds)
    for unit, length in (
        ("year", 31536000),
        ("month", 2592000),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if size >= length:
            count = int(size // length)
            words = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {words}" if seconds > 0 else f"{words} ago"
    return "just now"


# -- money --------------------------------------------------------------------------------------------
# Units of each currency per US dollar, about mid-2025, and the currency's name.
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


# -- physical units -----------------------------------------------------------------------------------
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


# -- helpers of the generated code ----------------------------------------------------------------
def moment_text(value):
    """A date or time argument as ISO 8601 UTC (``2025-03-23`` is midnight that day)."""
    return to_utc(str(value)).replace(microsecond=0).isoformat() + "Z"


def hours_text(hours):
    sign = "+" if hours >= 0 else "-"
    return f"{sign}{abs(hours):g}h"


# -- embedding ----------------------------------------------------------------------------------------
@cache
def _definitions() -> dict[str, tuple[str, frozenset[str]]]:
    """Each public function and table of this module and of :mod:`graph_toucan.mock.world_text`:
    its source and the names it uses."""
    from graph_toucan.mock import world_text

    found: dict[str, tuple[str, frozenset[str]]] = {}
    for module in (sys.modules[__name__], world_text):
        found.update(_module_definitions(module))
    return found


def _module_definitions(module: object) -> dict[str, tuple[str, frozenset[str]]]:
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    lines = inspect.getsource(module).splitlines()  # type: ignore[arg-type]
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            name = node.name
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        else:
            continue
        source = "\n".join(lines[node.lineno - 1 : node.end_lineno])
        used = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id != name)
        found[name] = (source, used)
    return found


def embedded_source(names: list[str]) -> tuple[str, list[str]]:
    """The source of the named functions and tables and everything they use, in this module's order,
    and the modules it imports: what a generated mock pastes in to compute like the simulator."""
    definitions = _definitions()
    wanted: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in wanted or name not in definitions:
            continue
        wanted.add(name)
        todo.extend(n for n in definitions[name][1] if n in definitions)
    parts = [source for name, (source, _) in definitions.items() if name in wanted]
    text = "\n\n\n".join(parts)
    modules = [m for m in ("datetime", "json", "math", "re") if re.search(rf"\b{m}\.", text)]
    return text, modules
