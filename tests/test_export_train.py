"""Exports read as trainers read them: every row rendered through the chat templates TRL ships with a
tokenizer built locally, loaded with ``datasets``, and two steps of TRL's SFTTrainer and DPOTrainer on a tiny
random model built in code. Nothing is downloaded.

These need the ``train`` extra (trl, transformers, torch, datasets): pip install -e ".[train]". Without it
they skip; CI installs only the ``test`` extra."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import pytest

for _module in ("trl", "transformers", "torch", "datasets"):
    pytest.importorskip(
        _module, reason=f"{_module} missing: the trainer checks need pip install -e '.[train]'"
    )

from graph_toucan.export import SPLITS, ExportReport, export  # noqa: E402
from graph_toucan.export_check import (  # noqa: E402
    chat_template,
    dpo_smoke,
    local_tokenizer,
    render,
    render_problem,
    render_rows,
    row_texts,
    sft_smoke,
    template_names,
)
from graph_toucan.llm import LLM, OfflineBackend  # noqa: E402
from graph_toucan.pipeline import PipelineConfig, run_pipeline  # noqa: E402
from graph_toucan.refusal import Mixture  # noqa: E402
from graph_toucan.store import Store  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def offline(monkeypatch_module: pytest.MonkeyPatch) -> None:
    monkeypatch_module.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch_module.setenv("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[ExportReport, ExportReport]:
    store = Store.open(tmp_path_factory.mktemp("workspace"))
    config = PipelineConfig(n=25, mixture=Mixture(irrelevance=0.15, miss_func=0.15, miss_params=0.15))
    asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), config))
    out = tmp_path_factory.mktemp("export")
    return (
        export(store, out / "plain", validation_share=0.2),
        export(store, out / "one", ["trl", "dpo"], one_call=True, validation_share=0.2),
    )


def _rows(report: ExportReport, fmt: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for split in SPLITS
        for line in (report.out / fmt / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    ]


def _parallel(rows: list[dict[str, Any]]) -> int:
    return sum(
        1
        for r in rows
        for m in r.get("messages", [*r.get("prompt", []), *r.get("chosen", [])])
        if len(m.get("tool_calls") or []) > 1
    )


def test_trl_ships_the_templates_checked_here() -> None:
    names = template_names()
    assert {"qwen2_5", "qwen3", "llama3_1", "llama3_2", "glm4moe"} <= set(names)


@pytest.mark.parametrize(
    "template", ["qwen2_5", "qwen2_5_training", "qwen3", "qwen3_training", "glm4moe", "gemma4", "lfm2"]
)
def test_every_trl_and_dpo_row_renders_with_arguments_as_objects(
    exports: tuple[ExportReport, ExportReport], template: str
) -> None:
    plain, _ = exports
    for fmt in ("trl", "dpo"):
        rows = _rows(plain, fmt)
        result = render_rows(chat_template(template), rows)
        assert result["passed"] == result["rows"] == len(rows) > 0, (fmt, result["problems"])


@pytest.mark.parametrize("template", ["llama3_1", "llama3_2"])
def test_llama_templates_need_the_one_call_option_and_render_all_with_it(
    exports: tuple[ExportReport, ExportReport], template: str
) -> None:
    plain, one = exports
    rows = _rows(plain, "trl")
    assert _parallel(rows)  # the data has parallel calls, which Llama's templates refuse
    before = render_rows(chat_template(template), rows)
    assert before["passed"] < before["rows"]
    assert any("single tool-calls" in p for p in before["problems"].values())
    for fmt in ("trl", "dpo"):
        split_rows = _rows(one, fmt)
        assert not _parallel(split_rows)
        after = render_rows(chat_template(template), split_rows)
        assert after["passed"] == after["rows"] == len(split_rows) > 0, (fmt, after["problems"])


def test_string_arguments_are_encoded_twice_by_qwen2_5_and_fit_deepseek_v3(
    exports: tuple[ExportReport, ExportReport],
) -> None:
    """The openai rows (arguments as JSON strings, for the OpenAI API) are what templates that concatenate
    strings want, and what templates applying tojson encode twice: the reason trl is its own format."""
    plain, _ = exports
    rows = [r for r in _rows(plain, "openai") if any(m.get("tool_calls") for m in r["messages"])]
    qwen = render_rows(chat_template("qwen2_5"), rows)
    assert qwen["passed"] == 0 and all("encoded twice" in p for p in qwen["problems"].values())
    deepseek = render_rows(chat_template("deepseekv3"), rows)
    assert deepseek["passed"] == deepseek["rows"], deepseek["problems"]
    trl_rows = [r for r in _rows(plain, "trl") if any(m.get("tool_calls") for m in r["messages"])]
    assert render_rows(chat_template("deepseekv3"), trl_rows)["passed"] == 0  # it concatenates strings


def test_hermes_rows_render_through_chatml(exports: tuple[ExportReport, ExportReport]) -> None:
    plain, _ = exports
    rows = _rows(plain, "hermes")
    tokenizer = local_tokenizer(chat_template("chatml"), row_texts(rows), vocab_size=300)
    for row in rows:
        text = render(tokenizer, row)
        assert text.count("<|im_start|>") == len(row["messages"])
        assert all(m["content"] in text for m in row["messages"])


def test_the_render_check_catches_what_it_is_for() -> None:
    row = {
        "messages": [
            {"role": "user", "content": "Rates for CHF"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "rates", "arguments": {"base": "CHF"}},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "name": "rates", "content": '{"eur": 1.05}'},
        ]
    }
    good = 'user Rates for CHF <tool_call>{"name": "rates", "arguments": {"base": "CHF"}}</tool_call> {"eur": 1.05}'
    assert render_problem(good, row) is None
    twice = good.replace('{"base": "CHF"}', json.dumps(json.dumps({"base": "CHF"})))
    assert "encoded twice" in (render_problem(twice, row) or "")
    assert "not in the text" in (render_problem(good.replace("1.05", "2"), row) or "")


def test_datasets_reads_every_format_back_as_written(
    exports: tuple[ExportReport, ExportReport], tmp_path: Path
) -> None:
    from datasets import load_dataset

    plain, _ = exports
    for fmt in plain.formats:
        path = plain.out / fmt / "train.jsonl"
        loaded = load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path))
        assert loaded.to_list() == _rows_of(path), fmt


def _rows_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_sft_and_dpo_trainers_run_two_steps_on_the_export(
    exports: tuple[ExportReport, ExportReport], tmp_path: Path
) -> None:
    plain, _ = exports
    rows = _rows(plain, "trl")
    tokenizer = local_tokenizer(chat_template("qwen2_5_training"), row_texts(rows), vocab_size=1000)
    sft = sft_smoke(  # the training template marks the assistant's tokens, the only ones with a loss
        plain.out / "trl" / "train.jsonl",
        tokenizer,
        tmp_path / "sft",
        max_length=4096,
        assistant_only_loss=True,
    )
    assert sft["steps"] == 2 and math.isfinite(sft["loss"]) and sft["loss"] > 0
    dpo = dpo_smoke(plain.out / "dpo" / "train.jsonl", tokenizer, tmp_path / "dpo", max_length=4096)
    assert dpo["steps"] == 2 and math.isfinite(dpo["loss"]) and dpo["loss"] > 0
