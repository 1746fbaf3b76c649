"""Who supplies a parameter's value (argument_sources.py), what a user states (user_values.py), and
how a user refers to an earlier result (references.py), on parameters from real catalogs."""

from __future__ import annotations

import random

import pytest

from graph_toucan.argument_sources import classify_parameter
from graph_toucan.references import refers_to, result_nouns
from graph_toucan.user_values import is_placeholder, stated_value


@pytest.mark.parametrize(
    ("name", "schema", "expected"),
    [
        ("hotel_id", {"type": "string"}, "issued"),
        ("sessionId", {"type": "string"}, "issued"),
        ("pageToken", {"type": "string"}, "issued"),
        ("cursor", {"type": "string"}, "issued"),
        ("api_key", {"type": "string"}, "issued"),
        ("password", {"type": "string"}, "issued"),
        ("rate_code", {"type": "string"}, "issued"),
        ("ref", {"type": "string", "description": "The reference returned by search_hotels"}, "issued"),
        ("item", {"type": "string", "format": "uuid"}, "issued"),
        ("city", {"type": "string", "description": "City name"}, "user"),
        ("country_code", {"type": "string"}, "user"),
        ("maxTokens", {"type": "integer"}, "user"),
        ("isbn", {"type": "string"}, "user"),
        ("exchange_id", {"type": "string", "enum": ["binance", "kraken"]}, "user"),
        ("symbol", {"type": "string"}, "user"),
        ("query", {"type": "string"}, "user"),
    ],
)
def test_parameter_classes(name: str, schema: dict, expected: str) -> None:
    assert classify_parameter(name, schema) == expected


@pytest.mark.parametrize(
    ("value", "name", "placeholder"),
    [
        ("calculation method 34", "calculation_method", True),
        ("vs currencie 86", "vs_currencies", True),
        ("https://example.com/a", "url", True),
        ("string", "text", True),
        ("query", "query", True),
        ("", "city", True),
        ("Lyon", "city", False),
        ("ISNA", "method", False),
        ("2025-06-01", "date", False),
    ],
)
def test_placeholders(value: str, name: str, placeholder: bool) -> None:
    assert is_placeholder(value, name) is placeholder


def test_stated_values_are_realistic() -> None:
    rng = random.Random(0)
    cases = [
        ("method", {"type": "string", "description": "Calculation method, e.g. 'ISNA'"}),
        ("units", {"type": "string", "enum": ["metric", "imperial"]}),
        ("query", {"type": "string"}),
        ("message", {"type": "string"}),
        ("url", {"type": "string"}),
        ("file_path", {"type": "string"}),
        ("city", {"type": "string"}),
        ("calculation_method", {"type": "string"}),
    ]
    values = {name: stated_value(name, schema, rng) for name, schema in cases}
    assert values["method"] == "ISNA" and values["units"] in ("metric", "imperial")
    realistic = [n for n in values if n != "calculation_method"]
    assert all(not is_placeholder(values[n], n) for n in realistic), values


def test_stated_values_know_what_a_name_holds_and_fit_the_schema() -> None:
    from graph_toucan.schema import schema_problem, schema_validator

    rng = random.Random(0)
    cases = {
        "smiles": {"type": "string"},
        "subreddit": {"type": "string"},
        "decisionStatement": {"type": "string"},
        "packages": {"type": "array", "items": {"type": "string"}},
        "walletAddress": {"type": "string", "pattern": "^0x[a-fA-F0-9]{40}$"},
        "state": {"type": "string", "maxLength": 2, "description": "US state"},
        "cnpj": {"type": "string", "pattern": "^\\d{14}$"},
        "time": {"type": "string", "pattern": "^([01]\\d|2[0-3]):([0-5]\\d)$"},
    }
    for name, schema in cases.items():
        value = stated_value(name, schema, rng)
        assert schema_problem(schema_validator(schema), value) is None, (name, value)
        items = value if isinstance(value, list) else [value]
        assert not any(is_placeholder(v, name) for v in items), (name, value)
    assert stated_value("smiles", {"type": "string"}, rng) in ("CCO", "CC(=O)Oc1ccccc1C(=O)O", "c1ccccc1")


def test_another_value_for_a_parallel_call() -> None:
    from graph_toucan.user_values import another_value

    rng = random.Random(0)
    assert another_value("units", {"enum": ["metric", "imperial"]}, rng, ["metric"]) == "imperial"
    assert another_value("units", {"enum": ["metric"]}, rng, ["metric"]) is None  # nothing else to ask for
    coordinates = {"type": "string", "description": "Coordinates, e.g. '40.7128,-74.0060'"}
    other = another_value("location", coordinates, rng, ["40.7128,-74.0060"])
    assert other and other != "40.7128,-74.0060" and "," in other
    city = another_value("city", {"type": "string"}, rng, ["Lyon"])
    assert city and city != "Lyon" and not is_placeholder(city, "city")


def test_references_need_a_pointing_word_and_the_thing() -> None:
    hotel = {"nouns": result_nouns("search_hotels", "hotels[].id"), "fields": ["id"]}
    assert hotel["nouns"][0] == "hotel"
    assert refers_to("Is there a gym at that hotel?", hotel)
    assert refers_to("Book the second one.", hotel)
    assert refers_to("Show me the hotel you found earlier.", hotel)
    assert not refers_to("Is there a gym at the Ritz?", hotel)  # no pointing word
    assert not refers_to("Can you check that for me?", hotel)  # points, but at nothing named
