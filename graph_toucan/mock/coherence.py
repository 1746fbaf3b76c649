"""Making generated values agree: with the arguments, with each other, and with the world's tables.

- :func:`choose_lengths`: how many items each list gets (1 to 5, seeded, within ``minItems`` and the
  slots the schema allows; a ``limit``/``count`` argument caps it, a list argument such as
  ``symbols`` sets it).
- :func:`echo_concept`: an output field that means the same as an argument (``base`` and
  ``base_currency``, ``file_path`` and ``path``, ``timezone`` and ``timezone_name``) repeats it.
- :func:`cohere`: one record per object: a city with its own country, coordinates, time zone and
  currency (the city the arguments name, or the one nearest to their coordinates); a ticker with its
  company and a price near the company's; a person whose e-mail matches the name; exchange rates
  from one table (:func:`graph_toucan.mock.world.exchange_rate`); weekdays that match their dates;
  minimum below maximum, start before end.
"""

from __future__ import annotations

import random
import re
from typing import Any

from graph_toucan.mock import world
from graph_toucan.mock.flatten import FlatField, norm, singular
from graph_toucan.mock.tables import (
    CITIES,
    COMPANIES,
    DEFAULT_STREETS,
    FIRST_NAMES,
    LAST_NAMES,
    STREETS,
    City,
    Company,
    find_city,
    find_company,
    nearest_city,
)

Scalar = str | int | float | bool

MAX_ITEMS = 5
_LIMIT_ARGUMENTS = re.compile(
    r"^(limit|count|max_results|num_results|number_of_results|max_items|top|top_n|n|k|size|page_size"
    r"|per_page|results|hours|days|max_count|num|number)$"
)
# Output and argument names that mean the same thing (normalised names).
CONCEPTS: dict[str, set[str]] = {
    "base_currency": {
        "base",
        "base_currency",
        "from_currency",
        "source_currency",
        "currency_from",
        "base_code",
    },
    "target_currency": {"to_currency", "target_currency", "currency_to", "quote_currency", "target"},
    "symbol": {"symbol", "ticker", "stock_symbol", "ticker_symbol"},
    "timezone": {"timezone", "timezone_name", "tz", "time_zone", "zone", "tz_name", "iana_timezone"},
    "file": {"path", "file_path", "filepath", "filename", "file_name", "file", "output_path"},
    "directory": {"path", "directory", "dir", "dir_path", "directory_path", "folder", "subdirectory"},
    "url": {"url", "page_url", "source_url", "original_url", "target_url"},
    "query": {"query", "q", "search_query", "search_term", "keyword", "term"},
    "language": {"language", "lang", "locale", "language_code"},
    "date": {"date", "specific_date", "on_date", "as_of", "as_of_date"},
    "unit": {"unit", "units", "to_unit", "target_unit"},
    "coin": {"coin", "coin_id", "crypto", "cryptocurrency"},
}
# Concepts an item of a list repeats too (every rate of a base currency has that base).
_LIST_CONCEPTS = {"base_currency", "symbol", "timezone", "date", "coin"}
# A list argument whose values become one field of each item (``symbols=[EUR, JPY]`` -> rates[].currency).
_LIST_ARGUMENTS = {
    "symbols": ("currency", "symbol", "ticker"),
    "currencies": ("currency", "code"),
    "vs_currencies": ("currency", "vs_currency"),
    "tickers": ("symbol", "ticker"),
    "ids": ("id",),
    "cities": ("city", "name"),
    "urls": ("url",),
}


def _list_at(f: FlatField, depth: int) -> str:
    """The path of the list that index ``depth`` of ``f`` counts items of."""
    segments = f.path.split("[]")
    if f.list_item and depth == len(f.indexes) - 1:
        return f.path
    return "[]".join(segments[: depth + 1])


def _limit(arguments: dict[str, Any]) -> int | None:
    for name, value in arguments.items():
        if _LIMIT_ARGUMENTS.match(norm(name)) and isinstance(value, int) and not isinstance(value, bool):
            return max(1, value)
    return None


