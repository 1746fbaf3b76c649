"""Output schemas without a model: inferred from real call examples, or designed from the tool itself.

Real MCP tools publish no output schema (docs/method.md section 2). With probe examples in the workspace
the structure comes from the examples (genson); without them the offline designer builds a useful,
deterministic schema from the tool's verb (search and list give a list of items with ids, create
gives the new id, delete a confirmation, convert a result), the nouns of its name and description
matched against common record shapes (weather, prices, files, places, news ...), and its inputs.
"""

from __future__ import annotations

import json
import re
from typing import Any

from genson import SchemaBuilder

from graph_toucan.fields import GENERIC, VERBS, name_tokens, plural, singular, text_tokens
from graph_toucan.records import ToolClass

Field = tuple[str, str, str]  # name, JSON type, description

# Record shapes keyed by the noun that calls for them; the first noun found in the tool's name,
# then its description, wins. Entities get an ``<noun>_id`` so later tools can ask for them.
SHAPES: dict[str, tuple[bool, list[Field]]] = {
    "weather": (
        False,
        [
            ("temperature", "number", "Air temperature in degrees"),
            ("conditions", "string", "Short description of the sky and precipitation"),
            ("humidity", "number", "Relative humidity in percent"),
            ("wind_speed", "number", "Wind speed"),
        ],
    ),
    "forecast": (
        False,
        [
            ("start_time", "string", "Start of the forecast period (ISO 8601)"),
            ("temperature", "number", "Forecast temperature"),
            ("conditions", "string", "Forecast conditions"),
            ("precipitation_chance", "number", "Chance of precipitation in percent"),
        ],
    ),
    "alert": (
        True,
        [
            ("event", "string", "Kind of alert, e.g. Flood Warning"),
            ("severity", "string", "Severity of the alert"),
            ("headline", "string", "One-line summary of the alert"),
            ("area", "string", "Affected area"),
            ("expires", "string", "When the alert expires (ISO 8601)"),
        ],
    ),
    "station": (
        True,
        [
            ("name", "string", "Station name"),
            ("latitude", "number", "Latitude of the station"),
            ("longitude", "number", "Longitude of the station"),
        ],
    ),
    "place": (
        True,
        [
            ("name", "string", "Place name"),
            ("address", "string", "Formatted address"),
            ("latitude", "number", "Latitude in decimal degrees"),
            ("longitude", "number", "Longitude in decimal degrees"),
        ],
    ),
    "location": (
        False,
        [
            ("city", "string", "City"),
            ("country", "string", "Country"),
            ("latitude", "number", "Latitude in decimal degrees"),
            ("longitude", "number", "Longitude in decimal degrees"),
            ("timezone", "string", "IANA time zone of the location"),
        ],
    ),
    "hotel": (
        True,
        [
            ("name", "string", "Hotel name"),
            ("address", "string", "Hotel address"),
            ("rating", "number", "Guest rating"),
            ("price", "number", "Price per night"),
            ("currency", "string", "Currency of the price"),
        ],
    ),
    "listing": (
        True,
        [
            ("name", "string", "Listing title"),
            ("url", "string", "Link to the listing"),
            ("price_per_night", "number", "Price per night"),
            ("rating", "number", "Guest rating"),
        ],
    ),
    "booking": (
        True,
        [
            ("status", "string", "Booking status"),
            ("confirmation_code", "string", "Confirmation code of the booking"),
            ("total_price", "number", "Total price"),
        ],
    ),
    "price": (
        False,
        [
            ("symbol", "string", "Ticker symbol"),
            ("price", "number", "Price"),
            ("currency", "string", "Currency of the price"),
            ("date", "string", "Date of the price (YYYY-MM-DD)"),
        ],
    ),
    "stock": (
        False,
        [
            ("symbol", "string", "Ticker symbol"),
            ("price", "number", "Latest price"),
            ("currency", "string", "Currency of the price"),
        ],
    ),
    "coin": (
        True,
        [
            ("symbol", "string", "Coin symbol"),
            ("name", "string", "Coin name"),
            ("price_usd", "number", "Price in US dollars"),
            ("market_cap", "number", "Market capitalisation in US dollars"),
        ],
    ),
    "rate": (
        False,
        [
            ("base", "string", "Base currency code"),
            ("currency", "string", "Quoted currency code"),
            ("rate", "number", "Exchange rate"),
            ("date", "string", "Date of the rate (YYYY-MM-DD)"),
        ],
    ),
    "currency": (
        False,
        [
            ("currency", "string", "Three-letter currency code"),
            ("name", "string", "Currency name"),
        ],
    ),
    "news": (
        False,
        [
            ("title", "string", "Headline of the article"),
            ("url", "string", "Link to the article"),
            ("source", "string", "Publisher"),
            ("published_at", "string", "Publication time (ISO 8601)"),
        ],
    ),
    "article": (
        True,
        [
            ("title", "string", "Article title"),
            ("url", "string", "Link to the article"),
            ("summary", "string", "Short summary"),
        ],
    ),
    "paper": (
        True,
        [
            ("title", "string", "Paper title"),
            ("authors", "string", "Authors, comma separated"),
            ("url", "string", "Link to the paper"),
            ("published_date", "string", "Publication date"),
        ],
    ),
    "company": (
        False,
        [
            ("company_name", "string", "Company name"),
            ("url", "string", "Company website"),
            ("description", "string", "What the company does"),
        ],
    ),
    "competitor": (
        False,
        [("company_name", "string", "Competitor name"), ("url", "string", "Competitor website")],
    ),
    "profile": (
        True,
        [
            ("name", "string", "Person or company name"),
            ("headline", "string", "Profile headline"),
            ("url", "string", "Profile link"),
        ],
    ),
    "repo": (
        True,
        [
            ("full_name", "string", "Repository name as owner/name"),
            ("url", "string", "Repository URL"),
            ("description", "string", "Repository description"),
            ("stars", "integer", "Number of stars"),
        ],
    ),
    "file": (
        False,
        [
            ("file_path", "string", "Path of the file"),
            ("size_bytes", "integer", "Size in bytes"),
            ("modified_at", "string", "Last modification time (ISO 8601)"),
            ("content", "string", "Text content of the file"),
        ],
    ),
    "dir": (
        False,
        [("dir_path", "string", "Path of the directory")],
    ),
    "command": (
        False,
        [
            ("stdout", "string", "Standard output of the command"),
            ("stderr", "string", "Standard error of the command"),
            ("exit_code", "integer", "Exit status of the command"),
        ],
    ),
    "snapshot": (
        False,
        [
            ("timestamp", "string", "Capture time (YYYYMMDDhhmmss)"),
            ("archive_url", "string", "URL of the archived copy"),
            ("status_code", "integer", "HTTP status of the capture"),
        ],
    ),
    "page": (
        False,
        [("title", "string", "Page title"), ("content", "string", "Page content as text")],
    ),
    "html": (False, [("html", "string", "The page as HTML")]),
    "markdown": (False, [("markdown", "string", "The content as Markdown")]),
    "json": (False, [("json_text", "string", "The JSON document as text")]),
    "chart": (False, [("chart_url", "string", "URL of the rendered chart image")]),
    "qrcode": (
        False,
        [("image_url", "string", "URL of the QR code image"), ("image_format", "string", "Image format")],
    ),
    "image": (False, [("image_url", "string", "URL of the image")]),
    "time": (
        False,
        [
            ("datetime", "string", "Date and time (ISO 8601)"),
            ("timezone", "string", "IANA time zone"),
            ("day_of_week", "string", "Day of the week"),
        ],
    ),
    "timestamp": (False, [("timestamp", "integer", "Unix timestamp in seconds")]),
    "datetime": (
        False,
        [("datetime", "string", "Date and time (ISO 8601)"), ("timezone", "string", "IANA time zone")],
    ),
    "week": (False, [("week", "integer", "Week number"), ("iso_week", "integer", "ISO week number")]),
    "day": (False, [("days", "integer", "Number of days")]),
    "trend": (
        False,
        [("term", "string", "Trending search term"), ("traffic", "string", "Approximate search volume")],
    ),
    "dividend": (False, [("date", "string", "Payment date"), ("amount", "number", "Dividend per share")]),
    "earning": (
        False,
        [("date", "string", "Earnings date"), ("eps_estimate", "number", "Estimated earnings per share")],
    ),
    "cashflow": (
        False,
        [("period", "string", "Reporting period"), ("free_cash_flow", "number", "Free cash flow")],
    ),
    "income": (
        False,
        [
            ("period", "string", "Reporting period"),
            ("revenue", "number", "Total revenue"),
            ("net_income", "number", "Net income"),
        ],
    ),
    "recommendation": (False, [("period", "string", "Period"), ("rating", "string", "Consensus rating")]),
    "facility": (True, [("name", "string", "Facility name")]),
    "history": (
        False,
        [("command", "string", "Command that was run"), ("executed_at", "string", "When it ran")],
    ),
    "area": (False, [("area", "number", "Area"), ("unit", "string", "Unit of the area")]),
    "distance": (False, [("distance", "number", "Distance"), ("unit", "string", "Unit of the distance")]),
    "coordinate": (False, [("latitude", "number", "Latitude"), ("longitude", "number", "Longitude")]),
    "user": (True, [("name", "string", "Display name"), ("email", "string", "Email address")]),
    "issue": (
        True,
        [
            ("number", "integer", "Issue number"),
            ("title", "string", "Title"),
            ("state", "string", "open or closed"),
            ("url", "string", "Link"),
        ],
    ),
    "message": (
        True,
        [("sent_at", "string", "When it was sent (ISO 8601)"), ("status", "string", "Delivery status")],
    ),
    "email": (
        True,
        [("sent_at", "string", "When it was sent (ISO 8601)"), ("status", "string", "Delivery status")],
    ),
    "event": (
        True,
        [
            ("title", "string", "Event title"),
            ("start_time", "string", "Start (ISO 8601)"),
            ("end_time", "string", "End (ISO 8601)"),
        ],
    ),
    "task": (
        True,
        [
            ("title", "string", "Task title"),
            ("status", "string", "Task status"),
            ("due_date", "string", "Due date"),
        ],
    ),
    "document": (True, [("title", "string", "Document title"), ("url", "string", "Link to the document")]),
    "result": (
        False,
        [
            ("title", "string", "Result title"),
            ("url", "string", "Result link"),
            ("snippet", "string", "Text snippet"),
        ],
    ),
    "search": (
        False,
        [
            ("title", "string", "Result title"),
            ("url", "string", "Result link"),
            ("snippet", "string", "Text snippet"),
        ],
    ),
    "content": (False, [("content", "string", "The retrieved content")]),
    "url": (False, [("content", "string", "Content found at the URL")]),
}

