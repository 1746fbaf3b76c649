"""Mocks that agree with their arguments, compute correctly and remember what happened: the world's
arithmetic against the standard library, the property checks rejecting mocks that break them, echo
(and the teacher simulator repaired), coherent records, list lengths, the entity store with
not-found errors, and the mock server's sessions and dataset-row names."""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import hashlib
import json
import random
import urllib.parse
import zoneinfo
from collections import Counter

import pytest
from fastmcp import Client as FastMCPClient
from hypothesis import given, settings
from hypothesis import strategies as st

from graph_toucan.llm import LLM, ScriptedBackend
from graph_toucan.mock import world, world_text
from graph_toucan.mock.build import check_mock
from graph_toucan.mock.codegen import render_mock, tool_view
from graph_toucan.mock.coherence import choose_lengths
from graph_toucan.mock.errors import MockError, MockNotFoundError
from graph_toucan.mock.files import bundled_mock_folder, mock_server_module, read_mock_folder
from graph_toucan.mock.flatten import flat_fields
from graph_toucan.mock.policy import check_code
from graph_toucan.mock.runtime import MockRuntime
from graph_toucan.mock.sandbox import SandboxPool
from graph_toucan.mock.simulate import Conversation, DeterministicSimulator, Simulator, TeacherSimulator
from graph_toucan.mock.values import generate_values
from graph_toucan.store import Store

BUNDLED = {m.tool.name: m for m in read_mock_folder(bundled_mock_folder())}


@pytest.fixture
async def runtime():
    async with SandboxPool(workers=2) as pool:
        started = MockRuntime(pool)
        started.add(BUNDLED.values())
        yield started


# -- the world's arithmetic ------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(sorted(set(world.ZONES) - {"GMT"})),
    minutes=st.integers(0, 60 * 24 * 365 * 6),
)
def test_utc_offsets_match_zoneinfo(zone, minutes):
    moment = dt.datetime(2023, 1, 1) + dt.timedelta(minutes=minutes)  # the rules in force since 2023
    real = moment.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(zone)).utcoffset()
    assert world.utc_offset(zone, moment) == real.total_seconds() / 60


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80))
def test_encodings_and_hashes_match_the_standard_library(text):
    data = text.encode()
    assert world_text.sha256_hex(text) == hashlib.sha256(data).hexdigest()
    assert world_text.sha1_hex(text) == hashlib.sha1(data).hexdigest()
    assert world_text.md5_hex(text) == hashlib.md5(data).hexdigest()
    assert world_text.b64encode(text) == base64.b64encode(data).decode()
    assert world_text.b64decode(world_text.b64encode(text)) == text
    assert world_text.url_encode(text) == urllib.parse.quote(text, safe="-_.~")


@settings(max_examples=200, deadline=None)
@given(day=st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)))
def test_calendars_match_the_standard_library(day):
    text = day.isoformat()
    assert world.days_in_month(text) == calendar.monthrange(day.year, day.month)[1]
    assert world.iso_week(text) == day.isocalendar()[1]
    assert world.weekday_name(text) == day.strftime("%A")
    assert world.unix_timestamp(f"{text} 00:00:00") == calendar.timegm(day.timetuple())


def test_the_embedded_source_passes_the_allow_list_and_converts_zones_with_dst():
    source, modules = world.embedded_source(["convert_zone", "sha256_hex", "exchange_rate", "hash_text"])
    check_code("\n".join(f"import {m}" for m in modules) + "\n\n" + source)
    # New York is on summer time on 20 March 2025, London not yet
    assert world.convert_zone("2025-03-20 10:00:00", "America/New_York", "Europe/London").startswith(
        "2025-03-20T14:00"
    )
    assert world.exchange_rate("USD", "EUR", "2025-06-01") * world.exchange_rate(
        "EUR", "USD", "2025-06-01"
    ) == (pytest.approx(1, rel=1e-5))
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        world.zone_name("Mars/Olympus")


