"""Exports read back and checked against each format's rules, on conversations the offline pipeline made:
roles in order, every call answered, arguments encoded as the format wants, only offered functions called
(withheld ones never offered early), JSONL and Parquet identical, splits disjoint by conversation family,
counts equal to the store's, and the dataset card and Hub errors."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from graph_toucan import export_formats
from graph_toucan.export import (
    FORMATS,
    INTRO,
    SPLITS,
    ExportError,
    ExportReport,
    availability,
    dpo_sample,
    export,
    plan_splits,
    push_to_hub,
    split_of,
)
from graph_toucan.export_prep import normalise, one_call_pair, request_repeats, requests
from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.pipeline import PipelineConfig, run_pipeline
from graph_toucan.records import Conversation
from graph_toucan.refusal import Mixture
from graph_toucan.store import Store

CLI = [sys.executable, "-c", "from graph_toucan.cli import main; main()"]
TOOLS_BLOCK = re.compile(r"<tools>\n(.*?)\n</tools>", re.DOTALL)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Graph and random-baseline conversations with every refusal kind, and preference pairs."""
    store = Store.open(tmp_path_factory.mktemp("workspace"))
    mixture = Mixture(irrelevance=0.15, miss_func=0.15, miss_params=0.15)
    for sampler, n in (("graph", 30), ("random", 12)):
        config = PipelineConfig(n=n, sampler=sampler, mixture=mixture)  # type: ignore[arg-type]
        asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), config))
    # A teacher that asked for the same thing twice: a path translated again under two other seeds, once
    # word for word and once with other numbers (an exact and a near duplicate of a stored request).
    source = next(
        c
        for c in store.conversations(status="accepted", kind="translation")
        if re.search(r"\d", c.turns[0].user)
    )
    first = source.turns[0].user
    for offset, text in ((1000, first), (2000, re.sub(r"\d+", lambda m: str(int(m[0]) + 7), first))):
        turns = [source.turns[0].model_copy(update={"user": text}), *source.turns[1:]]
        store.add_conversation(source.model_copy(update={"seed": source.seed + offset, "turns": turns}))
    return store


@pytest.fixture(scope="module")
def exported(store: Store, tmp_path_factory: pytest.TempPathFactory) -> ExportReport:
    return export(store, tmp_path_factory.mktemp("export"), validation_share=0.3, seed=7)


@pytest.fixture(scope="module")
def everything(store: Store) -> dict[str, Conversation]:
    return {c.id: c for c in store.conversations(status="accepted")}


@pytest.fixture(scope="module")
def accepted(everything: dict[str, Conversation], exported: ExportReport) -> dict[str, Conversation]:
    """The accepted conversations the export kept (near-duplicate families dropped)."""
    assert exported.dedup is not None
    return {i: c for i, c in everything.items() if (c.source_id or i) not in exported.dedup.dropped}


def _rows(report: ExportReport, fmt: str, split: str) -> list[dict[str, Any]]:
    """The JSONL rows, after checking the Parquet file holds the same rows (tools and arguments there as
    JSON text)."""
    folder = report.out / fmt
    jsonl = [json.loads(line) for line in (folder / f"{split}.jsonl").read_text().splitlines()]
    files = [*folder.glob(f"{split}.parquet"), *sorted(folder.glob(f"{split}-*-of-*.parquet"))]
    assert len(files) == 1 or files[0].name != f"{split}.parquet"  # one file, or shards only
    parquet = [_no_nulls(r) for f in files for r in pq.read_table(f).to_pylist()]
    for row in parquet:
        if "tools" in row:
            assert isinstance(row["tools"], str)
        if fmt == "openai":
            row["tools"] = json.loads(row["tools"])
        if fmt in ("trl", "dpo"):
            for column in ("messages", "prompt", "chosen", "rejected"):
                for m in row.get(column, []):
                    for c in m.get("tool_calls", []):
                        assert isinstance(c["function"]["arguments"], str)
                        c["function"]["arguments"] = json.loads(c["function"]["arguments"])
    assert parquet == jsonl
    return jsonl


def _no_nulls(value: Any) -> Any:
    """Parquet's absent struct fields read back as None; JSONL simply lacks them."""
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value]
    return value


