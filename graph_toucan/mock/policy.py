"""The AST allow-list every mock module must pass before it runs: generated code is untrusted.

A mock may import only a small set of pure modules, and only their public names; it may not name
``open``, ``exec``, ``eval``, ``compile``, ``__import__``, ``globals``, ``getattr`` and friends, touch
any attribute that starts with an underscore (``__class__``, ``__subclasses__``, ``__globals__``,
``random._os``) by attribute, ``match`` class pattern or mapping pattern, reach frames through
generators or tracebacks, hold a dunder name in a string (``update_wrapper(..., assigned=
("__globals__",))``), hide attribute access in a ``str.format`` field at any nesting level, build
classes with ``type(name, bases, dict)``, or set attributes on anything but ``self`` in a method
(so never on an imported module or class). The call process enforces the same module and builtin
lists at run time, with read-only module proxies, so the check and the sandbox cannot drift apart:
both read them from here. The allow-list is the first layer, not the only one
(:mod:`graph_toucan.mock.isolation`).
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import re
import string
import sys
import types
from functools import cache
from pathlib import Path

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
# Public names of allowed modules that still reach attributes by name (Formatter.get_field,
# update_wrapper's ``assigned`` and ``updated``).
_HIDDEN_MODULE_NAMES = {
    "string": {"Formatter"},
    "functools": {"update_wrapper", "wraps", "WRAPPER_ASSIGNMENTS", "WRAPPER_UPDATES"},
}
# A string constant that names a dunder (an attribute or key held in a string: "__globals__").
_DUNDER_TEXT = re.compile(r"__\w+__")
_ALLOWED_DUNDER_TEXT = {"__main__"}

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


@cache
def policy_digest() -> str:
    """What a passed check depends on besides the code: this module's rules and the names the allowed
    modules expose on this Python."""
    rules = Path(__file__).read_bytes() + json.dumps(sandbox_spec(), sort_keys=True).encode()
    return hashlib.sha256(rules + sys.version.encode()).hexdigest()


def check_key(code: str) -> str:
    """The key of a passed check: the code under this policy (other rules or other code, another key)."""
    return hashlib.sha256(f"{policy_digest()}\0{code}".encode()).hexdigest()


def check_code(code: str) -> ast.Module:
    """Parse ``code`` and check it against the allow-list; raise :class:`MockPolicyError` listing every
    violation with its line, or return the parsed module."""
    if len(code) > MAX_CODE_CHARS:
        raise MockPolicyError([f"the code is {len(code)} characters, more than the {MAX_CODE_CHARS} allowed"])
    try:
        tree = ast.parse(code, filename="<mock>")
    except SyntaxError as exc:
        raise MockPolicyError([f"line {exc.lineno}: syntax error: {exc.msg}"]) from None
    checker = _Checker(_module_aliases(tree))
    checker.visit(tree)
    if checker.violations:
        raise MockPolicyError(checker.violations)
    return tree


def _module_aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> allowed module, for every ``import x`` / ``import x as y`` in the module."""
    return {
        alias.asname or alias.name: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name in ALLOWED_MODULES
    }


