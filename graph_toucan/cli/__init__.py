"""``graph-toucan``: the command line. Each module here adds one group of commands to :data:`app`."""

from __future__ import annotations

import sys

from graph_toucan.cli import (  # noqa: F401  (each registers its commands)
    catalog,
    conversations,
    evaluate,
    export,
    graph,
    mock,
    paths,
    serve,
    shards,
)
from graph_toucan.cli.app import app
from graph_toucan.errors import GraphToucanError

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point: errors as one line and a non-zero exit, never a traceback."""
    try:
        app()
    except GraphToucanError as exc:
        sys.stderr.write(f"error: {' '.join(str(exc).split())}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; rerun the same command to resume\n")
        sys.exit(130)
