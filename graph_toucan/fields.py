"""Field names as comparable tokens, and JSON types as compatible or not.

Output filtering, candidate pruning and the offline edge judge all ask the same two questions
("do these two fields mean the same thing?", "can this value go into that parameter?"); they ask
them here so the three stay consistent.

>>> name_tokens("repositoryId"), name_tokens("items[].full_name"), name_tokens("file_paths")
(('repo', 'id'), ('item', 'full', 'name'), ('file', 'path'))
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text`` (for readable word lists)."""
    return frozenset(text.split())


# Spellings that mean the same thing in tool schemas.
SYNONYMS = {
    "repository": "repo",
    "identifier": "id",
    "uid": "id",
    "uuid": "id",
    "uri": "url",
    "link": "url",
    "href": "url",
    "endpoint": "url",
    "filepath": "path",
    "filename": "file",
    "directory": "dir",
    "folder": "dir",
    "subdirectory": "dir",
    "subfolder": "dir",
    "username": "user",
    "login": "user",
    "handle": "user",
    "lat": "latitude",
    "lng": "longitude",
    "lon": "longitude",
    "long": "longitude",
    "msg": "message",
    "desc": "description",
    "num": "number",
    "qty": "quantity",
    "addr": "address",
    "img": "image",
    "doc": "document",
    "loc": "location",
    "tz": "timezone",
    "ticker": "symbol",
    "author": "user",
    "ids": "id",
    "urls": "url",
}

# Names that say nothing about *which* thing they hold: they match only when the objects agree.
GENERIC = frozenset(
    {
        "id",
        "name",
        "type",
        "value",
        "key",
        "text",
        "data",
        "result",
        "content",
        "title",
        "description",
        "status",
        "url",
        "path",
        "number",
        "code",
        "label",
        "item",
        "info",
        "detail",
        "full",
        "slug",
        "ref",
        "token",
        "format",
        "mode",
        "count",
        "total",
        "message",
        "output",
        "input",
        "response",
        "list",
        "source",
        "target",
        "period",
        "unit",
        "severity",
        "level",
        "category",
        "kind",
        "scope",
        "range",
        "interval",
    }
)

# Parameters a user naturally states in their own words rather than taking from a tool's output.
USER_SUPPLIED = frozenset(
    {
        "message",
        "body",
        "text",
        "content",
        "query",
        "question",
        "prompt",
        "subject",
        "title",
        "note",
        "comment",
        "description",
        "instruction",
        "keyword",
        "search",
        "term",
        "limit",
        "page",
        "offset",
        "count",
        "size",
        "sort",
        "order",
        "format",
        "language",
        "lang",
        "max",
        "min",
        "per",
        "cursor",
        "verbose",
        "detail",
        "timeout",
    }
)

# Verbs that open tool names; what follows them is the object the tool handles.
# Another word a user might say for a thing a tool name calls by its own word.
NOUN_SYNONYMS = {
    "weather": "conditions",
    "forecast": "outlook",
    "price": "cost",
    "prices": "costs",
    "stock": "share",
    "rate": "quote",
    "rates": "quotes",
    "days": "length",
    "month": "period",
    "time": "clock",
    "timestamp": "epoch seconds",
    "news": "headlines",
    "file": "document",
    "files": "documents",
    "directory": "folder",
    "location": "place",
    "distance": "how far apart",
    "user": "account",
    "repository": "project",
    "repo": "project",
    "issue": "ticket",
    "issues": "tickets",
    "message": "note",
    "email": "mail",
    "image": "picture",
    "video": "clip",
    "recommendations": "suggestions",
    "currency": "money",
    "hotel": "place to stay",
    "hotels": "places to stay",
    "place": "spot",
    "places": "spots",
    "search": "lookup",
    "results": "hits",
    "dividends": "payouts",
    "area": "surface",
    "route": "way there",
    "flight": "plane ticket",
    "flights": "plane tickets",
    "playwright": "automation",
    "browser": "web view",
    "summary": "overview",
    "key": "keystroke",
    "fill": "form entry",
    "tree": "hierarchy",
    "recommender": "suggestions",
    "screenshot": "capture",
    "resize": "new size",
    "png": "image file",
    "svg": "vector image",
    "api": "service",
    "provider": "service provider",
}

# Words of a tool name that say nothing of what it handles (``search_by_title``).
FUNCTION_WORDS = word_set("by with from to for of and or in on at via using the a an all")

VERBS = word_set(
    """get fetch read retrieve search find query list lookup look show view describe create add make
    new insert post send write update edit modify set change patch delete remove cancel convert
    calculate compute generate analyze analyse check validate verify download upload run execute
    book open close start stop count parse format translate summarize extract resolve scan test
    move copy rename save load submit publish subscribe invite join merge fork star watch track"""
)

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")


_INVARIANT = word_set("news series species status details analysis canvas alias bus gas")


