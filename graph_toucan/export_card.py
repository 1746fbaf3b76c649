"""The dataset card (``README.md``: Hugging Face front matter, sizes, mixture, catalog, licenses, format
notes, statistics) of an export, and the push of an export folder to the Hugging Face Hub."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from graph_toucan.export_formats import INTRO, SPLITS, ExportError
from graph_toucan.stats import StatsReport, stats_markdown

if TYPE_CHECKING:
    from graph_toucan.export import ExportReport

# -- dataset card and hub ---------------------------------------------------------------------------------------

SOURCE_LICENSES = {
    "toucan": "the TOUCAN MCP-server catalog (github.com/TheAgentArk/Toucan, arXiv 2510.01179): MIT License, "
    "Copyright (c) 2025 Agent Ark",
}
FORMAT_NOTES = {
    "trl": "`messages` + `tools` for TRL's `SFTTrainer` and transformers' `apply_chat_template`: assistant "
    "`tool_calls` with `arguments` as JSON objects (chat templates apply `tojson` to them), `tool` messages "
    "with `tool_call_id` and `name`, and `tools` as a JSON string of OpenAI function definitions (TRL's "
    "trainers `json.loads` it; pass `tools=json.loads(row['tools'])` to `apply_chat_template` yourself).",
    "openai": "`messages` + `tools` for the OpenAI fine-tuning API (upload the JSONL with `--no-metadata`): "
    "`arguments` as JSON strings, as that API wants, `tools` a list. Not for chat templates, which would "
    "encode the strings a second time: use `trl` there.",
    "dpo": "`prompt`, `chosen`, `rejected` (one assistant message each) and `tools`, messages and tools as in "
    "`trl`: TRL's `DPOTrainer` (conversational preference format). One row per preference pair.",
    "sharegpt": "LLaMA-Factory ShareGPT: `conversations` of `human` / `function_call` / `observation` / `gpt` "
    "and `tools` as a JSON string; parallel calls are one JSON list in one `function_call`, their results one "
    'JSON list (call order) in one `observation`. In `dataset_info.json`: `"formatting": "sharegpt"`, '
    '`"columns": {"messages": "conversations", "tools": "tools"}`.',
    "hermes": "Hermes function calling (as TOUCAN trained with): `messages` with the tools in the system prompt "
    "inside `<tools></tools>`, calls as `<tool_call>{json}</tool_call>` in the assistant's text and results as "
    "`<tool_response>{json}</tool_response>` in one `tool` message per step.",
}


JSONL_CONFIGS = ("trl", "dpo")  # arguments as objects: the JSONL, which datasets reads with a Json type


def _size_category(n: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return name
    return "1M<n<10M"


def dataset_card(
    report: ExportReport, stats: StatsReport, *, sources: list[str], license: str | None = None
) -> str:
    """The ``README.md`` of an export: Hugging Face front matter (one config per format), sizes, mixture,
    teachers, catalog, license, format notes and the statistics report."""
    total = sum(report.conversations.values())
    front = [
        "---",
        f"license: {license or 'other'}",
        "pretty_name: graph-toucan function-calling conversations",
        "language:\n- en",
        "task_categories:\n- text-generation",
        "tags:\n- function-calling\n- tool-use\n- multi-turn\n- synthetic\n- mcp",
        f"size_categories:\n- {_size_category(total)}",
        "configs:",
    ]
    for i, fmt in enumerate(report.formats):
        front.append(f"- config_name: {fmt}")
        if i == 0:
            front.append("  default: true")
        front.append("  data_files:")
        for split in SPLITS:
            if report.rows[fmt][split]:
                front += [f"  - split: {split}", f"    path: {_data_files(report, fmt, split)}"]
    front.append("---")
    lines = [
        *front,
        "",
        "# graph-toucan function-calling conversations",
        "",
        "Multi-turn function-calling conversations synthesized by graph-toucan from real "
        "MCP tools: paths sampled on a tool dependency graph, translated by a teacher model, executed against "
        "mock tools, and verified rule by rule. Only accepted (verified) conversations are included.",
        "",
        "## Sizes",
        "",
        "| config | unit | " + " | ".join(SPLITS) + " |",
        "|---|---|" + "---|" * len(SPLITS),
    ]
    for fmt in report.formats:
        unit = "preference pairs" if fmt == "dpo" else "conversations"
        lines.append(f"| {fmt} | {unit} | " + " | ".join(str(report.rows[fmt][s]) for s in SPLITS) + " |")
    share = {k: f"{v} ({v / total:.1%})" for k, v in report.kinds.items()}
    if report.skipped:
        lines += [
            "",
            f"{len(report.skipped)} accepted conversations were skipped (a function withheld again "
            "after being offered, which one tools list per sample cannot express).",
        ]
    if report.dedup and report.dedup.mode != "off":
        d = report.dedup
        lines += [
            "",
            f"Duplicates ({d.mode}: requests casefolded"
            + (", numbers, dates and quoted values replaced" if d.mode == "near" else "")
            + f"): {len(d.dropped)} of {d.families_before} conversation families repeated an earlier "
            f"family's request and were removed ({d.conversations_before - d.conversations_after} "
            "conversations with their pairs). A request is a user message that stands on its own: the "
            "first of a conversation and each later one that neither answers the assistant nor refers "
            "to an earlier turn's result.",
        ]
    if report.one_call:
        lines += [
            "",
            "One call per assistant message: parallel calls are consecutive single-call steps, each followed "
            f"by its result; {report.pairs_without_one_call_form} preference pairs had no such form and were "
            "left out.",
        ]
    lines += [
        "",
        "Splits are by conversation: a refusal variant and every preference pair go to the split of the "
        "conversation they come from (seeded hash of its id, so re-exports keep earlier splits; the family "
        "with the lowest hash when none falls below the share, so validation is never empty when asked for).",
        *(f"\n> Warning: {w}." for w in report.warnings),
        "",
        "## Mixture",
        "",
        "| kind | conversations |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in share.items()),
        "",
        "Samplers: " + ", ".join(f"{k} ({v})" for k, v in report.samplers.items()) + ".  ",
        "Teachers: " + ", ".join(f"`{k}` ({v})" for k, v in report.teachers.items()) + ".",
        "",
        "## Catalog",
        "",
        f"{report.tools_used} tools of {len(report.servers)} MCP servers are called; sources: "
        + (", ".join(sources) or "unknown")
        + ".",
        "",
        "| server | license |",
        "|---|---|",
        *(f"| {name.replace('|', '/')} | {lic or 'not stated'} |" for name, lic in report.servers.items()),
        "",
        "## License",
        "",
        f"Dataset license: {license or 'not chosen by the exporter (other)'}. Tool names, descriptions and "
        "schemas come from "
        + (
            "; ".join(SOURCE_LICENSES.get(s, f"the {s} catalog") for s in sources)
            or "the workspace's catalog"
        )
        + "; each server's own license is listed above.",
        "",
        "## Formats",
        "",
        *(f"- **{fmt}**: {FORMAT_NOTES[fmt]}" for fmt in report.formats),
        "- Functions withheld in a turn (a function the user makes available later): the `tools` of a sample "
        "list only the functions offered from the first turn; a function offered later is defined inside "
        f"`<tools></tools>` after the line `{INTRO}` at the end of the user message that offers it.",
        "- `tools` is a JSON string column (in `openai` a list, for the API) and metadata columns have one type "
        "in every row, so rows whose tool schemas differ never break a loader's type inference. Parquet files "
        "hold the same rows with `tools` and `arguments` as JSON strings; the `trl` and `dpo` configs read the "
        "JSONL, where arguments are objects (`datasets` 4 and later type them `Json`).",
        "- Replay columns: `id`, `kind`, `seed`, `path_id` (the sampled path), `family` (the source "
        "conversation), `sampler`, `teacher`, and `tool_refs` (each function's `server/tool` reference and tool "
        "id, as `graph-toucan mock call` and the mock MCP server take them), `mock_state` and `turn_types` "
        "(what `graph-toucan eval` replays and scores); pairs add `conversation_id`. "
        "Drop them (`--no-metadata`) if a trainer or API objects.",
        "",
        stats_markdown(stats, images="stats", level=2),
    ]
    return "\n".join(lines)


def _data_files(report: ExportReport, fmt: str, split: str) -> str:
    """A config split's files as the card's ``data_files`` names them: the JSONL file, the Parquet file, or
    a pattern for a split written in Parquet shards."""
    if fmt in JSONL_CONFIGS:
        return f"{fmt}/{split}.jsonl"
    sharded = any(p.parent.name == fmt and p.name.startswith(f"{split}-") for p in report.files)
    return f"{fmt}/{split}-*.parquet" if sharded else f"{fmt}/{split}.parquet"


def push_to_hub(
    folder: str | os.PathLike[str], repo: str, *, token: str | None = None, private: bool = False
) -> str:
    """Upload an export folder as a Hugging Face dataset repository; returns its URL. Needs the ``hub``
    extra and a token (argument, ``HF_TOKEN`` or a saved login)."""
    try:
        import huggingface_hub
    except ImportError:
        raise ExportError(
            "pushing to the Hub needs huggingface_hub: pip install huggingface_hub "
            "(in a checkout of graph-toucan: pip install '.[hub]')"
        ) from None
    token = token or huggingface_hub.get_token()
    if not token:
        raise ExportError(
            "no Hugging Face token: set HF_TOKEN or run 'hf auth login', then push again (the export is on disk)"
        )
    try:
        api = huggingface_hub.HfApi(token=token)
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(
            folder_path=str(folder), repo_id=repo, repo_type="dataset", commit_message="graph-toucan export"
        )
    except Exception as exc:  # network, permissions, a bad repository name: all reported the same way
        raise ExportError(f"pushing {folder} to {repo} failed: {exc}") from None
    return f"https://huggingface.co/datasets/{repo}"
