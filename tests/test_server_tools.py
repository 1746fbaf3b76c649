"""The synthesis server's whole workflow as an agent sees it: mocks built over MCP, the bundled mocks
kept beside the workspace's, paths and conversations listed, preference pairs made, and an export with
DPO rows; ids sent as numbers; a server that cannot start says why to the client."""

from __future__ import annotations

import json
from pathlib import Path

from fastmcp import Client

from tests.test_server import HOTELS, built, call, refused, server, stored, workspace  # noqa: F401

WEATHER = "United States Weather/get_current_weather"


async def test_from_import_to_an_export_with_dpo_rows(workspace: Path) -> None:  # noqa: F811
    async with Client(server(workspace)) as client:
        before = await call(client, "run_mock_tool", tool=WEATHER, arguments={"location": "Boston"})
        sampled = await call(client, "sample_fsp", count=4, seed=3, show=0)
        paths = await call(client, "list_paths", seed=3)
        mocks = await call(client, "build_mocks", server="Hotel Booking Server")
        translated = [await call(client, "translate_fsp", path_id=p["id"]) for p in paths["paths"]]
        after = await call(client, "run_mock_tool", tool=WEATHER, arguments={"location": "Boston"})
        listed_paths = await call(client, "list_paths", seed=3, untranslated=True)
        conversations = await call(client, "list_conversations", status="accepted")
        pairs = await call(client, "make_pairs")
        again = await call(client, "make_pairs")
        exported = await call(client, "export_dataset", out="export", formats=["openai", "dpo"])
        listed = await call(client, "list_conversations", kind="translation", limit=1)
    accepted = [t for t in translated if t["status"] == "accepted"]
    assert [p["id"] for p in paths["paths"]] == sampled["path_ids"] and paths["stored_paths"] == 4
    assert all(p["translation"] == "not translated" and p["tools"] for p in paths["paths"])
    assert mocks["built"] and mocks["mocks_in_workspace"] >= len(mocks["built"])
    assert accepted
    # building the workspace's mocks (translate_fsp did, for its paths) keeps every bundled mock
    assert before["mocks"] == after["mocks"] == "bundled" and after["output"] == before["output"]
    assert {p["id"] for p in listed_paths["paths"]} == {t["path_id"] for t in translated} - {
        t["path_id"] for t in accepted
    }
    assert {c["id"] for c in conversations["conversations"]} == {t["id"] for t in accepted}
    assert pairs["new_pairs"] > 0 and pairs["pairs_total"] == pairs["new_pairs"] and pairs["kinds"]
    assert again["new_pairs"] == 0 and again["already_paired"] == len(accepted)
    assert sum(exported["rows"]["dpo"].values()) == pairs["pairs_total"] > 0
    dpo = workspace / "export" / "dpo"
    rows = [
        json.loads(line)
        for f in ("train", "validation")
        for line in (dpo / f"{f}.jsonl").read_text().splitlines()
    ]
    assert len(rows) == pairs["pairs_total"] and all(r["chosen"] != r["rejected"] for r in rows)
    assert listed["total"] == len(translated) and len(listed["conversations"]) == 1
    assert listed["conversations"][0]["pairs"] >= 0


async def test_the_new_tools_refuse_bad_inputs(workspace: Path) -> None:  # noqa: F811
    async with Client(server(workspace)) as client:
        no_pairs = await refused(client, "make_pairs")
        unknown = await refused(client, "make_pairs", conversation="abcd")
        both = await refused(client, "build_mocks", tools=[HOTELS], server="Hotel Booking Server")
        no_server = await refused(client, "build_mocks", server="Nowhere")
        ambiguous = await refused(client, "build_mocks", tools=["get_current_weather"])
        kind = await refused(client, "list_conversations", kind="nonsense")
    assert "no accepted translations to make pairs from; call translate_fsp first" in no_pairs
    assert "no single conversation matches 'abcd'" in unknown and "list_conversations" in unknown
    assert "give tools or server, not both" in both and "no tools of server 'Nowhere'" in no_server
    assert "names 2 tools (United States Weather/get_current_weather, Weather MCP" in ambiguous
    assert "translation" in kind and "irrelevance" in kind


async def test_an_all_digit_id_sent_as_a_number_is_read_as_text(workspace: Path) -> None:  # noqa: F811
    """The MCP Inspector 0.x sends ``path_id=1234`` as the number 1234."""
    async with Client(server(workspace)) as client:
        missing = await refused(client, "translate_fsp", path_id=12345678)
        conversation = await refused(client, "get_conversation", conversation=4321)
    assert "no single path matches '12345678'" in missing
    assert "no single conversation matches '4321'" in conversation


async def test_a_server_that_cannot_start_tells_the_client_why(tmp_path: Path) -> None:
    from graph_toucan.errors import GraphToucanError
    from tests.test_server import synthesis

    config = synthesis.ServerConfig(workspace=tmp_path / "ws", roots=(tmp_path / "missing",))
    try:
        synthesis.preflight(config)
    except GraphToucanError as exc:
        reason = str(exc)
    else:
        raise AssertionError("a missing root passed the preflight")
    async with Client(synthesis.failed_start(reason)) as client:
        tools = await client.list_tools()
        result = await client.call_tool("why_not_started", {}, raise_on_error=False)
        instructions = client.initialize_result.instructions if client.initialize_result else None
    assert [t.name for t in tools] == ["why_not_started"] and "missing is not a folder" in tools[
        0
    ].description
    assert result.is_error and "could not start" in result.content[0].text
    assert "give existing folders with --root" in result.content[0].text
    assert instructions is None or "could not start" in instructions


async def test_an_allowed_live_server_that_cannot_start_is_an_error(tmp_path: Path) -> None:
    """Not "imported 0 servers": the agent learns that the command is missing where the server runs."""
    command = "graph-toucan-no-such-server --stdio"
    async with Client(server(tmp_path / "ws", allowed_commands=(command,))) as client:
        message = await refused(client, "import_catalog", command=command, timeout=5)
    assert message.startswith("nothing was imported: ") and "must be installed there" in message
