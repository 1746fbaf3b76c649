"""Which parameters a person states and which only a system gives out.

Every input parameter of a tool has a class:

- ``user``: a value a person knows or decides (a city, a date, an amount, a name, free text, one of an
  enum's values); the user states it in the conversation;
- ``issued``: a handle only a system hands out (ids, session ids, tokens, cursors, rate codes); it must
  come from an earlier call's output in the same conversation, never from the user's words.

The class comes from annotation (the ``parameter_classes`` task); :func:`classify_parameter` is its
offline rule over the parameter's name, description and format.

>>> classify_parameter("hotel_id", {"type": "string"})
'issued'
>>> classify_parameter("city", {"type": "string", "description": "City name"})
'user'
>>> classify_parameter("pageToken", {"type": "string"})
'issued'
>>> classify_parameter("country_code", {"type": "string"})
'user'
"""

from __future__ import annotations

import re
from typing import Any

from graph_toucan.fields import name_tokens, word_set
from graph_toucan.records import ParameterClass, Tool

# Words that, as the last word of a name, make it a handle a system gives out.
_ISSUED_LAST = frozenset(
    {"id", "token", "cursor", "session", "nonce", "etag", "sid", "guid", "handle", "hash"}
)
# ``playerid``, ``chatid``: an id run into one lowercase word (not ``android`` or ``valid``).
_RUN_ON_ID = re.compile(r"^[a-z]{3,}ids?$")
_NOT_IDS = word_set(
    "android valid invalid paid unpaid fluid grid humid hybrid rapid liquid pyramid acid void avoid squid "
    "solid vivid covid"
)
# "... code" and "... key" are issued only after these words (a country code or a sort key is not).
_ISSUED_CODE = frozenset({"rate", "offer", "booking", "confirmation", "reservation", "order", "auth"})
_ISSUED_KEY = frozenset({"api", "access", "secret", "private", "auth", "session", "license", "idempotency"})
_CREDENTIAL = frozenset({"password", "passwd", "secret", "credential", "credentials"})
# Ids that a person knows by heart or reads off a label: they are stated, not issued.
_USER_IDS = frozenset({"isbn", "iban", "vin", "imo", "icao", "iata", "zip", "postal", "email", "phone"})
# Amounts and limits: ``max_tokens`` is a number the user picks, not a token.
_AMOUNTS = frozenset({"max", "min", "limit", "count", "number", "num", "total", "per"})
_ISSUED_TEXT = re.compile(
    r"\b(returned by|obtained from|from (a|the) previous|from an earlier|as returned|"
    r"(page|pagination|continuation|next[- ]page) token|session (id|identifier)|cursor (from|returned))\b",
    re.IGNORECASE,
)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def classify_parameter(name: str, schema: Any, description: str = "") -> ParameterClass:
    """The offline rule: ``issued`` for ids, tokens, cursors, sessions, credentials and system codes;
    ``user`` for everything a person states."""
    schema = schema if isinstance(schema, dict) else {}
    words = name_tokens(name)
    text = f"{schema.get('description') or ''} {description}".strip()
    if not words:
        return "user"
    if set(words) & (_USER_IDS | _AMOUNTS) or schema.get("enum"):
        return "user"
    if words[-1] in _ISSUED_LAST or set(words) & _CREDENTIAL:
        return "issued"
    if len(words) == 1 and _RUN_ON_ID.match(name) and name.rstrip("s") not in _NOT_IDS:
        return "issued"
    if len(words) > 1 and words[-1] == "code" and words[-2] in _ISSUED_CODE:
        return "issued"
    if len(words) > 1 and words[-1] == "key" and words[-2] in _ISSUED_KEY:
        return "issued"
    if schema.get("format") == "uuid" or any(
        isinstance(e, str) and _UUID.match(e) for e in schema.get("examples") or []
    ):
        return "issued"
    if _ISSUED_TEXT.search(text):
        return "issued"
    return "user"


def offline_parameter_classes(tool: Tool) -> dict[str, ParameterClass]:
    """Every top-level parameter of ``tool`` with its class, by the offline rule."""
    properties = tool.input_schema.get("properties") or {}
    return {name: classify_parameter(name, sub) for name, sub in properties.items()}


def parameter_classes(tool: Tool) -> dict[str, ParameterClass]:
    """The annotated classes of ``tool``'s parameters, the offline rule for any it lacks."""
    known = tool.parameter_classes or {}
    properties = tool.input_schema.get("properties") or {}
    return {n: known.get(n) or classify_parameter(n, s) for n, s in properties.items()}


def issued_required(tool: Tool) -> list[str]:
    """Required parameters of ``tool`` that only an earlier call's output can fill."""
    classes = parameter_classes(tool)
    return [p for p in tool.input_schema.get("required") or [] if classes.get(p) == "issued"]