# -- property checks reject mocks that break them -------------------------------------------------------
DAYS_TOOL = BUNDLED["days_in_month"].tool
WRONG_DAYS = """
TOOL = "days_in_month"


def main(**arguments):
    flat = call_external_api(TOOL, **arguments)
    return {"days": 30}
"""
CONVERT_TOOL = BUNDLED["convert_temperature"].tool
IGNORES_INPUT = """
def main(**arguments):
    if "value" not in arguments:
        raise ValueError("missing required argument 'value'")
    return {"converted_value": 212.0, "unit": "F"}
"""


async def test_a_mock_that_misses_a_known_answer_is_rejected_with_the_reason():
    async with SandboxPool(workers=1) as pool:
        await check_mock(BUNDLED["days_in_month"].code, DAYS_TOOL, pool)  # the generated one passes
        with pytest.raises(MockError, match=r"known answer \(calendar\).*'days' should be 29, got 30"):
            await check_mock(WRONG_DAYS, DAYS_TOOL, pool)


async def test_a_mock_whose_output_ignores_its_inputs_is_rejected():
    async with SandboxPool(workers=1) as pool:
        with pytest.raises(MockError, match=r"known answer \(units\)|does not change when value"):
            await check_mock(IGNORES_INPUT, CONVERT_TOOL, pool)


class Drifting(Simulator):
    """A value simulator that answers differently every time (what a careless teacher mock sees)."""

    async def generate(self, tool, fields, arguments, conversation):
        return generate_values(fields, arguments, random.Random())


async def test_a_mock_that_gives_two_answers_to_the_same_call_is_rejected(monkeypatch):
    import graph_toucan.mock.build as build

    monkeypatch.setattr(build, "DeterministicSimulator", lambda seed: Drifting(seed))
    weather = BUNDLED["get_hourly_forecast"]
    async with SandboxPool(workers=1) as pool:
        with pytest.raises(MockError, match="gave two different outputs"):
            await check_mock(weather.code, weather.tool, pool)


async def test_generated_mocks_of_the_families_pass_their_checks():
    families = ["days_in_month", "get_week_year", "get_timestamp", "convert_time", "convert_weight"]
    families += ["convert_currency_specific_date", "get_current_datetime", "add", "evaluate_expression"]
    async with SandboxPool(workers=2) as pool:
        for name in families:
            mock = BUNDLED[name]
            assert render_mock(tool_view(mock.tool)) == mock.code, f"mock_tools/ is stale for {name}"
            await check_mock(mock.code, mock.tool, pool)


# -- echo and coherence ----------------------------------------------------------------------------------
async def test_outputs_that_mean_an_argument_repeat_it(runtime):
    rates = await runtime.call(
        "get_latest_exchange_rates", {"base_currency": "JPY", "symbols": ["EUR", "USD"]}
    )
    assert [(r["base"], r["currency"]) for r in rates["rates"]] == [("JPY", "EUR"), ("JPY", "USD")]
    assert rates["total_count"] == 2
    assert rates["rates"][0]["rate"] == world.exchange_rate("JPY", "EUR", "2025-06-01")
    now = await runtime.call("get_current_datetime", {"timezone_name": "Europe/Berlin"})
    assert now == {"datetime": "2025-06-01T14:00:00+02:00", "timezone": "Europe/Berlin"}
    written = await runtime.call("write_file", {"path": "notes.txt", "content": "hello"})
    assert (written["file_path"], written["size_bytes"], written["success"]) == ("notes.txt", 5, True)


async def test_records_are_coherent_with_the_city_the_arguments_name(runtime):
    places = await runtime.call("find-place", {"query": "Eiffel Tower, Paris"})
    for place in places["places"]:
        assert "Paris, France" in place["address"]
        assert abs(place["latitude"] - 48.86) < 0.1 and abs(place["longitude"] - 2.35) < 0.1
    hotels = await runtime.call("search-hotels", {"latitude": 35.68, "longitude": 139.65})
    assert all("Tokyo" in h["address"] and h["currency"] == "JPY" for h in hotels["hotels"])
    price = await runtime.call("get_current_stock_price", {"symbol": "MSFT"})
    assert price["currency"] == "USD" and price["date"] == "2025-06-01" and 400 < price["price"] < 550