def _all_rows(report: ExportReport, fmt: str) -> dict[str, list[dict[str, Any]]]:
    return {split: _rows(report, fmt, split) for split in SPLITS}


def _available(conversation: Conversation, k: int) -> set[str]:
    return {t.name for t in conversation.tools} - set(conversation.turns[k].unavailable)


def _introduced(text: str) -> list[dict[str, Any]]:
    """Function definitions a user message carries after the INTRO line."""
    if INTRO not in text:
        return []
    block = TOOLS_BLOCK.search(text.split(INTRO, 1)[1])
    assert block, text
    return [json.loads(line) for line in block.group(1).splitlines()]


def _name(tool: dict[str, Any]) -> str:
    return tool["function"]["name"] if "function" in tool else tool["name"]


# -- the data exercises what the formats must express ---------------------------------------------------------


def test_the_data_has_every_kind_withheld_functions_and_parallel_calls(
    accepted: dict[str, Conversation],
) -> None:
    kinds = Counter(c.kind for c in accepted.values())
    assert set(kinds) == {"translation", "miss-func", "miss-params", "irrelevance"}, kinds
    assert any(availability(c)[1] for c in accepted.values())  # a function offered after the first turn
    assert any(len(step) > 1 for c in accepted.values() for t in c.turns for step in t.steps)
    assert {c.sampler for c in accepted.values()} == {"graph", "random"}


# -- openai ---------------------------------------------------------------------------------------------------


def _check_openai_messages(
    messages: list[dict[str, Any]], offered: set[str], conversation: Conversation, *, strings: bool = True
) -> None:
    """Roles in order, calls answered by id, arguments JSON strings equal to the reference, offered functions
    only, and per turn exactly the functions the conversation makes available."""
    reference = {c.id: c for c in conversation.calls}
    offered = set(offered)
    pending: list[str] = []
    previous = None
    k = -1
    for m in messages:
        role = m["role"]
        if role == "user":
            assert previous in (None, "assistant-text") and not pending
            k += 1
            offered |= {_name(t) for t in _introduced(m["content"])}
            assert offered == _available(conversation, k), (conversation.id, k)
            previous = "user"
        elif role == "assistant" and m.get("tool_calls"):
            assert previous in ("user", "tool") and not pending
            for call in m["tool_calls"]:
                arguments = call["function"]["arguments"]
                assert call["type"] == "function" and isinstance(arguments, str if strings else dict)
                assert call["function"]["name"] in offered
                assert (json.loads(arguments) if strings else arguments) == reference[call["id"]].arguments
            pending = [c["id"] for c in m["tool_calls"]]
            previous = "assistant-calls"
        elif role == "tool":
            assert previous in ("assistant-calls", "tool") and pending
            assert m["tool_call_id"] == pending.pop(0)
            assert ("name" in m) == (not strings) and m.get("name", reference[m["tool_call_id"]].name) == (
                reference[m["tool_call_id"]].name
            )
            json.loads(m["content"])
            previous = "tool"
        else:
            assert role == "assistant" and previous in ("user", "tool") and not pending
            assert "tool_calls" not in m and m["content"]
            previous = "assistant-text"
    assert previous == "assistant-text" and k == len(conversation.turns) - 1


@pytest.mark.parametrize("fmt", ["trl", "openai"])
def test_chat_rows_follow_the_chat_format(
    exported: ExportReport, accepted: dict[str, Conversation], fmt: str
) -> None:
    """trl: arguments as objects and tools as a JSON string (chat templates); openai: arguments as JSON
    strings and tools a list (the OpenAI fine-tuning API)."""
    seen = {}
    for split, rows in _all_rows(exported, fmt).items():
        for row in rows:
            conversation = accepted[row["id"]]
            assert row["kind"] == conversation.kind
            tools = json.loads(row["tools"]) if fmt == "trl" else row["tools"]
            assert isinstance(row["tools"], str if fmt == "trl" else list)
            row["tools"] = tools
            names = [t["function"]["name"] for t in row["tools"]]
            assert len(names) == len(set(names))
            assert all(
                t["type"] == "function" and isinstance(t["function"]["parameters"], dict)
                for t in row["tools"]
            )
            _check_openai_messages(row["messages"], set(names), conversation, strings=fmt == "openai")
            seen[row["id"]] = split
    assert set(seen) == set(accepted)  # every accepted conversation, once


