"""The ``graph-toucan`` console script: Ctrl-C handling first, then the command line.

The handler is installed before the command line's (heavy) imports, so a Ctrl-C at any moment prints
one line, exits 130 and never shows a traceback. Every stage keeps its work in the store
(transactions) and on disk (atomic writes), so stopping there is as safe as a kill and a rerun resumes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType

_GLOBAL_VALUE_OPTIONS = {
    "-w",
    "--workspace",
    "--teacher",
    "--concurrency",
    "--max-calls",
    "--max-cost",
    "--prices",
}


def interrupted_line(argv: list[str]) -> str:
    """The one line a Ctrl-C prints: the command, the stage of a run, and that a rerun resumes."""
    pipeline = sys.modules.get("graph_toucan.pipeline")  # never imported from a signal handler
    stage = getattr(pipeline, "current_stage", None)
    words, args = [], iter(argv[1:])
    for arg in args:
        if arg in _GLOBAL_VALUE_OPTIONS:
            next(args, None)
        elif not arg.startswith("-"):
            words.append(arg)
            break
    command = " ".join(["graph-toucan", *words])
    where = f" in stage {stage}" if stage else ""
    return f"interrupted: {command}{where}; rerun the same command to resume (nothing done is lost)\n"


def on_interrupt(_signum: int, _frame: FrameType | None) -> None:
    """One line on stderr and exit 130, straight from the handler: no library gets a KeyboardInterrupt
    to catch, swallow or print as a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(OSError):
        os.write(2, interrupted_line(sys.argv).encode("utf-8", "replace"))
    os._exit(130)


def install() -> None:
    """Take over Ctrl-C unless someone (a test runner, an embedding program) already has."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, on_interrupt)


def main() -> None:
    install()
    from graph_toucan.cli import main as cli_main

    cli_main()