def test_ranges_hold_and_counts_cover_the_items():
    schema = {
        "type": "object",
        "properties": {
            "min_price": {"type": "number"},
            "max_price": {"type": "number"},
            "start_date": {"type": "string", "format": "date"},
            "end_date": {"type": "string", "format": "date"},
            "results": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
            "total_count": {"type": "integer"},
        },
    }
    for seed in range(60):
        rng = random.Random(seed)
        fields, lengths = choose_lengths(flat_fields(schema), {"limit": 3}, rng)
        values = generate_values(fields, {"limit": 3}, rng, lengths=lengths)
        assert values["min_price"] <= values["max_price"] and values["start_date"] <= values["end_date"]
        assert lengths["results"] == 3 and values["total_count"] >= 3


def test_list_lengths_vary_within_the_schema():
    schema = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
            "pair": {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "string"}},
        },
    }
    seen: Counter[int] = Counter()
    for seed in range(200):
        _, lengths = choose_lengths(flat_fields(schema), {}, random.Random(seed))
        seen[lengths["items"]] += 1
        assert 2 <= lengths["pair"] <= 3
    assert set(seen) == {1, 2, 3, 4, 5} and max(seen.values()) < 0.5 * sum(seen.values())


async def test_the_teacher_simulator_is_repaired_where_it_contradicts_the_arguments(tmp_path):
    tool = BUNDLED["get_latest_exchange_rates"].tool
    wrong = {f.key: ("GBP" if f.name == "base" else 1.5 if f.type == "number" else 1 if f.type == "integer" else "EUR")
             for f in flat_fields(tool.output_schema)}  # fmt: skip
    simulator = TeacherSimulator(
        LLM(ScriptedBackend([json.dumps({"values": wrong})]), Store(tmp_path / "gt.db"))
    )
    values = await simulator.values(tool, {"base_currency": "JPY"}, Conversation("c"))
    bases = [v for k, v in values.items() if k.endswith("_base")]
    assert bases and set(bases) == {"JPY"} and simulator.repaired == len(bases)


# -- state -----------------------------------------------------------------------------------------------
async def test_writes_are_read_back_deletes_are_gone_and_unknown_ids_are_refused(runtime):
    await runtime.call("write_file", {"path": "todo.txt", "content": "milk\neggs\nbread"}, conversation="s")
    read = await runtime.call("read_file", {"path": "todo.txt"}, conversation="s")
    assert (read["content"], read["size_bytes"]) == ("milk\neggs\nbread", 15)
    await runtime.call("delete_file_content", {"path": "todo.txt", "row": 1}, conversation="s")
    assert (await runtime.call("read_file", {"path": "todo.txt"}, conversation="s"))[
        "content"
    ] == "milk\nbread"
    elsewhere = await runtime.call("read_file", {"path": "todo.txt"}, conversation="other")
    assert elsewhere["content"] != "milk\nbread"  # another conversation never wrote it

    found = await runtime.call("search-hotels", {"latitude": 48.86, "longitude": 2.35}, conversation="s")
    hotel = found["hotels"][-1]
    details = await runtime.call(
        "get-hotel-details", {"session_id": "x", "hotel_id": hotel["hotel_id"]}, conversation="s"
    )
    assert (details["name"], details["price"]) == (hotel["name"], hotel["price"])
    with pytest.raises(MockNotFoundError, match="hotel 'hotel_feedbeef' not found"):
        await runtime.call(
            "get-hotel-details", {"session_id": "x", "hotel_id": "hotel_feedbeef"}, conversation="s"
        )
    with pytest.raises(MockNotFoundError, match="not found"):
        await runtime.call(
            "book-hotel", {"session_id": "x", "hotel_id": "hotel_feedbeef", "rate_id": "r"}, conversation="s"
        )
    runtime.acknowledge("s", ["hotel_feedbeef"])  # the user gave it
    await runtime.call(
        "get-hotel-details", {"session_id": "x", "hotel_id": "hotel_feedbeef"}, conversation="s"
    )
    # an open lookup: any ticker or coin may be asked about
    await runtime.call("get_current_stock_price", {"symbol": "ZZZZ"}, conversation="s")
    await runtime.call("coingecko_coin_data", {"id": "bitcoin"}, conversation="s")

    await runtime.call("download_markdown", {"url": "https://example.org/guide"}, conversation="s")
    listed = await runtime.call("list_downloaded_files", {}, conversation="s")
    assert listed["files"][0]["file_path"] == "example-org-guide.md"

    state = json.loads(json.dumps(runtime.state("s")))
    assert state["initial"]["records"] == {} and "todo.txt" in json.dumps(state["final"]["records"])


