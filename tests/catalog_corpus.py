"""A corpus of catalog corruptions, each made from a real TOUCAN server file (the bundled example
catalog's, so it runs anywhere), and the harness that imports one beside good files.

Each case names what it does and the outcome expected for the corrupted file itself:

- ``file``: the file (or its server) is skipped, with a reason naming it;
- ``tool``: the first tool is skipped with a reason, the file's other tools are imported;
- ``ok``: every tool of the file is imported (repaired where needed);
- ``filtered``: the file is not imported and that is no defect (a server TOUCAN marks unusable).

Whatever the case, the import must finish (a FIFO must not hang it) and every tool of the good files
beside it must be imported.

    python -m tests.catalog_corpus      # the table: case, expected, got, good tools imported
"""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graph_toucan.catalog import ImportReport, import_entries, read_catalog
from graph_toucan.resources import example_catalog
from graph_toucan.store import Store

BASE = "0633.@maxscheijen_mcp-yahoo-finance_labeled.json"  # 10 tools
GOOD = ("0039.@yokingma_time-mcp_labeled.json", "0113.@isdaniel_mcp_weather_server_labeled.json")
CORRUPT = "0000.corrupt_labeled.json"  # sorts first, as the file that once stopped every import did


def _tools(d: dict[str, Any]) -> list[Any]:
    return d["metadata"]["remote_server_response"]["tools"]


def _first(d: dict[str, Any]) -> dict[str, Any]:
    return _tools(d)[0]


def _nested(depth: int, leaf: Any = None) -> Any:
    value: Any = leaf if leaf is not None else {"type": "string"}
    for _ in range(depth):
        value = {"type": "object", "properties": {"x": value}}
    return value


def _json(d: Any) -> bytes:
    return json.dumps(d, indent=2).encode()


Edit = Callable[[dict[str, Any], bytes], bytes | None]


@dataclass
class Case:
    name: str
    expected: str
    make: Edit | None = None  # (parsed real file, its bytes) -> bytes to write
    special: str | None = None  # "fifo", "folder", "dangling", "sparse": made by the harness


def _set(path: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any) -> Edit:
    def edit(d: dict[str, Any], _raw: bytes) -> bytes:
        path(d)[key] = value
        return _json(d)

    return edit


def _text(edit: Callable[[str], str]) -> Edit:
    return lambda _d, raw: edit(raw.decode()).encode()


def _raw(edit: Callable[[bytes], bytes]) -> Edit:
    return lambda _d, raw: edit(raw)


def _tool_schema(value: Any) -> Edit:
    return _set(_first, "input_schema", value)


def _prop(key: str, value: Any) -> Edit:
    def edit(d: dict[str, Any], _raw: bytes) -> bytes:
        props = _first(d)["input_schema"].setdefault("properties", {})
        props.setdefault("x", {"type": "array", "items": {"type": "string"}})
        props["x"][key] = value
        props["x"]["type"] = "array" if key.endswith("Items") else "string"
        _first(d)["input_schema"]["required"] = [*(_first(d)["input_schema"].get("required") or []), "x"]
        return _json(d)

    return edit


def _tool_item(value: Any) -> Edit:
    def edit(d: dict[str, Any], _raw: bytes) -> bytes:
        _tools(d)[0] = value
        return _json(d)

    return edit


def _surrogate_name(d: dict[str, Any], _raw: bytes) -> bytes:
    _first(d)["name"] = "PLACEHOLDER"
    return _json(d).replace(b'"PLACEHOLDER"', b'"get\\ud800quote"')


def _surrogate_server(d: dict[str, Any], _raw: bytes) -> bytes:
    d["metadata"]["server_name"] = "PLACEHOLDER"
    return _json(d).replace(b'"PLACEHOLDER"', b'"Yahoo \\udc80 Finance"')


def _surrogate_description(d: dict[str, Any], _raw: bytes) -> bytes:
    _first(d)["description"] = "PLACEHOLDER"
    return _json(d).replace(b'"PLACEHOLDER"', b'"quotes \\ud83d of a stock"')


def _surrogate_key(d: dict[str, Any], _raw: bytes) -> bytes:
    _first(d)["input_schema"]["properties"]["PLACEHOLDER"] = {"type": "string"}
    return _json(d).replace(b'"PLACEHOLDER"', b'"sym\\udfffbol"')


def _duplicate(d: dict[str, Any], _raw: bytes) -> bytes:
    _tools(d).insert(1, copy.deepcopy(_first(d)))
    return _json(d)


def _many_properties(d: dict[str, Any], _raw: bytes) -> bytes:
    _first(d)["input_schema"]["properties"] = {f"p{i}": {"type": "string"} for i in range(30_000)}
    return _json(d)


