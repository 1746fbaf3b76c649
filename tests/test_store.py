"""The workspace store on the bundled example slice's real servers and tools."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from graph_toucan.errors import StoreError
from graph_toucan.records import LLMCall, Server, Tool, ToolExample
from graph_toucan.store import DB_NAME, MIGRATIONS, Store, UpsertCounts

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "toucan" / "mcp_servers"


def _example_records() -> list[tuple[Server, list[Tool]]]:
    """Servers and tools of the example slice, built straight from the TOUCAN files."""
    out = []
    for path in sorted(EXAMPLE.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        meta, labels = data["metadata"], data["labels"]
        crawled = meta["server_info_crawled"]
        server = Server(
            name=meta["server_name"],
            qualified_name=crawled["author"],
            source="toucan",
            primary_label=labels["primary_label"],
            license=crawled.get("license") or None,
        )
        tools = [
            Tool(
                server_id=server.id,
                server_name=server.name,
                name=t["name"],
                description=t["description"].strip(),
                input_schema=t["input_schema"],
                category=server.primary_label,
                source="toucan",
                license=server.license,
            )
            for t in meta["remote_server_response"]["tools"]
        ]
        out.append((server, tools))
    return out


def _fill(store: Store) -> UpsertCounts:
    counts = UpsertCounts()
    for server, tools in _example_records():
        with store.transaction():
            store.upsert_server(server)
            counts += store.upsert_tools(tools)
    return counts


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "gt.db")
    assert _fill(store) == UpsertCounts(new=98)
    return store


def _tool(store: Store, ref: str) -> Tool:
    tool = store.get_tool(ref)
    assert tool is not None, ref
    return tool


# -- migrations and opening ----------------------------------------------------------------------


def test_migrations_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "ws" / DB_NAME
    store = Store(path)  # creates the folder
    assert store.version == len(MIGRATIONS)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {
        "servers",
        "tools",
        "tool_examples",
        "llm_calls",
        "runs",
        "tools_fts",
        "judgements",
        "mocks",
        "paths",
        "stream_draws",
    } <= set(store.db.table_names())
    _fill(store)
    store.close()
    again = Store.open(tmp_path / "ws")
    assert again.path == path
    assert again.version == len(MIGRATIONS)
    assert (again.count("servers"), again.count("tools")) == (22, 98)  # migration 1 did not run again
    assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()


def test_newer_workspace_is_refused(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match=r"was written by a newer graph-toucan \(schema 99\); upgrade"):
        Store(path)


def test_unopenable_paths_raise_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the workspace folder should be", encoding="utf-8")
    with pytest.raises(StoreError, match=r"^cannot open workspace database .*not-a-folder.*check the path"):
        Store(blocker / DB_NAME)
    with pytest.raises(StoreError, match=r"^cannot open workspace database .*unable to open database file"):
        Store(tmp_path)  # a directory
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not an SQLite database, just some bytes\n" * 100)
    with pytest.raises(StoreError, match=r"file is not a database.*move a corrupt file aside"):
        Store(corrupt)


def test_listings_in_stream_order_walk_its_index_instead_of_sorting_every_match(tmp_path: Path) -> None:
    """A sort would hold every matching row, data and all, before the first came back (a schema-8
    workspace gains the index)."""
    path = tmp_path / DB_NAME
    store = Store(path)
    store.db.execute("drop index idx_conversations_sampler_seed_position_kind_id")
    store.db.execute("PRAGMA user_version = 8")
    store.close()
    store = Store(path)
    executed: list[str] = []
    store.db.conn.set_trace_callback(executed.append)
    filters: list[dict[str, str]] = [
        {},
        {"status": "accepted"},
        {"status": "accepted", "teacher": "offline"},
        {"status": "rejected", "kind": "translation"},
        {"kind": "miss-func", "teacher": "offline", "sampler": "graph"},
        {"teacher": "offline"},
    ]
    for given in filters:
        list(store.conversations(**given))
        store.conversation_ids(**given)
    store.db.conn.set_trace_callback(None)
    listings = [sql for sql in executed if "order by sampler, seed, position, kind, id" in sql]
    assert len(listings) == 2 * len(filters)
    for sql in listings:
        plan = " ".join(row[3] for row in store.db.execute("explain query plan " + sql))
        assert "idx_conversations_sampler_seed_position_kind_id" in plan and "TEMP B-TREE" not in plan, sql


def test_a_schema_6_workspace_gains_the_stream_draws_and_mock_checks_tables(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    store = Store(path)
    _fill(store)
    store.db.execute("drop table stream_draws")
    store.db.execute("drop table mock_checks")
    store.db.execute("PRAGMA user_version = 6")
    store.close()
    again = Store(path)
    assert again.version == len(MIGRATIONS) == 9 and again.count("tools") == 98
    assert again.stream_draws("stream-x") == []
    again.add_passed_checks(["a", "b", "a"])
    again.add_passed_checks(["b"])
    assert again.passed_checks() == {"a", "b"}
    again.close()


def test_stream_draws_keep_one_run_of_a_stream_in_draw_order(store: Store) -> None:
    sets = [frozenset({"b", "a"}), frozenset({"c"}), frozenset({"a", "c", "d"})]
    store.add_stream_draws("s1", 0, sets[:2])
    store.add_stream_draws("s1", 2, sets[2:])
    store.add_stream_draws("s2", 0, [frozenset({"z"})])
    assert store.stream_draws("s1") == sets and store.stream_draws("s1", limit=2) == sets[:2]
    assert store.db.execute("select tools from stream_draws where number = 0").fetchall() == [
        ("a b",),
        ("z",),
    ]
    # Writing from number 1 on replaces what followed: the first rows are one run's draws, in order.
    store.add_stream_draws("s1", 1, [frozenset({"e"})])
    assert store.stream_draws("s1") == [sets[0], frozenset({"e"})]
    assert store.stream_draws("s2") == [frozenset({"z"})] and store.stream_draws("none") == []


# -- upserts -------------------------------------------------------------------------------------


def test_upsert_counts_new_updated_unchanged(store: Store) -> None:
    assert (store.count("servers"), store.count("tools")) == (22, 98)
    assert _fill(store) == UpsertCounts(unchanged=98)
    server, tools = _example_records()[5]  # United States Weather
    assert server.name == "United States Weather"
    changed = [
        t.model_copy(update={"description": t.description + " Data from api.weather.gov."}) for t in tools[:2]
    ]
    assert store.upsert_tools(changed + tools[2:]) == UpsertCounts(updated=2, unchanged=len(tools) - 2)
    assert store.count("tools") == 98
    assert _tool(store, changed[0].id).description.endswith(" Data from api.weather.gov.")
    assert store.upsert_server(server) is False
    assert store.count("servers") == 22


def test_annotations_survive_an_unchanged_upsert_and_go_when_the_tool_changes(store: Store) -> None:
    tool = _tool(store, "United States Weather/get_weather_alerts")
    annotated = tool.model_copy(
        update={
            "tags": ["weather", "alerts"],
            "tool_class": "query",
            "output_schema": {"type": "object", "properties": {"alerts": {"type": "array"}}},
        }
    )
    store.update_tool(annotated)
    assert _tool(store, tool.id).tags == ["weather", "alerts"]

    assert store.upsert_tools([tool]) == UpsertCounts(unchanged=1)  # same digest: annotations kept
    kept = _tool(store, tool.id)
    assert (kept.tags, kept.tool_class, kept.output_schema) == (
        annotated.tags,
        "query",
        annotated.output_schema,
    )

    changed = tool.model_copy(update={"description": "Get active weather alerts for a US state."})
    assert changed.id == tool.id and changed.digest != tool.digest
    assert store.upsert_tools([changed]) == UpsertCounts(updated=1)
    fresh = _tool(store, tool.id)
    assert fresh.description == "Get active weather alerts for a US state."
    assert (fresh.tags, fresh.tool_class, fresh.output_schema) == ([], None, None)


# -- search and lookup ---------------------------------------------------------------------------


def test_full_text_search_on_description_words(store: Store) -> None:
    refs = [t.ref for t in store.tools(search="forecast")]
    assert refs == [
        "United States Weather/get_hourly_forecast",
        "United States Weather/get_weather_forecast",
        "Weather/get-forecast",
    ]
    # words only in descriptions ("ASOS" stations; the calculator's "(Dividend)"), and porter stemming
    assert [t.ref for t in store.tools(search="ASOS")] == ["United States Weather/find_weather_stations"]
    assert {t.ref for t in store.tools(search="dividend")} == {
        "Yahoo Finance Data Server/get_dividends",
        "计算器(Calc MCP)/divide",
    }
    assert {t.ref for t in store.tools(search="temperatures")} == {
        "Cooking Units Converter/convert_temperature",
        "Weather MCP Server/get_current_weather",
    }
    assert [t.name for t in store.tools(search="forecast", server="Weather")] == ["get-forecast"]
    assert len(store.tools(search="forecast", limit=2)) == 2
    assert store.tools(search="zeppelin") == []
    # the index follows updates
    tool = _tool(store, "United States Weather/find_weather_stations")
    store.upsert_tools([tool.model_copy(update={"description": "Lists nearby observation posts."})])
    assert store.tools(search="ASOS") == []
    assert [t.ref for t in store.tools(search="posts")] == [tool.ref]


def test_search_text_with_punctuation(store: Store) -> None:
    assert [t.ref for t in store.tools(search="find-place")] == ["Hotel Booking Server/find-place"]


def test_get_tool_by_id_ref_and_unique_name(store: Store) -> None:
    by_ref = _tool(store, "Exa Search/web_search_exa")
    assert (by_ref.server_name, by_ref.name, by_ref.category) == (
        "Exa Search",
        "web_search_exa",
        "Web Search & Research",
    )
    assert _tool(store, by_ref.id) == by_ref
    assert _tool(store, "web_search_exa") == by_ref
    # get_current_weather is a tool of two servers: ambiguous by name, clear with the server
    assert store.get_tool("get_current_weather") is None
    assert _tool(store, "Weather MCP Server/get_current_weather").input_schema["required"] == ["city"]
    assert _tool(store, "United States Weather/get_current_weather").input_schema["required"] == ["location"]
    assert store.get_tool("Exa Search/no_such_tool") is None
    assert store.get_tool("no_such_tool") is None


# -- examples and the call log -------------------------------------------------------------------


def test_examples_round_trip(store: Store) -> None:
    tool = _tool(store, "FrankfurterMCP/convert_currency_latest")
    text = ToolExample(tool_id=tool.id, arguments={"amount": 1}, result="1 EUR = 1.08 USD", latency_s=0.4)
    data = ToolExample(
        tool_id=tool.id,
        arguments={"amount": 2},
        result={"amount": 2, "base": "EUR", "rates": {"USD": 2.16}},
        structured={"rates": {"USD": 2.16}},
    )
    json_text = ToolExample(tool_id=tool.id, arguments={"amount": 3}, result='{"not": "parsed"}')
    error = ToolExample(tool_id=tool.id, arguments={}, is_error=True, error="amount is required")
    for example in (text, data, json_text, error):
        store.add_example(example)
    assert store.examples(tool.id) == [text, data, json_text, error]
    got = store.examples(tool.id)
    assert isinstance(got[0].result, str) and isinstance(got[2].result, str)
    assert got[3].is_error is True and got[3].result is None
    store.add_example(text)  # same tool and arguments: same id, no second row
    assert store.count("tool_examples") == 4
    assert store.examples("unknown") == []


def test_call_log_and_cache(store: Store) -> None:
    request = {"messages": [{"role": "user", "content": "classify get_current_weather"}]}
    failed = LLMCall(key="k1", task="annotate", backend="openai", model="m", request=request, error="timeout")
    ok = LLMCall(
        key="k1",
        task="annotate",
        backend="openai",
        model="m",
        request=request,
        response="query",
        cost_usd=0.01,
    )
    assert store.cached_call("k1") is None
    store.log_call(failed)
    assert store.cached_call("k1") is None  # failures are not a cache hit
    store.log_call(ok)
    assert store.cached_call("k1") == ok
    assert store.calls(task="annotate") == [failed, ok]
    (stats,) = store.call_stats()
    assert (stats["calls"], stats["failures"], stats["cost_usd"]) == (2, 1, 0.01)


def test_batched_call_log_writes_in_batches_and_serves_pending_answers(store: Store, tmp_path) -> None:
    def call(n: int) -> LLMCall:
        return LLMCall(key=f"k{n}", task="t", backend="openai", model="m", request={"n": n}, response=str(n))

    other = Store(store.path)  # another connection sees only what was written
    with store.batched_calls(batch=4):
        for n in range(3):
            store.log_call(call(n))
        assert other.db["llm_calls"].count == 0  # not written yet ...
        assert store.cached_call("k1") == call(1)  # ... but already served from the log
        store.log_call(call(3))
        assert other.db["llm_calls"].count == 4  # a full batch is one write
        store.log_call(call(4))
    assert other.db["llm_calls"].count == 5  # the rest when the block ends
    store.log_call(call(5))
    assert other.db["llm_calls"].count == 6  # outside a block: at once
    assert [c.key for c in other.calls()] == [f"k{n}" for n in range(6)]
    other.close()
