"""Values a user states for a parameter: realistic, never a placeholder.

In order: the schema's enum, its examples, an example in its description ("e.g. 'ISNA'"), its
default, then a value by meaning (a search phrase for ``query``, a sentence for ``message``, a city for
``city``, a date for a date). :func:`is_placeholder` recognises what no person would type
("calculation method 34", "example", "string"), which verification rejects.

>>> import random
>>> stated_value("method", {"type": "string", "description": "Calculation method, e.g. 'ISNA'"}, random.Random(0))
'ISNA'
>>> is_placeholder("calculation method 34", "calculation_method"), is_placeholder("Lyon", "city")
(True, False)
"""

from __future__ import annotations

import random
import re
from typing import Any

from graph_toucan.fields import json_type, name_tokens, words
from graph_toucan.mock.flatten import FlatField
from graph_toucan.mock.values import plausible_value

_EXAMPLE = re.compile(
    r"(?:e\.g\.?|eg\.|for example|for instance|example:|examples:|such as|like)\s*[:,]?\s*"
    r"(?:['\"`“]([^'\"`”]{1,60})['\"`”]|([A-Za-z0-9][\w./:+-]{0,40}))",
    re.IGNORECASE,
)
_PLACEHOLDER_WORDS = re.compile(
    r"\b(example|placeholder|sample|foo|bar|baz|lorem|ipsum|xxx+|dummy|string|your[_ ]\w+|test\d*)\b",
    re.IGNORECASE,
)

_SEARCHES = [
    "electric vehicle battery recycling",
    "best hiking trails near Denver",
    "remote work productivity tips",
    "renewable energy stocks",
    "sourdough bread recipe",
    "machine learning for climate research",
    "vintage film cameras",
    "affordable family hotels in Lisbon",
]
_SENTENCES = [
    "The quarterly budget review moved to Thursday at 3 pm.",
    "Please remember to bring the signed contracts to the meeting.",
    "Our team finished the migration ahead of schedule.",
    "Can we push the launch to next Monday?",
    "Thanks for the quick turnaround on the report.",
    "Reminder: the office is closed on Friday.",
]
_TITLES = ["Q3 planning notes", "Trip itinerary", "Onboarding checklist", "Weekly status update"]
_PATHS = ["reports/q3-summary.md", "notes/meeting-2025-06-12.txt", "data/sales.csv", "docs/README.md"]
_URLS = [
    "https://en.wikipedia.org/wiki/Lyon",
    "https://www.python.org/downloads/",
    "https://github.com/pallets/flask",
    "https://www.bbc.com/news/technology",
]
_NAMES = ["Maria Lopez", "Kenji Watanabe", "Priya Sharma", "Tom Becker"]
_EMAILS = ["maria.lopez@acme.io", "kenji.w@northwind.co", "priya@brightlabs.dev"]
_KINDS: list[tuple[frozenset[str], list[str]]] = [
    (frozenset({"email", "mail"}), _EMAILS),
    (
        frozenset({"database", "db", "schema", "table", "collection", "dataset", "index", "bucket"}),
        ["sales", "customers", "analytics", "inventory"],
    ),
    (
        frozenset({"project", "repo", "workspace", "app", "application", "service"}),
        ["website-redesign", "mobile-app", "billing-service"],
    ),
    (
        frozenset({"participant", "attendee", "member", "assignee", "to", "recipient", "reviewer", "guest"}),
        _NAMES,
    ),
    (frozenset({"schedule", "cron", "frequency", "interval"}), ["every Monday at 9:00", "daily at 18:00"]),
    (frozenset({"pattern", "glob", "regex", "filter", "selector"}), ["*.py", "TODO", "error"]),
    (
        frozenset({"issue", "bug", "ticket", "task", "todo"}),
        ["Login page crashes on Safari", "Update the onboarding docs"],
    ),
    (
        frozenset({"component", "module", "widget", "class", "function", "method"}),
        ["LoginForm", "NavigationBar", "parse_invoice"],
    ),
    (frozenset({"doi"}), ["10.1038/nature12373", "10.1126/science.1259855"]),
    (frozenset({"pmid"}), ["31452104", "28445112"]),
    (
        frozenset({"thought", "idea", "reason", "goal", "objective", "summary", "context", "reasoning"}),
        _SENTENCES,
    ),
    (
        frozenset({"code", "snippet", "script", "source", "expression", "formula", "sql"}),
        ["print('hello, world')", "SELECT name FROM customers LIMIT 10", "2 * (3 + 4)"],
    ),
    (frozenset({"language", "lang"}), ["python", "en", "French"]),
    (frozenset({"tag", "category", "genre", "type", "kind"}), ["travel", "finance", "science"]),
    (frozenset({"model"}), ["gpt-4o", "claude-sonnet-4-5"]),
    (frozenset({"branch"}), ["main", "feature/login"]),
    (frozenset({"version"}), ["1.4.2", "2.0.0"]),
    (frozenset({"query", "search", "keyword", "term", "q", "topic", "phrase"}), _SEARCHES),
    (
        frozenset(
            {"message", "body", "text", "content", "note", "comment", "prompt", "question", "instruction"}
        ),
        _SENTENCES,
    ),
    (frozenset({"title", "subject", "headline", "label"}), _TITLES),
    (frozenset({"path", "file", "dir"}), _PATHS),
    (frozenset({"url", "website", "site", "page"}), _URLS),
    (frozenset({"name", "user", "recipient", "person", "contact"}), _NAMES),
]