def test_withheld_functions_are_defined_where_they_become_available(
    exported: ExportReport, accepted: dict[str, Conversation]
) -> None:
    rows = {r["id"]: r for split in SPLITS for r in _rows(exported, "trl", split)}
    checked = 0
    for cid, conversation in accepted.items():
        _, introduced = availability(conversation)
        if not introduced:
            continue
        row = rows[cid]
        users = [m for m in row["messages"] if m["role"] == "user"]
        for k, tools in introduced.items():
            assert {_name(t) for t in _introduced(users[k]["content"])} == {t.name for t in tools}
            assert users[k]["content"].startswith(conversation.turns[k].user)
            assert not ({t.name for t in tools} & {t["function"]["name"] for t in json.loads(row["tools"])})
            checked += 1
    assert checked


# -- dpo ------------------------------------------------------------------------------------------------------


def test_dpo_rows_follow_trl_preference_format(
    exported: ExportReport, store: Store, accepted: dict[str, Conversation]
) -> None:
    sft_split = {r["id"]: split for split in SPLITS for r in _rows(exported, "openai", split)}
    pairs = {p.id: p for p in store.pairs() if p.conversation_id in accepted}
    seen = set()
    for split, rows in _all_rows(exported, "dpo").items():
        for row in rows:
            pair, conversation = pairs[row["id"]], accepted[row["conversation_id"]]
            assert sft_split[row["conversation_id"]] == split  # a pair goes with its conversation
            # the export renders a conversation's pairs together; each row is that pair's own sample
            assert {k: row[k] for k in ("prompt", "chosen", "rejected", "tools")} == dpo_sample(
                pair, conversation
            )
            assert row["kind"] == pair.kind
            assert len(row["chosen"]) == len(row["rejected"]) == 1
            chosen, rejected = row["chosen"][0], row["rejected"][0]
            assert chosen["role"] == rejected["role"] == "assistant" and chosen != rejected
            prompt = row["prompt"]
            assert prompt[-1]["role"] in ("user", "tool")
            names = {t["function"]["name"] for t in json.loads(row["tools"])}
            offered = names | {
                _name(t) for m in prompt if m["role"] == "user" for t in _introduced(m["content"])
            }
            assert offered == _available(conversation, pair.turn - 1)
            answered = {m["tool_call_id"] for m in prompt if m["role"] == "tool"}
            asked = {c["id"] for m in prompt for c in m.get("tool_calls", [])}
            assert answered == asked
            for call in [c for m in (chosen, rejected) for c in m.get("tool_calls", [])]:
                assert isinstance(call["function"]["arguments"], dict) and call["function"]["name"] in offered
            seen.add(row["id"])
    assert seen == set(pairs) and seen


# -- sharegpt -------------------------------------------------------------------------------------------------


def test_sharegpt_rows_follow_llama_factory_rules(
    exported: ExportReport, accepted: dict[str, Conversation]
) -> None:
    parallel = 0
    for rows in _all_rows(exported, "sharegpt").values():
        for row in rows:
            conversation = accepted[row["id"]]
            assert isinstance(row["tools"], str)
            tools = json.loads(row["tools"])
            assert all(set(t) == {"name", "description", "parameters"} for t in tools)
            offered = {t["name"] for t in tools}
            turns = row["conversations"]
            assert len(turns) % 2 == 0 and turns[-1]["from"] == "gpt"
            k = -1
            for i, turn in enumerate(turns):
                # LLaMA-Factory: human / observation at odd positions, gpt / function_call at even ones
                assert turn["from"] in (("human", "observation") if i % 2 == 0 else ("gpt", "function_call"))
                if turn["from"] == "human":
                    k += 1
                    offered |= {t["name"] for t in _introduced(turn["value"])}
                    assert offered == _available(conversation, k)
                elif turn["from"] == "function_call":
                    value = json.loads(turn["value"])
                    calls = value if isinstance(value, list) else [value]
                    assert all(
                        set(c) == {"name", "arguments"} and isinstance(c["arguments"], dict) for c in calls
                    )
                    assert all(c["name"] in offered for c in calls)
                    result = json.loads(turns[i + 1]["value"])
                    assert turns[i + 1]["from"] == "observation"
                    if isinstance(value, list):
                        parallel += 1
                        assert isinstance(result, list) and len(result) == len(calls) > 1
                elif turn["from"] == "observation":
                    assert turns[i - 1]["from"] == "function_call"
            assert k == len(conversation.turns) - 1
    assert parallel