def list_argument(arguments: dict[str, Any], f: FlatField) -> list[Any] | None:
    """The argument list whose values fill field ``f`` of each item (one item per value)."""
    if not f.indexes or len(f.indexes) != 1:
        return None
    name = norm(f.name)
    for argument, value in arguments.items():
        if not isinstance(value, list) or not value or not all(isinstance(v, Scalar) for v in value):
            continue
        key = norm(argument)
        if name in _LIST_ARGUMENTS.get(key, ()) or (key != name and singular(key) == name):
            return value
    return None


def choose_lengths(
    fields: list[FlatField], arguments: dict[str, Any], rng: random.Random
) -> tuple[list[FlatField], dict[str, int]]:
    """The fields of the items kept (each list gets 1-5 of its slots, seeded) and the number of items
    of each top-level list by path."""
    slots: dict[tuple[str, tuple[int, ...]], int] = {}
    lows: dict[tuple[str, tuple[int, ...]], int] = {}
    for f in fields:
        for depth, index in enumerate(f.indexes):
            instance = (_list_at(f, depth), f.indexes[:depth])
            slots[instance] = max(slots.get(instance, 0), index + 1)
            low = f.min_items[depth] if depth < len(f.min_items) else 0
            lows[instance] = max(lows.get(instance, 0), low)
    limit = _limit(arguments)
    chosen: dict[tuple[str, tuple[int, ...]], int] = {}
    for instance, available in slots.items():
        low = min(max(1, lows[instance]), available)
        n = rng.randint(low, available)
        if not instance[1]:
            given = next(
                (
                    values
                    for f in fields
                    if f.indexes and _list_at(f, 0) == instance[0]
                    for values in [list_argument(arguments, f)]
                    if values
                ),
                None,
            )
            if given is not None:
                n = min(max(len(given), low), available)
            elif limit is not None:
                n = max(low, min(limit, n if limit > available else limit, available))
        chosen[instance] = n
    kept = [
        f
        for f in fields
        if all(index < chosen[(_list_at(f, d), f.indexes[:d])] for d, index in enumerate(f.indexes))
    ]
    top = {path: n for (path, outer), n in chosen.items() if not outer}
    return kept, top


def concepts(name: str) -> set[str]:
    key = norm(name)
    return {concept for concept, names in CONCEPTS.items() if key in names}


def echo_concept(f: FlatField, arguments: dict[str, Any]) -> Scalar | None:
    """The argument that means what field ``f`` means (``base`` <- ``base_currency``), or None."""
    wanted = concepts(f.name)
    if not wanted or (f.indexes and not wanted & _LIST_CONCEPTS):
        return None
    for name, value in arguments.items():
        if isinstance(value, Scalar) and not isinstance(value, bool) and concepts(name) & wanted:
            if f.indexes and not concepts(name) & wanted & _LIST_CONCEPTS:
                continue
            return value
    return None


# -- records ---------------------------------------------------------------------------------------------
def groups(fields: list[FlatField]) -> list[list[FlatField]]:
    """Fields that describe one object: same list indexes and same parent path."""
    found: dict[tuple[Any, ...], list[FlatField]] = {}
    for f in fields:
        parent = f.path.rsplit(".", 1)[0] if "." in f.path else ""
        found.setdefault((f.indexes, parent, f.list_item), []).append(f)
    return list(found.values())


_GEO = re.compile(
    r"(^|_)(city|town|country|country_code|lat|latitude|lon|lng|longitude|timezone|address|state)$"
)


