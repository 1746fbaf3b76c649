"""Catalog readers: TOUCAN's crawled Smithery catalog (folder or JSONL), OpenAI tools lists, MCP
``tools/list`` results and BFCL function docs. Each yields :class:`CatalogEntry` objects (a server and its
raw tools) or :class:`ImportIssue` for what it could not read; :mod:`graph_toucan.catalog` writes them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graph_toucan.catalog_checks import EntryProblem, is_regular, read_catalog_text
from graph_toucan.errors import CatalogError
from graph_toucan.records import Server, ServerStatus

FORMATS = ("toucan", "toucan-jsonl", "openai", "mcp", "bfcl")
_TOUCAN_PREFIX = {"tf_": ServerStatus.TOOLS_INVALID, "cf_": ServerStatus.CONNECT_FAILED}


@dataclass
class ImportIssue:
    file: str
    problem: str
    server: str | None = None
    tool: str | None = None

    def __str__(self) -> str:
        where = " / ".join(x for x in (self.file, self.server, self.tool) if x)
        return f"{where}: {self.problem}"


@dataclass
class CatalogEntry:
    """One server as a source describes it; tools are raw dicts with name, description, input_schema
    (and optionally output_schema, read_only)."""

    server: Server
    tools: list[dict[str, Any]]
    file: str


# -- readers -------------------------------------------------------------------------------------


def _to_int(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.replace(",", "").strip().isdigit():
        return int(value.replace(",", ""))
    return None


def _toucan_status(file_name: str, labels: dict[str, Any]) -> ServerStatus:
    for prefix, status in _TOUCAN_PREFIX.items():
        if file_name.startswith(prefix):
            return status
    if labels.get("is_connected") is False:
        return ServerStatus.CONNECT_FAILED
    if labels.get("is_remote_tool_valid") is False:
        return ServerStatus.TOOLS_INVALID
    return ServerStatus.USABLE


def _toucan_server(status: ServerStatus, fields: dict[str, Any]) -> Server:
    return Server(
        name=fields.get("server_name") or fields.get("name") or fields["qualified_name"],
        qualified_name=fields["qualified_name"],
        source="toucan",
        status=status,
        overview=fields.get("overview") or "",
        primary_label=fields.get("primary_label"),
        secondary_labels=fields.get("secondary_labels") or [],
        custom_label=fields.get("custom_label"),
        usage_rank=_to_int(fields.get("rank_by_usage")),
        usage_count=_to_int(fields.get("usage_count")),
        license=fields.get("license") or None,
        homepage=fields.get("homepage") or None,
        repository_url=fields.get("repository_url") or None,
    )


def _crawled_only(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A connect-failed server's tools come from its web page: no input schema to import."""
    return [
        {
            "name": t.get("name"),
            "description": t.get("description"),
            "input_schema": None,
            "_no_schema": "only crawled from the Smithery page, no live input schema",
        }
        if isinstance(t, dict)
        else t  # build_tools gives the skip reason
        for t in tools
    ]


def _listed(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"{what} is a JSON {type(value).__name__}, not a list")
    return value


