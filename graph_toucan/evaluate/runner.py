"""Playing conversations to a model under test against the rows' own mocks, and storing each score.

Per conversation, two simulated conversations run in one :class:`~graph_toucan.mock.MockRuntime` with
the row's seed and initial state: the reference's calls (replayed turn by turn) and the model's. Each
user turn goes to the model with the functions offered so far (a miss-func row's function from the
turn that adds it); its calls are run against the mocks and the results fed back until it answers
(at most ``max_steps`` replies a turn), then the turn is scored (:mod:`graph_toucan.evaluate.scoring`).
Values the user wrote count as known to the mocks (as in translation), so a lookup of a value the
user named is not "not found"; an id nobody showed is.

Each scored conversation is stored at once in ``REPORT_DIR/eval.db`` (SQLite), so a rerun skips what
is done and a conversation is never stored twice. Conversations run ``concurrency`` at a time; a spent
budget stops the run (what was scored stays).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph_toucan.errors import BudgetExceeded, GraphToucanError, LLMConfigError, LLMError
from graph_toucan.evaluate.data import EvalConversation
from graph_toucan.evaluate.models import ChatModel, ModelCall
from graph_toucan.evaluate.scoring import same_state, score_turn, state_delta
from graph_toucan.mock.errors import MockError
from graph_toucan.mock.runtime import MockRuntime
from graph_toucan.mock.sandbox import SandboxPool
from graph_toucan.mock.simulate import DeterministicSimulator
from graph_toucan.records import MockTool
from graph_toucan.tracing import named_by_user

DB_NAME = "eval.db"


class EvalError(GraphToucanError):
    """An eval that cannot run as asked; the message says what to change."""


class ResultStore:
    """Scored conversations of one eval (model, data, split), one row each."""

    def __init__(self, folder: Path, identity: dict[str, str]) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EvalError(f"cannot write to {folder}: {exc}; choose another --out") from None
        self.path = folder / DB_NAME
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("create table if not exists meta (key text primary key, value text)")
        self.db.execute(
            "create table if not exists results (id text primary key, kind text, correct integer, data text)"
        )
        stored = dict(self.db.execute("select key, value from meta").fetchall())
        clash = {k: (stored[k], v) for k, v in identity.items() if k in stored and stored[k] != v}
        if clash:
            what = "; ".join(f"{k} {old!r} (asked: {new!r})" for k, (old, new) in clash.items())
            raise EvalError(
                f"{folder} holds an eval of another {', '.join(clash)}: {what}; give another --out "
                "(or delete that folder to start over)"
            )
        self.db.executemany("insert or ignore into meta values (?, ?)", list(identity.items()))

    def done(self) -> set[str]:
        return {row[0] for row in self.db.execute("select id from results")}

    def add(self, result: dict[str, Any]) -> None:
        self.db.execute(
            "insert or ignore into results values (?, ?, ?, ?)",
            (result["id"], result["kind"], int(result["correct"]), json.dumps(result, ensure_ascii=False)),
        )

    def results(self, ids: set[str] | None = None) -> list[dict[str, Any]]:
        rows = [json.loads(r[0]) for r in self.db.execute("select data from results order by rowid")]
        return [r for r in rows if ids is None or r["id"] in ids]

    def close(self) -> None:
        self.db.close()


class Mocks:
    """One runtime per seed over the same mocks and sandbox pool."""

    def __init__(self, pool: SandboxPool, mocks: list[MockTool]) -> None:
        self.pool = pool
        self.mocks = mocks
        self._runtimes: dict[int, MockRuntime] = {}

    def runtime(self, seed: int) -> MockRuntime:
        if seed not in self._runtimes:
            runtime = MockRuntime(self.pool, DeterministicSimulator(seed=seed))
            runtime.add(self.mocks)
            self._runtimes[seed] = runtime
        return self._runtimes[seed]

    def missing(self, conversation: EvalConversation) -> list[str]:
        """Functions of the conversation without a mock."""
        runtime = self.runtime(conversation.seed)
        lost = []
        for name in conversation.all_functions():
            ref = conversation.refs.get(name)
            try:
                runtime.find(ref or name)
            except MockError:
                lost.append(name)
        return lost


def _result_text(output: Any = None, error: str | None = None) -> str:
    if error is not None:
        return json.dumps({"error": error}, ensure_ascii=False)
    return json.dumps(output, ensure_ascii=False, sort_keys=True)


@dataclass
class _Side:
    """One simulated conversation: its key in the runtime and the user's words so far."""

    runtime: MockRuntime
    key: str
    conversation: EvalConversation
    said: list[str] = field(default_factory=list)

    def store(self) -> dict[str, Any]:
        return self.runtime.state(self.key)["final"]

    async def execute(self, name: str, arguments: dict[str, Any] | None, offered: set[str]) -> str:
        if name not in offered:
            return _result_text(error=f"no function named {name!r} is offered; call one of the tools given")
        if arguments is None:
            return _result_text(error=f"the arguments of {name} are not a JSON object")
        self.runtime.acknowledge(self.key, named_by_user(arguments, "\n".join(self.said)))
        try:
            output = await self.runtime.call(
                self.conversation.refs.get(name, name), arguments, conversation=self.key
            )
        except MockError as exc:
            return _result_text(error=str(exc))
        return _result_text(output)