class _World:
    """What the arguments say about the world the answer lives in."""

    def __init__(self, arguments: dict[str, Any], now: str) -> None:
        self.arguments = arguments
        self.now = now
        self.city: City | None = None
        for name, value in arguments.items():
            if isinstance(value, str) and not re.search(r"(url|path|id)$", norm(name)):
                self.city = self.city or find_city(value)
        lat = next((v for k, v in arguments.items() if norm(k) in ("lat", "latitude")), None)
        lon = next((v for k, v in arguments.items() if norm(k) in ("lon", "lng", "longitude")), None)
        self.point = (float(lat), float(lon)) if _number(lat) and _number(lon) else None
        if self.city is None and self.point is not None:
            self.city = nearest_city(*self.point)
        symbol = next(
            (v for k, v in arguments.items() if "symbol" in concepts(k) and isinstance(v, str)), None
        )
        self.company = find_company(symbol) if symbol else None
        self.symbol = symbol
        self.used: dict[str, set[Any]] = {}

    def pick(self, kind: str, options: list[Any], rng: random.Random) -> Any:
        """One of ``options``, avoiding those already used for ``kind`` in this answer."""
        used = self.used.setdefault(kind, set())
        fresh = [o for o in options if o not in used] or options
        choice = rng.choice(fresh)
        used.add(choice)
        return choice


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def cohere(
    fields: list[FlatField],
    values: dict[str, Scalar],
    arguments: dict[str, Any],
    rng: random.Random,
    *,
    now: str = "2025-06-01T12:00:00Z",
    echoed: set[str] | None = None,
    current: bool = False,
) -> dict[str, Scalar]:
    """``values`` made coherent in place (see the module docstring); ``echoed`` keys are left alone.
    For a tool about the present (``current``), top-level dates and times are ``now``."""
    echoed = echoed or set()
    context = _World(arguments, now)
    if current:
        for f in fields:
            name = norm(f.name)
            if not f.indexes and f.type == "string" and re.search(r"(^|_)(date|as_of)$", name):
                _set(values, f, now[:10], echoed)
            elif (
                not f.indexes
                and f.type == "string"
                and re.search(r"(^|_)(datetime|timestamp|updated_at|time)$", name)
            ):
                _set(values, f, now, echoed)
    for group in groups(fields):
        names = {norm(f.name): f for f in group}
        _geo(group, names, values, context, rng, echoed)
        _company(group, names, values, context, rng, echoed)
        _person(names, values, rng, echoed)
        _currencies(group, names, values, context, rng, echoed)
        _rates(group, names, values, context, echoed)
        _weekday(names, values, echoed)
        _ranges(names, values)
    return values


def allowed(f: FlatField, value: Any) -> bool:
    """Whether ``value`` keeps the leaf schema's enum, bounds and lengths."""
    schema = f.schema
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and value not in enum:
        return False
    if "const" in schema and value != schema["const"]:
        return False
    if isinstance(value, str):
        low, high = schema.get("minLength"), schema.get("maxLength")
        return not (isinstance(low, int) and len(value) < low) and not (
            isinstance(high, int) and len(value) > high
        )
    if _number(value):
        for key, ok in (
            ("minimum", lambda b: value >= b),
            ("maximum", lambda b: value <= b),
            ("exclusiveMinimum", lambda b: value > b),
            ("exclusiveMaximum", lambda b: value < b),
        ):
            bound = schema.get(key)
            if _number(bound) and not ok(bound):
                return False
    return True


def _set(values: dict[str, Scalar], f: FlatField, value: Any, echoed: set[str]) -> None:
    if f.key in echoed or value is None or not allowed(f, value):
        return
    if f.type == "string" and isinstance(value, str):
        values[f.key] = value
    elif f.type == "number" and _number(value):
        values[f.key] = float(value)
    elif f.type == "integer" and _number(value) and float(value).is_integer():
        values[f.key] = int(value)
    elif f.type == "boolean" and isinstance(value, bool):
        values[f.key] = value


