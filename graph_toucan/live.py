"""Import from live MCP servers: read ``tools/list`` over stdio or streamable HTTP, and optionally
probe each read-only tool with a few real calls whose results are kept as examples for
output-schema inference."""

from __future__ import annotations

import json
import math
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from graph_toucan.catalog import CatalogEntry, ImportIssue, ImportReport, import_entries
from graph_toucan.errors import LiveServerError
from graph_toucan.ids import canonical_json
from graph_toucan.records import Server, ServerStatus, ToolExample, tool_id
from graph_toucan.schema import example_arguments, example_value
from graph_toucan.store import Store


@dataclass
class LiveTarget:
    """A live server: a stdio command line or a streamable-HTTP URL."""

    command: str | None = None
    url: str | None = None

    @property
    def label(self) -> str:
        return self.command or self.url or "?"

    def client(self, timeout: float) -> Client:
        if self.url:
            return Client(self.url, read_timeout_seconds=timeout)
        argv = shlex.split(self.command or "")
        if not argv:
            raise LiveServerError("an empty --mcp command; give the command that starts the server")
        return Client(StdioServerParameters(command=argv[0], args=argv[1:]), read_timeout_seconds=timeout)


def probe_arguments(schema: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Up to ``n`` distinct argument sets: required only, with optionals, then other enum values."""
    candidates = [example_arguments(schema), example_arguments(schema, include_optional=True)]
    for name, sub in (schema.get("properties") or {}).items():
        for value in (sub.get("enum") or [])[1:] if isinstance(sub, dict) else []:
            candidates.append({**candidates[0], name: value})
    for name, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, dict) and name not in candidates[1]:
            candidates.append({**candidates[1], name: example_value(sub, name)})
    unique = {canonical_json(c): c for c in candidates}
    return list(unique.values())[:n]


def _result_value(result: Any) -> tuple[Any, dict[str, Any] | None, bool]:
    """(content as JSON where it parses, structured content, is_error) of a CallToolResult."""
    texts = [getattr(block, "text", None) for block in result.content or []]
    parts: list[Any] = []
    for text in texts:
        if text is None:
            continue
        try:
            parts.append(json.loads(text))
        except (json.JSONDecodeError, TypeError):
            parts.append(text)
    value = parts[0] if len(parts) == 1 else parts
    return value, result.structured_content, bool(result.is_error)


async def read_live_server(
    target: LiveTarget,
    *,
    timeout: float = 30.0,
    probe: int = 0,
    probe_actions: bool = False,
    call_timeout: float = 10.0,
) -> tuple[CatalogEntry, list[ToolExample], list[ImportIssue]]:
    """List a server's tools (and probe them); raises :class:`LiveServerError` when it fails to answer."""
    issues: list[ImportIssue] = []
    probes: list[ToolExample] = []
    stage = "starting"
    try:
        with anyio.fail_after(timeout) as deadline:
            async with target.client(timeout) as client:
                stage = "tools/list"
                info = client.server_info
                tools: list[Any] = []
                cursor = None
                while True:
                    page = await client.list_tools(cursor=cursor)
                    tools += page.tools
                    cursor = page.next_cursor
                    if not cursor:
                        break
                name = info.name if info and info.name else target.label
                server = Server(
                    name=name,
                    qualified_name=target.label,
                    source="mcp-live",
                    status=ServerStatus.LIVE,
                    overview=(client.instructions or "")[:2000],
                )
                raw = [
                    {
                        "name": t.name,
                        "description": t.description,
                        "input_schema": t.input_schema,
                        "output_schema": t.output_schema,
                        "read_only": t.annotations.read_only_hint if t.annotations else None,
                    }
                    for t in tools
                ]
                entry = CatalogEntry(server, raw, target.label)
                stage = "probing"
                deadline.deadline = math.inf  # listing is done; each probe call has its own timeout
                for tool in raw if probe > 0 else []:
                    if not (tool["read_only"] or probe_actions):
                        issues.append(
                            ImportIssue(
                                target.label,
                                "not probed: not marked read-only (pass --probe-actions to call it anyway)",
                                name,
                                tool["name"],
                            )
                        )
                        continue
                    for arguments in probe_arguments(tool["input_schema"] or {}, probe):
                        example = await _probe(client, tool["name"], arguments, call_timeout)
                        probes.append(
                            example.model_copy(update={"tool_id": tool_id(server.id, tool["name"])})
                        )
    except TimeoutError:
        raise LiveServerError(
            f"MCP server {target.label!r} did not answer within {timeout:.0f}s ({stage}); check that the "
            "command starts an MCP server on stdio (or the URL serves MCP)"
        ) from None
    except LiveServerError:
        raise
    except Exception as exc:  # the SDK raises many kinds (closed streams, JSON-RPC errors, OSError, groups)
        raise LiveServerError(
            f"MCP server {target.label!r} failed during {stage}: {_describe(exc)}; check that the command runs "
            "on its own and speaks MCP"
        ) from None
    return entry, probes, issues


async def _probe(client: Client, tool: str, arguments: dict[str, Any], timeout: float) -> ToolExample:
    started = time.perf_counter()
    try:
        with anyio.fail_after(timeout):
            result = await client.call_tool(tool, arguments, read_timeout_seconds=timeout)
        value, structured, is_error = _result_value(result)
        return ToolExample(
            tool_id="",
            arguments=arguments,
            result=value,
            structured=structured,
            is_error=is_error,
            error=str(value)[:500] if is_error else None,
            latency_s=time.perf_counter() - started,
        )
    except TimeoutError:
        error = f"no answer within {timeout:.0f}s"
    except Exception as exc:
        error = _describe(exc)
    return ToolExample(
        tool_id="", arguments=arguments, is_error=True, error=error, latency_s=time.perf_counter() - started
    )


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def import_live(
    store: Store,
    targets: list[LiveTarget],
    *,
    probe: int = 0,
    probe_actions: bool = False,
    timeout: float = 30.0,
    call_timeout: float = 10.0,
    progress: Callable[[], None] | None = None,
) -> ImportReport:
    """Import each live server; one that fails is reported and skipped, the others are imported."""
    report = ImportReport()
    for target in targets:
        try:
            entry, probes, issues = await read_live_server(
                target, timeout=timeout, probe=probe, probe_actions=probe_actions, call_timeout=call_timeout
            )
        except LiveServerError as exc:
            report.skipped.append(ImportIssue(target.label, str(exc)))
            if progress:
                progress()
            continue
        report.merge(import_entries(store, [entry], progress))
        report.unprobed += issues
        for example in probes:
            store.add_example(example)
            report.examples += 1
    return report