def read_toucan_folder(folder: Path, statuses: set[ServerStatus]) -> Iterator[CatalogEntry | ImportIssue]:
    """TOUCAN's ``mcp_servers/*.json``: one server per file, status from the file prefix and labels."""
    for path in sorted(folder.glob("*.json")):
        prefix_status = next((s for p, s in _TOUCAN_PREFIX.items() if path.name.startswith(p)), None)
        if prefix_status is not None and prefix_status not in statuses:
            continue  # skip without parsing: most of the folder is not usable
        try:
            data = json.loads(read_catalog_text(path))
            labels = data.get("labels") or {}
            meta = data["metadata"]
            crawled = meta.get("server_info_crawled") or {}
            status = _toucan_status(path.name, labels)
            if status not in statuses:
                continue
            remote = meta.get("remote_server_response") or {}
            server = _toucan_server(
                status,
                {
                    **crawled,
                    **labels,
                    "server_name": meta.get("server_name") or crawled.get("name"),
                    "qualified_name": crawled.get("author") or crawled.get("name") or path.stem,
                    "rank_by_usage": meta.get("rank_by_usage"),
                    "usage_count": meta.get("usage_count") or crawled.get("usage_count"),
                },
            )
            if status is ServerStatus.CONNECT_FAILED:
                tools = _crawled_only(_listed(crawled.get("tools"), "server_info_crawled.tools"))
            else:
                tools = [
                    {
                        "name": t.get("name"),
                        "description": t.get("description"),
                        "input_schema": t.get("input_schema"),
                        "annotations": t.get("annotations"),
                    }
                    if isinstance(t, dict)
                    else t  # build_tools gives the skip reason
                    for t in _listed(remote.get("tools"), "remote_server_response.tools")
                ]
        except EntryProblem as exc:
            yield ImportIssue(path.name, f"{exc}; fix or remove the file")
            continue
        except (OSError, json.JSONDecodeError, RecursionError) as exc:
            reason = "nested too deeply to parse" if isinstance(exc, RecursionError) else str(exc)
            yield ImportIssue(path.name, f"not readable JSON ({reason}); fix or remove the file")
            continue
        except Exception as exc:
            yield ImportIssue(
                path.name, f"not a TOUCAN server file (missing or wrong field: {type(exc).__name__}: {exc})"
            )
            continue
        yield CatalogEntry(server, tools, path.name)