_COLLECTION_VERBS = {"search", "list", "find", "query", "lookup", "trending", "top", "related", "history"}
_CREATE_VERBS = {
    "create",
    "add",
    "new",
    "insert",
    "post",
    "book",
    "submit",
    "publish",
    "upload",
    "save",
    "make",
    "generate",
}
_DELETE_VERBS = {"delete", "remove", "cancel"}
_UPDATE_VERBS = {"update", "edit", "modify", "set", "change", "patch", "move", "rename", "write", "insert"}
_SEND_VERBS = {"send", "invite", "notify", "reply"}
_CHECK_VERBS = {"check", "validate", "verify", "exist", "exists", "test"}
_MATH = {
    "add",
    "subtract",
    "multiply",
    "divide",
    "power",
    "sqrt",
    "sum",
    "evaluate",
    "expression",
    "calculate",
    "compute",
}


def design_schema(
    name: str, description: str, input_schema: dict[str, Any], tool_class: ToolClass | None
) -> dict[str, Any]:
    """A deterministic output schema for a tool with no examples (see the module docstring), with
    the handles its description says it returns (``... with the returned session_id``)."""
    schema = _designed(name, description, input_schema, tool_class)
    inputs = set((input_schema.get("properties") or {}).keys())
    handles = [h for h in described_handles(description) if h not in inputs]
    properties = schema.get("properties")
    if not handles or not isinstance(properties, dict):
        return schema
    for handle in handles:
        properties.setdefault(handle, {"type": "string", "description": "Handle to pass to later calls"})
    return schema


