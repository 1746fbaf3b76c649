"""Computation families: tools whose answer is arithmetic on their arguments, not a lookup.

:func:`plan_family` recognises, from a tool's name, description and schemas, calendars and time
arithmetic, time-zone conversion and current local time, unit conversion, currency conversion,
arithmetic, and text/encoding/hashing utilities. A :class:`Plan` says which output keys are computed
(a Python expression over ``arguments``, ``now`` and the functions of
:mod:`graph_toucan.mock.world`), which world functions a mock must embed, and the known-answer
samples and argument pairs a mock of the family must pass before it is accepted
(:func:`graph_toucan.mock.build.check_properties`): the same for a teacher-written mock as for the
offline one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from graph_toucan.mock import world, world_text
from graph_toucan.mock.flatten import FlatField, flat_fields, norm

NOW = "2025-06-01T12:00:00Z"  # the simulated world's "now" where a conversation gives none


@dataclass
class Plan:
    """How a tool of a recognised family computes: ``outputs`` maps flat keys to expressions."""

    family: str
    outputs: dict[str, str]
    helpers: list[str] = field(default_factory=list)
    known: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    varying: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    uses_now: bool = False
    prelude: list[str] = field(default_factory=list)


def _q(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass
class _Tool:
    name: str
    words: set[str]
    text: str
    params: dict[str, dict[str, Any]]
    required: set[str]
    fields: list[FlatField]

    def types(self, name: str) -> set[str]:
        sub = self.params.get(name) or {}
        typ = sub.get("type")
        found = {typ} if isinstance(typ, str) else set(typ or [])
        for option in sub.get("anyOf") or sub.get("oneOf") or []:
            if isinstance(option, dict) and isinstance(option.get("type"), str):
                found.add(option["type"])
        return found or {"string"}

    def param(self, pattern: str, kinds: set[str] | None = None, exclude: tuple[str, ...] = ()) -> str | None:
        for name in self.params:
            if name in exclude:
                continue
            if kinds and not (self.types(name) & kinds):
                continue
            if re.search(pattern, norm(name)):
                return name
        return None

    def top(self, pattern: str, kinds: tuple[str, ...] | None = None) -> list[FlatField]:
        return [
            f
            for f in self.fields
            if not f.indexes and re.search(pattern, norm(f.name)) and (kinds is None or f.type in kinds)
        ]


def _view(tool: dict[str, Any]) -> _Tool:
    schema = tool.get("input_schema") or {}
    params = {k: v if isinstance(v, dict) else {} for k, v in (schema.get("properties") or {}).items()}
    words = set(norm(str(tool.get("name") or "")).split("_"))
    text = " ".join([str(tool.get("name") or ""), str(tool.get("description") or "")]).lower()
    return _Tool(
        name=norm(str(tool.get("name") or "")),
        words=words,
        text=text,
        params=params,
        required=set(schema.get("required") or []),
        fields=flat_fields(tool.get("output_schema")),
    )


def _arg(name: str | None, default: str) -> str:
    return f"arguments.get({_q(name)}) or {default}" if name else default


def _cast(expression: str, f: FlatField) -> str:
    if f.type == "integer":
        return f"int({expression})"
    if f.type == "number":
        return f"float({expression})"
    if f.type == "string":
        return f"str({expression})"
    if f.type == "boolean":
        return f"bool({expression})"
    return expression


# -- calendars and clocks -------------------------------------------------------------------------------
_TIME_WORDS = {"date", "time", "day", "days", "week", "month", "year", "timestamp", "datetime", "clock"}
_TIME_WORDS |= {"calendar", "weekday", "leap", "now", "today", "timezone", "zone", "tz", "epoch", "unix"}


def _calendar(t: _Tool) -> Plan | None:
    if not (t.words & _TIME_WORDS or re.search(r"\b(date|time|calendar|timestamp)\b", t.text)):
        return None
    zone_param = t.param(r"(^|_)(timezone|time_zone|tz|zone)(_name)?$", {"string"})
    source_zone = t.param(r"(source|from).*(timezone|zone|tz)$", {"string"})
    target_zone = t.param(r"(target|to|dest).*(timezone|zone|tz)$", {"string"}, exclude=(source_zone or "",))
    time_param = t.param(r"(^|_)(date|time|datetime|timestamp|when|day|moment)$", {"string"})
    if time_param is None:
        time_param = t.param(
            r"(date|time)", {"string"}, exclude=tuple(p for p in (zone_param, source_zone, target_zone) if p)
        )
    epoch_param = t.param(r"(timestamp|epoch|unix)", {"integer", "number"})
    format_param = t.param(r"^format$", {"string"})
    current = bool(t.words & {"current", "now", "today"}) or "current" in t.text.split()[:6]
    plan = Plan("calendar", {}, uses_now=True)
    outputs = plan.outputs
    roles: dict[str, str] = {}
    if source_zone and target_zone and time_param:
        plan.family = "timezone"
        src, tgt, when = (f"arguments[{_q(p)}]" for p in (source_zone, target_zone, time_param))
        plan.prelude.append(f"moment = convert_zone({when}, {src}, {tgt})")
        plan.prelude.append(f"source_moment = convert_zone({when}, {src}, {src})")
        for f in t.fields:
            if f.indexes:
                continue
            parent = f.path.rsplit(".", 1)[0] if "." in f.path else ""
            local, zone = ("source_moment", src) if parent.endswith("source") else ("moment", tgt)
            name = norm(f.name)
            if re.search(r"(^|_)(datetime|time|date|converted_time|result)$", name) and f.type == "string":
                outputs[f.key] = local
                if local == "moment":
                    roles[f.key] = "datetime"
            elif re.search(r"(timezone|zone|tz)$", name) and f.type == "string":
                outputs[f.key] = zone
            elif re.search(r"day_of_week|weekday", name) and f.type == "string":
                outputs[f.key] = f"weekday_name({local})"
                if local == "moment":
                    roles[f.key] = "weekday"
            elif re.search(r"is_dst|dst", name) and f.type == "boolean":
                outputs[f.key] = f"is_dst({zone}, to_utc({local}).isoformat())"
            elif re.search(r"difference|offset|converted_value", name) and f.type in ("number", "integer"):
                outputs[f.key] = _cast(f"zone_difference_hours({when}, {src}, {tgt})", f)
                roles[f.key] = "hours"
            elif name == "unit" and f.type == "string":
                outputs[f.key] = _q("hours")
            elif re.search(r"difference|offset", name) and f.type == "string":
                outputs[f.key] = f"hours_text(zone_difference_hours({when}, {src}, {tgt}))"
        plan.helpers = [
            "convert_zone",
            "weekday_name",
            "is_dst",
            "to_utc",
            "zone_difference_hours",
            "hours_text",
        ]
        plan.prelude.insert(0, f"zone_name({src}), zone_name({tgt})")
        plan.helpers.append("zone_name")
        plan.known = [
            (
                {source_zone: "Europe/Paris", target_zone: "Asia/Tokyo", time_param: "2025-01-15 12:00:00"},
                {"datetime": "2025-01-15T20:00:00+09:00", "weekday": "Wednesday", "hours": 8.0},
            ),
            (
                {
                    source_zone: "America/New_York",
                    target_zone: "Europe/London",
                    time_param: "2025-03-20 10:00:00",
                },
                {"datetime": "2025-03-20T14:00:00+00:00", "weekday": "Thursday", "hours": 4.0},
            ),
            (
                {source_zone: "Europe/Paris", target_zone: "Asia/Tokyo", time_param: "2025-07-15 12:00:00"},
                {"datetime": "2025-07-15T19:00:00+09:00", "weekday": "Tuesday", "hours": 7.0},
            ),
            # a bare clock time is on the simulated world's today, 2025-06-01 (summer time in Europe)
            (
                {source_zone: "Europe/Paris", target_zone: "Asia/Tokyo", time_param: "12:00"},
                {"datetime": "2025-06-01T19:00:00+09:00", "weekday": "Sunday", "hours": 7.0},
            ),
            (
                {source_zone: "America/New_York", target_zone: "Europe/London", time_param: "09:30"},
                {"datetime": "2025-06-01T14:30:00+01:00", "weekday": "Sunday", "hours": 5.0},
            ),
        ]
        plan.known = [(a, _map_known(roles, e)) for a, e in plan.known]
        return plan if outputs else None
    zone = f"zone_name({_arg(zone_param, _q('UTC'))})"
    if time_param:
        moment = f"moment_text(arguments[{_q(time_param)}]) if arguments.get({_q(time_param)}) else now"
    elif epoch_param:
        moment = f"from_timestamp(arguments[{_q(epoch_param)}]) if {_q(epoch_param)} in arguments else now"
    else:
        moment = "now"
    plan.prelude.append(f"moment = {moment}")
    if zone_param and (current or not time_param):
        plan.prelude.append(f"local = local_datetime(moment, {zone})")
    else:
        plan.prelude.append("local = moment")
    strong = False
    for f in t.fields:
        if f.indexes:
            continue
        name = norm(f.name)
        if f.type == "integer" and (
            name in ("days", "days_in_month", "number_of_days", "num_days", "day_count", "total_days")
            and ("month" in t.words or "month" in t.text)
        ):
            outputs[f.key], roles[f.key], strong = "days_in_month(local)", "days", True
        elif f.type == "integer" and re.search(r"iso_?week", name):
            outputs[f.key], roles[f.key], strong = "iso_week(local)", "iso", True
        elif f.type == "integer" and re.search(r"(^|_)week(_number|_of_year)?$", name):
            iso = "iso" in t.text and not any(re.search(r"iso_?week", norm(g.name)) for g in t.fields)
            outputs[f.key], strong = ("iso_week(local)" if iso else "week_of_year(local)"), True
            roles[f.key] = "iso" if iso else "week"
        elif (
            f.type in ("integer", "number") and re.search(r"(timestamp|epoch|unix)", name) and not epoch_param
        ):
            scale = " * 1000" if re.search(r"milli|(^|_)ms$", name + " " + f.description.lower()) else ""
            outputs[f.key], strong = _cast(f"unix_timestamp(moment){scale}", f), True
            if not scale:
                roles[f.key] = "stamp"
        elif f.type == "integer" and name in ("day_of_year", "yday"):
            outputs[f.key], strong = "day_of_year(local)", True
        elif f.type == "boolean" and "leap" in name:
            outputs[f.key], strong = "is_leap_year(local[:4])", True
        elif f.type == "string" and re.search(r"day_of_week|weekday|day_name", name):
            outputs[f.key], roles[f.key] = "weekday_name(local)", "weekday"
            strong = strong or bool(time_param)
        elif f.type == "string" and re.search(r"(^|_)(relative|relative_time|ago|humanized)$", name):
            outputs[f.key], strong = "relative_phrase(moment, now)", True
        elif f.type == "string" and re.search(
            r"(^|_)(datetime|date_time|current_time|time|local_time|now)$", name
        ):
            shown = f"format_moment(local, arguments[{_q(format_param)}])" if format_param else "local"
            if format_param:
                shown = f"{shown} if arguments.get({_q(format_param)}) else local"
            outputs[f.key] = shown
            strong = strong or bool(current and zone_param)
        elif f.type == "string" and name == "date":
            outputs[f.key] = "local[:10]"
        elif f.type == "string" and re.search(r"(timezone|time_zone|tz|zone)(_name)?$", name):
            outputs[f.key] = zone
        elif f.type in ("integer", "number") and epoch_param and re.search(r"(timestamp|epoch|unix)", name):
            outputs[f.key] = _cast(f"arguments[{_q(epoch_param)}]", f)
    if not strong:
        return None
    plan.helpers = [
        "days_in_month",
        "iso_week",
        "week_of_year",
        "unix_timestamp",
        "day_of_year",
        "is_leap_year",
        "weekday_name",
        "relative_phrase",
        "format_moment",
        "local_datetime",
        "zone_name",
        "from_timestamp",
        "moment_text",
    ]
    if time_param:
        samples = {
            "2024-02-10": {"days": 29, "iso": 6, "week": 6, "weekday": "Saturday", "stamp": 1707523200},
            "2025-02-10": {"days": 28, "iso": 7, "week": 7, "weekday": "Monday", "stamp": 1739145600},
            "2025-03-23": {"days": 31, "iso": 12, "week": 13, "weekday": "Sunday", "stamp": 1742688000},
            "2021-01-01": {"days": 31, "iso": 53, "week": 1, "weekday": "Friday", "stamp": 1609459200},
            "2024-12-30": {"days": 31, "iso": 1, "week": 1, "weekday": "Monday", "stamp": 1735516800},
            "2025-04-15": {"days": 30, "iso": 16, "week": 16, "weekday": "Tuesday", "stamp": 1744675200},
        }
        timed = bool(re.search(r"hh|time", norm(time_param) + str(t.params[time_param].get("description"))))
        for day, expected in samples.items():
            text = f"{day} 00:00:00" if timed else day
            known = _map_known(roles, expected)
            if known:
                plan.known.append(({time_param: text, **_required_rest(t, time_param)}, known))
        first, second = (
            {time_param: s, **_required_rest(t, time_param)} for s in ("2024-02-10", "2025-04-15")
        )
        if timed:
            first[time_param], second[time_param] = "2024-02-10 00:00:00", "2025-04-15 00:00:00"
        plan.varying.append((first, second))
    elif zone_param and current:
        rest = _required_rest(t, zone_param)
        plan.varying.append(({zone_param: "Asia/Tokyo", **rest}, {zone_param: "America/New_York", **rest}))
    return plan


def _required_rest(t: _Tool, *given: str) -> dict[str, Any]:
    """Schema-valid values for the other required parameters (enum first, default, else a string)."""
    from graph_toucan.schema import example_value

    return {
        name: example_value(t.params[name], name)
        for name in t.params
        if name in t.required and name not in given
    }


def _map_known(roles: dict[str, str], expected: dict[str, Any]) -> dict[str, Any]:
    """Expected values by flat key, for the computed keys whose role the sample names."""
    return {key: expected[role] for key, role in roles.items() if role in expected}


# -- unit and currency conversion -----------------------------------------------------------------------
_UNITS = set(world.UNITS) | set(world.UNIT_ALIASES) | {"c", "f", "k"}


def _unit_like(t: _Tool, name: str) -> bool:
    enum = t.params[name].get("enum")
    if isinstance(enum, list) and enum:
        return all(world.unit_key(v) in world.UNITS or world.unit_key(v) in ("c", "f", "k") for v in enum)
    return "unit" in norm(name)


def _currency_like(t: _Tool, name: str) -> bool:
    enum = t.params[name].get("enum")
    if isinstance(enum, list) and enum:
        return all(str(v).upper() in world.CURRENCIES for v in enum)
    description = str(t.params[name].get("description") or "").lower()
    return "currency" in norm(name) or "currency" in description


def _conversion(t: _Tool, tool_class: str) -> Plan | None:
    if not (t.words & {"convert", "conversion", "converter", "exchange"} or "convert" in t.text):
        return None
    source = t.param(r"(^|_)(from|source|src)(_|$)|^from", {"string"})
    target = t.param(r"(^|_)(to|target|dest)(_|$)|^to", {"string"}, exclude=(source or "",))
    amount = t.param(r"(^|_)(value|amount|quantity|number|qty)$", {"number", "integer"})
    if amount is None:
        numeric = [n for n in t.params if t.types(n) & {"number", "integer"}]
        amount = numeric[0] if len(numeric) == 1 else None
    if not (source and target and amount):
        return None
    a, s, g = (f"arguments[{_q(p)}]" for p in (amount, source, target))
    result = _result_field(t, {amount, source, target})
    if _currency_like(t, source) and _currency_like(t, target):
        plan = Plan("currency", {}, helpers=["exchange_rate", "convert_money", "parse_date"])
        rate_fields = t.top(r"(^|_)(rate|exchange_rate|conversion_rate)$", ("number",))
        date_param = t.param(r"date", {"string"})
        on = f"arguments.get({_q(date_param)}) or now[:10]" if date_param else "now[:10]"
        if tool_class == "computation" or not rate_fields:
            plan.prelude.append(f"rate = exchange_rate({s}, {g}, {on})")
        else:
            plan.prelude.append(f"rate = pick(flat, {_q(rate_fields[0].key)}, 'number')")
            plan.prelude.append(f"exchange_rate({s}, {g}, {on})")  # an unknown code is refused
        plan.uses_now = True
        for f in rate_fields:
            plan.outputs[f.key] = "rate"
        if result:
            plan.outputs[result.key] = _cast(f"convert_money({a}, rate)", result)
        for f in t.top(r"(^|_)date$", ("string",)):
            plan.outputs[f.key] = f"str({on})[:10]"
        for f in t.top(r"(^|_)(to|target)(_currency)?$|(^|_)currency$", ("string",)):
            plan.outputs[f.key] = g
        for f in t.top(r"(^|_)(from|source|base)(_currency)?$", ("string",)):
            plan.outputs[f.key] = s
        rest = _required_rest(t, amount, source, target)
        if result:
            plan.known = [
                ({amount: 100, source: "USD", target: "USD", **rest}, {result.key: 100.0}),
                ({amount: 250, source: "EUR", target: "EUR", **rest}, {result.key: 250.0}),
            ]
        plan.varying = [
            (
                {amount: 100, source: "USD", target: "EUR", **rest},
                {amount: 200, source: "USD", target: "EUR", **rest},
            ),
            (
                {amount: 100, source: "USD", target: "EUR", **rest},
                {amount: 100, source: "USD", target: "JPY", **rest},
            ),
        ]
        return plan if plan.outputs else None
    if not (_unit_like(t, source) and _unit_like(t, target)):
        return None
    plan = Plan("units", {}, helpers=["convert_units"])
    if result:
        plan.outputs[result.key] = _cast(f"convert_units({a}, {s}, {g})", result)
    for f in t.top(r"(^|_)(unit|to_unit|target_unit|units)$", ("string",)):
        plan.outputs[f.key] = g
    if not result:
        return None
    units = [_enum_units(t, source), _enum_units(t, target)]
    rest = _required_rest(t, amount, source, target)
    for value, a_unit, b_unit, expected in _UNIT_SAMPLES:
        pick_a = _matching_unit(units[0], a_unit)
        pick_b = _matching_unit(units[1], b_unit)
        if pick_a is not None and pick_b is not None:
            plan.known.append(
                ({amount: value, source: pick_a, target: pick_b, **rest}, {result.key: expected})
            )
    first = plan.known[0][0] if plan.known else None
    if first is not None:
        plan.varying.append((first, {**first, amount: first[amount] * 2 + 1}))
    return plan


_UNIT_SAMPLES = [
    (100, "c", "f", 212.0),
    (0, "c", "f", 32.0),
    (-40, "f", "c", -40.0),
    (98.6, "f", "c", 37.0),
    (0, "c", "k", 273.15),
    (1, "cup", "ml", 236.588237),
    (1, "l", "ml", 1000.0),
    (3, "tsp", "tbsp", 1.0),
    (1, "kg", "lb", 2.204623),
    (1, "lb", "g", 453.59237),
    (16, "oz", "lb", 1.0),
    (1, "mi", "km", 1.609344),
    (12, "in", "ft", 1.0),
    (1, "km", "m", 1000.0),
]


def _enum_units(t: _Tool, name: str) -> list[str] | None:
    enum = t.params[name].get("enum")
    return [str(v) for v in enum] if isinstance(enum, list) and enum else None


def _matching_unit(allowed: list[str] | None, unit: str) -> str | None:
    if allowed is None:
        return unit
    return next((v for v in allowed if world.unit_key(v) == unit), None)


def _result_field(t: _Tool, inputs: set[str]) -> FlatField | None:
    candidates = [f for f in t.fields if not f.indexes and f.name not in inputs]
    numeric = [f for f in candidates if f.type in ("number", "integer")]
    for pool in (numeric, [f for f in candidates if f.type == "string"]):
        for name in _PREFERRED_RESULT:
            for f in pool:
                if norm(f.name) == name or norm(f.name).endswith("_" + name):
                    return f
    return numeric[0] if numeric else None


_PREFERRED_RESULT = (
    "result",
    "value",
    "converted_value",
    "converted_amount",
    "converted",
    "answer",
    "output",
    "sum",
    "product",
    "quotient",
    "difference",
    "total",
    "root",
    "power",
    "mean",
    "average",
    "amount",
)


# -- text, encodings, hashes -----------------------------------------------------------------------------
_SHA256_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
_MD5_EMPTY = "d41d8cd98f00b204e9800998ecf8427e"
_TEXT_OPERATIONS: list[tuple[str, str, str, list[tuple[str, Any]]]] = [
    # (pattern over name words, expression over `text`, result kind, known answers)
    (
        r"base64.*decode|decode.*base64|b64decode",
        "b64decode(text)",
        "string",
        [("aGVsbG8=", "hello"), ("d29ybGQ=", "world")],
    ),
    (r"base64|b64", "b64encode(text)", "string", [("hello", "aGVsbG8="), ("", "")]),
    (
        r"url.*decode|decode.*url|unquote",
        "url_decode(text)",
        "string",
        [("a%20b%26c", "a b&c"), ("x%2Fy", "x/y")],
    ),
    (r"url.*encode|encode.*url|(^|_)quote", "url_encode(text)", "string", [("a b&c", "a%20b%26c")]),
    (r"sha_?256", "sha256_hex(text)", "string", [("abc", world_text.sha256_hex("abc")), ("", _SHA256_EMPTY)]),
    (r"sha_?1", "sha1_hex(text)", "string", [("abc", "a9993e364706816aba3e25717850c26c9cd0d89d")]),
    (r"md5", "md5_hex(text)", "string", [("abc", "900150983cd24fb0d6963f7d28e17f72"), ("", _MD5_EMPTY)]),
    (r"(^|_)hash", "hash_text(text, algorithm)", "string", [("abc", world_text.sha256_hex("abc"))]),
    (r"hex.*encode|to_hex", "hex_encode(text)", "string", [("hi", "6869"), ("A", "41")]),
    (r"upper", "text.upper()", "string", [("Hello", "HELLO"), ("abc", "ABC")]),
    (r"lower", "text.lower()", "string", [("Hello", "hello"), ("ABC", "abc")]),
    (r"revers", "text[::-1]", "string", [("abc", "cba"), ("stop", "pots")]),
    (r"word_?count|count_?words", "word_count(text)", "integer", [("one two three", 3), ("a b", 2)]),
    (
        r"(char|character|string|text)_?(count|length)|(^|_)length$",
        "len(text)",
        "integer",
        [("hello", 5), ("hi", 2)],
    ),
    (r"slug", "slugify(text)", "string", [("Hello World!", "hello-world"), ("A  B", "a-b")]),
    (
        r"json.*(format|pretty|beautif)|(format|pretty|beautif).*json",
        "json.dumps(json_value(text), indent=2, ensure_ascii=False)",
        "string",
        [('{"a":1}', '{\n  "a": 1\n}')],
    ),
    (
        r"json.*(minif|compact)|(minif|compact).*json",
        "json.dumps(json_value(text), separators=(',', ':'), ensure_ascii=False)",
        "string",
        [('{ "a" : 1 }', '{"a":1}')],
    ),
    (r"json.*valid|valid.*json", "json_valid(text)", "boolean", [('{"a": 1}', True), ("{a", False)]),
]


def _text(t: _Tool) -> Plan | None:
    name = t.name
    strings = [n for n in t.params if "string" in t.types(n) and n in t.required]
    if len(strings) != 1 and not (len(strings) == 2 and t.param(r"algorithm|algo|method|type", {"string"})):
        return None
    algorithm = t.param(r"algorithm|algo|(^|_)method$|hash_type", {"string"})
    text_param = next((n for n in strings if n != algorithm), None)
    if text_param is None:
        return None
    for pattern, expression, kind, samples in _TEXT_OPERATIONS:
        if not re.search(pattern, name):
            continue
        fields = [f for f in t.fields if not f.indexes and f.type == kind]
        if not fields:
            return None
        preferred = [
            f
            for f in fields
            if re.search(
                r"result|output|encoded|decoded|hash|digest|text|value|count|length|valid|json|slug",
                norm(f.name),
            )
        ]
        target = (preferred or fields)[0]
        plan = Plan(
            "text", {target.key: expression}, helpers=["b64encode", "b64decode", "url_encode", "url_decode"]
        )
        plan.helpers += ["sha256_hex", "sha1_hex", "md5_hex", "hex_encode", "word_count", "slugify"]
        plan.helpers += ["hash_text", "json_value", "json_valid"]
        plan.prelude.append(f"text = str(arguments[{_q(text_param)}])")
        if "hash_text" in expression:
            plan.prelude.append(
                f"algorithm = str(arguments.get({_q(algorithm)}) or 'sha256')"
                if algorithm
                else "algorithm = 'sha256'"
            )
        for f in t.top(r"(^|_)(algorithm|algo)$", ("string",)):
            plan.outputs.setdefault(f.key, "algorithm" if "hash_text" in expression else _q(pattern))
        rest = _required_rest(t, text_param)
        plan.known = [({text_param: given, **rest}, {target.key: expected}) for given, expected in samples]
        distinct = [a for a, e in zip(plan.known, samples, strict=True) if e[1] != samples[0][1]]
        if kind != "boolean" and distinct:
            plan.varying = [(plan.known[0][0], distinct[0][0])]
        return plan
    return None


# -- the entry point -------------------------------------------------------------------------------------
def plan_family(tool: dict[str, Any]) -> Plan | None:
    """The family of a tool given as :func:`graph_toucan.mock.codegen.tool_view` gives it, or None."""
    t = _view(tool)
    if not t.fields:
        return None
    tool_class = str(tool.get("tool_class") or "query")
    for detect in (lambda: _conversion(t, tool_class), lambda: _calendar(t), lambda: _text(t)):
        plan = detect()
        if plan is not None and plan.outputs:
            return valid_samples(plan, tool.get("input_schema") or {})
    return None


def valid_samples(plan: Plan, input_schema: dict[str, Any]) -> Plan:
    """``plan`` keeping only the samples whose arguments the tool's input schema accepts (a tool that
    takes ``HH:MM`` is not asked about a full date)."""
    from graph_toucan.mock.runtime import schema_problem, schema_validator

    validator = schema_validator(input_schema)

    def ok(arguments: dict[str, Any]) -> bool:
        return schema_problem(validator, arguments) is None

    plan.known = [(a, e) for a, e in plan.known if ok(a)]
    plan.varying = [(a, b) for a, b in plan.varying if ok(a) and ok(b)]
    return plan
