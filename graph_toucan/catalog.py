"""Catalog import: TOUCAN's crawled Smithery catalog (folder or JSONL), OpenAI tools lists, MCP
``tools/list`` results and BFCL function docs, into the workspace.

Every reader yields :class:`CatalogEntry` objects (a server and its raw tools) or :class:`ImportIssue`
for what it could not read; :func:`import_entries` repairs and validates schemas and writes the rest.
A bad entry never stops an import: it is skipped with an issue naming file, server, tool and defect.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from graph_toucan.catalog_checks import (
    EntryProblem,
    check_name,
    check_schema_shape,
    clean_description,
    shown_name,
)
from graph_toucan.catalog_readers import (
    FORMATS,
    CatalogEntry,
    ImportIssue,
    count_entries,
    detect_format,
    read_bfcl,
    read_bfcl_folder,
    read_catalog,
    read_mcp_tools_list,
    read_openai_tools,
    read_toucan_folder,
    read_toucan_jsonl,
)
from graph_toucan.errors import SchemaError
from graph_toucan.records import Tool
from graph_toucan.schema import normalise_schema
from graph_toucan.store import Store, UpsertCounts

__all__ = [
    "FORMATS",
    "CatalogEntry",
    "ImportIssue",
    "ImportReport",
    "build_tools",
    "count_entries",
    "detect_format",
    "import_entries",
    "read_bfcl",
    "read_bfcl_folder",
    "read_catalog",
    "read_mcp_tools_list",
    "read_openai_tools",
    "read_toucan_folder",
    "read_toucan_jsonl",
]


@dataclass
class ImportReport:
    servers: int = 0
    tools_read: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    repaired: list[ImportIssue] = field(default_factory=list)
    skipped: list[ImportIssue] = field(default_factory=list)
    unprobed: list[ImportIssue] = field(default_factory=list)
    examples: int = 0

    @property
    def imported(self) -> int:
        return self.counts.new + self.counts.updated + self.counts.unchanged

    def merge(self, other: ImportReport) -> None:
        self.servers += other.servers
        self.tools_read += other.tools_read
        self.counts += other.counts
        self.repaired += other.repaired
        self.skipped += other.skipped
        self.unprobed += other.unprobed
        self.examples += other.examples

    def as_dict(self) -> dict[str, Any]:
        return {
            "servers": self.servers,
            "tools_read": self.tools_read,
            "imported": self.imported,
            "new": self.counts.new,
            "updated": self.counts.updated,
            "unchanged": self.counts.unchanged,
            "repaired": len(self.repaired),
            "skipped": len(self.skipped),
            "examples": self.examples,
            "repairs": [str(i) for i in self.repaired],
            "skips": [str(i) for i in self.skipped],
            "unprobed": [str(i) for i in self.unprobed],
        }


# -- writing ---------------------------------------------------------------------------------------


def build_tools(entry: CatalogEntry, report: ImportReport) -> list[Tool]:
    """Valid :class:`Tool` records of one entry; every defect lands in ``report``."""
    tools: list[Tool] = []
    seen: set[str] = set()
    for index, raw in enumerate(entry.tools, start=1):
        report.tools_read += 1
        name = raw.get("name") if isinstance(raw, dict) else None
        name = name.strip() if isinstance(name, str) else None
        issue = _issue_maker(entry, shown_name(name) or f"tool #{index}")
        try:
            tool = _build_tool(entry, raw, name, seen, report, issue)
        except EntryProblem as exc:
            report.skipped.append(issue(f"{exc}; fix the entry and import again"))
            continue
        except Exception as exc:
            report.skipped.append(issue(f"cannot be read ({type(exc).__name__}: {exc})"))
            continue
        if tool is not None:
            seen.add(tool.name)
            tools.append(tool)
    return tools


def _build_tool(
    entry: CatalogEntry,
    raw: Any,
    name: str | None,
    seen: set[str],
    report: ImportReport,
    issue: Callable[[str], ImportIssue],
) -> Tool | None:
    """One tool, or None with its skip reason in ``report``; :class:`EntryProblem` for a bounds defect."""
    if not isinstance(raw, dict):
        raise EntryProblem(f"a tool must be a JSON object, got {type(raw).__name__}")
    if not name:
        report.skipped.append(issue("tool has no name; every tool needs a non-empty 'name'"))
        return None
    check_name(name)
    if raw.get("_no_schema"):
        report.skipped.append(issue(str(raw["_no_schema"])))
        return None
    if name in seen:
        report.skipped.append(issue("duplicate tool name in this server; the first one was kept"))
        return None
    check_schema_shape(raw.get("input_schema"))
    check_schema_shape(raw.get("output_schema"), "output schema")
    try:
        schema, repairs = normalise_schema(raw.get("input_schema"))
        output = _output_schema(raw.get("output_schema"))
    except SchemaError as exc:
        report.skipped.append(issue(f"{exc}; fix the schema and import again"))
        return None
    description = raw.get("description")
    description, cut = clean_description(description.strip() if isinstance(description, str) else "")
    repairs += cut
    if repairs:
        report.repaired.append(issue("; ".join(repairs)))
    annotations = raw.get("annotations") or {}
    read_only = raw.get(
        "read_only", annotations.get("readOnlyHint") if isinstance(annotations, dict) else None
    )
    return Tool(
        server_id=entry.server.id,
        server_name=entry.server.name,
        name=name,
        description=description,
        input_schema=schema,
        output_schema=output,
        category=entry.server.primary_label,
        source=entry.server.source,
        license=entry.server.license,
        read_only=read_only if isinstance(read_only, bool) else None,
    )


def _issue_maker(entry: CatalogEntry, tool: str | None) -> Callable[[str], ImportIssue]:
    return lambda problem: ImportIssue(entry.file, problem, entry.server.name, tool)


def _output_schema(raw: Any) -> dict[str, Any] | None:
    """An output schema as given (BFCL's ``response`` uses Python type names too); None when absent."""
    if not raw:
        return None
    if not isinstance(raw, dict):
        raise SchemaError(f"output schema must be a JSON object, got {type(raw).__name__}")
    schema, _ = normalise_schema(
        raw
        if raw.get("type", "object") in ("object", "dict")
        else {"type": "object", "properties": {"result": raw}}
    )
    return schema


def import_entries(
    store: Store, entries: Iterable[CatalogEntry | ImportIssue], progress: Callable[[], None] | None = None
) -> ImportReport:
    """Write entries, one transaction per server, so a killed import leaves whole servers only and a
    rerun completes it without duplicates."""
    report = ImportReport()
    for entry in entries:
        if progress:
            progress()
        if isinstance(entry, ImportIssue):
            report.skipped.append(entry)
            continue
        try:
            check_name(entry.server.name, "server name")
            tools = build_tools(entry, report)
            with store.transaction():
                store.upsert_server(entry.server)
                report.counts += store.upsert_tools(tools)
        except (EntryProblem, ValueError, TypeError, UnicodeError, sqlite3.Error) as exc:
            # a defect no check above foresaw skips this server (its transaction rolled back), not the import
            report.skipped.append(
                ImportIssue(entry.file, f"server skipped: {exc}", shown_name(entry.server.name))
            )
            continue
        report.servers += 1
    return report
