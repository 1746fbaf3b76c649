"""Dataset exports for trainers: TRL / transformers chat messages (arguments as JSON objects), the OpenAI
fine-tuning API's messages (arguments as JSON strings), TRL DPO pairs, LLaMA-Factory ShareGPT and Hermes
tags; JSONL and Parquet per split, and a dataset card.

Every sample starts from :func:`graph_toucan.messages.turn_messages`. Only accepted conversations are
exported (rejected ones failed verification; they count in the statistics only); one whose functions
cannot be expressed (see below) is skipped and reported, never written half right.

- **Splits** are by conversation *family*: a refusal variant goes where its source conversation goes, and a
  preference pair where its conversation goes, so no trajectory is both trained on and validated against.
  The split of a family is a seeded hash of its root id, so re-exporting a grown workspace keeps every
  earlier conversation in its split.
- **Functions withheld in a turn** (``Turn.unavailable``: miss-func splits and refusals): a sample's tools list
  holds only the functions offered from the first turn; a function offered later is defined, in the
  format's own tool shape inside ``<tools></tools>``, at the end of the user message of the turn that
  makes it available. The model never sees a function before the conversation offers it. A function
  withheld again after being offered has no such form; that conversation is skipped.
- **Arguments**: chat templates (Qwen, Llama, Hermes ...) render ``arguments`` with ``tojson``, so ``trl`` and
  ``dpo`` hold them as JSON objects; only ``openai`` (the OpenAI fine-tuning API) holds JSON strings.
- **Arrow-safe rows**: ``tools`` is a JSON string column in ``trl``, ``dpo`` and ``sharegpt`` (TRL's trainers
  ``json.loads`` it), so rows whose tool schemas differ never break a loader's type inference; the
  metadata columns have one type in every row. ``openai`` keeps the list of tools the API wants.
- **Parquet** has the same rows with every free-form JSON value (``tools``, ``arguments``) as a JSON string
  (Arrow needs one schema per column), as in TOUCAN's own Parquet files; the dataset card points ``trl`` and
  ``dpo`` at the JSONL files, which ``datasets`` reads with the arguments as objects.
- **Duplicates and one-call templates**: see :mod:`graph_toucan.export_prep`.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph_toucan.atomic import write_atomic
from graph_toucan.export_card import dataset_card, push_to_hub
from graph_toucan.export_formats import (
    FORMATS,
    HERMES_SYSTEM,
    INTRO,
    SCHEMAS,
    SFT_RENDER,
    SPLITS,
    ExportError,
    Format,
    SplitWriter,
    ToolShape,
    availability,
    chat_message,
    dpo_sample,
    dpo_samples,
    hermes_sample,
    openai_message,
    openai_sample,
    openai_tool,
    plain_tool,
    row_metadata,
    sharegpt_sample,
    trl_sample,
)
from graph_toucan.export_prep import (
    DEDUP_MODES,
    Dedup,
    DedupEntry,
    DedupReport,
    dedupe,
    family_of,
    one_call_pair,
)
from graph_toucan.records import Conversation
from graph_toucan.stats import compute_stats, write_stats
from graph_toucan.store import Store

__all__ = [
    "FORMATS",
    "HERMES_SYSTEM",
    "INTRO",
    "MIN_VALIDATION_FAMILIES",
    "SCHEMAS",
    "SFT_RENDER",
    "SPLITS",
    "ExportError",
    "ExportReport",
    "Format",
    "ToolShape",
    "availability",
    "chat_message",
    "dataset_card",
    "dpo_sample",
    "dpo_samples",
    "export",
    "hermes_sample",
    "openai_message",
    "openai_sample",
    "openai_tool",
    "plain_tool",
    "plan_splits",
    "push_to_hub",
    "row_metadata",
    "sharegpt_sample",
    "split_of",
    "trl_sample",
]


# -- the export ------------------------------------------------------------------------------------------------


def _family_hash(root_id: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{root_id}".encode()).hexdigest()
    return int(digest[:15], 16) / 16**15


def split_of(root_id: str, seed: int, validation_share: float) -> str:
    """``validation`` for a seeded-hash share of families, else ``train`` (stable as the workspace grows)."""
    return "validation" if _family_hash(root_id, seed) < validation_share else "train"


MIN_VALIDATION_FAMILIES = 5  # fewer validation families than this is too few to measure on: a warning


def plan_splits(roots: Iterable[str], seed: int, validation_share: float) -> tuple[set[str], list[str]]:
    """The families of the validation split, and warnings. A family goes to validation when its seeded
    hash falls below the share (so a grown workspace keeps earlier families where they were); when the
    share asks for validation but no family's hash falls below it, the family with the lowest hash goes
    there, so the split is never empty while there are two families or more."""
    hashes = {root: _family_hash(root, seed) for root in roots}
    chosen = {root for root, h in hashes.items() if h < validation_share}
    warnings: list[str] = []
    if validation_share <= 0 or not hashes:
        return chosen, warnings
    if len(hashes) < 2:
        warnings.append(
            "only 1 conversation family: the validation split is empty (a family and its refusal variants "
            "and pairs stay in one split); make more conversations"
        )
        return set(), warnings
    if not chosen:
        chosen = {min(hashes, key=hashes.__getitem__)}
    if len(chosen) < MIN_VALIDATION_FAMILIES:
        warnings.append(
            f"the validation split holds {len(chosen)} of {len(hashes)} conversation families, too few to "
            f"measure on; make more conversations or raise the validation share"
        )
    return chosen, warnings


@dataclass
class ExportReport:
    """What an export wrote: rows per format and split, the mixture, and where the files are."""

    out: Path
    formats: list[str]
    rows: dict[str, dict[str, int]]
    conversations: dict[str, int]
    kinds: dict[str, int]
    teachers: dict[str, int]
    samplers: dict[str, int]
    servers: dict[str, str | None]
    tools_used: int
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dedup: DedupReport | None = None
    one_call: bool = False
    pairs_without_one_call_form: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "formats": self.formats,
            "rows": self.rows,
            "conversations": self.conversations,
            "kinds": self.kinds,
            "teachers": self.teachers,
            "samplers": self.samplers,
            "servers": self.servers,
            "tools_used": self.tools_used,
            "skipped": self.skipped,
            "seconds": self.seconds,
            "files": [str(p) for p in self.files],
            "warnings": self.warnings,
            "dedup": self.dedup.as_dict() if self.dedup else None,
            "one_call": self.one_call,
            "pairs_without_one_call_form": self.pairs_without_one_call_form,
        }


def export(
    store: Store,
    out: str | os.PathLike[str],
    formats: Iterable[str] = FORMATS,
    *,
    validation_share: float = 0.05,
    seed: int = 0,
    teacher: str | None = None,
    sampler: str | None = None,
    metadata: bool = True,
    license: str | None = None,
    dedup: Dedup = "near",
    one_call: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """Export the accepted conversations (optionally of one teacher or sampler) and their preference pairs
    in ``formats`` to ``out/<format>/<split>.{jsonl,parquet}`` (a large split's Parquet in shards,
    ``<split>-00000-of-00002.parquet`` ...), with ``out/README.md`` (dataset card) and
    ``out/stats/``. ``metadata`` adds the replay columns of :func:`row_metadata` (and ``conversation_id``
    for pairs); ``dedup`` drops families repeating an earlier family's user messages (``exact``, ``near``
    or ``off``); ``one_call`` makes every assistant message carry at most one call (Llama 3.x templates)."""
    chosen = list(dict.fromkeys(formats))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ExportError(f"unknown format(s) {unknown or chosen}; choose from {', '.join(FORMATS)}")
    if not 0.0 <= validation_share < 1.0:
        raise ExportError(f"validation share {validation_share} must be at least 0 and below 1")
    if dedup not in DEDUP_MODES:
        raise ExportError(f"dedup {dedup!r}: choose from {', '.join(DEDUP_MODES)}")
    folder = Path(out)
    try:
        for fmt in chosen:
            (folder / fmt).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot write to {folder}: {exc}; choose another --out") from None
    started = time.perf_counter()
    skipped: dict[str, str] = {}
    expressible: list[DedupEntry] = []
    # Two passes over the store, so no pass holds the conversations: the first keeps of each one its
    # id, family and user-message digests; the second reads the kept ones back in batches and writes.
    for conversation in store.conversations(status="accepted", teacher=teacher):
        if sampler is not None and conversation.sampler != sampler:
            continue
        try:
            availability(conversation)
        except ExportError as exc:
            skipped[conversation.id] = str(exc)
            continue
        expressible.append(DedupEntry.of(conversation, dedup))
    entries, dedup_report = dedupe(expressible, dedup)
    del expressible
    if progress and len(entries) < dedup_report.conversations_before + len(skipped):
        progress(dedup_report.conversations_before + len(skipped) - len(entries))  # not written: done
    validation, warnings = plan_splits(dict.fromkeys(e.family for e in entries), seed, validation_share)
    kept = store.conversations_by_ids(e.id for e in entries)
    writers = {(f, s): SplitWriter(folder / f, f, s) for f in chosen for s in SPLITS}
    seconds: Counter[str] = Counter()
    counts: dict[str, Counter[str]] = {k: Counter() for k in ("split", "kind", "teacher", "sampler")}
    tools: set[str] = set()
    no_one_call_form = 0
    try:
        for conversation in kept:
            split = "validation" if family_of(conversation) in validation else "train"
            meta = row_metadata(conversation) if metadata else {}
            for fmt in chosen:
                t0 = time.perf_counter()
                if fmt == "dpo":
                    pairs = list(store.pairs(conversation_id=conversation.id))
                    if one_call:
                        singles = [one_call_pair(pair) for pair in pairs]
                        no_one_call_form += singles.count(None)
                        pairs = [single for single in singles if single is not None]
                    for pair, row in zip(pairs, dpo_samples(pairs, conversation), strict=True):
                        if metadata:
                            row |= meta | {
                                "id": pair.id,
                                "kind": pair.kind,
                                "conversation_id": conversation.id,
                            }
                        writers[fmt, split].write(row)
                else:
                    writers[fmt, split].write(SFT_RENDER[fmt](conversation, one_call) | meta)
                seconds[fmt] += time.perf_counter() - t0
            counts["split"][split] += 1
            counts["kind"][conversation.kind] += 1
            counts["teacher"][conversation.teacher] += 1
            counts["sampler"][conversation.sampler] += 1
            tools.update(c.tool_id for c in conversation.calls)
            if progress:
                progress(1)
    except BaseException as exc:
        for w in writers.values():
            w.abort(exc)
        raise
    for w in writers.values():
        w.close()
    if not counts["split"]:
        raise ExportError(
            "no accepted conversations to export"
            + (f" for teacher {teacher!r}" if teacher else "")
            + (f" from sampler {sampler!r}" if sampler else "")
            + "; run 'graph-toucan run --n 100' first"
        )
    origins = store.tool_origins()
    server_ids = {origins[t][0] for t in tools if t in origins}
    servers = {s.name: s.license for s in store.servers() if s.id in server_ids}
    sources = sorted({origins[t][1] for t in tools if t in origins})
    report = ExportReport(
        out=folder,
        formats=chosen,
        rows={f: {s: writers[f, s].count for s in SPLITS} for f in chosen},
        conversations={s: counts["split"][s] for s in SPLITS},
        kinds=dict(counts["kind"].most_common()),
        teachers=dict(counts["teacher"].most_common()),
        samplers=dict(counts["sampler"].most_common()),
        servers=dict(sorted(servers.items())),
        tools_used=len(tools),
        seconds={f: round(seconds[f], 3) for f in chosen},
        skipped=skipped,
        files=[p for w in writers.values() for p in (w.jsonl_path, *w.parquet_paths)],
        warnings=warnings,
        dedup=dedup_report,
        one_call=one_call,
        pairs_without_one_call_form=no_one_call_form,
    )
    t0 = time.perf_counter()
    stats = compute_stats(store, teacher=teacher, conversations=_rejected_too(store, teacher, sampler))
    report.files += list(write_stats(stats, folder / "stats").values())
    card = folder / "README.md"
    write_atomic(card, dataset_card(report, stats, sources=sources, license=license))
    report.files.append(card)
    report.seconds["stats_and_card"] = round(time.perf_counter() - t0, 3)
    report.seconds["total"] = round(time.perf_counter() - started, 3)
    return report


def _rejected_too(store: Store, teacher: str | None, sampler: str | None) -> Iterable[Conversation]:
    for c in store.conversations(teacher=teacher):
        if sampler is None or c.sampler == sampler:
            yield c
