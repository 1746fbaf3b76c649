"""Flattening (docs/method.md section 5), the deterministic value generator, conversations, and the teacher
value simulator."""

from __future__ import annotations

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from graph_toucan.llm import LLM, ScriptedBackend
from graph_toucan.mock.coherence import choose_lengths
from graph_toucan.mock.flatten import flat_fields, output_shape, singular, unflatten
from graph_toucan.mock.simulate import Conversation, Conversations, DeterministicSimulator, TeacherSimulator
from graph_toucan.mock.values import generate_values
from graph_toucan.records import Tool
from graph_toucan.schema import leaf_fields
from graph_toucan.store import Store

# mcp-server-time's real output schema of convert_time ($defs and $ref, as the server lists it).
TIME_CONVERSION = {
    "$defs": {
        "TimeResult": {
            "properties": {
                "timezone": {"title": "Timezone", "type": "string"},
                "datetime": {"title": "Datetime", "type": "string"},
                "day_of_week": {"title": "Day Of Week", "type": "string"},
                "is_dst": {"title": "Is Dst", "type": "boolean"},
            },
            "required": ["timezone", "datetime", "day_of_week", "is_dst"],
            "type": "object",
        }
    },
    "properties": {
        "source": {"$ref": "#/$defs/TimeResult"},
        "target": {"$ref": "#/$defs/TimeResult"},
        "time_difference": {"type": "string"},
    },
    "required": ["source", "target", "time_difference"],
    "type": "object",
}

HOTELS = {
    "type": "object",
    "properties": {
        "hotels": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "hotel_id": {"type": "string"},
                    "name": {"type": "string"},
                    "price": {"type": "number", "minimum": 0},
                    "stars": {"type": "integer", "minimum": 1, "maximum": 5},
                    "amenities": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "total": {"type": "integer"},
        "currency": {"type": "string", "enum": ["EUR", "USD"]},
        "checked_at": {"type": "string", "format": "date-time"},
    },
}
DETAILS = {
    "type": "object",
    "properties": {"hotel_id": {"type": "string"}, "name": {"type": "string"}, "price": {"type": "number"}},
}


def _tool(name: str, output_schema: dict, tool_class: str = "query") -> Tool:
    return Tool(
        server_id="s1",
        server_name="Hotels",
        name=name,
        input_schema={"type": "object", "properties": {}},
        output_schema=output_schema,
        tool_class=tool_class,
        source="test",
    )


def test_flat_keys_follow_the_method():
    schema = {
        "type": "object",
        "properties": {
            "user": {"type": "object", "properties": {"name": {"type": "string"}}},
            "items": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
            "tags": {"type": "array", "items": {"type": "string"}},
            "entries": {
                "type": "array",
                "maxItems": 1,
                "items": {"type": "object", "properties": {"id": {}}},
            },
        },
    }
    assert [f.key for f in flat_fields(schema)] == [
        "user_name",
        *(f"item_{i}_name" for i in range(5)),
        *(f"tag_{i}" for i in range(5)),
        "entry_0_id",
    ]
    assert [f.path for f in flat_fields(schema)] == [
        "user.name",
        *["items[].name"] * 5,
        *["tags"] * 5,
        "entries[].id",
    ]
    assert [singular(w) for w in ("items", "entries", "addresses", "status", "data")] == [
        "item",
        "entry",
        "address",
        "status",
        "data",
    ]


def test_refs_are_followed_and_paths_match_leaf_fields():
    fields = flat_fields(TIME_CONVERSION)
    assert [f.key for f in fields] == [
        "source_timezone",
        "source_datetime",
        "source_day_of_week",
        "source_is_dst",
        "target_timezone",
        "target_datetime",
        "target_day_of_week",
        "target_is_dst",
        "time_difference",
    ]
    for schema in (TIME_CONVERSION, HOTELS):
        assert list(dict.fromkeys(f.path for f in flat_fields(schema))) == [
            f.path for f in leaf_fields(schema)
        ]
    cyclic = {"type": "object", "properties": {"node": {"$ref": "#"}, "v": {"type": "integer"}}}
    assert [f.key for f in flat_fields(cyclic)][-1] == "v"  # a cycle stops instead of recursing forever


