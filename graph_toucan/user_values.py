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

from rstr import Rstr

from graph_toucan.fields import json_type, name_tokens, word_set, words
from graph_toucan.mock.flatten import FlatField
from graph_toucan.mock.values import plausible_value
from graph_toucan.schema import schema_problem, schema_validator

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

# What a parameter's name may say it holds (any of a kind's words among the name's), with values of that
# kind, in the order by_meaning tries them. Name-specific kinds first (from a real catalog's commonest
# parameters no generic kind covers), then the generic ones; ``True`` marks a generic kind, which
# another_value also draws other values from.
_KINDS: list[tuple[frozenset[str], list[Any], bool]] = [
    (frozenset({"smiles"}), ["CCO", "CC(=O)Oc1ccccc1C(=O)O", "c1ccccc1"], False),
    (
        frozenset({"inchi"}),
        ["InChI=1S/C2H6O/c1-2-3/h3H,2H2,1H3", "InChI=1S/CH4/h1H4", "InChI=1S/H2O/h1H2"],
        False,
    ),
    (
        frozenset({"cwd", "workdir", "root"}),
        ["/home/maria/projects/website", "/srv/app", "~/code/billing-service"],
        False,
    ),
    (
        frozenset({"element", "elements", "startelement", "endelement", "button", "selector", "locator"}),
        ["#submit-button", "button.login", "input[name='email']"],
        False,
    ),
    (
        frozenset({"package", "packages", "dependency", "dependencies", "library"}),
        ["requests", "lodash", "express"],
        False,
    ),
    (frozenset({"word", "words", "term", "lemma"}), ["serendipity", "ephemeral", "resilient"], False),
    (frozenset({"coin", "coins", "cryptocurrency", "crypto"}), ["bitcoin", "ethereum", "solana"], False),
    (frozenset({"currency", "currencies", "vs", "fiat"}), ["usd", "eur", "jpy"], False),
    (frozenset({"domain", "hostname", "host"}), ["example.org", "python.org", "wikipedia.org"], False),
    (frozenset({"year"}), ["2024", "2023", "2019"], False),
    (
        frozenset({"amount", "quantity", "count", "num", "number", "total", "price", "qty"}),
        ["25", "120", "3"],
        False,
    ),
    (
        frozenset({"pubkey", "pubkeys", "wallet", "mint", "spender", "address", "account"}),
        ["0x742d35Cc6634C0532925a3b844Bc454e4438f44e", "0x8ba1f109551bD432803012645Ac136ddd64DBA72"],
        False,
    ),
    (frozenset({"chain", "network", "blockchain"}), ["ethereum", "polygon", "base"], False),
    (frozenset({"protocol", "dex"}), ["uniswap", "aave", "curve"], False),
    (frozenset({"slug", "handle"}), ["open-source-weekly", "hello-world", "getting-started"], False),
    (frozenset({"barcode", "ean", "upc"}), ["4006381333931", "036000291452"], False),
    (frozenset({"subreddit"}), ["python", "dataisbeautiful", "AskHistorians"], False),
    (frozenset({"group", "team", "department"}), ["engineering", "marketing", "customer-support"], False),
    (
        frozenset({"field", "fields", "attribute", "attributes", "column", "columns", "sortfield"}),
        ["created_at", "price", "title"],
        False,
    ),
    (frozenset({"operation", "action", "op", "mode"}), ["add", "summarize", "compare"], False),
    (frozenset({"cep", "postcode", "zip", "zipcode"}), ["01310-100", "20040-020"], False),
    (frozenset({"cnpj"}), ["11.222.333/0001-81", "45.997.418/0001-53"], False),
    (frozenset({"pgn"}), ["1. e4 e5 2. Nf3 Nc6 3. Bb5 a6"], False),
    (frozenset({"route", "endpoint", "entrypoint"}), ["/api/users", "/health", "/v1/orders"], False),
    (frozenset({"city", "cities", "town", "location", "place"}), ["Lyon", "Kyoto", "Lisbon"], False),
    (frozenset({"sex", "gender"}), ["female", "male"], False),
    (frozenset({"namespace", "providernamespace"}), ["Microsoft.Compute", "default", "kube-system"], False),
    (frozenset({"device"}), ["iPhone 15", "Pixel 8"], False),
    (frozenset({"channel", "channels"}), ["general", "engineering"], False),
    (frozenset({"sector", "industry"}), ["technology", "healthcare", "energy"], False),
    (frozenset({"tone", "style"}), ["friendly", "formal"], False),
    (frozenset({"station"}), ["KJFK", "KSFO"], False),
    (frozenset({"exchange"}), ["binance", "coinbase", "kraken"], False),
    (
        frozenset({"step", "steps"}),
        ["Open the login page", "Click the Submit button", "Check the welcome banner"],
        False,
    ),
    (frozenset({"logname", "logfile", "log"}), ["app.log", "access.log", "errors.log"], False),
    (frozenset({"section", "chapter"}), ["Introduction", "History", "Methods"], False),
    (frozenset({"agent", "agents", "role"}), ["researcher", "planner", "reviewer"], False),
    (frozenset({"framework"}), ["react", "django", "pytorch"], False),
    (frozenset({"journal"}), ["Nature", "The Lancet"], False),
    (frozenset({"book"}), ["Sapiens", "Dune"], False),
    (frozenset({"cmd", "command"}), ["ls -la", "git status"], False),
    (frozenset({"connection", "connectionstring", "dsn"}), ["postgresql://localhost:5432/sales"], False),
    (
        frozenset({"value", "values", "input", "data", "expr", "expression", "str", "string"}),
        ["42", "hello world", "3.14"],
        False,
    ),
    (frozenset({"target", "targets", "goal"}), ["reduce churn by 10%", "launch the beta in March"], False),
    (
        frozenset({"temporal", "time", "period", "horizon", "timehorizon", "window"}),
        ["last 30 days", "Q3 2024"],
        False,
    ),
    (frozenset({"bounding", "box", "bbox"}), ["2.25,48.81,2.42,48.90"], False),
    (
        frozenset({"tema", "topic", "subject", "theme"}),
        ["renewable energy", "remote work", "urban gardening"],
        False,
    ),
    (
        frozenset({"signature", "hash"}),
        ["0x5c0b8a3ff0a2d4e1b6c7d8e9f00112233445566778899aabbccddeeff0011223"],
        False,
    ),
    (frozenset({"senha", "password", "remetente"}), ["Correct-Horse-7", "maria.lopez@acme.io"], False),
    (frozenset({"level", "level1"}), ["beginner", "advanced"], False),
    (frozenset({"resource", "resources"}), ["users", "orders", "invoices"], False),
    (frozenset({"system", "program", "settings", "parameters", "config"}), ["production", "default"], False),
    (frozenset({"email", "mail"}), _EMAILS, True),
    (
        frozenset({"database", "db", "schema", "table", "collection", "dataset", "index", "bucket"}),
        ["sales", "customers", "analytics", "inventory"],
        True,
    ),
    (
        frozenset({"project", "repo", "workspace", "app", "application", "service"}),
        ["website-redesign", "mobile-app", "billing-service"],
        True,
    ),
    (
        frozenset({"participant", "attendee", "member", "assignee", "to", "recipient", "reviewer", "guest"}),
        _NAMES,
        True,
    ),
    (
        frozenset({"schedule", "cron", "frequency", "interval"}),
        ["every Monday at 9:00", "daily at 18:00"],
        True,
    ),
    (frozenset({"pattern", "glob", "regex", "filter", "selector"}), ["*.py", "TODO", "error"], True),
    (
        frozenset({"issue", "bug", "ticket", "task", "todo"}),
        ["Login page crashes on Safari", "Update the onboarding docs"],
        True,
    ),
    (
        frozenset({"component", "module", "widget", "class", "function", "method"}),
        ["LoginForm", "NavigationBar", "parse_invoice"],
        True,
    ),
    (frozenset({"doi"}), ["10.1038/nature12373", "10.1126/science.1259855"], True),
    (frozenset({"pmid"}), ["31452104", "28445112"], True),
    (
        frozenset({"thought", "idea", "reason", "goal", "objective", "summary", "context", "reasoning"}),
        _SENTENCES,
        True,
    ),
    (
        frozenset({"code", "snippet", "script", "source", "expression", "formula", "sql"}),
        ["print('hello, world')", "SELECT name FROM customers LIMIT 10", "2 * (3 + 4)"],
        True,
    ),
    (frozenset({"language", "lang"}), ["python", "en", "French"], True),
    (frozenset({"tag", "category", "genre", "type", "kind"}), ["travel", "finance", "science"], True),
    (frozenset({"model"}), ["gpt-4o", "claude-sonnet-4-5"], True),
    (frozenset({"branch"}), ["main", "feature/login"], True),
    (frozenset({"version"}), ["1.4.2", "2.0.0"], True),
    (frozenset({"query", "search", "keyword", "term", "q", "topic", "phrase"}), _SEARCHES, True),
    (
        frozenset(
            {"message", "body", "text", "content", "note", "comment", "prompt", "question", "instruction"}
        ),
        _SENTENCES,
        True,
    ),
    (frozenset({"title", "subject", "headline", "label"}), _TITLES, True),
    (frozenset({"path", "file", "dir"}), _PATHS, True),
    (frozenset({"url", "website", "site", "page"}), _URLS, True),
    (frozenset({"name", "user", "recipient", "person", "contact"}), _NAMES, True),
]