def _deep_file(_d: dict[str, Any], _raw: bytes) -> bytes:
    return b"[" * 100_000 + b"]" * 100_000


CASES = [
    # the file as a whole
    Case("empty file", "file", _raw(lambda r: b"")),
    Case("truncated at half (a killed write)", "file", _raw(lambda r: r[: len(r) // 2])),
    Case("last byte missing", "file", _raw(lambda r: r.rstrip()[:-1])),
    Case("binary garbage", "file", _raw(lambda r: bytes(range(256)) * 8)),
    Case("Latin-1, not UTF-8", "file", _raw(lambda r: r.replace(b'"Get', '"G\u00e9t'.encode("latin-1"), 1))),
    Case("UTF-16", "file", _raw(lambda r: r.decode().encode("utf-16"))),
    Case("UTF-8 with a BOM", "ok", _raw(lambda r: b"\xef\xbb\xbf" + r)),
    Case("CRLF line ends", "ok", _text(lambda t: t.replace("\n", "\r\n"))),
    Case("trailing garbage after the JSON", "file", _raw(lambda r: r + b"\n}{garbage")),
    Case("a JSON list, not an object", "file", lambda d, r: _json([d])),
    Case("JSON null", "file", _raw(lambda r: b"null")),
    Case("a JSON string", "file", _raw(lambda r: b'"a server"')),
    Case("no metadata", "file", lambda d, r: _json({"labels": d["labels"]})),
    Case("metadata is a list", "file", _set(lambda d: d, "metadata", [1, 2])),
    Case("remote response is a string", "file", _set(lambda d: d["metadata"], "remote_server_response", "x")),
    Case(
        "tools is an object",
        "file",
        _set(lambda d: d["metadata"]["remote_server_response"], "tools", {"a": 1}),
    ),
    Case("labels is a list", "file", _set(lambda d: d, "labels", ["finance"])),
    Case("nested 100,000 levels deep (the whole file)", "file", _deep_file),
    Case("a FIFO named *.json", "file", special="fifo"),
    Case("a folder named *.json", "file", special="folder"),
    Case("a dangling symlink", "file", special="dangling"),
    Case("65 MB (sparse), over the file limit", "file", special="sparse"),
    Case("server name with a lone surrogate", "file", _surrogate_server),
    Case(
        "server name of 10,000 characters", "file", _set(lambda d: d["metadata"], "server_name", "Y" * 10_000)
    ),
    Case("server name is a number", "file", _set(lambda d: d["metadata"], "server_name", 12345)),
    Case("usage count is junk", "ok", _set(lambda d: d["metadata"], "usage_count", "lots")),
    Case(
        "NaN where a number goes",
        "ok",
        _raw(lambda r: r.replace(b'"rank_by_usage": ', b'"rank_by_usage": NaN, "x": ', 1)),
    ),
    Case("server marked not connected", "filtered", _set(lambda d: d["labels"], "is_connected", False)),
    # the first tool
    Case("tool name with a lone surrogate", "tool", _surrogate_name),
    Case("tool name of 10,000 characters", "tool", _set(_first, "name", "q" * 10_000)),
    Case("tool without a name", "tool", lambda d, r: (_first(d).pop("name"), _json(d))[1]),
    Case("tool name is a number", "tool", _set(_first, "name", 42)),
    Case("tool is a string", "tool", _tool_item("get_quote")),
    Case("tool is null", "tool", _tool_item(None)),
    Case("duplicate tool", "ok", _duplicate),  # the copy is skipped, every distinct tool imported
    Case("schema nested 200 levels deep", "tool", _tool_schema(_nested(200))),
    Case("schema nested 33 levels deep", "tool", _tool_schema(_nested(33))),
    Case("schema with 30,000 properties", "tool", _many_properties),
    Case("schema key with a lone surrogate", "tool", _surrogate_key),
    Case("schema of type string", "tool", _tool_schema({"type": "string"})),
    Case("schema is a list", "tool", _tool_schema([{"type": "object"}])),
    Case("schema is a JSON string", "ok", _tool_schema(json.dumps({"type": "object", "properties": {}}))),
    Case("schema is a junk string", "tool", _tool_schema("{not json")),
    Case(
        "schema properties is a list (repairable)",
        "ok",
        _tool_schema({"type": "object", "properties": ["a"]}),
    ),
    Case(
        "schema type dict (repairable)",
        "ok",
        _tool_schema({"type": "dict", "properties": {"a": {"type": "int"}}}),
    ),
    Case(
        "remote $ref in the schema",
        "ok",
        _tool_schema({"type": "object", "properties": {"a": {"$ref": "https://example.invalid/s.json"}}}),
    ),
    Case("minItems 1e9", "ok", _prop("minItems", 1e9)),
    Case("minItems 10**12 (an integer)", "ok", _prop("minItems", 10**12)),
    Case("minLength 1e10", "ok", _prop("minLength", 1e10)),
    Case("description of 100,000 characters", "ok", _set(_first, "description", "quote " * 20_000)),
    Case("description with a lone surrogate", "ok", _surrogate_description),
    Case("description is a number", "ok", _set(_first, "description", 7)),
    Case("NUL and control characters in the description", "ok", _set(_first, "description", "a\x00b\x07c")),
    Case("annotations is a string", "ok", _set(_first, "annotations", "readOnly")),
]


@dataclass
class Outcome:
    case: Case
    got: str
    good_imported: int
    good_total: int
    report: ImportReport | None
    error: str | None = None

    @property
    def handled(self) -> bool:
        return self.error is None and self.got == self.case.expected and self.good_imported == self.good_total


def write_case(case: Case, folder: Path) -> Path:
    base = example_catalog() / BASE
    target = folder / CORRUPT
    if case.special == "fifo":
        os.mkfifo(target)
    elif case.special == "folder":
        target.mkdir()
    elif case.special == "dangling":
        target.symlink_to(folder / "nowhere.json")
    elif case.special == "sparse":
        with open(target, "wb") as handle:
            handle.truncate(65 * 2**20)
    else:
        assert case.make is not None
        raw = base.read_bytes()
        target.write_bytes(case.make(json.loads(raw), raw) or b"")
    return target


def good_tool_ids(workspace: Path, folder: Path) -> set[str]:
    """The ids of the tools a clean import of ``folder`` gives."""
    store = Store.open(workspace)
    import_entries(store, read_catalog(folder))
    ids = {t.id for t in store.tools()}
    store.close()
    return ids


def _import(store: Store, folder: Path, timeout: float) -> ImportReport:
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["report"] = import_entries(store, read_catalog(folder))
        except BaseException as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the import did not finish in {timeout:.0f} s")
    if "error" in result:
        raise RuntimeError(result["error"])
    return result["report"]


def run_case(case: Case, tmp: Path, timeout: float = 60.0) -> Outcome:
    """Import the corrupted file beside the good ones; what happened to each."""
    folder, clean = tmp / "catalog", tmp / "clean"
    for f in (folder, clean):
        f.mkdir(parents=True)
    for name in GOOD:
        (clean / name).write_bytes((example_catalog() / name).read_bytes())
        (folder / name).write_bytes((example_catalog() / name).read_bytes())
    write_case(case, folder)
    good_ids = good_tool_ids(tmp / "clean-ws", clean)
    store = Store.open(tmp / "ws")
    try:
        report = _import(store, folder, timeout)
    except (TimeoutError, RuntimeError) as exc:
        return Outcome(case, "error", 0, len(good_ids), None, str(exc))
    imported = {t.id for t in store.tools()}
    store.close()
    mine = imported - good_ids
    skips = [i for i in report.skipped if i.file == CORRUPT]
    tool_skips = [s for s in skips if s.tool is not None]
    if not mine:
        got = "file" if skips and not tool_skips else ("filtered" if not skips else "all tools skipped")
    elif len(mine) == _base_tool_count():
        got = "ok"
    elif tool_skips and len(mine) == _base_tool_count() - len(tool_skips):
        got = "tool"
    else:
        got = f"other ({len(mine)} tools, {len(skips)} skips)"
    return Outcome(case, got, len(good_ids & imported), len(good_ids), report)


def _base_tool_count() -> int:
    return len(_tools(json.loads((example_catalog() / BASE).read_text())))


def main() -> None:
    import tempfile

    handled = 0
    for i, case in enumerate(CASES):
        with tempfile.TemporaryDirectory() as tmp:
            outcome = run_case(case, Path(tmp))
        handled += outcome.handled
        reason = ""
        if outcome.report:
            skips = [str(s) for s in outcome.report.skipped if s.file == CORRUPT]
            reason = skips[0][:110] if skips else ""
        print(
            f"{i + 1:2d} {'ok ' if outcome.handled else 'BAD'} {case.name:45s} expected {case.expected:8s} "
            f"got {outcome.got:8s} good {outcome.good_imported}/{outcome.good_total}  {outcome.error or reason}"
        )
    print(
        f"handled {handled}/{len(CASES)}, good files always imported: "
        f"{'yes' if handled == len(CASES) else 'see above'}"
    )


if __name__ == "__main__":
    main()