def test_generated_values_are_plausible_consistent_and_deterministic():
    arguments = {"currency": "USD", "checkin": "2025-09-10"}
    fields, _ = choose_lengths(flat_fields(HOTELS), {}, random.Random("two"))
    fields = [f for f in fields if not f.indexes or (f.indexes[0] < 2 and f.indexes[1:] < (2,))]
    values = generate_values(fields, arguments, random.Random("seed"))
    assert values == generate_values(fields, arguments, random.Random("seed"))
    assert values != generate_values(fields, arguments, random.Random("other"))
    assert values["currency"] == "USD"  # repeats the argument of the same name
    assert values["total"] == 2  # a count matches the list's two items
    assert (
        values["hotel_0_hotel_id"].startswith("hotel_")
        and values["hotel_0_hotel_id"] != values["hotel_1_hotel_id"]
    )
    assert values["hotel_0_name"].endswith("Hotel")
    assert 1 <= values["hotel_1_stars"] <= 5 and isinstance(values["hotel_1_stars"], int)
    assert values["checked_at"].startswith("2025-09") or values["checked_at"].startswith("2025-10")
    output = unflatten(output_shape(HOTELS), values)
    Draft202012Validator(HOTELS).validate(output)
    assert len(output["hotels"]) == 2 and len(output["hotels"][0]["amenities"]) in (1, 2)


SCALARS = st.one_of(
    st.just({"type": "string"}),
    st.sampled_from(["date", "date-time", "email", "uri", "uuid"]).map(
        lambda f: {"type": "string", "format": f}
    ),
    st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3, unique=True).map(
        lambda e: {"type": "string", "enum": e}
    ),
    st.tuples(st.integers(0, 5), st.integers(5, 12)).map(
        lambda b: {"type": "string", "minLength": b[0], "maxLength": b[1]}
    ),
    st.tuples(st.integers(-50, 50), st.integers(0, 100)).map(
        lambda b: {"type": "integer", "minimum": b[0], "maximum": b[0] + b[1]}
    ),
    st.tuples(st.floats(-1e3, 1e3), st.floats(0, 1e3)).map(
        lambda b: {"type": "number", "minimum": b[0], "maximum": b[0] + b[1]}
    ),
    st.just({"type": "number", "exclusiveMinimum": 0}),
    st.just({"type": "boolean"}),
    st.just({"type": ["string", "null"]}),
    st.just({"type": "object"}),
)
NAMES = st.sampled_from(
    [
        "id",
        "name",
        "price",
        "temperature",
        "email",
        "url",
        "created_at",
        "count",
        "city",
        "items",
        "value",
        "lat",
    ]
)


def _schemas(children: st.SearchStrategy) -> st.SearchStrategy:
    objects = st.dictionaries(NAMES, children, min_size=1, max_size=4).map(
        lambda p: {"type": "object", "properties": p, "required": list(p)}
    )
    arrays = st.tuples(children, st.integers(0, 3)).map(
        lambda t: {"type": "array", "items": t[0], "minItems": min(t[1], 2)}
    )
    return st.one_of(objects, arrays)


OUTPUT_SCHEMAS = st.dictionaries(
    NAMES, st.recursive(SCALARS, _schemas, max_leaves=8), min_size=1, max_size=5
).map(lambda p: {"type": "object", "properties": p, "required": list(p)})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    schema=OUTPUT_SCHEMAS,
    seed=st.integers(0, 10**6),
    arguments=st.dictionaries(NAMES, st.integers() | st.text()),
)
def test_any_output_schema_gets_flat_values_that_rebuild_a_valid_output(schema, seed, arguments):
    fields, _ = choose_lengths(flat_fields(schema), arguments, random.Random(seed))
    values = generate_values(fields, arguments, random.Random(seed))
    assert set(values) == {f.key for f in fields}
    assert all(isinstance(v, str | int | float | bool) for v in values.values())
    Draft202012Validator(schema).validate(unflatten(output_shape(schema), values))