_HANDLE = re.compile(
    r"\b(session_id|cursor|next_cursor|next_page_token|page_token|[a-z]+(?:_[a-z]+)*_(?:id|token))\b"
)


def described_handles(description: str) -> list[str]:
    """Handles (``session_id``, ``next_page_token``) that a sentence of the description says the tool
    returns: a later call needs them, so they belong in its output."""
    found: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n", description):
        if re.search(r"\breturn", sentence, re.IGNORECASE):
            found += [h for h in _HANDLE.findall(sentence) if h not in found]
    return found


def _designed(
    name: str, description: str, input_schema: dict[str, Any], tool_class: ToolClass | None
) -> dict[str, Any]:
    words = name_tokens(name)
    verb = next((w for w in words if w in VERBS), words[0] if words else "")
    inputs = set((input_schema.get("properties") or {}).keys())
    # What a create returns is what its name says it makes: "add_note: Adds a note to the task"
    # makes a note (the description's nouns name where it goes).
    creates = verb in _CREATE_VERBS and tool_class == "action"
    described = () if creates and _name_nouns(words) else text_tokens(description)
    noun, shape = _shape(words, described, verb)
    if verb == "book":
        noun, shape = "booking", SHAPES["booking"]
    entity, fields = shape
    if tool_class == "computation" and (set(words) & _MATH or verb in {"calculate", "compute"}):
        return _object([("result", "number", "The computed value")], inputs)
    if verb == "count" or words[-1:] == ("count",):  # count_words, get_transaction_count
        counted = " ".join(w for w in _name_nouns(words) if w != "count")
        return _object([("count", "integer", f"The {counted} count" if counted else "The count")], inputs)
    if verb == "convert" and noun in {"currency", "rate", "price"}:
        return _object(
            [
                ("converted_amount", "number", "The amount in the target currency"),
                ("rate", "number", "Exchange rate used"),
                ("date", "string", "Date of the rate (YYYY-MM-DD)"),
            ],
            inputs,
        )
    if verb == "convert":
        return _object(
            [
                ("converted_value", "number", "The converted value"),
                ("unit", "string", "Unit of the converted value"),
            ]
            + (fields if noun in {"coordinate", "time", "datetime"} else []),
            inputs,
        )
    if set(words) & _CHECK_VERBS:
        obj = noun or "item"
        return _object(
            [
                (
                    "exists" if "exist" in words else "valid",
                    "boolean",
                    f"Whether the {obj} is there and usable",
                ),
                ("message", "string", "Explanation"),
            ],
            inputs,
        )
    id_field = (f"{noun}_id", "string", f"Identifier of the {noun}") if entity and noun else None
    if verb in _DELETE_VERBS:
        return _object(
            [
                ("deleted", "boolean", f"Whether the {noun or 'item'} was deleted"),
                ("message", "string", "What happened"),
            ],
            inputs,
        )
    if verb in _SEND_VERBS:
        obj = noun if noun and noun not in {"message", "email"} else "message"
        return _object(
            [
                (f"{obj}_id", "string", f"Identifier of the sent {obj}"),
                ("status", "string", "Delivery status"),
                ("sent_at", "string", "When it was sent (ISO 8601)"),
            ],
            inputs,
        )
    if verb in _CREATE_VERBS and tool_class == "action":
        obj = noun or "item"
        created = [
            (f"{obj}_id", "string", f"Identifier of the new {obj}"),
            ("status", "string", "Status after the request"),
        ]
        return _object(created + [f for f in fields if f[0] not in {"status"}][:3], inputs)
    if verb in _UPDATE_VERBS and tool_class == "action":
        obj = noun or "item"
        return _object(
            [
                ("success", "boolean", f"Whether the {obj} was changed"),
                ("message", "string", "What changed"),
                *fields[:2],
            ],
            inputs,
        )
    if not fields:
        obj = noun or "item"
        fields = [
            ("name", "string", f"Name of the {obj}"),
            ("description", "string", f"Description of the {obj}"),
            ("url", "string", f"Link to the {obj}"),
        ]
        entity = True
        id_field = (f"{obj}_id", "string", f"Identifier of the {obj}")
    record = ([id_field] if id_field else []) + fields
    many = bool(set(words) & _COLLECTION_VERBS) or _plural_name(name)
    if many:
        obj = noun or "item"
        items = {
            "type": "array",
            "description": f"The {obj} records found",
            "items": {
                "type": "object",
                "properties": _properties(record),
                "required": [f[0] for f in record],
            },
        }
        return {
            "type": "object",
            "properties": {
                plural(obj): items,
                "total_count": {"type": "integer", "description": f"Number of {obj} records found"},
            },
            "required": [plural(obj), "total_count"],
        }
    return _object(record, inputs)


