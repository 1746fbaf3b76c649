"""The deterministic value generator: plausible flat values from field names, types and formats.

Seeded by the tool and its arguments (the caller builds the ``random.Random``), so the same call gives
the same values in every process. A field named like an argument repeats the argument; dates start
from a date among the arguments (else 2025-06-01, never today); counts match the number of list items;
ids look like ids, emails like emails, prices like prices, temperatures like temperatures.

>>> import random
>>> from graph_toucan.mock.flatten import flat_fields
>>> fields = flat_fields({"type": "object", "properties": {"city": {"type": "string"},
...     "temperature_c": {"type": "number"}, "hotel_id": {"type": "string"}}})
>>> sorted(generate_values(fields, {"city": "Lyon"}, random.Random("s")))
['city', 'hotel_id', 'temperature_c']
>>> generate_values(fields, {"city": "Lyon"}, random.Random("s"))["city"]
'Lyon'
"""

from __future__ import annotations

import datetime as dt
import random
import re
import string
from collections.abc import Callable, Sequence
from typing import Any

from graph_toucan.mock.coherence import cohere, echo_concept, list_argument
from graph_toucan.mock.flatten import FlatField, norm, singular
from graph_toucan.schema import GENERATED_CHARS

Scalar = str | int | float | bool

BASE_DATE = dt.date(2025, 6, 1)
_CITIES = ["Paris", "Lyon", "Berlin", "Madrid", "Boston", "Seattle", "Tokyo", "Toronto", "Austin", "Denver"]
_COUNTRIES = ["France", "Germany", "Spain", "United States", "Japan", "Canada", "Italy", "Brazil"]
_STATES = ["CA", "NY", "TX", "WA", "MA", "CO", "IL", "FL"]
_FIRST = ["Alice", "Bruno", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivan", "Julia"]
_LAST = ["Martin", "Schmidt", "Garcia", "Smith", "Tanaka", "Rossi", "Novak", "Silva", "Dubois"]
_WORDS = [
    "market",
    "report",
    "update",
    "analysis",
    "project",
    "summary",
    "overview",
    "release",
    "forecast",
    "review",
    "guide",
    "trend",
    "study",
    "plan",
    "network",
]
_ADJECTIVES = ["quarterly", "global", "new", "local", "annual", "open", "daily", "detailed", "regional"]
_CONDITIONS = ["Sunny", "Partly cloudy", "Cloudy", "Light rain", "Clear", "Overcast", "Showers"]
_STATUS = ["active", "pending", "completed", "confirmed", "available"]
_CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CAD", "CHF"]
_SYMBOLS = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "TSLA"]
_TIMEZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "Europe/London", "America/Chicago"]
_LANGUAGES = ["en", "fr", "de", "es", "ja"]
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_SOURCES = ["Reuters", "Associated Press", "BBC News", "Bloomberg", "The Guardian", "Le Monde"]
_EVENTS = [
    "Heat Advisory",
    "Flood Watch",
    "Wind Advisory",
    "Severe Thunderstorm Warning",
    "Winter Storm Watch",
]
_TERMS = ["electric cars", "interest rates", "heat wave", "world cup", "ai chips", "housing market"]
_COMMANDS = ["ls -la", "git status", "python --version", "df -h", "echo done"]
_MESSAGES = ["Operation completed successfully.", "Request processed.", "Done.", "Changes saved."]
_MORE_NAMES = {"has_more", "has_next", "has_next_page", "more", "more_results", "is_truncated", "truncated"}
_COUNT_NAMES = {"count", "total", "total_count", "result_count", "num_results", "total_results", "n_results"}


def generate_values(
    fields: Sequence[FlatField],
    arguments: dict[str, Any],
    rng: random.Random,
    *,
    now: str | None = None,
    lengths: dict[str, int] | None = None,
    current: bool = False,
) -> dict[str, Scalar]:
    """One plausible value per flat field (the fields of the list items kept, see
    :func:`~graph_toucan.mock.coherence.choose_lengths`), consistent with ``arguments``, with each
    other and with ``now`` (the simulated world's time, ISO 8601 UTC)."""
    context = _Context(arguments, fields, now=now, lengths=lengths)
    echoes = echo_values(fields, arguments)
    values: dict[str, Scalar] = {
        f.key: echoes[f.key] if f.key in echoes else plausible_value(f, rng, context) for f in fields
    }
    echoed = set(echoes)
    cohere(list(fields), values, arguments, rng, now=context.now, echoed=echoed, current=current)
    _paginate(fields, values, context)
    return values