def singular(word: str) -> str:
    if len(word) <= 3 or word.endswith(("ss", "us", "is")) or word in _INVARIANT:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def plural(word: str) -> str:
    if word in _INVARIANT or word.endswith("s"):
        return word
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "o", "u"):
        return word[:-1] + "ies"
    if word.endswith(("ch", "sh", "x")):
        return word + "es"
    return word + "s"


def words(identifier: str) -> list[str]:
    """The words of an identifier: ``getCurrentWeather`` and ``get_current_weather`` both give
    ``['get', 'current', 'weather']``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", identifier)
    return [w.lower() for w in re.findall(r"[A-Za-z]+|[0-9]+", spaced)]


@lru_cache(maxsize=8192)  # names recur; the texts of turns (most calls) never do
def name_tokens(name: str) -> tuple[str, ...]:
    """Lowercase, singular, synonym-folded words of an identifier or field path."""
    spaced = _ACRONYM.sub(r"\1 \2", _CAMEL.sub(r"\1 \2", name))
    words = re.findall(r"[a-z]+|[0-9]+", spaced.lower())
    out = []
    for word in words:
        word = SYNONYMS.get(word, word)
        word = singular(word)
        out.append(SYNONYMS.get(word, word))
    return tuple(out)


def text_tokens(text: str, *, limit: int = 60) -> tuple[str, ...]:
    """Content words of a description (no stop words, no verbs), for object and meaning overlap."""
    words = [w for w in name_tokens(text[:600]) if len(w) > 2 and w not in _STOP and w not in VERBS]
    return tuple(words[:limit])


def tool_object(name: str, description: str = "") -> frozenset[str]:
    """What a tool handles: its name without the verbs (``search_repositories`` -> {repo}),
    or the first content words of its description when the name is only a verb."""
    words = [
        w
        for w in name_tokens(name)
        if w not in VERBS and w not in GENERIC and w not in FUNCTION_WORDS and not w.isdigit()
    ]
    if not words:
        words = list(text_tokens(description, limit=3))
    return frozenset(words)


def field_object(path: str) -> frozenset[str]:
    """The non-generic words of a field path's parents and name (``repo.owner.login`` -> {repo, owner, user})."""
    return frozenset(w for w in name_tokens(path) if w not in GENERIC and not w.isdigit())


def field_means(output: str, parameter: str, target_object: frozenset[str] = frozenset()) -> bool:
    """Whether output field ``output`` holds what ``parameter`` asks for: the same words at its end
    (``session_id`` <- ``search.session_id``), the item's id (``hotel_id`` <- ``hotels[].id``), or a bare
    ``id`` of the target's own object (``id`` <- ``hotels[].id`` for ``get_hotel``).

    >>> field_means("hotels[].id", "hotel_id"), field_means("rates[].date", "hotel_id")
    (True, False)
    """
    want, have = name_tokens(parameter), name_tokens(output)
    if not want or not have:
        return False
    if have[-len(want) :] == want:
        return len(want) > 1 or want[0] != "id" or bool(set(have[:-1]) & target_object)
    head = set(want[:-1])
    return want[-1] == have[-1] and bool(head) and head <= set(have[:-1])


def json_type(schema: Any) -> str:
    """The main JSON type of a schema (``string`` when it does not say)."""
    if not isinstance(schema, dict):
        return "string"
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "string")
    if typ is None:
        for key in ("anyOf", "oneOf"):
            options = [o for o in schema.get(key) or [] if isinstance(o, dict) and o.get("type") != "null"]
            if options:
                return json_type(options[0])
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        return "string"
    return str(typ)


_COMPATIBLE = {
    ("integer", "number"),
    ("number", "integer"),
    ("integer", "string"),
    ("number", "string"),
    ("string", "integer"),  # ids and numbers are often strings in one API and integers in another
    ("string", "array"),  # one value can fill a list parameter
    ("integer", "array"),
    ("boolean", "string"),
}


def types_compatible(output_type: str, input_type: str) -> bool:
    """Can a value of ``output_type`` be passed where ``input_type`` is expected?"""
    return output_type == input_type or (output_type, input_type) in _COMPATIBLE


_STOP = word_set(
    """the and for with from into this that these those are was were will can your you its not but all any
    each per via use used using when which who what where how than then also only more most other such
    some given specified provided based about over under between returns return value values optional
    required default example e.g etc otherwise whether should must may might like tool mcp api server"""
)


# -- meaning: what kind of value a field or parameter holds, and about which thing -----------------