def _geo(group, names, values, context: _World, rng, echoed) -> None:
    if not any(_GEO.search(n) for n in names):
        return
    listed = bool(group[0].indexes)
    city = context.city if context.city is not None else None
    if city is None or (listed and context.point is None and context.city is None):
        city = context.pick("city", CITIES, rng)
    jitter = 0.03 if listed or context.point else 0.0
    lat0, lon0 = (
        context.point if context.point and (listed or not context.city) else (city.latitude, city.longitude)
    )
    street = rng.choice(STREETS.get(city.country_code, DEFAULT_STREETS))
    number = rng.randint(1, 180)
    us = city.country_code in ("US", "CA")
    address = f"{number} {street}, {city.name}" + (f", {city.state}" if us else f", {city.country}")
    for name, f in names.items():
        if re.search(r"(^|_)(city|town)(_name)?$", name):
            _set(values, f, city.name, echoed)
        elif re.search(r"(^|_)country_code$", name):
            _set(values, f, city.country_code, echoed)
        elif re.search(r"(^|_)country(_name)?$", name):
            _set(values, f, city.country, echoed)
        elif re.search(r"(^|_)(state|region|province)$", name):
            _set(values, f, city.state, echoed)
        elif re.search(r"(^|_)(lat|latitude)$", name):
            _set(values, f, round(lat0 + rng.uniform(-jitter, jitter), 4), echoed)
        elif re.search(r"(^|_)(lon|lng|longitude)$", name):
            _set(values, f, round(lon0 + rng.uniform(-jitter, jitter), 4), echoed)
        elif re.search(r"(^|_)(timezone|time_zone|tz)$", name):
            _set(values, f, city.timezone, echoed)
        elif re.search(r"(^|_)(address|formatted_address|street_address)$", name):
            _set(values, f, address, echoed)
        elif re.search(r"(^|_)currency$", name) and not any("currency" in norm(a) for a in context.arguments):
            _set(values, f, city.currency, echoed)
        elif name in ("location", "place", "location_name") and f.type == "string":
            _set(values, f, f"{city.name}, {city.country}", echoed)


def _company(group, names, values, context: _World, rng, echoed) -> None:
    has_symbol = any(re.search(r"(^|_)(symbol|ticker)$", n) for n in names)
    if not has_symbol and context.symbol is None:
        return
    if context.company is not None and not group[0].indexes:
        company: Company = context.company
    elif context.symbol is not None and not has_symbol:
        company = Company(
            context.symbol.upper(), f"{context.symbol.upper()} Holdings", "NYSE", "Industrials", 84.0
        )
    else:
        company = context.pick("company", COMPANIES, rng)
    base = company.price * (1 + rng.uniform(-0.04, 0.04))
    for name, f in names.items():
        if re.search(r"(^|_)(symbol|ticker)$", name):
            _set(values, f, company.symbol, echoed)
        elif name in ("company_name", "company", "long_name", "short_name", "name") and has_symbol:
            _set(values, f, company.name, echoed)
        elif name == "exchange":
            _set(values, f, company.exchange, echoed)
        elif name == "currency":
            _set(values, f, "USD", echoed)
        elif name in ("sector", "industry"):
            _set(values, f, company.sector, echoed)
        elif re.search(r"(^|_)(price|current_price|close|open|last|regular_market_price|adj_close)$", name):
            _set(values, f, round(base * (1 + rng.uniform(-0.01, 0.01)), 2), echoed)
        elif re.search(r"(^|_)(high|day_high)$", name):
            _set(values, f, round(base * 1.02, 2), echoed)
        elif re.search(r"(^|_)(low|day_low)$", name):
            _set(values, f, round(base * 0.98, 2), echoed)


def _person(names, values, rng, echoed) -> None:
    person = [n for n in names if re.search(r"(first_?name|last_?name|full_?name|email|user_?name)$", n)]
    if not person:
        return
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    ascii_last = last.encode("ascii", "ignore").decode().lower() or "user"
    for name, f in names.items():
        if re.search(r"first_?name|given_name", name):
            _set(values, f, first, echoed)
        elif re.search(r"last_?name|surname|family_name", name):
            _set(values, f, last, echoed)
        elif re.search(r"full_?name", name) or (name == "name" and "email" in " ".join(names)):
            _set(values, f, f"{first} {last}", echoed)
        elif "email" in name:
            _set(values, f, f"{first.lower()}.{ascii_last}@example.com", echoed)
        elif re.search(r"user_?name", name):
            _set(values, f, f"{first.lower()}{ascii_last[:3]}", echoed)