def _paginate(fields: Sequence[FlatField], values: dict[str, Scalar], context: _Context) -> None:
    """``has_more`` says whether the count goes beyond the items listed."""
    total = next(
        (
            values[f.key]
            for f in fields
            if not f.indexes and norm(f.name) in _COUNT_NAMES and f.type == "integer"
        ),
        None,
    )
    if not isinstance(total, int) or not context.list_length:
        return
    for f in fields:
        if not f.indexes and f.type == "boolean" and norm(f.name) in _MORE_NAMES and f.key not in context.raw:
            values[f.key] = total > context.list_length


def echo_values(fields: Sequence[FlatField], arguments: dict[str, Any]) -> dict[str, Scalar]:
    """The fields that repeat an argument (same name or same meaning), with the argument's value."""
    context = _Context(arguments, fields)
    found: dict[str, Scalar] = {}
    for f in fields:
        value = _echo(f, context)
        if value is None:
            listed = list_argument(arguments, f)
            if listed is not None and f.indexes[0] < len(listed) and _fits(listed[f.indexes[0]], f.type):
                value = listed[f.indexes[0]]
        if value is not None:
            found[f.key] = value
    return found


class _Context:
    """What the arguments tell the generator: values by name, a base date, the list lengths."""

    def __init__(
        self,
        arguments: dict[str, Any],
        fields: Sequence[FlatField] = (),
        *,
        now: str | None = None,
        lengths: dict[str, int] | None = None,
    ) -> None:
        self.raw = arguments
        self.arguments = {norm(k): v for k, v in arguments.items() if isinstance(v, Scalar)}
        self.now = now or f"{BASE_DATE.isoformat()}T12:00:00Z"
        self.base_date = _parse_date(self.now) or BASE_DATE
        for value in arguments.values():
            parsed = _parse_date(value)
            if parsed is not None:
                self.base_date = parsed
                break
        self.list_length = max((f.indexes[0] + 1 for f in fields if f.indexes), default=0)
        self.capped = bool(lengths) and any(
            norm(k) in ("limit", "count", "max_results", "num_results", "page_size", "per_page", "top")
            and v == self.list_length
            for k, v in arguments.items()
        )
        # what the call is about: a top-level ``hotel_id`` output, else a ``hotel_id`` argument
        ids = [_kind(f) for f in fields if not f.indexes and re.search(r"_(id|uuid)$", norm(f.name))]
        ids += [norm(k)[:-3] for k in arguments if norm(k).endswith("_id") and len(norm(k)) > 3]
        self.kind = next((k for k in ids if k not in ("session", "request", "user")), "")


def plausible_value(field: FlatField, rng: random.Random, context: _Context | None = None) -> Scalar:
    """A value for one field that validates against its leaf schema."""
    context = context or _Context({})
    schema = field.schema
    if "const" in schema and isinstance(schema["const"], Scalar):
        return schema["const"]
    enum = [v for v in schema.get("enum") or [] if isinstance(v, Scalar)]
    if enum:
        return rng.choice(enum)
    echoed = _echo(field, context)
    if echoed is not None:
        return echoed
    if field.type == "boolean":
        return rng.random() < 0.5
    if field.type in ("integer", "number"):
        return _number(field, rng, context)
    return _fit_string(_string(field, rng, context), schema, rng)


def value_candidates(field: FlatField, seed: str, n: int = 4) -> list[Scalar]:
    """``n`` distinct-where-possible values for a field (a computation mock picks among them)."""
    rng = random.Random(f"{seed}/{field.key}")
    found: list[Scalar] = []
    for _ in range(n * 3):
        value = plausible_value(field, rng)
        if value not in found:
            found.append(value)
        if len(found) == n:
            break
    return found


