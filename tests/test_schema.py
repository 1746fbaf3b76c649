"""Schema repair, refusal, meta-schema checks and example arguments, on schemas from real catalogs."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from graph_toucan.errors import CatalogError, SchemaError
from graph_toucan.schema import (
    check_schema,
    example_arguments,
    normalise_schema,
    schema_problem,
    schema_validator,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "toucan" / "mcp_servers"
DRAFT_07 = "http://json-schema.org/draft-07/schema#"

# -- normalise_schema: repairs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "schema", "repairs"),
    [
        pytest.param(
            {
                "type": "dict",
                "properties": {"days": {"type": "int"}, "city": {"type": "String"}},
                "required": "city",
            },
            {
                "type": "object",
                "properties": {"days": {"type": "integer"}, "city": {"type": "string"}},
                "required": ["city"],
            },
            [
                "type dict -> object",
                "required given as a string, made a list",
                "type int -> integer at days",
                "type String -> string at city",
            ],
            id="python-type-names-and-required-string",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {
                    "location": {"type": "string", "required": True},
                    "units": {"type": "string", "required": False},
                },
            },
            {
                "type": "object",
                "properties": {"location": {"type": "string"}, "units": {"type": "string"}},
                "required": ["location"],
            },
            ["required flags on properties moved to a required list"],
            id="draft-3-required-flags",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": [{"name": "lat", "type": "float"}, {"name": "lon", "type": "double"}],
            },
            {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}},
            [
                "properties given as a list, made an object",
                "type float -> number at lat",
                "type double -> number at lon",
            ],
            id="properties-as-list",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"period": {"properties": {"from": {"type": "str"}}, "required": "from"}},
            },
            {
                "type": "object",
                "properties": {
                    "period": {
                        "type": "object",
                        "properties": {"from": {"type": "string"}},
                        "required": ["from"],
                    }
                },
            },
            [
                "missing type set to object at period",
                "required given as a string, made a list at period",
                "type str -> string at period.from",
            ],
            id="nested-object-repairs-name-their-location",
        ),
        pytest.param(
            {"type": "object", "properties": {"tags": {"type": "list", "items": {"type": "str"}}}},
            {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}},
            ["type list -> array at tags", "type str -> string at tags[]"],
            id="array-items",
        ),
        pytest.param(
            {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q", "q"]},
            {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
            ["duplicate names removed from required"],
            id="duplicate-required",
        ),
        pytest.param(
            {"type": "object", "properties": {"q": {"type": "string"}}, "required": True},
            {"type": "object", "properties": {"q": {"type": "string"}}},
            ["boolean required on an object removed"],
            id="boolean-required",
        ),
        pytest.param(
            {}, {"type": "object", "properties": {}}, ["missing top-level type, set to object"], id="empty"
        ),
        pytest.param(
            '{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}',
            {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            ["schema given as a JSON string, parsed"],
            id="json-string",
        ),
        pytest.param(
            None,
            {"type": "object", "properties": {}},
            ["no input schema, used an empty object schema"],
            id="none",
        ),
    ],
)
def test_normalise_schema_repairs(raw: Any, schema: dict[str, Any], repairs: list[str]) -> None:
    original = json.dumps(raw)
    assert normalise_schema(raw) == (schema, repairs)
    assert json.dumps(raw) == original  # the input is not modified


def test_missing_top_level_type_is_set() -> None:
    schema, _ = normalise_schema({"properties": {"city": {"type": "string"}}, "required": ["city"]})
    assert schema["type"] == "object"
    jsonschema.validate({"city": "Paris"}, schema)


def test_missing_top_level_type_is_reported() -> None:
    assert normalise_schema({"properties": {"city": {"type": "string"}}})[1] == [
        "missing top-level type, set to object"
    ]


def test_a_clean_real_schema_is_kept_as_it_is() -> None:
    raw = _example_tools()["0059/get_weather_forecast"]
    schema, repairs = normalise_schema(raw)
    assert (schema, repairs) == (raw, [])
    assert schema is not raw


# -- normalise_schema: refusals -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            {"type": "array", "items": {"type": "string"}},
            "input schema must describe an object of arguments, its type is 'array'",
            id="array-top-level",
        ),
        pytest.param(
            {"type": "string"},
            "input schema must describe an object of arguments, its type is 'string'",
            id="string-top-level",
        ),
        pytest.param(
            {"type": "object", "properties": {"city": {"type": "strin"}}},
            "invalid JSON Schema at properties/city/type: 'strin' is not valid under any of the given schemas",
            id="unknown-type",
        ),
        pytest.param(
            {"type": "object", "properties": {"ids": {"type": "array", "items": {"type": "strin"}}}},
            "invalid JSON Schema at properties/ids/items/type: 'strin' is not valid under any of the given schemas",
            id="unknown-item-type",
        ),
        pytest.param(
            {"type": "object", "properties": {"days": {"type": "integer", "minimum": "1"}}},
            "invalid JSON Schema at properties/days/minimum: '1' is not of type 'number'",
            id="minimum-as-string",
        ),
        pytest.param(
            {"type": "object", "properties": {"city": {"type": "string"}}, "required": 5},
            "required must be a list of property names, got int",
            id="required-int",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"o": {"type": "object", "properties": {}, "required": {"a": 1}}},
            },
            "required at o must be a list of property names, got dict",
            id="nested-required-dict",
        ),
        pytest.param([{"name": "city"}], "input schema must be a JSON object, got list", id="list"),
        pytest.param(
            "{'type': 'object'}", "input schema is a string that is not JSON (", id="bad-json-string"
        ),
    ],
)
def test_normalise_schema_refusals(raw: Any, message: str) -> None:
    with pytest.raises(SchemaError) as refused:
        normalise_schema(raw)
    assert str(refused.value).startswith(message)
    assert isinstance(refused.value, CatalogError)


# -- check_schema against the declared meta-schema ----------------------------------------------


def test_check_schema_uses_the_declared_draft() -> None:
    real = _example_tools()["1144/mcp_geo_calculate_area"]  # declares draft-07
    assert real["$schema"] == DRAFT_07
    check_schema(real)
    check_schema(
        {
            "$schema": DRAFT_07,
            "type": "object",
            "definitions": {"unit": {"type": "string", "enum": ["meters", "kilometers"]}},
            "properties": {
                "unit": {"$ref": "#/definitions/unit"},
                "n": {"type": "integer", "exclusiveMinimum": 0},
            },
        }
    )
    # draft-04 style boolean exclusiveMinimum: valid where the schema says draft-04, not in draft-07
    draft4 = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 0, "exclusiveMinimum": True}},
    }
    check_schema({"$schema": "http://json-schema.org/draft-04/schema#", **draft4})
    with pytest.raises(
        SchemaError, match=r"^invalid JSON Schema at properties/n/exclusiveMinimum: True is not"
    ):
        check_schema({"$schema": DRAFT_07, **draft4})
    with pytest.raises(SchemaError, match=r"^invalid JSON Schema at properties/n/exclusiveMinimum"):
        check_schema(draft4)  # no $schema: 2020-12
    with pytest.raises(SchemaError, match=r"^invalid JSON Schema at required: 5 is not of type 'array'"):
        check_schema({"$schema": DRAFT_07, "type": "object", "required": 5})


# -- example_arguments ---------------------------------------------------------------------------


@cache
def _example_tools() -> dict[str, dict[str, Any]]:
    """``NNNN/tool`` -> input schema, for every tool of the bundled example slice."""
    tools = {}
    for path in sorted(EXAMPLE.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for tool in data["metadata"]["remote_server_response"]["tools"]:
            tools[f"{path.name[:4]}/{tool['name']}"] = tool["input_schema"]
    return tools


_CASES = [
    pytest.param(ref, optional, id=f"{ref}-{'all' if optional else 'required'}")
    for ref in _example_tools()
    for optional in (False, True)
]


def test_example_slice_has_98_tools() -> None:
    assert len(_example_tools()) == 98
    assert len(_CASES) == 196


@pytest.mark.parametrize(("ref", "include_optional"), _CASES)
def test_example_arguments_validate_for_every_example_tool(ref: str, include_optional: bool) -> None:
    schema, _ = normalise_schema(_example_tools()[ref])  # a copy: the cached schema is not touched
    args = example_arguments(schema, include_optional=include_optional)
    jsonschema.validate(args, schema, format_checker=jsonschema.FormatChecker())
    required = set(schema.get("required", []))
    assert required <= set(args)
    if not include_optional:
        assert set(args) == required
    else:
        assert set(args) == set(schema["properties"])
    assert example_arguments(schema, include_optional=include_optional) == args  # deterministic


def test_example_arguments_use_defaults_enums_and_names() -> None:
    tools = _example_tools()
    forecast = tools["0059/get_weather_forecast"]
    assert example_arguments(forecast) == {"location": "Paris"}
    assert example_arguments(forecast, include_optional=True) == {"location": "Paris", "days": 7}
    area = tools["1144/mcp_geo_calculate_area"]
    assert example_arguments(area, include_optional=True) == {
        "coordinates": [[5.0], [5.0], [5.0]],  # minItems 3
        "unit": "square_meters",  # default
        "coordType": "WGS84",  # default
    }
    assert example_arguments(tools["1144/mcp_geo_convert"]) == {
        "method": "BD09toGCJ02",  # the first enum value
        "longitude": 2.3522,
        "latitude": 48.8566,
    }
    assert example_arguments(tools["2164/convert_temperature"]) == {
        "value": 5.0,
        "from_unit": "C",
        "to_unit": "C",
    }


def test_example_arguments_use_formats_and_bounds() -> None:
    schema = {
        "type": "object",
        "properties": {
            "start_date": {"type": "string", "format": "date"},
            "since": {"type": "string", "format": "date-time"},
            "contact": {"type": "string", "format": "email"},
            "page_url": {"type": "string", "format": "uri"},
            "request_id": {"type": "string", "format": "uuid"},
            "code": {"type": "string", "minLength": 10},
            "count": {"type": "integer", "minimum": 10},
            "ratio": {"type": "number", "minimum": 0, "maximum": 1},
            "verbose": {"type": "boolean"},
            "source_timezone": {"type": "string"},
            "mode": {"type": "string", "const": "fast"},
            "nickname": {"type": "string", "examples": ["toucan"]},
            "note": {"anyOf": [{"type": "null"}, {"type": "string", "enum": ["hi"]}]},
        },
        "required": ["start_date"],
    }
    args = example_arguments(schema, include_optional=True)
    assert args == {
        "start_date": "2025-06-01",
        "since": "2025-06-01T12:00:00Z",
        "contact": "alice@example.com",
        "page_url": "https://example.com",
        "request_id": "123e4567-e89b-12d3-a456-426614174000",
        "code": "examplexxx",
        "count": 10,
        "ratio": 1.0,
        "verbose": False,
        "source_timezone": "Europe/Paris",
        "mode": "fast",
        "nickname": "toucan",
        "note": "hi",
    }
    jsonschema.validate(args, schema, format_checker=jsonschema.FormatChecker())
    assert example_arguments(schema) == {"start_date": "2025-06-01"}


def test_validators_are_kept_per_distinct_schema_not_per_copy() -> None:
    """Each conversation read back from a store has its own copies of its tools' schemas: equal copies
    share one validator, and the copies held by identity stay bounded however many there are."""
    from graph_toucan import schema as schema_module

    text = '{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}'
    copies = [json.loads(text) for _ in range(schema_module._OBJECTS_KEPT + 500)]
    validators = {id(schema_validator(c)) for c in copies}
    assert len(validators) == 1
    assert len(schema_module._BY_OBJECT) <= schema_module._OBJECTS_KEPT
    validator = schema_validator(copies[-1])
    assert schema_problem(validator, {"city": "Paris"}) is None
    assert schema_problem(validator, {}) is not None
    other = schema_validator({"type": "object", "properties": {"city": {"type": "integer"}}})
    assert schema_problem(other, {"city": "Paris"}) is not None  # a different schema: its own validator