_CURRENCY_RECORD = {"currency", "code", "currency_code", "name", "currency_name", "symbol", "description"}
_CURRENCY_RECORD |= {"base", "rate", "date", "country"}


def _currencies(group, names, values, context: _World, rng, echoed) -> None:
    field = names.get("currency") or names.get("code") or names.get("currency_code")
    if field is None or field.key in echoed or not group[0].indexes or not set(names) <= _CURRENCY_RECORD:
        return
    base = str(next((v for k, v in context.arguments.items() if "base_currency" in concepts(k)), "")).upper()
    if field.key in values and isinstance(values[field.key], str) and values[field.key] in world.CURRENCIES:
        if values[field.key] == base or values[field.key] in context.used.get("currency", set()):
            options = [c for c in world.CURRENCIES if c != base]
            _set(values, field, context.pick("currency", options, rng), echoed)
        else:
            context.used.setdefault("currency", set()).add(values[field.key])
    elif field.type == "string":
        _set(values, field, context.pick("currency", [c for c in world.CURRENCIES if c != base], rng), echoed)
    name = names.get("name") or names.get("currency_name")
    code = values.get(field.key)
    if name is not None and isinstance(code, str) and code in world.CURRENCIES:
        _set(values, name, world.CURRENCIES[code][1], echoed)


def _rates(group, names, values, context: _World, echoed) -> None:
    rate = names.get("rate") or names.get("exchange_rate") or names.get("conversion_rate")
    if rate is None or rate.type != "number":
        return
    arguments = context.arguments

    def arg(concept: str) -> str | None:
        return next(
            (str(v) for k, v in arguments.items() if concept in concepts(k) and isinstance(v, str)), None
        )

    base_field = names.get("base") or names.get("base_currency") or names.get("from")
    quote_field = names.get("currency") or names.get("quote") or names.get("to") or names.get("target")
    base = values.get(base_field.key) if base_field else None
    base = base if isinstance(base, str) else arg("base_currency")
    quote = values.get(quote_field.key) if quote_field else None
    quote = quote if isinstance(quote, str) and quote != base else arg("target_currency")
    date_field = names.get("date")
    date = arg("date") or context.now[:10]
    if date_field is not None:
        _set(values, date_field, date, echoed)
    try:
        _set(values, rate, world.exchange_rate(base, quote, date), echoed)
    except (ValueError, TypeError, AttributeError):
        return


def _weekday(names, values, echoed) -> None:
    day = next((f for n, f in names.items() if re.search(r"day_of_week|weekday|day_name", n)), None)
    if day is None or day.type != "string":
        return
    for name, f in names.items():
        value = values.get(f.key)
        if re.search(r"(date|time|datetime)$", name) and isinstance(value, str):
            try:
                _set(values, day, world.weekday_name(value), echoed)
            except ValueError:
                continue
            return


_PAIRS = [
    (r"^min_(.+)$", r"max_\1"),
    (r"^(.+)_min$", r"\1_max"),
    (r"^minimum_(.+)$", r"maximum_\1"),
    (r"^low$", "high"),
    (r"^start_(.+)$", r"end_\1"),
    (r"^(.+)_start$", r"\1_end"),
    (r"^check_in(.*)$", r"check_out\1"),
    (r"^from_(.+)$", r"to_\1"),
]


def _ranges(names, values) -> None:
    for name, f in names.items():
        for low, high in _PAIRS:
            if not re.match(low, name):
                continue
            other = names.get(re.sub(low, high, name))
            if other is None or other.type != f.type:
                continue
            a, b = values.get(f.key), values.get(other.key)
            comparable = (_number(a) and _number(b)) or all(
                isinstance(v, str) and re.match(r"^\d{4}-\d{2}-\d{2}", v) for v in (a, b)
            )
            if comparable and a > b and allowed(f, b) and allowed(other, a):  # type: ignore[operator]
                values[f.key], values[other.key] = b, a