async def test_a_rolled_back_turn_forgets_what_it_wrote(runtime):
    chat = runtime.conversations.get("r")
    point = chat.checkpoint()
    await runtime.call("write_file", {"path": "draft.txt", "content": "v1"}, conversation="r")
    chat.rollback(point)
    assert (await runtime.call("read_file", {"path": "draft.txt"}, conversation="r"))["content"] != "v1"
    chat.seed_state(
        {"records": {BUNDLED["read_file"].tool.server_id: {"file": {"a.txt": {"content": "seeded"}}}}}
    )
    assert (await runtime.call("read_file", {"path": "a.txt"}, conversation="r"))["content"] == "seeded"
    assert runtime.state("r")["initial"]["records"] != {}


# -- the mock server ------------------------------------------------------------------------------------
async def test_the_server_keeps_state_per_session_and_refuses_unknown_ids():
    async with SandboxPool(workers=2) as pool:
        server = mock_server_module().create_server(MockRuntime(pool, DeterministicSimulator()))
        await server.publish(BUNDLED.values())
        async with (
            FastMCPClient(server.app, mode="legacy") as first,
            FastMCPClient(server.app, mode="legacy") as second,
        ):
            await first.call_tool("write_file", {"path": "s.txt", "content": "first"})
            mine = await first.call_tool("read_file", {"path": "s.txt"})
            theirs = await second.call_tool("read_file", {"path": "s.txt"})
            assert mine.structured_content["content"] == "first"
            assert theirs.structured_content["content"] != "first"
            refused = await first.call_tool(
                "get-hotel-details", {"session_id": "x", "hotel_id": "hotel_0"}, raise_on_error=False
            )
            assert refused.is_error and "not found" in refused.content[0].text


async def test_the_server_serves_a_dataset_rows_tools_under_the_rows_names():
    module = mock_server_module()
    days = BUNDLED["days_in_month"].tool
    row = {
        "messages": [],
        "tools": [
            {"type": "function", "function": {"name": "month_length", "description": days.description, "parameters": days.input_schema}},
            {"type": "function", "function": {"name": "add", "description": "x", "parameters": {}}},
        ],
    }  # fmt: skip
    async with SandboxPool(workers=1) as pool:
        runtime = MockRuntime(pool)
        runtime.add(BUNDLED.values())
        names = module.row_names(row, runtime)
        assert names == {"month_length": "days_in_month", "add": "add"}
        server = module.create_server(runtime, names=names)
        await server.publish(BUNDLED.values())
        async with FastMCPClient(server.app) as client:
            assert {t.name for t in await client.list_tools()} == {"month_length", "add"}
            answer = await client.call_tool("month_length", {"date": "2024-02-10"})
            assert answer.structured_content == {"days": 29}
        with pytest.raises(MockError, match="no mock for the row's function"):
            module.row_names({"tools": [{"function": {"name": "teleport"}}]}, runtime)


def test_a_more_flag_agrees_with_the_count_and_the_items():
    schema = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
            "total_results": {"type": "integer"},
            "has_more": {"type": "boolean"},
        },
    }
    flags = set()
    for seed in range(40):
        rng = random.Random(seed)
        fields, lengths = choose_lengths(flat_fields(schema), {"limit": 2}, rng)
        values = generate_values(fields, {"limit": 2}, rng, lengths=lengths)
        assert values["has_more"] == (values["total_results"] > lengths["items"])
        flags.add(values["has_more"])
    assert flags == {True, False}


def test_serve_mocks_says_which_row_it_cannot_read(tmp_path):
    from typer.testing import CliRunner

    from graph_toucan.cli import app

    (tmp_path / "rows.jsonl").write_text('{"tools": []}\n')
    result = CliRunner().invoke(app, ["serve-mocks", "--bundled", "--row", f"{tmp_path / 'rows.jsonl'}:3"])
    assert result.exit_code != 0 and "cannot read row 3" in result.output
