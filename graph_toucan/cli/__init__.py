"""``graph-toucan``: the command line. Each module here adds one group of commands to :data:`app`."""

from __future__ import annotations

import signal
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
from graph_toucan.console import install, on_interrupt
from graph_toucan.errors import GraphToucanError

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point: errors as one line and a non-zero exit, never a traceback; Ctrl-C as one
    line and exit 130 (see :mod:`graph_toucan.console`)."""
    install()
    try:
        app()
    except GraphToucanError as exc:
        sys.stderr.write(f"error: {' '.join(str(exc).split())}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        on_interrupt(signal.SIGINT, None)
