"""Every hint the project gives names something that exists, and nothing points outside the project.

Walks the texts a user or an agent reads: the CLI's help (every command and option), the string literals
of the library, the CLI and the servers (error messages are among them), the MCP server's instructions,
tool descriptions and input and output schemas, the README and docs/. Checks that

- each quoted ``'graph-toucan ...'`` command names an existing command, with options it has;
- each ``--option`` named in the CLI's help and messages is an option of some command;
- each snake_case name an MCP text mentions is a tool, one of their parameters or result fields;
- no text points at files beside the project (``../shared``, METHOD.md, DESIGN.md).
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import typer
from fastmcp import Client

from graph_toucan.cli import app
from graph_toucan.resources import server_module
from tests.conftest import ROOT

synthesis = server_module("synthesis")

OUTSIDE = re.compile(r"\.\./shared|shared/data/toucan|METHOD\.md|DESIGN\.md")
COMMAND = re.compile(r"['`](graph-toucan [^'`]*)['`]")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]+")
# Options of other programs that the project's texts name (pip, npx, pytest, the Inspector).
FOREIGN_OPTIONS = {"--yes", "--cli", "--method", "--tool-name", "--tool-arg", "--no-deps", "--version"}


def _commands() -> dict[str, set[str]]:
    """``graph-toucan ...`` command path -> its options (the global ones on the root)."""
    found: dict[str, set[str]] = {}

    def walk(command: Any, path: str) -> None:
        found[path] = {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}
        found[path] |= {"--help"}
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "graph-toucan")
    return found


COMMANDS = _commands()
ALL_OPTIONS = set().union(*COMMANDS.values())


def _help_texts() -> Iterator[tuple[str, str]]:
    def walk(command: Any, path: str) -> Iterator[tuple[str, str]]:
        yield path, command.help or ""
        for param in command.params:
            yield f"{path} {'/'.join(param.opts)}", getattr(param, "help", None) or ""
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    yield from walk(typer.main.get_command(app), "graph-toucan")


def _text(node: ast.AST) -> str | None:
    """A string literal's text, an f-string's with X for each value, implicit concatenation included."""
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "X" for v in node.values)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return None if left is None and right is None else f"{left or 'X'}{right or 'X'}"
    return None


def _source_strings(folder: str, *, errors_only: bool = False) -> Iterator[tuple[str, str]]:
    """(file:line, text) of every string literal under ``folder``, or only of the messages given to
    exceptions (``...Error(...)`` calls)."""
    for file in sorted((ROOT / folder).rglob("*.py")):
        tree = ast.parse(file.read_text(encoding="utf-8"))
        where = str(file.relative_to(ROOT))
        for node in ast.walk(tree):
            if errors_only:
                name = (
                    getattr(node.func, "id", getattr(node.func, "attr", ""))
                    if isinstance(node, ast.Call)
                    else ""
                )
                for arg in node.args if name.endswith("Error") else []:  # type: ignore[attr-defined]
                    if (text := _text(arg)) is not None:
                        yield f"{where}:{node.lineno}", text  # type: ignore[attr-defined]
            elif (text := _text(node)) is not None and not isinstance(node, ast.BinOp):
                yield f"{where}:{node.lineno}", text  # type: ignore[attr-defined]


def _schema_texts(schema: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("description", "title") and isinstance(value, str):
                yield where, value
            else:
                yield from _schema_texts(value, f"{where}.{key}")
    elif isinstance(schema, list):
        for i, item in enumerate(schema):
            yield from _schema_texts(item, f"{where}[{i}]")


def _mcp() -> tuple[list[Any], str]:
    async def listing() -> tuple[list[Any], str]:
        async with Client(synthesis.create_server(synthesis.ServerConfig(workspace=ROOT / ".hints-ws"))) as c:
            instructions = c.initialize_result.instructions if c.initialize_result else synthesis.INSTRUCTIONS
            return await c.list_tools(), instructions or ""

    try:
        return asyncio.run(listing())
    finally:
        import shutil

        shutil.rmtree(ROOT / ".hints-ws", ignore_errors=True)


GLOBAL_WITH_VALUE = {
    "-w",
    "--workspace",
    "--teacher",
    "--concurrency",
    "--max-calls",
    "--max-cost",
    "--prices",
    "--teacher-timeout",
    "--teacher-deadline",
    *(f"--teacher-{group}" for group in ("annotate", "judge", "mocks", "values", "translate", "refusal")),
}
PLACEHOLDERS = re.compile(r"^(\.\.\.|[A-Z][A-Z_/]*|X)$")  # 'graph-toucan mock ...', 'paths show ID'


def _bad_command(text: str) -> str | None:
    """Why ``'graph-toucan ...'`` does not name a command and its options, or None when it does (each
    part of an ``&&`` chain is checked)."""
    for part in text.split("&&"):
        words = part.split()
        if not words or words[0] != "graph-toucan":
            continue
        path, k = "graph-toucan", 1
        while k < len(words) and words[k] in GLOBAL_WITH_VALUE:  # global options before the command
            k += 2
        while k < len(words) and f"{path} {words[k]}" in COMMANDS:
            path, k = f"{path} {words[k]}", k + 1
        groups = {c.rsplit(" ", 1)[0] for c in COMMANDS if " " in c}
        named = words[k] if k < len(words) else "-"
        if path in groups and not named.startswith("-") and not PLACEHOLDERS.match(named):
            return f"{path} has no command {named!r}"
        options = COMMANDS[path] | COMMANDS["graph-toucan"]
        for word in words[k:]:
            option = word.split("=")[0]
            if option.startswith("--") and option not in options:
                return f"{path} has no option {option}"
    return None


def test_quoted_commands_exist_with_their_options() -> None:
    texts = [*_help_texts(), *_source_strings("graph_toucan"), *_source_strings("server")]
    for doc in ("README.md", *(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))):
        texts += [(doc, line) for line in (ROOT / doc).read_text(encoding="utf-8").splitlines()]
    checked, bad = set(), []
    for where, text in texts:
        for quoted in COMMAND.findall(text):
            checked.add(quoted)
            if (why := _bad_command(quoted)) is not None:
                bad.append(f"{where}: '{quoted}': {why}")
    assert not bad, "\n".join(bad)
    assert len(checked) > 20  # the walk did find the hints
    assert "graph-toucan mock build" in checked and "graph-toucan conversations list" in checked


def test_options_named_in_help_and_messages_exist() -> None:
    texts = [*_help_texts(), *_source_strings("graph_toucan"), *_source_strings("server")]
    bad = sorted(
        {
            f"{where}: {option}"
            for where, text in texts
            for option in OPTION.findall(text)
            if option not in ALL_OPTIONS | FOREIGN_OPTIONS
        }
    )
    assert not bad, "options named that no command has:\n" + "\n".join(bad)


def test_mcp_texts_name_only_tools_and_their_fields() -> None:
    tools, instructions = _mcp()
    names = {t.name for t in tools}
    fields: set[str] = set()

    def collect(schema: Any) -> None:
        if isinstance(schema, dict):
            fields.update(schema.get("properties", {}))
            for value in schema.values():
                collect(value)
        elif isinstance(schema, list):
            for item in schema:
                collect(item)

    texts = [("instructions", instructions)]
    for tool in tools:
        collect(tool.input_schema)
        collect(tool.output_schema)
        texts.append((tool.name, tool.description or ""))
        texts += list(_schema_texts(tool.input_schema, f"{tool.name}.input"))
        texts += list(_schema_texts(tool.output_schema, f"{tool.name}.output"))
    texts += list(_source_strings("server", errors_only=True))  # the server's error messages
    known = names | fields | {"call_external_api", "mock_tools", "graph_toucan"}
    mentioned = {
        (where, word)
        for where, text in texts
        for word in re.findall(r"(?<![\w./{-])[a-z]+(?:_[a-z]+)+(?![\w(/-])", text)
    }
    bad = sorted(f"{where}: {word}" for where, word in mentioned if word not in known)
    assert {"import_catalog", "build_graph", "translate_fsp", "build_mocks", "list_conversations"} <= {
        word for _, word in mentioned
    }
    assert not bad, "MCP texts name what is neither a tool nor a field:\n" + "\n".join(bad)
    assert {"build_mocks", "make_pairs", "list_paths", "list_conversations"} <= names


def test_nothing_points_outside_the_project() -> None:
    texts = [*_help_texts(), *_source_strings("graph_toucan"), *_source_strings("server")]
    texts += [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in ROOT.glob("prompts/*.md")]
    for doc in ("README.md", "examples/toucan/SOURCE.md", *map(str, (ROOT / "docs").glob("*.md"))):
        path = ROOT / doc
        texts.append((str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")))
    tools, instructions = _mcp()
    texts.append(("instructions", instructions))
    for tool in tools:
        texts.append(
            (f"mcp {tool.name}", json.dumps([tool.description, tool.input_schema, tool.output_schema]))
        )
    found = {(where.split(":")[0], m) for where, text in texts for m in OUTSIDE.findall(text)}
    assert found == set(), sorted(found)