# Names that say what they hold only on their own (``start``, not ``start_ref``).
_BY_FULL_NAME: dict[str, list[Any]] = {
    **{key: ["2025-06-01", "2025-01-15", "2024-11-30"] for key in ("start", "begin", "since")},
    **{key: ["2025-06-30", "2025-02-15", "2024-12-31"] for key in ("end", "until")},
}
# Parameters that hold a person's reasoning or a statement: a sentence of its own.
_STATEMENTS = word_set(
    """problem conclusion claim premise premises decision statement decisionstatement approach
    recommendedapproach logic insights insight findings resolution techniques mechanism stakeholders
    constraints reminder benefit call use case question hypothesis rationale plan explanation solution accomplishments accomplishment
    emergentproperties leveragepoints"""
)


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
    words of what it handles: a location search gets a place, a paper search a research topic), made to
    fit the schema's pattern and length. It may still be a placeholder when nothing says what the
    parameter holds; see :func:`is_placeholder`."""
    schema = schema if isinstance(schema, dict) else {}
    return _conform(name, _drawn(name, schema, rng, topic), schema, rng)


_SHORT_CODES = {"state": ["CA", "NY", "TX"], "country": ["US", "FR", "JP"], "lang": ["en", "fr", "de"]}


def _conform(name: str, value: Any, schema: dict[str, Any], rng: random.Random) -> Any:
    """``value``, or when a string breaks the schema's pattern or length, a value by the name's meaning
    that fits, else one drawn from the pattern (``^0x[a-fA-F0-9]{40}$``: an address of that form)."""
    if not isinstance(value, str) or not any(k in schema for k in ("pattern", "maxLength", "minLength")):
        return value
    validator = schema_validator(
        {k: schema[k] for k in ("type", "pattern", "maxLength", "minLength") if k in schema}
    )
    fits = lambda v: isinstance(v, str) and schema_problem(validator, v) is None  # noqa: E731
    if fits(value):
        return value
    words = set(name_tokens(name))
    candidates = [by_meaning(name, rng), *(o for w, o in _SHORT_CODES.items() if w in words for o in o)]
    for candidate in candidates:
        if fits(candidate):
            return candidate
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            drawn = Rstr(rng).xeger(pattern)
        except Exception:
            return value
        if fits(drawn) and len(drawn) >= 2:
            return drawn
    return value


def _drawn(name: str, schema: dict[str, Any], rng: random.Random, topic: frozenset[str]) -> Any:
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
        single = name[:-3] + "y" if name.endswith("ies") else name.rstrip("s")
        return [stated_value(single, item, rng)]
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
    return by_meaning(name, rng) or value


def by_meaning(name: str, rng: random.Random) -> Any:
    """A value by what the parameter's name says it holds, or None: a statement for reasoning fields
    (``decisionStatement``), a kind of thing for a known word (``smiles``, ``subreddit``, ``email``)."""
    if name.lower() in _BY_FULL_NAME:
        return rng.choice(_BY_FULL_NAME[name.lower()])
    words = set(name_tokens(name)) | {name.lower().replace("_", "")}
    if words & _STATEMENTS:
        return rng.choice(_SENTENCES)
    for kinds, options, _ in _KINDS:
        if words & kinds:
            return rng.choice(options)
    return None


_COORDINATES = [
    "48.8566,2.3522",
    "35.6762,139.6503",
    "51.5074,-0.1278",
    "-33.8688,151.2093",
    "41.8781,-87.6298",
]
_COORDINATE = re.compile(r"^\s*-?\d{1,3}\.\d+\s*,\s*-?\d{1,3}\.\d+\s*$")


def another_value(
    name: str, schema: Any, rng: random.Random, taken: list[Any], topic: frozenset[str] = frozenset()
) -> Any:
    """A realistic value for ``name`` that none of ``taken`` is, for a call made again for other values
    ("the weather in Paris and in Lyon"): another enum option, example or quoted option, another place,
    a coordinate pair for a coordinate pair, another number; ``None`` when the schema allows no other."""
    schema = schema if isinstance(schema, dict) else {}
    fresh = lambda options: [o for o in options if o not in taken and not is_placeholder(o, name)]  # noqa: E731
    for options in (
        [v for v in schema.get("enum") or [] if v is not None],
        [e for e in schema.get("examples") or [] if isinstance(e, str | int | float)],
        quoted_options(schema),
    ):
        if fresh(options):
            return rng.choice(fresh(options))
    if schema.get("enum"):
        return None
    for _ in range(8):
        value = stated_value(name, schema, rng, topic)
        if value not in taken and value is not None:
            return value
    if any(isinstance(t, str) and _COORDINATE.match(t) for t in taken) and fresh(_COORDINATES):
        return rng.choice(fresh(_COORDINATES))
    typ = json_type(schema)
    if typ == "string":
        words = set(name_tokens(name)) | topic
        for kinds, options in [*_TOPICS, *((k, o) for k, o, generic in _KINDS if generic)]:
            if words & kinds and fresh(options):
                return rng.choice(fresh(options))
    if typ in ("integer", "number"):
        for _ in range(8):
            value = plausible_value(FlatField(key=name, path=name, type=typ, schema=schema), rng)
            if value not in taken:
                return value
    return None


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