# Units of measure: a value in gallons does not fill a parameter in liters.
UNITS = {
    "gallon": "gallon",
    "liter": "liter",
    "litre": "liter",
    "celsius": "celsius",
    "fahrenheit": "fahrenheit",
    "kelvin": "kelvin",
    "meter": "meter",
    "metre": "meter",
    "kilometer": "kilometer",
    "km": "kilometer",
    "mile": "mile",
    "kg": "kilogram",
    "kilogram": "kilogram",
    "pound": "pound",
    "lb": "pound",
    "ounce": "ounce",
    "second": "second",
    "minute": "minute",
    "hour": "hour",
    "day": "day",
    "week": "week",
    "month": "month",
    "year": "year",
    "percent": "percent",
    "percentage": "percent",
    "byte": "byte",
    "kb": "kilobyte",
    "mb": "megabyte",
}
# Value formats that say by themselves what a value is: a code of one kind never fills another kind.
_FORMATS = (
    ("airport", re.compile(r"\b(airports?|iata|icao)\b")),
    ("currency", re.compile(r"\b(currency|currencies|iso 4217)\b")),
    ("country", re.compile(r"\b(country codes?|iso 3166|alpha-?2)\b")),
    ("language", re.compile(r"\b(language codes?|iso 639|locale)\b")),
    ("symbol", re.compile(r"\b((stock|ticker|trading) symbols?|tickers?)\b")),
    ("email", re.compile(r"\be-?mail\b")),
    ("phone", re.compile(r"\bphone\b")),
    ("date", re.compile(r"\b(dates?|yyyy-mm-dd|iso 8601|birthday)\b")),
    ("coordinate", re.compile(r"\b(latitude|longitude|coordinates?)\b")),
)
# Formats specific enough to link a field and a parameter whose names differ.
SPECIFIC_FORMATS = frozenset({"airport", "currency", "country", "language", "symbol", "email", "phone"})
_MONEY = re.compile(
    r"\b(price|prices|cost|costs|fee|fees|balance|budget|salary|fund|funds|funding|payment|pay|paid|money|"
    r"usd|dollars?|euros?|withdraw\w*|deposit\w*|spend\w*|charge[sd]?)\b"
)
_COUNT = re.compile(r"\b(number of|count of|how many|shares|quantity)\b")
# Outputs that report how the call went (a status message, a success flag) rather than a value that
# another call can use.
_OUTCOME = re.compile(
    r"\b(describ\w*|indicat\w*|explain\w*) (the )?(result|outcome|status|success)|"
    r"\b(result|outcome) of the\b|\bstatus (message|of the (\w+ )?(operation|attempt|request|transaction|"
    r"removal|funding|deletion|update|call|action|login|logout))\b|\b(success|error|confirmation) message\b|"
    r"\b(login|logout) status\b|\b(true|false) if\b|\bwhether (the )?\w+ (was|were|succeeded|is valid)",
)
_ID_OF = re.compile(r"\b(?:id|identifier|ids) of (?:the |a |an |this |that )?([a-z]+)")
_X_ID = re.compile(r"\b([a-z]+)(?:'s)? (?:id|identifier|ids)\b")
_NUMBER_OF = re.compile(r"\bnumber of ([a-z]+)")
_LIST_OF = re.compile(r"\b(?:list|array|set) of (?:the |all )?([a-z]+)(?: ([a-z]+))?")


def unit_of(name: str, description: str) -> str | None:
    """The unit of measure a field or parameter is given in, when its name or description says."""
    for word in (*name_tokens(name), *name_tokens(description[:300])):
        if word in UNITS:
            return UNITS[word]
    return None


def value_formats(name: str, description: str) -> frozenset[str]:
    """The value formats (``airport``, ``currency``, ``date``, ...) a name and description state."""
    words = name_tokens(name)
    text = f"{' '.join(words)} {description[:300].lower()}"
    found = {kind for kind, pattern in _FORMATS if pattern.search(text)}
    if words and words[-1] == "symbol" and not found:  # a bare ``symbol`` of a stock or a coin
        found.add("symbol")
    return frozenset(found)


def quantity_kind(name: str, description: str) -> str | None:
    """``money`` for prices, balances and amounts paid; ``count`` for numbers of things (shares,
    items); None when neither is said."""
    text = f"{' '.join(name_tokens(name))} {description[:300].lower()}"
    count, money = bool(_COUNT.search(text)), bool(_MONEY.search(text))
    if count and not money:
        return "count"
    if money and not count:
        return "money"
    if count and money:  # "number of shares" beats a money word elsewhere in the sentence
        return "count" if re.search(r"number of (shares|items|units)", text) else "money"
    return None


def is_outcome(name: str, description: str) -> bool:
    """Whether an output reports how the call went (``message``: "A message describing the result of
    the login attempt") rather than holding a value another call can use."""
    return bool(_OUTCOME.search(description[:300].lower()))


def described_entities(description: str) -> frozenset[str]:
    """The things a description says a value belongs to: "User ID of the user" -> {user};
    "ID of the order" -> {order}; "Number of shares" -> {share}; "List of stock symbols" -> {stock}."""
    text = description[:300].lower()
    words = set()
    for pattern in (_ID_OF, _X_ID, _NUMBER_OF):
        words.update(m.group(1) for m in pattern.finditer(text))
    for m in _LIST_OF.finditer(text):
        words.update(w for w in m.groups() if w)
    folded = {name_tokens(w)[0] for w in words if name_tokens(w)}
    return frozenset(folded - GENERIC - _STOP - VERBS - {"the", "unique"})