# Output names too vague to repeat an argument that only ends with them (``name`` is not ``file_name``).
_VAGUE = frozenset({"id", "name", "type", "status", "value", "count", "total", "url", "key", "text", "data"})


def _echo(field: FlatField, context: _Context) -> Scalar | None:
    """The argument of the same name, when the field is not inside a list and the type fits."""
    value = None
    if not field.indexes:
        value = context.arguments.get(norm(field.name))
        if value is None:
            value = context.arguments.get(norm(field.key))
        if value is None and norm(field.name) not in _VAGUE:  # symbol <- coin_symbol
            qualified = [v for k, v in context.arguments.items() if k.endswith("_" + norm(field.name))]
            value = qualified[0] if len(qualified) == 1 else None
    if value is None:
        value = echo_concept(field, context.raw)
    if value is None or not _fits(value, field.type) or not within_bounds(value, field.schema):
        return None
    enum = field.schema.get("enum")
    if isinstance(enum, list) and enum and value not in enum:
        return None
    return value


def within_bounds(value: Scalar, schema: dict[str, Any]) -> bool:
    """Whether a value of the right type keeps the leaf schema's bounds and lengths."""
    if isinstance(value, str):
        low, high = schema.get("minLength"), schema.get("maxLength")
        return not (isinstance(low, int) and len(value) < low) and not (
            isinstance(high, int) and len(value) > high
        )
    if isinstance(value, bool):
        return True
    for key, ok in (
        ("minimum", lambda b: value >= b),
        ("maximum", lambda b: value <= b),
        ("exclusiveMinimum", lambda b: value > b),
        ("exclusiveMaximum", lambda b: value < b),
    ):
        bound = schema.get(key)
        if isinstance(bound, int | float) and not isinstance(bound, bool) and not ok(bound):
            return False
    return True


def _fits(value: Any, typ: str) -> bool:
    if typ == "boolean":
        return isinstance(value, bool)
    if typ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def _parse_date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


# -- numbers ----------------------------------------------------------------------------------------
_NUMBER_RULES: list[tuple[str, tuple[float, float], int]] = [
    (r"lat(itude)?$", (-60.0, 70.0), 4),
    (r"(lon|lng|longitude)$", (-180.0, 180.0), 4),
    (r"temp|temperature|feels_like|dew_?point", (-5.0, 32.0), 1),
    (r"humidity|percent|pct|percentage|probability|chance|precipitation", (0.0, 100.0), 1),
    (r"(exchange_)?rate$|ratio|factor", (0.5, 1.6), 4),
    (r"price|cost|amount|fee|total|balance|revenue|income|salary|value|fare|subtotal|tax", (5.0, 950.0), 2),
    (r"change", (-5.0, 5.0), 2),
    (r"distance|km|miles|length|radius", (0.5, 450.0), 1),
    (r"speed|wind|gust", (0.0, 55.0), 1),
    (r"pressure", (985.0, 1035.0), 1),
    (r"rating|score|stars", (1.0, 5.0), 1),
    (r"area", (10.0, 5000.0), 1),
    (r"visibility", (1.0, 20.0), 1),
    (r"market_cap|volume", (1e6, 9e11), 0),
    (r"weight|mass", (0.5, 90.0), 1),
]
_INTEGER_RULES: list[tuple[str, tuple[int, int]]] = [
    (r"status_code|http_status", (200, 200)),
    (r"exit_code|return_?code", (0, 0)),
    (r"week", (1, 52)),
    (r"year", (2015, 2025)),
    (r"age$", (18, 80)),
    (r"month$", (1, 12)),
    (r"day$", (1, 28)),
    (r"hour", (0, 23)),
    (r"minute", (0, 59)),
    (r"second", (0, 59)),
    (r"percent|humidity|probability|chance", (0, 100)),
    (r"rating|stars", (1, 5)),
    (r"rank|position|page", (1, 20)),
    (r"timestamp|epoch|unix", (1735689600, 1767225599)),
    (r"port$", (1024, 65535)),
    (r"(^|_)id$|number$|code$", (1000, 99999)),
    (r"size|bytes", (512, 2_000_000)),
    (r"count|total|num|quantity|views|likes|followers|stars|results", (0, 250)),
    (r"duration|seconds|minutes|elapsed", (1, 600)),
    (r"price|cost|amount", (5, 950)),
    (r"temp|temperature", (-5, 32)),
]


