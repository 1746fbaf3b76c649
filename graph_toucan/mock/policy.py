"""The AST allow-list every mock module must pass before it runs (docs/design.md: generated code is untrusted).

A mock may import only a small set of pure modules, and only their public names; it may not name
``open``, ``exec``, ``eval``, ``compile``, ``__import__``, ``globals``, ``getattr`` and friends, touch
any attribute that starts with an underscore (``__class__``, ``__subclasses__``, ``__globals__``,
``random._os``), reach frames through generators or tracebacks, or hide attribute access in a
``str.format`` field. The worker process enforces the same module and builtin lists at run time, so
the check and the sandbox cannot drift apart: both read them from here.
"""

from __future__ import annotations

import ast
import importlib
import string
import types
from functools import cache

from graph_toucan.mock.errors import MockPolicyError

ALLOWED_MODULES = (
    "math",
    "json",
    "re",
    "datetime",
    "random",
    "statistics",
    "decimal",
    "fractions",
    "itertools",
    "functools",
    "collections",
    "string",
)
# Public names of allowed modules that still reach attributes by name.
_HIDDEN_MODULE_NAMES = {"string": {"Formatter"}}

SAFE_BUILTINS = (
    "abs",
    "all",
    "any",
    "ascii",
    "bin",
    "bool",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "complex",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "format",
    "frozenset",
    "hash",
    "hex",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "list",
    "map",
    "max",
    "min",
    "next",
    "object",
    "oct",
    "ord",
    "pow",
    "print",
    "property",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "zip",
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "Exception",
    "IndexError",
    "KeyError",
    "LookupError",
    "NotImplementedError",
    "OverflowError",
    "RuntimeError",
    "StopIteration",
    "TypeError",
    "UnicodeError",
    "ValueError",
    "ZeroDivisionError",
    "NotImplemented",
    "Ellipsis",
)

FORBIDDEN_NAMES = frozenset(
    {
        "open",
        "exec",
        "eval",
        "compile",
        "globals",
        "locals",
        "vars",
        "dir",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "input",
        "breakpoint",
        "help",
        "exit",
        "quit",
        "memoryview",
        "bytearray",
        "BaseException",
        "SystemExit",
        "KeyboardInterrupt",
        "GeneratorExit",
    }
)
# Attributes that lead from ordinary objects to frames, code or globals without a leading underscore.
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "cr_frame",
        "cr_code",
        "cr_await",
        "ag_frame",
        "ag_code",
        "ag_await",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "f_trace",
        "tb_frame",
        "tb_next",
        "mro",
    }
)
# Dunder methods a class in a mock may define (they are never *accessed* by the mock itself).
ALLOWED_DUNDER_METHODS = frozenset(
    {
        "__init__",
        "__repr__",
        "__str__",
        "__eq__",
        "__ne__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__hash__",
        "__len__",
        "__iter__",
        "__contains__",
        "__getitem__",
        "__bool__",
    }
)
MAX_CODE_CHARS = 200_000


@cache
def exposed_names(module: str) -> frozenset[str]:
    """The names a mock sees of an allowed module: public, not submodules, not hidden."""
    mod = importlib.import_module(module)
    hidden = _HIDDEN_MODULE_NAMES.get(module, set())
    return frozenset(
        name
        for name in dir(mod)
        if not name.startswith("_")
        and name not in hidden
        and not isinstance(getattr(mod, name), types.ModuleType)
    )


def sandbox_spec() -> dict[str, object]:
    """What the worker needs to rebuild the same allow-list at run time (sent at its start-up)."""
    return {
        "modules": {name: sorted(exposed_names(name)) for name in ALLOWED_MODULES},
        "builtins": list(SAFE_BUILTINS),
    }


def check_code(code: str) -> ast.Module:
    """Parse ``code`` and check it against the allow-list; raise :class:`MockPolicyError` listing every
    violation with its line, or return the parsed module."""
    if len(code) > MAX_CODE_CHARS:
        raise MockPolicyError([f"the code is {len(code)} characters, more than the {MAX_CODE_CHARS} allowed"])
    try:
        tree = ast.parse(code, filename="<mock>")
    except SyntaxError as exc:
        raise MockPolicyError([f"line {exc.lineno}: syntax error: {exc.msg}"]) from None
    checker = _Checker()
    checker.visit(tree)
    if checker.violations:
        raise MockPolicyError(checker.violations)
    return tree


class _Checker(ast.NodeVisitor):
    def __init__(self) -> None:
        self.violations: list[str] = []
        self._class_depth = 0

    def _refuse(self, node: ast.AST, message: str) -> None:
        self.violations.append(f"line {getattr(node, 'lineno', '?')}: {message}")

    # -- imports ----------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name not in ALLOWED_MODULES:
                self._refuse(node, f"import of {alias.name!r} (allowed: {', '.join(ALLOWED_MODULES)})")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or module not in ALLOWED_MODULES:
            self._refuse(
                node, f"import from {'.' * node.level}{module!r} (allowed: {', '.join(ALLOWED_MODULES)})"
            )
            return
        for alias in node.names:
            if alias.name == "*":
                self._refuse(node, f"'from {module} import *'; import the names you use")
            elif alias.name not in exposed_names(module):
                self._refuse(node, f"{module}.{alias.name} is not available in the sandbox")

    # -- names and attributes ---------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES:
            self._refuse(node, f"use of {node.id!r} is not allowed")
        elif node.id.startswith("__") and node.id != "__name__":
            self._refuse(node, f"dunder name {node.id!r} is not allowed")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("_"):
            self._refuse(node, f"access to the private or dunder attribute {attr!r}")
        elif attr in FORBIDDEN_ATTRIBUTES:
            self._refuse(node, f"access to the attribute {attr!r}")
        elif attr in ("format", "format_map") and not _plain_format_string(node.value):
            self._refuse(
                node,
                f".{attr}() is allowed only on a string literal without attribute or index fields; "
                "use an f-string",
            )
        self.generic_visit(node)

    # -- definitions ------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name.startswith("__") and not (self._class_depth and node.name in ALLOWED_DUNDER_METHODS):
            self._refuse(node, f"definition of {node.name!r} is not allowed")
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if node.name.startswith("__"):
            self._refuse(node, f"class name {node.name!r} is not allowed")
        for keyword in node.keywords:
            self._refuse(node, f"class keyword {keyword.arg!r} (metaclasses are not allowed)")
        self._class_depth += 1
        self.generic_visit(node)
        self._class_depth -= 1

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._refuse(node, "async functions are not allowed; main() is a plain function")

    def visit_Await(self, node: ast.Await) -> None:
        self._refuse(node, "await is not allowed")

    def visit_AsyncFor(self, node: ast.AsyncFor) -> None:
        self._refuse(node, "async for is not allowed")

    def visit_AsyncWith(self, node: ast.AsyncWith) -> None:
        self._refuse(node, "async with is not allowed")

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            if name.startswith("__"):
                self._refuse(node, f"global {name!r} is not allowed")


def _plain_format_string(node: ast.expr) -> bool:
    """A string literal whose replacement fields name no attribute or index (``{0.__class__}``)."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return False
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(node.value) if field]
    except ValueError:
        return False
    return not any("." in field or "[" in field for field in fields)


def defines_main(tree: ast.Module) -> bool:
    """Whether the module defines a top-level function ``main``."""
    return any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)


def calls_external_api(tree: ast.Module) -> bool:
    """Whether the module names ``call_external_api`` anywhere."""
    return any(isinstance(node, ast.Name) and node.id == "call_external_api" for node in ast.walk(tree))
