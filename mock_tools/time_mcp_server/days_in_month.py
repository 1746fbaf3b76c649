"""Mock of the query tool `days_in_month` of "Time MCP Server".

Get the number of days in a month. If no date is provided, get the number of days in the current
month.

Written by graph-toucan's offline teacher from the tool's schemas: main() checks the arguments
against the input schema and asks call_external_api for flat values and rebuilds the nested output
from them; the calendar outputs are computed for real.
"""


import datetime
import re


TOOL = "days_in_month"
PARAMETERS = {"date": {"types": ["string"], "required": False}}
NOW = "2025-06-01T12:00:00Z"  # the simulated world's time when the conversation gives none


def main(**arguments):
    check_arguments(arguments)
    flat = call_external_api(TOOL, **arguments)
    now = flat.get("_now") or NOW
    moment = moment_text(arguments["date"]) if arguments.get("date") else now
    local = moment
    return {
        "days": days_in_month(local),
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


def moment_text(value):
    """A date or time argument as ISO 8601 UTC (``2025-03-23`` is midnight that day)."""
    return to_utc(str(value)).replace(microsecond=0).isoformat() + "Z"