# -- hermes ---------------------------------------------------------------------------------------------------

TAG = {name: re.compile(rf"<{name}>\n(.*?)\n</{name}>", re.DOTALL) for name in ("tool_call", "tool_response")}


def test_hermes_rows_follow_the_tag_format(exported: ExportReport, accepted: dict[str, Conversation]) -> None:
    for rows in _all_rows(exported, "hermes").values():
        for row in rows:
            conversation = accepted[row["id"]]
            system, *messages = row["messages"]
            assert system["role"] == "system"
            offered = {
                _name(json.loads(line))
                for line in TOOLS_BLOCK.search(system["content"]).group(1).splitlines()
            }
            pending: list[str] = []
            previous, k = "system", -1
            for m in messages:
                calls = [json.loads(c) for c in TAG["tool_call"].findall(m["content"])]
                if m["role"] == "user":
                    assert previous in ("system", "answer") and not calls
                    k += 1
                    offered |= {_name(t) for t in _introduced(m["content"])}
                    assert offered == _available(conversation, k)
                    previous = "user"
                elif m["role"] == "assistant" and calls:
                    assert previous in ("user", "tool")
                    assert m["content"] == "\n".join(
                        f"<tool_call>\n{json.dumps(c, ensure_ascii=False)}\n</tool_call>" for c in calls
                    )
                    assert all(set(c) == {"name", "arguments"} and c["name"] in offered for c in calls)
                    pending, previous = [c["name"] for c in calls], "calls"
                elif m["role"] == "tool":
                    assert previous == "calls"
                    responses = [json.loads(r) for r in TAG["tool_response"].findall(m["content"])]
                    assert [r["name"] for r in responses] == pending
                    pending, previous = [], "tool"
                else:
                    assert (
                        m["role"] == "assistant"
                        and previous in ("user", "tool")
                        and "<tool_call>" not in m["content"]
                    )
                    previous = "answer"
            assert previous == "answer" and k == len(conversation.turns) - 1


# -- splits, counts, options ----------------------------------------------------------------------------------


def test_splits_are_disjoint_by_family_and_counts_match_the_store(
    exported: ExportReport, store: Store, accepted: dict[str, Conversation]
) -> None:
    for fmt in ("trl", "openai", "sharegpt", "hermes"):
        ids = {split: {r["id"] for r in rows} for split, rows in _all_rows(exported, fmt).items()}
        assert ids["train"] and ids["validation"] and not ids["train"] & ids["validation"]
        assert len(ids["train"]) + len(ids["validation"]) == len(accepted)
        family = {split: {accepted[i].source_id or i for i in members} for split, members in ids.items()}
        assert not family["train"] & family["validation"]
        assert exported.rows[fmt] == {s: len(ids[s]) for s in SPLITS}
    assert sum(exported.rows["dpo"].values()) == sum(
        1 for p in store.pairs() if p.conversation_id in accepted
    )
    assert exported.kinds == dict(Counter(c.kind for c in accepted.values()))
    for cid, conversation in accepted.items():  # the split is the family's seeded hash
        split = "train" if cid in {r["id"] for r in _rows(exported, "openai", "train")} else "validation"
        assert split == split_of(conversation.source_id or cid, 7, 0.3)
        break


def test_exports_are_deterministic_and_filterable(
    store: Store, tmp_path: Path, exported: ExportReport
) -> None:
    again = export(store, tmp_path / "again", ["openai", "hermes"], validation_share=0.3, seed=7)
    for fmt in ("openai", "hermes"):
        for split in SPLITS:
            assert (again.out / fmt / f"{split}.jsonl").read_bytes() == (
                exported.out / fmt / f"{split}.jsonl"
            ).read_bytes()
    assert not (again.out / "dpo").exists()
    graph = export(
        store, tmp_path / "graph", ["sharegpt"], sampler="graph", validation_share=0.0, metadata=False
    )
    assert graph.rows["sharegpt"]["validation"] == 0 and graph.samplers == {
        "graph": graph.rows["sharegpt"]["train"]
    }
    rows = _rows(graph, "sharegpt", "train")
    assert rows and all(set(r) == {"conversations", "tools"} for r in rows)


