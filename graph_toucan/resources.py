"""Find the files shipped beside the code: prompts and the example catalog.

In a wheel they live in ``graph_toucan/_data/``; in a source checkout at the repository's top level.
"""

from pathlib import Path

from graph_toucan.errors import GraphToucanError

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The folder ``name`` (``prompts`` or ``examples``), wherever this install keeps it."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise GraphToucanError(f"cannot find the bundled '{name}' folder; reinstall graph-toucan (pip install .)")


def example_catalog() -> Path:
    """The bundled slice of the TOUCAN catalog that the quickstart imports."""
    return data_dir("examples") / "toucan" / "mcp_servers"