# What a search phrase is about, by what the tool handles: a location search looks for a place.
_TOPICS: list[tuple[frozenset[str], list[str]]] = [
    (
        frozenset(
            [
                "location",
                "place",
                "city",
                "address",
                "geo",
                "geocode",
                "weather",
                "forecast",
                "hotel",
                "restaurant",
                "map",
            ]
        ),
        ["Lyon", "Kyoto", "Lisbon", "Austin, Texas"],
    ),
    (
        frozenset(
            ["paper", "article", "research", "arxiv", "pubmed", "scholar", "publication", "study", "citation"]
        ),
        ["protein folding", "graph neural networks", "CRISPR gene editing"],
    ),
    (frozenset(["user", "people", "person", "profile", "author", "employee", "contact", "member"]), _NAMES),
    (frozenset(["company", "organization", "business", "employer"]), ["Stripe", "Siemens", "Patagonia"]),
    (
        frozenset(["product", "item", "shop", "store", "catalog", "listing"]),
        ["wireless earbuds", "standing desk", "trail running shoes"],
    ),
    (
        frozenset(["package", "library", "module", "npm", "pypi", "crate", "dependency"]),
        ["requests", "lodash", "numpy"],
    ),
    (frozenset(["repo", "repository", "github"]), ["pallets/flask", "facebook/react"]),
    (frozenset(["movie", "film", "show", "series", "anime"]), ["Spirited Away", "Inception"]),
    (
        frozenset(["song", "music", "track", "artist", "album", "playlist"]),
        ["Bohemian Rhapsody", "Miles Davis"],
    ),
    (frozenset(["recipe", "food", "meal", "dish", "ingredient"]), ["vegetable lasagna", "pad thai"]),
    (frozenset(["book", "novel"]), ["The Left Hand of Darkness", "Sapiens"]),
    (frozenset(["coin", "crypto", "cryptocurrency", "token"]), ["bitcoin", "ethereum", "solana"]),
    (frozenset(["job", "career"]), ["data engineer in Berlin", "remote UX designer"]),
]
_SEARCH_WORDS = frozenset({"query", "search", "keyword", "term", "q", "phrase", "name", "title", "topic"})


def description_example(schema: dict[str, Any]) -> str | None:
    """A value the parameter's description gives as an example."""
    match = _EXAMPLE.search(str(schema.get("description") or ""))
    if match is None:
        return None
    return (match.group(1) or match.group(2) or "").strip().rstrip(".") or None


def quoted_options(schema: dict[str, Any]) -> list[str]:
    """The values a description lists in quotes (``one of 'daily', 'weekly' or 'monthly'``)."""
    found = re.findall(r"['\"`]([\w./:+-]{1,30})['\"`]", str(schema.get("description") or ""))
    return list(dict.fromkeys(found)) if len(set(found)) >= 2 else []


def stated_value(name: str, schema: Any, rng: random.Random, topic: frozenset[str] = frozenset()) -> Any:
    """A realistic value a user would state for parameter ``name`` of a tool about ``topic`` (the
    words of what it handles: a location search gets a place, a paper search a research topic). It may
    still be a placeholder when nothing says what the parameter holds; see :func:`is_placeholder`."""
    schema = schema if isinstance(schema, dict) else {}
    typ = json_type(schema)
    enum = [v for v in schema.get("enum") or [] if v is not None]
    if enum:
        return rng.choice(enum)
    if typ == "string" and set(name_tokens(name)) & _SEARCH_WORDS and not schema.get("format"):
        for words, options in _TOPICS:
            if topic & words:
                return rng.choice(options)
    examples = [
        e
        for e in schema.get("examples") or []
        if isinstance(e, str | int | float) and not isinstance(e, bool)
    ]
    if examples and not any(is_placeholder(e, name) for e in examples):
        return rng.choice(examples)
    if typ == "array":
        item = schema.get("items") if isinstance(schema.get("items"), dict) else {"type": "string"}
        return [stated_value(name.rstrip("s"), item, rng)]
    if typ == "string":
        example = description_example(schema)
        if example and not is_placeholder(example, name):
            return example
        options = quoted_options(schema)
        if options:
            return rng.choice(options)
    if "default" in schema and schema["default"] not in (None, "") and typ != "boolean":
        return schema["default"]
    if typ in ("integer", "number", "boolean"):
        return plausible_value(FlatField(key=name, path=name, type=typ, schema=schema), rng)
    if typ == "object":
        return _object(schema, rng)
    if typ != "string":
        return None
    value = plausible_value(FlatField(key=name, path=name, type="string", schema=schema), rng)
    if not is_placeholder(value, name):
        return value
    words = set(name_tokens(name))
    for kinds, options in _KINDS:
        if words & kinds:
            return rng.choice(options)
    return value


def _object(schema: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """An object a user describes: its required properties (or its first two), each stated by meaning;
    a free-form one (``additionalProperties``) gets a small record of a title and a status."""
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    if not properties:
        return {"title": rng.choice(_TITLES), "status": rng.choice(["draft", "in review", "done"])}
    wanted = [p for p in schema.get("required") or [] if p in properties] or list(properties)[:2]
    value = {p: stated_value(p, properties[p], rng) for p in wanted}
    return {k: v for k, v in value.items() if v is not None}


def is_placeholder(value: Any, name: str) -> bool:
    """A value no person would type: the parameter's own words and a number ("vs currencie 86"), the
    parameter's name itself, or a stand-in word (example, sample, foo, string, test, ...)."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    if not text:
        return True
    if _PLACEHOLDER_WORDS.search(text.replace("_", " ")):
        return True
    said = [w[:5] for w in words(text) if not w.isdigit()]
    named = [w[:5] for w in words(name) if not w.isdigit()]
    return bool(named) and said == named
