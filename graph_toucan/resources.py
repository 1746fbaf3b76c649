"""Find the files shipped beside the code: prompts, the example catalog and the MCP servers.

In a wheel they live in ``graph_toucan/_data/``; in a source checkout at the repository's top level.
"""

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from graph_toucan.errors import GraphToucanError

_PACKAGE = Path(__file__).resolve().parent
TOUCAN_ENV = "GRAPH_TOUCAN_TOUCAN_DIR"  # the full TOUCAN catalog, for benchmarks and the tests that need it


def data_dir(name: str) -> Path:
    """The folder ``name`` (``prompts`` or ``examples``), wherever this install keeps it."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise GraphToucanError(f"cannot find the bundled '{name}' folder; reinstall graph-toucan (pip install .)")


def example_catalog() -> Path:
    """The bundled slice of the TOUCAN catalog that the quickstart imports."""
    return data_dir("examples") / "toucan" / "mcp_servers"


def server_module(stem: str) -> ModuleType:
    """``server/<stem>/`` (a package) or ``server/<stem>.py`` (an MCP app; the library holds no server
    code), loaded by path from the checkout or from the wheel's ``_data``, once per process."""
    name = f"graph_toucan_server_{stem.removesuffix('_server')}"
    if name in sys.modules:
        return sys.modules[name]
    try:
        folder = data_dir("server")
    except GraphToucanError:
        folder = None
    package = folder / stem / "__init__.py" if folder else None
    if package is not None and package.is_file():
        spec = importlib.util.spec_from_file_location(
            name, package, submodule_search_locations=[str(package.parent)]
        )
    elif folder is not None and (folder / f"{stem}.py").is_file():
        spec = importlib.util.spec_from_file_location(name, folder / f"{stem}.py")
    else:
        raise GraphToucanError(f"cannot find server/{stem}; reinstall graph-toucan (pip install .)")
    if spec is None or spec.loader is None:
        raise GraphToucanError(f"cannot load the MCP server module server/{stem}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        for loaded in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[loaded]
        raise
    return module


def toucan_dir() -> Path | None:
    """The full TOUCAN catalog (the folder holding ``mcp_servers/``) named by GRAPH_TOUCAN_TOUCAN_DIR,
    or None when the variable is not set."""
    raw = os.environ.get(TOUCAN_ENV)
    return Path(raw).expanduser() if raw else None


def toucan_servers() -> Path:
    """``mcp_servers/`` of the full TOUCAN catalog; an error saying what to set when it is not there."""
    root = toucan_dir()
    if root is None or not (root / "mcp_servers").is_dir():
        where = (
            f"{TOUCAN_ENV}={str(root)!r} holds no mcp_servers/ folder" if root else f"{TOUCAN_ENV} is not set"
        )
        raise GraphToucanError(
            f"the full TOUCAN catalog is needed ({where}): set {TOUCAN_ENV} to the folder holding "
            "mcp_servers/, or name the catalog folder on the command line"
        )
    return root / "mcp_servers"
