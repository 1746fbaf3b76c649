"""``graph-toucan eval``: score a model turn by turn against the mock tools on held-out conversations.

    from graph_toucan.evaluate import run_eval
    from graph_toucan.evaluate.models import make_model

    summary = asyncio.run(run_eval(make_model("reference"), data=Path("dataset"), out=Path("eval")))
    summary["accuracy"]  # 1.0: the harness's self-check

Modules: :mod:`~graph_toucan.evaluate.data` (rows of an export as conversations to replay),
:mod:`~graph_toucan.evaluate.models` (chat with tools: OpenAI, Anthropic, the reference),
:mod:`~graph_toucan.evaluate.scoring` (one turn against the reference, BFCL-style),
:mod:`~graph_toucan.evaluate.runner` (playing conversations against the mocks, resumable) and
:mod:`~graph_toucan.evaluate.report` (the summary, Markdown and JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from graph_toucan.evaluate.data import EvalConversation, load_conversations
from graph_toucan.evaluate.models import ChatModel
from graph_toucan.evaluate.report import summarize, write_report
from graph_toucan.evaluate.runner import Mocks, ResultStore, evaluate
from graph_toucan.mock.files import bundled_mock_folder, read_mock_folder
from graph_toucan.mock.sandbox import Limits, SandboxPool
from graph_toucan.records import MockTool

__all__ = [
    "EVAL",
    "EVAL_HELP",
    "EvalConversation",
    "EvalDefaults",
    "default_mocks",
    "load_conversations",
    "run_eval",
]


@dataclass(frozen=True)
class EvalDefaults:
    """The settings of a run, by the names run_eval, ``graph-toucan eval`` and the synthesis server's
    evaluate_model all give them: their defaults (with :data:`EVAL_HELP`, what they mean) in one place."""

    split: Literal["validation", "train", "all"] = "validation"
    concurrency: int = 4
    max_steps: int = 10
    most_steps: int = 50  # the most model replies per turn either front end accepts


EVAL = EvalDefaults()
EVAL_HELP = {
    "limit": "At most this many conversations.",
    "concurrency": "Conversations in flight.",
    "max_steps": "Model replies per turn at most.",
}


def default_mocks(workspace_mocks: list[MockTool] | None = None) -> list[MockTool]:
    """The bundled mocks of the example catalog, overridden by a workspace's accepted mocks (a tool the
    workspace built a mock for gets that one), as the synthesis server serves them."""
    by_tool = {m.tool.id: m for m in read_mock_folder(bundled_mock_folder())}
    by_tool.update({m.tool.id: m for m in workspace_mocks or [] if m.status == "accepted"})
    return list(by_tool.values())


async def run_eval(
    model: ChatModel,
    *,
    data: Path,
    out: Path,
    split: str = EVAL.split,
    limit: int | None = None,
    concurrency: int = EVAL.concurrency,
    max_steps: int = EVAL.max_steps,
    mocks: list[MockTool] | None = None,
    pool: SandboxPool | None = None,
    workers: int = 2,
    timeout: float = 5.0,
    shown: int = 5,
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` on ``data``'s ``split``, store each scored conversation in ``out/eval.db``
    (a rerun skips them) and write ``out/report.{json,md}``; returns the summary (this split's
    conversations, earlier runs' included). ``total`` hears the number of conversations first."""
    conversations = load_conversations(data, split, limit)
    if total:
        total(len(conversations))
    store = ResultStore(out, {"model": model.label, "data": str(data.resolve()), "split": split})
    own = pool is None
    pool = pool or SandboxPool(workers, Limits(wall_s=timeout))
    try:
        outcome = await evaluate(
            conversations,
            model,
            Mocks(pool, mocks if mocks is not None else default_mocks()),
            store,
            concurrency=concurrency,
            max_steps=max_steps,
            progress=progress,
        )
        results = store.results({c.id for c in conversations})
    finally:
        if own:
            await pool.close()
        store.close()
        await model.aclose()
    summary = summarize(results, model=model.label, data=str(data), split=split)
    summary |= {
        "complete": len(results) == len(conversations),
        "scored_now": outcome.scored,
        "resumed": outcome.resumed,
        "failed": outcome.failed,
        "unmocked": outcome.unmocked,
        "stopped": outcome.stopped,
        "usage": {
            "requests": model.requests,
            "input_tokens": model.input_tokens,
            "output_tokens": model.output_tokens,
            "cost_usd": round(model.cost_usd, 6),
        },
        "seconds": outcome.seconds,
        "files": [str(out / n) for n in ("report.json", "report.md", "eval.db")],
    }
    write_report(out, summary, results, shown)
    return summary