async def test_a_conversation_repeats_answers_and_keeps_returned_ids_consistent():
    simulator = DeterministicSimulator(seed=7)
    search, details = _tool("search_hotels", HOTELS), _tool("get_hotel_details", DETAILS)
    conversations = Conversations()
    chat = conversations.get("c1")
    found = await simulator.values(search, {"city": "Lyon"}, chat)
    assert await simulator.values(search, {"city": "Lyon"}, chat) == found
    hotel = found["hotel_1_hotel_id"]
    about = await simulator.values(details, {"hotel_id": hotel}, chat)
    assert about["hotel_id"] == hotel
    assert (about["name"], about["price"]) == (found["hotel_1_name"], found["hotel_1_price"])
    # another conversation knows nothing of that hotel
    elsewhere = await simulator.values(details, {"hotel_id": hotel}, conversations.get("c2"))
    assert elsewhere["name"] != found["hotel_1_name"] or elsewhere["price"] != found["hotel_1_price"]
    assert [c.tool for c in chat.history] == ["Hotels/search_hotels", "Hotels/get_hotel_details"]


async def test_details_first_then_a_list_that_reuses_the_id_keeps_its_attributes():
    chat = Conversation("c")
    chat.record(
        "Hotels/get_hotel_details",
        flat_fields(DETAILS),
        {"hotel_id": "h-42"},
        {"hotel_id": "h-42", "name": "Grand Lyon", "price": 120.0},
    )
    answer = {f.key: v for f, v in zip(flat_fields(HOTELS), range(100), strict=False)}
    answer |= {"hotel_0_hotel_id": "h-42", "hotel_0_name": "Other", "hotel_0_price": 1.0}
    fixed = chat.reconcile(flat_fields(HOTELS), {}, answer)
    assert (fixed["hotel_0_name"], fixed["hotel_0_price"]) == ("Grand Lyon", 120.0)
    assert fixed["hotel_1_name"] == answer["hotel_1_name"]


async def test_teacher_simulator_uses_the_answer_fills_gaps_and_sees_the_history(tmp_path):
    search, details = _tool("search_hotels", HOTELS), _tool("get_hotel_details", DETAILS)
    first = json.dumps({"values": {"hotel_0_hotel_id": "h-1", "hotel_0_name": "Lyon Grand", "total": "2"}})
    second = json.dumps({"values": {"hotel_id": "h-1", "name": "Renamed", "price": "cheap"}})
    backend = ScriptedBackend([first, second])
    simulator = TeacherSimulator(LLM(backend, Store(tmp_path / "gt.db")), seed=3)
    chat = Conversation("c")
    found = await simulator.values(search, {"city": "Lyon"}, chat)
    assert (found["hotel_0_hotel_id"], found["hotel_0_name"], found["total"]) == ("h-1", "Lyon Grand", 2)
    assert found.pop("_now") == simulator.now  # the simulated world's clock rides along
    assert set(found) <= {f.key for f in flat_fields(HOTELS)} and "hotel_0_name" in found
    assert simulator.filled == len(found) - 3
    about = await simulator.values(details, {"hotel_id": "h-1"}, chat)
    assert about["name"] == "Lyon Grand"  # the conversation's earlier answer wins over the teacher's rename
    assert isinstance(about["price"], float)  # "cheap" is not a number: filled by the generator
    prompt = backend.requests[-1]["messages"][0]["content"]
    assert "Earlier calls in this conversation" in prompt and "Lyon Grand" in prompt
    assert "`price`: number" in prompt