class _Checker(ast.NodeVisitor):
    def __init__(self, modules: dict[str, str]) -> None:
        self.modules = modules
        self.violations: list[str] = []
        self._class_depth = 0
        self._selves: list[str | None] = []  # per enclosing function: its self parameter, if a method
        self._methods: set[int] = set()  # ids of the functions defined directly in a class body

    def _refuse(self, node: ast.AST, message: str) -> None:
        self.violations.append(f"line {getattr(node, 'lineno', '?')}: {message}")

    def _name(self, node: ast.AST, name: str | None, what: str) -> None:
        """A name that is not an expression (alias, parameter, handler, pattern capture)."""
        if name and name.startswith("__") and name != "__name__":
            self._refuse(node, f"dunder {what} {name!r} is not allowed")
        elif name in FORBIDDEN_NAMES:
            self._refuse(node, f"{what} {name!r} is not allowed")

    def _attribute_name(self, node: ast.AST, attr: str, how: str = "access to") -> None:
        if attr.startswith("_"):
            self._refuse(node, f"{how} the private or dunder attribute {attr!r}")
        elif attr in FORBIDDEN_ATTRIBUTES:
            self._refuse(node, f"{how} the attribute {attr!r}")

    # -- imports ----------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._name(node, alias.asname, "import alias")
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
            self._name(node, alias.asname, "import alias")
            if alias.name == "*":
                self._refuse(node, f"'from {module} import *'; import the names you use")
            elif alias.name not in exposed_names(module):
                self._refuse(node, f"{module}.{alias.name} is not available in the sandbox")

    # -- names, attributes, strings ---------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES:
            self._refuse(node, f"use of {node.id!r} is not allowed")
        elif node.id.startswith("__") and node.id != "__name__":
            self._refuse(node, f"dunder name {node.id!r} is not allowed")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        self._attribute_name(node, attr)
        module = self.modules.get(node.value.id) if isinstance(node.value, ast.Name) else None
        if module and not attr.startswith("_") and attr not in exposed_names(module):
            self._refuse(node, f"{module}.{attr} is not available in the sandbox")
        if attr in ("format", "format_map") and not _plain_format_string(node.value):
            self._refuse(
                node,
                f".{attr}() is allowed only on a string literal without attribute or index fields; "
                "use an f-string",
            )
        if isinstance(node.ctx, ast.Store | ast.Del):
            root = node.value
            if not (isinstance(root, ast.Name) and self._selves and root.id == self._selves[-1]):
                self._refuse(
                    node,
                    f"assignment to the attribute {attr!r} of {ast.unparse(root)[:40]!r}: a mock may set "
                    "attributes only on self, inside a method (modules and classes are read-only)",
                )
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str | bytes):
            text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            names = set(_DUNDER_TEXT.findall(text)) - _ALLOWED_DUNDER_TEXT
            if names:
                self._refuse(node, f"a string naming {sorted(names)[0]!r} (attribute names in strings)")

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # a docstring or a bare string: never used as a name
        self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> None:
        self._name(node.value, node.arg, "keyword argument")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if (
            isinstance(node.func, ast.Name)
            and node.func.id == "type"
            and len(node.args) + len(node.keywords) > 1
        ):
            self._refuse(node, "type() with more than one argument builds a class; use a class statement")
        self.generic_visit(node)

    # -- patterns, handlers, parameters -----------------------------------------------------------
    def visit_MatchClass(self, node: ast.MatchClass) -> None:
        for attr in node.kwd_attrs:
            self._attribute_name(node, attr, "a class pattern matching")
        self.generic_visit(node)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self._name(node, node.rest, "pattern capture")
        for key in node.keys:
            if not (isinstance(key, ast.Constant) and not str(key.value).startswith("_")):
                self._refuse(
                    node, "a mapping pattern may match only literal keys without a leading underscore"
                )
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        self._name(node, node.name, "pattern capture")
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        self._name(node, node.name, "pattern capture")

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self._name(node, node.name, "exception name")
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        self._name(node, node.arg, "parameter")
        self.generic_visit(node)

    # -- definitions ------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if (
            node.name.startswith("__") and not (self._class_depth and node.name in ALLOWED_DUNDER_METHODS)
        ) or node.name in FORBIDDEN_NAMES:
            self._refuse(node, f"definition of {node.name!r} is not allowed")
        in_class = id(node) in self._methods
        params = node.args.posonlyargs + node.args.args
        self._selves.append(params[0].arg if in_class and params else None)
        depth, self._class_depth = self._class_depth, 0  # a class inside a function body is its own
        self.generic_visit(node)
        self._class_depth = depth
        self._selves.pop()

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._selves.append(None)
        self.generic_visit(node)
        self._selves.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if node.name.startswith("__"):
            self._refuse(node, f"class name {node.name!r} is not allowed")
        for keyword in node.keywords:
            self._refuse(node, f"class keyword {keyword.arg!r} (metaclasses are not allowed)")
        self._methods.update(id(s) for s in node.body if isinstance(s, ast.FunctionDef))
        self._class_depth += 1
        self._selves.append(None)
        self.generic_visit(node)
        self._selves.pop()
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
            self._name(node, name, "global")

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        for name in node.names:
            self._name(node, name, "nonlocal")


def _format_fields(text: str, depth: int = 0) -> list[str] | None:
    """Every replacement field of a format string, those nested in format specs included; None when
    it does not parse."""
    if depth > 3:
        return None
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        return None
    fields: list[str] = []
    for _, field, spec, _ in parts:
        if field is not None:
            fields.append(field)
        if spec:
            nested = _format_fields(spec, depth + 1)
            if nested is None:
                return None
            fields.extend(nested)
    return fields


def _plain_format_string(node: ast.expr) -> bool:
    """A string literal whose replacement fields, at every nesting level, name no attribute or index
    (``{0.__class__}``, ``{0:{1.__globals__}}``)."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return False
    fields = _format_fields(node.value)
    return fields is not None and not any("." in field or "[" in field for field in fields)


def defines_main(tree: ast.Module) -> bool:
    """Whether the module defines a top-level function ``main``."""
    return any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)


def calls_external_api(tree: ast.Module) -> bool:
    """Whether the module names ``call_external_api`` anywhere."""
    return any(isinstance(node, ast.Name) and node.id == "call_external_api" for node in ast.walk(tree))