_VAGUE_SHAPES = frozenset({"result", "search", "content", "url", "page"})
_SEARCH_VERBS = frozenset({"search", "find", "query", "lookup"})
# Where a search looks, not what it finds: "web_search" finds results, "search_restaurants" restaurants.
_MEDIA = frozenset(
    {
        "web",
        "internet",
        "online",
        "engine",
        "site",
        "google",
        "bing",
        "duckduckgo",
        "exa",
        "brave",
        "serp",
        "tavily",
    }
)
_FILTER_WORDS = frozenset({"by", "for", "from", "with", "in", "of", "per"})


def _name_nouns(name_words: tuple[str, ...]) -> list[str]:
    """The name's words that are not verbs, before ``by``/``for`` (which name filters)."""
    cut = next((i for i, w in enumerate(name_words) if w in _FILTER_WORDS), len(name_words))
    return [w for w in name_words[:cut] if w not in VERBS]


def _shape(
    name_words: tuple[str, ...], description_words: tuple[str, ...], verb: str
) -> tuple[str, tuple[bool, list[Field]]]:
    """The record shape of what the tool returns: a specific noun of the name (before ``by``/``for``,
    which name filters, not results), then of the description (only entities for searches),
    then a vague one; else the name's noun as a generic entity."""
    nouns = _name_nouns(name_words)
    for word in reversed(nouns):
        if word in SHAPES and word not in _VAGUE_SHAPES:
            return word, SHAPES[word]
    searching = verb in _SEARCH_VERBS
    for word in description_words:
        if word in SHAPES and word not in _VAGUE_SHAPES and (SHAPES[word][0] or not searching):
            return word, SHAPES[word]
    if searching:
        noun = next((w for w in reversed(nouns) if w not in _MEDIA and w not in GENERIC and len(w) > 2), "")
        return (noun, (True, [])) if noun else ("result", SHAPES["result"])
    for word in (*reversed(nouns), *description_words):
        if word in _VAGUE_SHAPES:
            return ("result" if word == "search" else word), SHAPES[word]
    noun = next((w for w in reversed(nouns) if len(w) > 2 and not w.isdigit()), "")
    return noun, (bool(noun), [])


