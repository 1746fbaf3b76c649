"""The eval stage: score a model turn by turn against the mock tools on an exported dataset."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastmcp import Context
from fastmcp.exceptions import ToolError
from pydantic import BaseModel, Field

from graph_toucan.evaluate import EVAL, EVAL_HELP, default_mocks, run_eval
from graph_toucan.evaluate.models import make_model

from .app import services, synthesis_tool
from .inputs import LIST_CAP, PathText
from .progress import Progress, now, record


class EvalResult(BaseModel):
    model: str
    conversations: int = Field(description="Conversations scored (this run and earlier ones in the folder).")
    accuracy: float = Field(description="Share of conversations with every turn correct.")
    accuracy_by_kind: dict[str, float] = Field(
        description="translation, miss-func, miss-params, irrelevance."
    )
    turn_accuracy: float
    turn_types: dict[str, dict[str, float]] = Field(description="Turns and accuracy per turn type.")
    roles: dict[str, dict[str, float]] = Field(
        description="Turns where the reference acts, asks or declines."
    )
    checks: dict[str, float] = Field(description="Share of turns passing each check.")
    final_state: float = Field(description="Share of conversations ending in the reference's mock state.")
    complete: bool = Field(description="Every conversation of the split is scored (else call again).")
    scored_now: int
    resumed: int
    failed: dict[str, str] = Field(description="Conversations whose model calls failed (first 50).")
    stopped: str | None = Field(description="Why the run stopped early (a spent budget), if it did.")
    usage: dict[str, float]
    files: list[str] = Field(description="report.md, report.json (worst transcripts) and eval.db.")


@synthesis_tool(open_world=True, title="Evaluate a model")
async def evaluate_model(
    ctx: Context,
    data: Annotated[PathText, Field(description="An export folder (export_dataset's out), trl or openai.")],
    out: Annotated[
        PathText, Field(description="Report folder inside the workspace or an allowed root (e.g. 'eval').")
    ],
    model: Annotated[
        str,
        Field(
            max_length=200,
            pattern=r"^(reference|(openai|anthropic)/.+)$",
            description="reference (the dataset's own calls: the harness's self-check, 100%), openai/NAME "
            "or anthropic/NAME (keys and OPENAI_BASE_URL from the server's environment).",
        ),
    ] = "reference",
    split: Annotated[Literal["validation", "train", "all"], Field(description="Which split.")] = EVAL.split,
    limit: Annotated[int | None, Field(ge=1, le=100_000, description=EVAL_HELP["limit"])] = None,
    concurrency: Annotated[int, Field(ge=1, le=64, description=EVAL_HELP["concurrency"])] = EVAL.concurrency,
    max_steps: Annotated[
        int, Field(ge=1, le=EVAL.most_steps, description=EVAL_HELP["max_steps"])
    ] = EVAL.max_steps,
) -> EvalResult:
    """Play each conversation's user turns to a model with the row's tools (a miss-func row's function
    from the turn that adds it), run its calls against the row's mocks with the same seed and state, and
    score every turn against the reference: the calls (order-insensitive within a step, defaults
    tolerated), functions offered, the mock state, an answer where the reference asks or declines.
    Each scored conversation is stored in the report folder, so calling again resumes. The model's
    spending counts against the server's budget."""
    svc = services(ctx)
    folder = svc.guard.writable(out)
    if folder in svc.guard.roots:
        raise ToolError(
            f"{out!r} is the workspace or an allowed root itself; name a subfolder such as 'eval'"
        )
    source = svc.guard.resolve(data)
    chat = make_model(model, budget=svc.llm.budget, prices=svc.llm.prices)
    started = now()
    async with Progress(ctx) as progress:

        def total(n: int) -> None:
            progress.total = n

        summary = await run_eval(
            chat,
            data=source,
            out=folder,
            split=split,
            limit=limit,
            concurrency=concurrency,
            max_steps=max_steps,
            mocks=default_mocks(svc.store.mocks(status="accepted")),
            pool=svc.pool,
            progress=progress.advance,
            total=total,
        )
    record(
        svc.store, "evaluate_model", started, {k: summary[k] for k in ("model", "conversations", "accuracy")}
    )
    failed: dict[str, Any] = dict(list(summary["failed"].items())[:LIST_CAP])
    return EvalResult.model_validate(summary | {"failed": failed})