async def play(
    conversation: EvalConversation, model: ChatModel, runtime: MockRuntime, *, run: str, max_steps: int = 10
) -> dict[str, Any]:
    """The model's conversation, turn by turn, scored against the reference's replay."""
    started = time.perf_counter()
    session = model.session(conversation)
    reference = _Side(runtime, f"eval/{run}/{conversation.id}/reference", conversation)
    mine = _Side(runtime, f"eval/{run}/{conversation.id}/model", conversation)
    for side in (reference, mine):
        runtime.conversations.get(side.key).seed_state(conversation.initial_state)
    schemas = {n: f.get("parameters") or {} for n, f in conversation.all_functions().items()}
    offered: dict[str, dict[str, Any]] = {f["name"]: f for f in conversation.functions}
    messages: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    replay = {"calls": 0, "equal": 0}
    for turn in conversation.turns:
        offered.update({f["name"]: f for f in turn.introduced})
        names = set(offered)
        for side in (reference, mine):
            side.said.append(turn.user)
        before_ref, before_mine = reference.store(), mine.store()
        for step in turn.steps:  # the reference's calls, replayed
            for call in step:
                got = await reference.execute(call.name, call.arguments, names)
                replay["calls"] += 1
                replay["equal"] += got == call.result or (_is_error(got) and _is_error(call.result))
        messages.append({"role": "user", "content": turn.user})
        start = len(messages)
        made: list[ModelCall] = []
        answered = False
        for _ in range(max_steps):
            reply = await session.reply(messages, list(offered.values()))
            if not reply.calls:
                messages.append({"role": "assistant", "content": reply.text})
                answered = bool(reply.text.strip())
                break
            messages.append(
                {
                    "role": "assistant",
                    "content": reply.text,
                    "tool_calls": [
                        {"id": c.id, "name": c.name, "arguments": c.arguments, "raw": c.raw}
                        for c in reply.calls
                    ],
                }
            )
            for c in reply.calls:
                result = await mine.execute(c.name, c.arguments, names)
                messages.append({"role": "tool", "tool_call_id": c.id, "name": c.name, "content": result})
            made.extend(reply.calls)
        score = score_turn(
            model_calls=[(c.name, c.arguments) for c in made],
            reference_steps=[[(c.name, c.arguments) for c in step] for step in turn.steps],
            offered=names,
            schemas=schemas,
            model_delta=state_delta(before_mine, mine.store()),
            reference_delta=state_delta(before_ref, reference.store()),
            answered=answered,
        )
        turns.append(
            {
                "type": turn.type,
                "role": turn.role,
                "correct": score.correct,
                "checks": score.checks,
                "problems": score.problems,
                "user": turn.user,
                "introduced": [f["name"] for f in turn.introduced],
                "model": [_plain(m) for m in messages[start:]],
                "reference": [[{"name": c.name, "arguments": c.arguments} for c in s] for s in turn.steps],
                "reference_answer": turn.answer,
            }
        )
    final_state = same_state(mine.store(), reference.store())
    return {
        "id": conversation.id,
        "kind": conversation.kind,
        "correct": all(t["correct"] for t in turns) and final_state,
        "turns": turns,
        "turns_correct": sum(t["correct"] for t in turns),
        "final_state": final_state,
        "replay": replay
        | {
            "final_state": conversation.final_state is None
            or same_state(reference.store(), conversation.final_state)
        },
        "seconds": round(time.perf_counter() - started, 4),
    }


def _is_error(result: str) -> bool:
    try:
        value = json.loads(result)
    except ValueError:
        return False
    return isinstance(value, dict) and set(value) == {"error"}


def _plain(message: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if k != "tool_calls"}
    if message.get("tool_calls"):
        out["tool_calls"] = [
            {"name": c["name"], "arguments": c["arguments"] if c["arguments"] is not None else c["raw"]}
            for c in message["tool_calls"]
        ]
    return out


@dataclass
class RunOutcome:
    """What one invocation did: scored now, skipped (done before), failed, and why it stopped early."""

    scored: int = 0
    resumed: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    unmocked: dict[str, str] = field(default_factory=dict)
    stopped: str | None = None
    seconds: float = 0.0


async def evaluate(
    conversations: list[EvalConversation],
    model: ChatModel,
    mocks: Mocks,
    store: ResultStore,
    *,
    concurrency: int = 4,
    max_steps: int = 10,
    progress: Callable[[int], None] | None = None,
) -> RunOutcome:
    """Score every conversation not yet stored, ``concurrency`` at a time, storing each as it ends."""
    outcome = RunOutcome()
    started = time.perf_counter()
    done = store.done()
    todo = []
    for c in conversations:
        if c.id in done:
            outcome.resumed += 1
            continue
        lost = mocks.missing(c)
        if lost:
            outcome.unmocked[c.id] = (
                f"no mock for {', '.join(lost)}; give the mocks of the workspace that made the data"
            )
            continue
        todo.append(c)
    if progress and (outcome.resumed or outcome.unmocked):
        progress(outcome.resumed + len(outcome.unmocked))
    run = uuid.uuid4().hex[:8]  # keys of this run's simulated conversations
    semaphore = asyncio.Semaphore(concurrency)
    stop = asyncio.Event()

    async def one(conversation: EvalConversation) -> None:
        async with semaphore:
            if stop.is_set():
                return
            try:
                result = await play(
                    conversation, model, mocks.runtime(conversation.seed), run=run, max_steps=max_steps
                )
            except BudgetExceeded as exc:
                outcome.stopped = str(exc)
                stop.set()
                return
            except LLMConfigError:
                stop.set()
                raise
            except LLMError as exc:
                outcome.failed[conversation.id] = str(exc)
                return
            store.add(result)
            outcome.scored += 1
            if progress:
                progress(1)

    async with asyncio.TaskGroup() as group:
        for conversation in todo:
            group.create_task(one(conversation))
    outcome.seconds = round(time.perf_counter() - started, 3)
    return outcome