def read_toucan_jsonl(path: Path, statuses: set[ServerStatus]) -> Iterator[CatalogEntry | ImportIssue]:
    """TOUCAN's derived ``toucan_server_catalog.jsonl``: one server per line."""
    for number, line in _lines(path):
        where = f"{path.name}:{number}"
        try:
            row = json.loads(line)
            status = ServerStatus(row.get("status", "usable"))
            if status not in statuses:
                continue
            server = _toucan_server(status, row)
            tools = [
                {
                    "name": t.get("name"),
                    "description": t.get("description"),
                    "input_schema": t.get("input_schema"),
                    **(
                        {"_no_schema": "only crawled parameters, no JSON schema"}
                        if "input_schema" not in t
                        else {}
                    ),
                }
                if isinstance(t, dict)
                else t  # build_tools gives the skip reason
                for t in row.get("tools") or []
            ]
        except json.JSONDecodeError as exc:
            yield ImportIssue(where, f"not JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            yield ImportIssue(where, "not readable JSON (nested too deeply to parse)")
            continue
        except Exception as exc:
            yield ImportIssue(where, f"not a TOUCAN catalog line (missing or wrong field: {exc})")
            continue
        yield CatalogEntry(server, tools, where)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        text = read_catalog_text(path)
    except EntryProblem as exc:
        raise CatalogError(f"{path}: {exc}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def _plain_server(name: str, source: str) -> Server:
    return Server(name=name, qualified_name=name, source=source, status=ServerStatus.USABLE)


def read_openai_tools(path: Path, server_name: str) -> Iterator[CatalogEntry | ImportIssue]:
    """``[{"type": "function", "function": {name, description, parameters}}]`` (or ``{"tools": [...]}``)."""
    data = _load_json(path)
    items = data.get("tools") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise CatalogError(
            f"{path}: an OpenAI tools file is a JSON list of {{'type': 'function', 'function': ...}}"
        )
    tools = []
    for item in items:
        fn = item.get("function", item) if isinstance(item, dict) else item
        tools.append(
            {
                "name": fn.get("name"),
                "description": fn.get("description"),
                "input_schema": fn.get("parameters", {"type": "object", "properties": {}}),
            }
            if isinstance(fn, dict)
            else fn  # build_tools gives the skip reason
        )
    yield CatalogEntry(_plain_server(server_name, "openai"), tools, path.name)


def read_mcp_tools_list(path: Path, server_name: str) -> Iterator[CatalogEntry | ImportIssue]:
    """An MCP ``tools/list`` result: ``{"tools": [{name, description, inputSchema, outputSchema?}]}``."""
    data = _load_json(path)
    data = data.get("result", data) if isinstance(data, dict) else data  # a whole JSON-RPC response
    if not isinstance(data, dict) or not isinstance(data.get("tools"), list):
        raise CatalogError(f'{path}: an MCP tools/list result is {{"tools": [...]}}')
    tools = [
        {
            "name": t.get("name"),
            "description": t.get("description"),
            "input_schema": t.get("inputSchema"),
            "output_schema": t.get("outputSchema"),
            "read_only": (t.get("annotations") or {}).get("readOnlyHint"),
        }
        if isinstance(t, dict)
        else t  # build_tools gives the skip reason
        for t in data["tools"]
    ]
    yield CatalogEntry(_plain_server(server_name, "mcp-list"), tools, path.name)


def read_bfcl(path: Path, server_name: str) -> Iterator[CatalogEntry | ImportIssue]:
    """BFCL function docs: one ``{name, description, parameters, response}`` per line, whatever the file
    is called (BFCL ships ``multi_turn_func_doc/*.json`` as JSON Lines), or a JSON list of them, with
    Python type names. The description preamble all of a file's functions share ("This tool belongs to
    the Message API, which ... Tool description: ") becomes the server's overview."""
    tools: list[dict[str, Any]] = []
    for number, line in _json_items(path):
        try:
            doc = json.loads(line) if isinstance(line, str) else line
        except json.JSONDecodeError as exc:
            yield ImportIssue(
                f"{path.name}:{number}", f"not JSON ({exc.msg} at column {exc.colno})", server_name
            )
            continue
        for fn in doc if isinstance(doc, list) else [doc]:
            if not isinstance(fn, dict):
                yield ImportIssue(
                    f"{path.name}:{number}", "a function doc must be a JSON object", server_name
                )
                continue
            tools.append(
                {
                    "name": fn.get("name"),
                    "description": fn.get("description"),
                    "input_schema": fn.get("parameters"),
                    "output_schema": fn.get("response"),
                }
            )
    server = _plain_server(server_name, "bfcl")
    server.overview = _shared_preamble([t.get("description") for t in tools])
    yield CatalogEntry(server, tools, path.name)


_PREAMBLE_END = re.compile(r"Tool description:\s*", re.IGNORECASE)


def _shared_preamble(descriptions: list[Any]) -> str:
    """The text before "Tool description:" when every description starts with the same one."""
    heads = set()
    for text in descriptions:
        found = _PREAMBLE_END.search(text) if isinstance(text, str) else None
        if found is None:
            return ""
        heads.add(text[: found.start()].strip())
    return heads.pop() if len(heads) == 1 else ""


def read_bfcl_folder(folder: Path, server_name: str | None = None) -> Iterator[CatalogEntry | ImportIssue]:
    """A folder of BFCL function docs (``multi_turn_func_doc/``): one server per file, named by the file."""
    files = sorted(p for p in folder.iterdir() if p.suffix in (".json", ".jsonl") and is_regular(p))
    if not files:
        raise CatalogError(f"{folder} has no .json or .jsonl function docs")
    for path in files:
        try:
            yield from read_bfcl(path, path.stem)
        except CatalogError as exc:
            yield ImportIssue(path.name, str(exc), path.stem)
        except Exception as exc:
            yield ImportIssue(path.name, f"not a function doc file ({type(exc).__name__}: {exc})", path.stem)


def _json_items(path: Path) -> list[tuple[int, Any]]:
    """``(line number, text)`` for a JSON Lines file, ``(index, item)`` for a JSON list or object."""
    data, lines = _json_or_lines(path)
    if lines is not None:
        return list(lines)
    return list(enumerate(data if isinstance(data, list) else [data], start=1))


def _json_or_lines(path: Path) -> tuple[Any, list[tuple[int, str]] | None]:
    """The file's JSON value, or its non-empty lines when it is JSON Lines: a file whose whole text is
    not one JSON value but whose first line is one is read as JSON Lines, whatever its extension."""
    try:
        text = read_catalog_text(path)
    except EntryProblem as exc:
        raise CatalogError(f"cannot read {path}: {exc}") from None
    try:
        return json.loads(text), None
    except RecursionError:
        raise CatalogError(f"{path} is nested too deeply to parse") from None
    except json.JSONDecodeError as exc:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if exc.msg == "Extra data" or (len(lines) > 1 and _parses(lines[0][1])):
            return None, lines
        raise CatalogError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None


def _load_json(path: Path) -> Any:
    data, lines = _json_or_lines(path)
    if lines is not None:
        raise CatalogError(
            f"{path} holds JSON Lines (one value per line), not one JSON document; "
            "pass --format bfcl for function docs"
        )
    return data


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def detect_format(path: Path) -> str:
    """Guess a catalog's format from its shape; ``--format`` overrides."""
    if path.is_dir():
        return "bfcl" if _is_bfcl_folder(path) else "toucan"
    if path.suffix == ".jsonl":
        first = next(iter(_lines(path)), (0, ""))[1]
        return "toucan-jsonl" if '"qualified_name"' in first or '"tool_schema_source"' in first else "bfcl"
    data, lines = _json_or_lines(path)
    if lines is not None:  # JSON Lines in a .json file: BFCL's own layout
        first = json.loads(lines[0][1]) if _parses(lines[0][1]) else None
        if isinstance(first, dict) and ("qualified_name" in first or "tool_schema_source" in first):
            return "toucan-jsonl"
        return "bfcl"
    if isinstance(data, list) and data and isinstance(data[0], dict) and "function" in data[0]:
        return "openai"
    if isinstance(data, dict) and ("tools" in data or "tools" in (data.get("result") or {})):
        tools = data.get("tools") or data["result"]["tools"]
        return "openai" if tools and isinstance(tools[0], dict) and "function" in tools[0] else "mcp"
    if isinstance(data, dict | list):
        return "bfcl"
    raise CatalogError(f"cannot tell the format of {path}; pass --format ({', '.join(FORMATS)})")


def _is_bfcl_folder(folder: Path) -> bool:
    """A folder whose first doc file holds function docs (``name`` and ``parameters``), not TOUCAN servers."""
    first = next(iter(sorted(p for p in folder.glob("*.json*") if is_regular(p))), None)
    if first is None or first.suffix not in (".json", ".jsonl"):
        return False
    try:
        line = read_catalog_text(first).split("\n", 1)[0]
        doc = json.loads(line)
    except (EntryProblem, json.JSONDecodeError, RecursionError):
        return False  # a pretty-printed file: TOUCAN servers are one indented object per file
    return isinstance(doc, dict) and "name" in doc and "parameters" in doc and "metadata" not in doc


def read_catalog(
    path: Path,
    fmt: str | None = None,
    *,
    statuses: Iterable[ServerStatus] = (ServerStatus.USABLE,),
    server_name: str | None = None,
) -> Iterator[CatalogEntry | ImportIssue]:
    """Entries of the catalog at ``path`` in format ``fmt`` (detected when None)."""
    if not path.exists():
        raise CatalogError(f"catalog {path} does not exist; give a TOUCAN folder or a tools file")
    fmt = fmt or detect_format(path)
    wanted = set(statuses)
    name = server_name or re.sub(r"[_-]?(tools|functions)$", "", path.stem) or path.stem
    if fmt == "toucan":
        return read_toucan_folder(path, wanted)
    if fmt == "bfcl" and path.is_dir():
        return read_bfcl_folder(path)
    if fmt == "toucan-jsonl":
        return read_toucan_jsonl(path, wanted)
    readers = {"openai": read_openai_tools, "mcp": read_mcp_tools_list, "bfcl": read_bfcl}
    if fmt not in readers:
        raise CatalogError(f"unknown catalog format {fmt!r}; use one of {', '.join(FORMATS)}")
    return readers[fmt](path, name)


def count_entries(path: Path, statuses: Iterable[ServerStatus] = (ServerStatus.USABLE,)) -> int | None:
    """How many servers a TOUCAN folder will yield, for a progress bar; None when not known cheaply."""
    if not path.is_dir():
        return None
    wanted = set(statuses)
    return sum(
        1
        for file in path.glob("*.json")
        if next((st for p, st in _TOUCAN_PREFIX.items() if file.name.startswith(p)), ServerStatus.USABLE)
        in wanted
    )