def test_dataset_card_states_sizes_mixture_catalog_license_and_statistics(exported: ExportReport) -> None:
    card = (exported.out / "README.md").read_text()
    front = card.split("---\n")[1]
    for fmt in FORMATS:
        assert f"- config_name: {fmt}" in front
        for split in SPLITS:
            ext = "jsonl" if fmt in ("trl", "dpo") else "parquet"  # arguments as objects: the JSONL
            assert f"path: {fmt}/{split}.{ext}" in front and (exported.out / fmt / f"{split}.{ext}").exists()
        assert (
            f"| {fmt} | "
            + ("preference pairs" if fmt == "dpo" else "conversations")
            + " | "
            + " | ".join(str(exported.rows[fmt][s]) for s in SPLITS)
            in card
        )
    for kind, count in exported.kinds.items():
        assert f"| {kind} | {count} (" in card
    assert exported.dedup is not None and exported.dedup.dropped
    assert f"{len(exported.dedup.dropped)} of {exported.dedup.families_before} conversation families" in card
    assert "Teachers: `offline`" in card and "MIT License, Copyright (c) 2025 Agent Ark" in card
    assert all(f"| {name} |" in card for name in exported.servers)
    assert "## Comparison" in card and "| MAGNET (published) |" in card and "](stats/turns.png)" in card
    for plot in ("turns", "calls_per_conversation", "turn_types", "dependency_types"):
        assert (exported.out / "stats" / f"{plot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_large_split_goes_into_parquet_shards_that_replace_the_earlier_files(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_formats, "ROWS_PER_GROUP", 3)
    monkeypatch.setattr(export_formats, "ROW_GROUPS_PER_FILE", 2)
    out = tmp_path / "out"
    sharded = export(store, out, ["openai", "dpo"], validation_share=0.3, seed=7)
    for fmt in ("openai", "dpo"):
        for split in SPLITS:
            groups = math.ceil(sharded.rows[fmt][split] / 3)
            k = math.ceil(groups / 2)
            files = sorted((out / fmt).glob(f"{split}*.parquet"))
            assert [f.name for f in files] == [f"{split}-{i:05d}-of-{k:05d}.parquet" for i in range(k)]
            assert [pq.ParquetFile(f).metadata.num_row_groups for f in files] == [2] * (groups // 2) + [1] * (
                groups % 2
            )
            assert (
                len(_rows(sharded, fmt, split)) == sharded.rows[fmt][split]
            )  # the shards hold the JSONL's rows
        assert sharded.rows[fmt]["train"] > 6  # more than one shard
    front = (out / "README.md").read_text().split("---\n")[1]
    assert "path: openai/train-*.parquet" in front and "path: dpo/train.jsonl" in front
    monkeypatch.undo()
    again = export(store, out, ["openai"], validation_share=0.3, seed=7)
    assert sorted(p.name for p in (out / "openai").glob("*.parquet")) == [
        "train.parquet",
        "validation.parquet",
    ]
    assert "path: openai/train.parquet" in (out / "README.md").read_text()
    assert _rows(again, "openai", "train") and not list(out.rglob("*.tmp"))


def test_export_errors_say_what_to_do(tmp_path: Path, store: Store) -> None:
    with pytest.raises(ExportError, match="no accepted conversations"):
        export(Store.open(tmp_path / "empty"), tmp_path / "out")
    with pytest.raises(ExportError, match="unknown format"):
        export(store, tmp_path / "out", ["alpaca"])
    with pytest.raises(ExportError, match=r"no accepted conversations.*teacher"):
        export(store, tmp_path / "out", teacher="anthropic/none")


def test_push_to_hub_without_the_library_or_a_token_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, exported: ExportReport, store: Store
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if the hub extra were not installed
    with pytest.raises(ExportError, match=r"pip install huggingface_hub"):
        push_to_hub(exported.out, "someone/dataset")
    monkeypatch.undo()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH")
    }
    env |= {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [
            *CLI,
            "-w",
            str(store.workspace),
            "export",
            "-o",
            str(tmp_path / "out"),
            "-f",
            "openai",
            "--push-to-hub",
            "someone/dataset",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert "no Hugging Face token" in done.stderr or "pip install huggingface_hub" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert (tmp_path / "out" / "openai" / "train.jsonl").exists()  # the export itself is kept


def test_a_function_withheld_again_after_being_offered_is_skipped_not_misrendered(
    accepted: dict[str, Conversation], store: Store, tmp_path: Path
) -> None:
    conversation = next(c for c in accepted.values() if len(c.turns) > 1 and availability(c)[0])
    offered = availability(conversation)[0][0].name
    last = conversation.turns[-1].model_copy(update={"unavailable": [offered]})
    broken = conversation.model_copy(update={"turns": [*conversation.turns[:-1], last]})
    with pytest.raises(ExportError, match="after offering it"):
        availability(broken)


def test_a_small_share_still_gives_a_validation_family_with_a_warning(store: Store, tmp_path: Path) -> None:
    """No family hashes below 0.1%: the lowest-hash family goes to validation, and the report warns."""
    report = export(store, tmp_path / "tiny", ["openai"], validation_share=0.001, seed=7)
    validation = _rows(report, "openai", "validation")
    assert report.conversations["validation"] >= 1 and validation
    assert report.dedup is not None  # the split is planned over the families the export keeps
    families = [f for f in store.conversation_families(status="accepted") if f not in report.dedup.dropped]
    chosen, _ = plan_splits(families, 7, 0.001)
    assert len(chosen) == 1 and {r["id"] for r in validation} <= {
        c.id for c in store.conversations(status="accepted") if (c.source_id or c.id) in chosen
    }
    assert any("too few to measure on" in w for w in report.warnings)
    none = export(store, tmp_path / "none", ["openai"], validation_share=0.0, seed=7)
    assert none.conversations["validation"] == 0 and none.warnings == []


def test_split_plans_keep_hashed_families_and_refuse_to_split_one_family() -> None:
    roots = [f"{i:016x}" for i in range(200)]
    chosen, warnings = plan_splits(roots, 3, 0.2)
    assert chosen == {r for r in roots if split_of(r, 3, 0.2) == "validation"} and warnings == []
    assert 20 < len(chosen) < 60
    single, warned = plan_splits(roots[:1], 3, 0.5)
    assert single == set() and "only 1 conversation family" in warned[0]


def test_translations_carry_the_mock_state_they_started_and_ended_with(store, tmp_path):
    export(store, tmp_path, ["openai"], validation_share=0.0)
    rows = [json.loads(line) for line in (tmp_path / "openai" / "train.jsonl").read_text().splitlines()]
    translations = [r for r in rows if r["kind"] == "translation"]
    assert translations and all("mock_state" in r for r in translations)
    for row in translations:
        state = json.loads(row["mock_state"])
        assert state["initial"] == {"records": {}, "deleted": {}, "seen_ids": []}
        assert set(state["final"]) == {"records", "deleted", "seen_ids"}
    parquet = pq.read_table(tmp_path / "openai" / "train.parquet").to_pylist()
    assert [r["mock_state"] for r in parquet] == [r.get("mock_state") for r in rows]


# -- duplicates, one call per message, splits, replay metadata ------------------------------------------------


def test_normalise_tells_exact_from_near_duplicates() -> None:
    a, b = (
        'Convert  100 USD to EUR for "Trip A" on 2026-05-01?',
        "convert 250 usd to eur for 'Trip B' on 2026-06-02",
    )
    assert normalise(a, "exact") != normalise(b, "exact")
    assert normalise(a, "near") == normalise(b, "near")
    assert normalise("What's the weather in Boston?", "near") != normalise(
        "What's the weather in Paris?", "near"
    )
    assert normalise("Hello   World", "exact") == normalise("hello world", "exact")


def test_no_request_repeats_across_families_within_or_across_splits(
    exported: ExportReport, everything: dict[str, Conversation], accepted: dict[str, Conversation]
) -> None:
    before = request_repeats(everything.values(), "near")
    after = request_repeats(accepted.values(), "near")
    assert before[1] > 0 and after[1] == 0, (before, after)  # the data had repeats; the export has none
    d = exported.dedup
    assert d is not None and d.mode == "near"
    assert d.conversations_before == len(everything) and d.conversations_after == len(accepted)
    assert d.families_after == len({c.source_id or c.id for c in accepted.values()})

    def family_requests(root: str, pool: dict[str, Conversation]) -> set[str]:
        return {
            normalise(t, "near") for c in pool.values() if (c.source_id or c.id) == root for t in requests(c)
        }

    for dropped, kept in d.dropped.items():  # each dropped family repeats a request of a kept one
        assert family_requests(dropped, everything) & family_requests(kept, accepted)
    by_split: dict[str, set[str]] = {}
    for split in SPLITS:  # the rows' own user messages: each conversation's requests are among them
        for row in _rows(exported, "trl", split):
            users = [m["content"].split(INTRO)[0].strip() for m in row["messages"] if m["role"] == "user"]
            wanted = requests(everything[row["id"]])
            assert set(wanted) <= set(users)
            by_split.setdefault(split, set()).update(normalise(t, "exact") for t in wanted)
    assert by_split["validation"] and not by_split["train"] & by_split["validation"]


def test_requests_leave_out_replies_and_references(everything: dict[str, Conversation]) -> None:
    """Replies to the assistant and turns that use an earlier turn's result are not requests; the first
    turn always is."""
    replies = references = 0
    for c in everything.values():
        wanted = requests(c)
        assert wanted[0] == c.turns[0].user
        kept = {i for i, t in enumerate(c.turns) if i == 0 or t.user in wanted[1:]}
        planned = {p.id: i for i, t in enumerate(c.turns) for p in t.planned}
        referring = {
            planned[d.target]
            for d in c.dependencies
            if d.input and d.output and planned.get(d.source, 99) < planned.get(d.target, -1)
        }
        for i in range(1, len(c.turns)):
            reply = c.turns[i - 1].type == "empty"
            replies += reply
            references += i in referring
            if reply or i in referring:
                assert c.turns[i].user not in wanted[1:] or c.turns[i].user == c.turns[0].user
            else:
                assert i in kept
    assert replies and references  # the data has both kinds of turn


def test_near_dedup_keeps_the_words_between_apostrophes() -> None:
    """Contractions and possessives are not quotes: only a quoted value becomes a placeholder."""
    a = "While we're at it, could you check the chromium commit for that pstree's file path?"
    b = "While we're at it, could you look up the project for that stock's symbol?"
    assert normalise(a, "near") != normalise(b, "near")
    assert "chromium commit" in normalise(a, "near")
    assert normalise("Search for 'red shoes' please", "near") == normalise(
        "Search for 'blue hats' please", "near"
    )


def test_exact_dedup_removes_fewer_than_near_and_off_removes_none(store: Store, tmp_path: Path) -> None:
    counts = {}
    for mode in ("off", "exact", "near"):
        report = export(store, tmp_path / mode, ["trl"], dedup=mode, validation_share=0.3)  # type: ignore[arg-type]
        assert report.dedup is not None
        counts[mode] = len(report.dedup.dropped)
        assert sum(report.rows["trl"].values()) == report.dedup.conversations_after
    assert counts["off"] == 0 and counts["exact"] <= counts["near"] and counts["near"] > 0, counts
    with pytest.raises(ExportError, match="dedup"):
        export(store, tmp_path / "bad", ["trl"], dedup="fuzzy")  # type: ignore[arg-type]


def test_one_call_per_message_keeps_every_call_and_result_in_order(
    store: Store, tmp_path: Path, accepted: dict[str, Conversation]
) -> None:
    report = export(store, tmp_path / "one", ["trl", "dpo", "hermes"], one_call=True, validation_share=0.3)
    parallel = 0
    for split in SPLITS:
        for row in _rows(report, "trl", split):
            conversation = accepted[row["id"]]
            calls = [c for m in row["messages"] for c in m.get("tool_calls", [])]
            assert [c["id"] for c in calls] == [c.id for c in conversation.calls]
            parallel += sum(1 for t in conversation.turns for s in t.steps if len(s) > 1)
            for i, m in enumerate(row["messages"]):
                if m.get("tool_calls"):
                    assert len(m["tool_calls"]) == 1
                    answer = row["messages"][i + 1]
                    assert answer["role"] == "tool" and answer["tool_call_id"] == m["tool_calls"][0]["id"]
        for row in _rows(report, "dpo", split):
            for m in [*row["prompt"], *row["chosen"], *row["rejected"]]:
                assert len(m.get("tool_calls", [])) <= 1
            assert row["chosen"] != row["rejected"]
            asked = [c["id"] for m in row["prompt"] for c in m.get("tool_calls", [])]
            assert asked == [m["tool_call_id"] for m in row["prompt"] if m["role"] == "tool"]
    assert parallel  # the data had parallel steps to split
    pairs = sum(1 for p in store.pairs() if p.conversation_id in accepted)
    assert sum(report.rows["dpo"].values()) + report.pairs_without_one_call_form == pairs


def test_a_pair_whose_sides_share_leading_parallel_calls_contrasts_the_first_difference(
    store: Store, accepted: dict[str, Conversation]
) -> None:
    pair = next(p for p in store.pairs() if p.conversation_id in accepted and len(p.chosen.tool_calls) > 1)
    first, *rest = pair.chosen.tool_calls
    changed = rest[0].model_copy(update={"arguments": {**rest[0].arguments, "x": 1}})
    variant = pair.model_copy(
        update={"rejected": pair.chosen.model_copy(update={"tool_calls": [first, changed, *rest[1:]]})}
    )
    single = one_call_pair(variant)
    assert single is not None
    assert single.chosen.tool_calls == [rest[0]] and single.rejected.tool_calls == [changed]
    assert single.prefix[-2].tool_calls == [first] and single.prefix[-1].tool_call_id == first.id
    extra = pair.model_copy(
        update={"rejected": pair.chosen.model_copy(update={"tool_calls": [*pair.chosen.tool_calls, first]})}
    )
    assert one_call_pair(extra) is None  # one side only adds a call: no one-call form


@pytest.mark.parametrize("share", [0.01, 0.05])
def test_validation_is_never_empty_when_asked_for_and_warns_when_small(share: float) -> None:
    roots = [f"family-{i}" for i in range(12)]
    for seed in range(5):
        validation, warnings = plan_splits(roots, seed, share)
        assert validation and validation <= set(roots)
        assert warnings and "too few" in warnings[0]
    assert plan_splits(roots, 0, 0.0) == (set(), [])
    validation, warnings = plan_splits(["only"], 0, 0.2)
    assert not validation and "only 1 conversation family" in warnings[0]
    many = [f"f{i}" for i in range(400)]
    validation, warnings = plan_splits(many, 3, 0.2)
    assert not warnings and validation == {r for r in many if split_of(r, 3, 0.2) == "validation"}


def test_an_export_with_a_tiny_share_still_has_a_validation_split(store: Store, tmp_path: Path) -> None:
    report = export(store, tmp_path / "tiny", ["trl"], validation_share=0.001, seed=4)
    assert report.rows["trl"]["validation"] >= 1 and report.warnings
    assert "too few" in (report.out / "README.md").read_text()


def test_rows_carry_what_a_replay_needs(exported: ExportReport, accepted: dict[str, Conversation]) -> None:
    for fmt in ("trl", "openai", "sharegpt", "hermes"):
        for row in _rows(exported, fmt, "train"):
            conversation = accepted[row["id"]]
            assert (row["seed"], row["path_id"], row["sampler"], row["teacher"]) == (
                conversation.seed,
                conversation.path_id,
                conversation.sampler,
                conversation.teacher,
            )
            assert row["family"] == (conversation.source_id or conversation.id)
            assert row["tool_refs"] == [
                {"name": t.name, "tool": t.tool, "tool_id": t.tool_id} for t in conversation.tools
            ]
            assert all("/" in r["tool"] for r in row["tool_refs"])
    for row in _rows(exported, "dpo", "train"):
        assert (
            row["tool_refs"]
            and row["conversation_id"] in accepted
            and row["seed"] == accepted[row["conversation_id"]].seed
        )