def _number(field: FlatField, rng: random.Random, context: _Context) -> int | float:
    name = norm(field.name)
    schema = field.schema
    if field.type == "integer" and name in _COUNT_NAMES and context.list_length:
        value: int | float = context.list_length
        if context.capped:
            value += rng.randint(0, 3 * context.list_length)
    elif field.type == "integer":
        low, high = next((r for p, r in _INTEGER_RULES if re.search(p, name)), (1, 100))
        value = rng.randint(low, high)
    else:
        (low_f, high_f), digits = next(
            ((r, d) for p, r, d in _NUMBER_RULES if re.search(p, name)), ((0.0, 1000.0), 2)
        )
        value = round(rng.uniform(low_f, high_f), digits)
    return _clamp(value, schema, field.type == "integer", rng)


def _clamp(value: int | float, schema: dict[str, Any], integer: bool, rng: random.Random) -> int | float:
    low = _bound(schema, "minimum", "exclusiveMinimum", 1)
    high = _bound(schema, "maximum", "exclusiveMaximum", -1)
    if low is not None and high is not None and low > high:
        high = low
    if (low is not None and value < low) or (high is not None and value > high):
        lo = low if low is not None else (high or 0) - 100
        hi = high if high is not None else lo + 100
        value = rng.uniform(lo, hi)
    if integer:
        value = round(value)
        if low is not None and value < low:
            value = int(-(-low // 1))
        if high is not None and value > high:
            value = int(high // 1)
    return value


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str, step: int) -> float | None:
    if isinstance(schema.get(inclusive), int | float):
        return float(schema[inclusive])
    if isinstance(schema.get(exclusive), int | float):
        return float(schema[exclusive]) + step * 0.01
    return None


# -- strings ----------------------------------------------------------------------------------------
def _token(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def _sentence(field: FlatField, rng: random.Random, context: _Context) -> str:
    topic = next((v for v in context.arguments.values() if isinstance(v, str) and 2 < len(v) < 60), None)
    words = f"{rng.choice(_ADJECTIVES)} {rng.choice(_WORDS)}"
    article = "An" if words[0] in "aeiou" else "A"
    if topic:
        return f"{article} {words} about {topic}, with the key facts and figures."
    return f"{article} {words} with the key facts and figures."


def _date(rng: random.Random, context: _Context) -> dt.date:
    return context.base_date + dt.timedelta(days=rng.randint(0, 30))


def _datetime(rng: random.Random, context: _Context) -> str:
    moment = dt.datetime.combine(
        _date(rng, context), dt.time(rng.randint(6, 21), rng.choice([0, 15, 30, 45]))
    )
    return moment.strftime("%Y-%m-%dT%H:%M:00Z")


_FORMATS: dict[str, Callable[[FlatField, random.Random, _Context], str]] = {
    "date": lambda f, r, c: _date(r, c).isoformat(),
    "date-time": lambda f, r, c: _datetime(r, c),
    "time": lambda f, r, c: f"{r.randint(6, 21):02d}:{r.choice([0, 15, 30, 45]):02d}:00",
    "email": lambda f, r, c: f"{r.choice(_FIRST).lower()}.{r.choice(_LAST).lower()}@example.com",
    "uri": lambda f, r, c: f"https://example.com/{norm(f.name) or 'item'}/{_token(r, 6)}",
    "url": lambda f, r, c: f"https://example.com/{norm(f.name) or 'item'}/{_token(r, 6)}",
    "uuid": lambda f, r, c: "-".join(_hex(r, n) for n in (8, 4, 4, 4, 12)),
    "ipv4": lambda f, r, c: f"192.0.2.{r.randint(1, 254)}",
    "hostname": lambda f, r, c: f"{_token(r, 6)}.example.com",
}


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _kind(field: FlatField) -> str:
    """The kind of thing an id names: ``hotel`` for ``hotel_id`` or ``hotels[].id``."""
    name = norm(field.name)
    if name not in ("id", "uuid", "key") and name.endswith(("_id", "_uuid", "_key")):
        return name.rsplit("_", 1)[0]
    parts = [p for p in re.split(r"[.\[\]]+", field.path) if p]
    return norm(singular(parts[-2])) if len(parts) > 1 else "item"


_STRING_PATTERNS: list[tuple[str, Callable[[FlatField, random.Random, _Context], str]]] = [
    (r"(^|_)(id|uuid|key)$", lambda f, r, c: f"{_kind(f)[:12]}_{_hex(r, 8)}"),
    (r"e_?mail", _FORMATS["email"]),
    (r"(url|uri|link|href|website|homepage|image|thumbnail|icon)$", _FORMATS["url"]),
    (r"(expires|expiry|expiration|valid_until|ends)$", _FORMATS["date-time"]),
    (r"(^|_)(source|publisher|provider|outlet)$", lambda f, r, c: r.choice(_SOURCES)),
    (r"(^|_)event$", lambda f, r, c: r.choice(_EVENTS)),
    (r"(^|_)area$", lambda f, r, c: f"{r.choice(_CITIES)} metro area"),
    (r"severity|priority|urgency|level$", lambda f, r, c: r.choice(["minor", "moderate", "severe"])),
    (r"(^|_)(period|quarter|fiscal_period)$", lambda f, r, c: f"{r.randint(2022, 2025)}-Q{r.randint(1, 4)}"),
    (r"recommendation|(^|_)rating$", lambda f, r, c: r.choice(["buy", "hold", "sell", "strong buy"])),
    (r"(^|_)base$|currency", lambda f, r, c: r.choice(_CURRENCIES)),
    (r"(^|_)(term|query|keyword|trend)$", lambda f, r, c: r.choice(_TERMS)),
    (r"traffic", lambda f, r, c: f"{r.choice([5, 10, 20, 50, 100, 200])}K+"),
    (r"(^|_)(stdout|output)$", lambda f, r, c: "Command completed successfully."),
    (r"(^|_)stderr$", lambda f, r, c: "no errors"),
    (
        r"(^|_)html$",
        lambda f, r, c: f"<html><body><h1>{_title(r, c)}</h1><p>{_sentence(f, r, c)}</p></body></html>",
    ),
    (r"markdown", lambda f, r, c: f"# {_title(r, c)}\n\n{_sentence(f, r, c)}"),
    (r"(^|_)(format|image_format|file_type|extension)$", lambda f, r, c: r.choice(["png", "svg", "jpeg"])),
    (r"mime|content_type", lambda f, r, c: r.choice(["image/png", "application/json", "text/html"])),
    (r"(^|_)command$", lambda f, r, c: r.choice(_COMMANDS)),
    (r"(^|_)(message|msg)$", lambda f, r, c: r.choice(_MESSAGES)),
    (r"(dir|directory|folder)(_path|_name)?$", lambda f, r, c: f"/home/user/{r.choice(_WORDS)}"),
    (r"(^|_)(date|day)$|_on$|birthday|deadline", _FORMATS["date"]),
    (
        r"(datetime|timestamp|_at$|^created|^updated|^modified|^published|^start_time|^end_time)",
        _FORMATS["date-time"],
    ),
    (r"time_?zone|(^|_)tz$", lambda f, r, c: r.choice(["Europe/Paris", "America/New_York", "Asia/Tokyo"])),
    (r"(^|_)time$|sunrise|sunset", _FORMATS["time"]),
    (r"day_of_week|weekday", lambda f, r, c: r.choice(_WEEKDAYS)),
    (r"phone|mobile|fax", lambda f, r, c: f"+1-555-{r.randint(100, 999)}-{r.randint(1000, 9999)}"),
    (r"(first_?name|given_name)$", lambda f, r, c: r.choice(_FIRST)),
    (r"(last_?name|surname|family_name)$", lambda f, r, c: r.choice(_LAST)),
    (
        r"(author|user_?name|owner|full_?name|contact|person|host|driver|^name$)",
        lambda f, r, c: f"{r.choice(_FIRST)} {r.choice(_LAST)}" if norm(f.name) != "name" else _name(f, r, c),
    ),
    (r"username|handle|login", lambda f, r, c: f"{r.choice(_FIRST).lower()}{r.randint(10, 99)}"),
    (r"city|town|location|place|destination|origin", lambda f, r, c: r.choice(_CITIES)),
    (r"country", lambda f, r, c: r.choice(_COUNTRIES)),
    (r"(^|_)state$|region|province", lambda f, r, c: r.choice(_STATES)),
    (r"address|street", lambda f, r, c: f"{r.randint(1, 250)} {r.choice(_LAST)} Street, {r.choice(_CITIES)}"),
    (r"(zip|postal)", lambda f, r, c: f"{r.randint(10000, 99999)}"),
    (r"symbol|ticker", lambda f, r, c: r.choice(_SYMBOLS)),
    (r"timezone|tz$", lambda f, r, c: r.choice(_TIMEZONES)),
    (r"lang(uage)?$|locale", lambda f, r, c: r.choice(_LANGUAGES)),
    (r"status|state$", lambda f, r, c: r.choice(_STATUS)),
    (r"condition|weather|forecast|summary_short|sky", lambda f, r, c: r.choice(_CONDITIONS)),
    (r"(^|_)(unit|units)$", lambda f, r, c: r.choice(["metric", "imperial"])),
    (r"color|colour", lambda f, r, c: r.choice(["red", "green", "blue", "black", "white"])),
    (r"version", lambda f, r, c: f"{r.randint(1, 4)}.{r.randint(0, 12)}.{r.randint(0, 9)}"),
    (r"path|file|filename|directory|folder", lambda f, r, c: f"/data/{_token(r, 6)}.txt"),
    (
        r"(^|_)(code|sku|reference|ref|number)$",
        lambda f, r, c: f"{_token(r, 3).upper()}-{r.randint(1000, 9999)}",
    ),
    (r"(title|headline|subject|label|category|topic|tag|keyword)", lambda f, r, c: _title(r, c)),
    (
        r"(description|summary|content|text|snippet|body|message|note|comment|details|answer|abstract)",
        _sentence,
    ),
]
_STRING_RULES = [(re.compile(pattern), make) for pattern, make in _STRING_PATTERNS]  # compiled once


def _name(field: FlatField, rng: random.Random, context: _Context) -> str:
    kind = _kind(field) if field.indexes else context.kind
    if kind in ("user", "person", "author", "owner", "member", "contact", "employee", "guest"):
        return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    if kind and kind != "item":
        return f"{rng.choice(_LAST)} {kind.replace('_', ' ').title()}"
    return f"{rng.choice(_LAST)} {rng.choice(_WORDS).title()}"


def _title(rng: random.Random, context: _Context) -> str:
    topic = next((v for v in context.arguments.values() if isinstance(v, str) and 2 < len(v) < 40), None)
    words = f"{rng.choice(_ADJECTIVES).title()} {rng.choice(_WORDS)}"
    return f"{words}: {topic}" if topic else words


def _string(field: FlatField, rng: random.Random, context: _Context) -> str:
    fmt = field.schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt](field, rng, context)
    name = norm(field.name)
    for pattern, make in _STRING_RULES:
        if pattern.search(name):
            return make(field, rng, context)
    return f"{name.replace('_', ' ') or 'value'} {rng.randint(1, 99)}"


def _fit_string(value: str, schema: dict[str, Any], rng: random.Random) -> str:
    low = schema.get("minLength")
    high = schema.get("maxLength")
    if isinstance(low, int) and len(value) < low:
        missing = min(low, GENERATED_CHARS) - len(value)  # a huge minLength is never allocated
        value = value + "".join(rng.choice(string.ascii_lowercase) for _ in range(max(0, missing)))
    if isinstance(high, int) and len(value) > high:
        value = value[:high]
    return value