def _plural_name(name: str) -> bool:
    last = name.replace("-", "_").split("_")[-1].lower()
    return (
        last.endswith("s") and singular(last) != last and last not in {"details", "news", "status", "alias"}
    )


def _properties(fields: list[Field]) -> dict[str, Any]:
    return {name: {"type": typ, "description": desc} for name, typ, desc in fields}


def _object(fields: list[Field], inputs: set[str]) -> dict[str, Any]:
    """An object schema of ``fields``, leaving out those that only repeat an input of the same name."""
    kept = [f for f in dict((f[0], f) for f in fields).values() if f[0] not in inputs]
    if not kept:
        kept = [("result", "string", "The outcome")]
    return {"type": "object", "properties": _properties(kept), "required": [f[0] for f in kept]}


def parse_result(value: Any) -> Any:
    """A probe result as data: JSON text becomes its value, other text stays text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def infer_schema(results: list[Any]) -> dict[str, Any]:
    """The structure of real results (genson), always an object at the top: a bare value or list is
    wrapped as ``{"result": ...}``; each field gets a description from its name."""
    builder = SchemaBuilder()
    for value in results:
        value = parse_result(value)
        builder.add_object(value if isinstance(value, dict) else {"result": value})
    schema = builder.to_schema()
    schema.pop("$schema", None)
    _describe(schema, "")
    return schema


def _describe(node: dict[str, Any], name: str) -> None:
    if name and "description" not in node:
        node["description"] = " ".join(name_tokens(name)).capitalize() or name
    for key, sub in (node.get("properties") or {}).items():
        if isinstance(sub, dict):
            _describe(sub, key)
    items = node.get("items")
    if isinstance(items, dict):
        _describe(items, singular(name) if name else "item")
