"""Run untrusted mock code in a pool of worker processes with CPU, memory and wall-clock limits.

Each worker is a fresh ``python -S -s -B -P worker.py`` with an environment holding nothing but
``PATH``, ``LANG`` and ``PYTHONHASHSEED`` (no keys, no tokens), in its own session, working in ``/``.
Code is checked against the allow-list (:mod:`graph_toucan.mock.policy`) before it is sent, and the
worker enforces the same lists again at run time. A call that breaks a limit, or a worker that dies,
fails that one call with a :class:`MockCallError`; the worker is replaced and the pool keeps serving.

``call_external_api`` inside a mock is a round trip: the worker sends the request up its pipe and
waits; the pool awaits the caller's ``external`` handler (the value simulator, which may be a teacher
LLM in this process) and sends the flat values back. Time spent there does not count against the
mock's wall-clock limit.

A pool belongs to the event loop that started it.

    async with SandboxPool(workers=2) as pool:
        output = await pool.run(code, {"a": 1, "b": 2}, name="add")
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from graph_toucan.mock.errors import (
    MockArgumentsError,
    MockCallError,
    MockLimitError,
    MockPolicyError,
    SandboxError,
)
from graph_toucan.mock.policy import check_code, sandbox_spec

WORKER_SCRIPT = Path(__file__).resolve().parent / "worker.py"
_HEADER = struct.Struct(">I")
_LIMIT_KINDS = {"cpu", "memory", "wall", "recursion", "output"}

ExternalHandler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class Limits(BaseModel):
    """Per-call limits of the sandbox."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_s: float = Field(
        default=2.0, ge=0.05, le=600, description="CPU seconds per call (ITIMER_PROF, RLIMIT_CPU)."
    )
    wall_s: float = Field(
        default=5.0, gt=0, le=3600, description="Wall-clock seconds per call, not counting external calls."
    )
    memory_mb: int = Field(default=512, ge=64, le=65536, description="Address space of a worker (RLIMIT_AS).")
    output_kb: int = Field(default=1024, ge=1, le=65536, description="Largest output, as JSON.")
    recursion: int = Field(default=1000, ge=50, le=20000, description="Python recursion limit.")
    external_calls: int = Field(default=16, ge=0, le=1000, description="call_external_api calls per call.")


def worker_environment() -> dict[str, str]:
    """The whole environment of a worker: nothing inherited, so no secret can leak into it."""
    return {"PATH": os.defpath, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


class _WorkerLost(Exception):
    """The worker died or stopped answering; it must be replaced."""


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process, limits: Limits) -> None:
        self.proc = proc
        self.limits = limits
        self.max_frame = limits.output_kb * 1024 + 256 * 1024

    @classmethod
    async def start(cls, limits: Limits, spec: dict[str, Any], timeout: float = 20.0) -> _Worker:
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-S",
                "-s",
                "-B",
                "-P",
                str(WORKER_SCRIPT),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env=worker_environment(),
                cwd="/",
                start_new_session=True,
            )
        except OSError as exc:
            raise SandboxError(f"cannot start a sandbox worker ({sys.executable}): {exc}") from None
        worker = cls(proc, limits)
        try:
            worker.send({"op": "init", "limits": limits.model_dump(), "spec": spec})
            ready = await asyncio.wait_for(worker.receive(), timeout)
        except (TimeoutError, _WorkerLost) as exc:
            await worker.kill()
            raise SandboxError(
                f"a sandbox worker did not start ({exc or 'no answer in time'}); check that "
                f"'{sys.executable} -S {WORKER_SCRIPT}' runs on this machine"
            ) from None
        if ready.get("op") != "ready":
            await worker.kill()
            raise SandboxError(f"a sandbox worker answered {ready!r} instead of ready")
        return worker

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        data = json.dumps(message, ensure_ascii=False, allow_nan=False).encode()
        try:
            self.proc.stdin.write(_HEADER.pack(len(data)) + data)
        except (BrokenPipeError, ConnectionResetError, RuntimeError) as exc:
            raise _WorkerLost(f"cannot write to the worker: {exc}") from None

    async def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        try:
            (size,) = _HEADER.unpack(await self.proc.stdout.readexactly(_HEADER.size))
            if size > self.max_frame:
                raise _WorkerLost(f"the worker sent a {size}-byte message, more than {self.max_frame}")
            message = json.loads(await self.proc.stdout.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionResetError):
            raise _WorkerLost(await self._death()) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _WorkerLost(f"the worker sent a message that is not JSON ({exc})") from None
        if not isinstance(message, dict):
            raise _WorkerLost("the worker sent a message that is not a JSON object")
        return message

    async def _death(self) -> str:
        try:
            code = await asyncio.wait_for(self.proc.wait(), 2.0)
        except TimeoutError:
            return "the worker closed its pipe"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the worker was killed by {name}"
        return f"the worker exited with status {code}"

    async def run(self, request: dict[str, Any], external: ExternalHandler | None) -> dict[str, Any]:
        """Send one call and serve its external requests until the result arrives."""
        try:
            self.send(request)
        except (TypeError, ValueError) as exc:
            raise MockArgumentsError(f"the arguments are not JSON: {exc}") from None
        budget = self.limits.wall_s
        while True:
            started = time.monotonic()
            try:
                message = await asyncio.wait_for(self.receive(), budget)
            except TimeoutError:
                await self.kill()
                raise MockLimitError(
                    f"the mock ran longer than {self.limits.wall_s} s of wall-clock time and was stopped",
                    kind="wall",
                ) from None
            budget -= time.monotonic() - started
            if message.get("op") == "result":
                return message
            if message.get("op") != "external":
                raise _WorkerLost(f"the worker sent an unexpected message {message.get('op')!r}")
            await self._answer_external(message, external)

    async def _answer_external(self, message: dict[str, Any], external: ExternalHandler | None) -> None:
        if external is None:
            self.send({"op": "error", "message": "this call has no value simulator for call_external_api"})
            return
        arguments = message.get("arguments")
        try:
            values = await external(
                str(message.get("tool")), arguments if isinstance(arguments, dict) else {}
            )
            self.send({"op": "values", "values": values})
        except _WorkerLost:
            raise
        except Exception as exc:  # the simulator's failure becomes the mock's error
            self.send({"op": "error", "message": f"the value simulator failed: {exc}"})

    async def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.proc.wait(), 5.0)

    async def close(self) -> None:
        """Ask politely (close its stdin), then kill."""
        if self.alive and self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 1.0)
        await self.kill()


class SandboxPool:
    """A pool of sandbox workers. Use ``async with``, or :meth:`start` and :meth:`close`."""

    def __init__(self, workers: int = 2, limits: Limits | None = None) -> None:
        if workers < 1:
            raise SandboxError("a sandbox pool needs at least one worker")
        self.size = workers
        self.limits = limits or Limits()
        self.restarts = 0
        self._spec = sandbox_spec()
        self._idle: asyncio.Queue[_Worker | None] = asyncio.Queue()
        self._workers: set[_Worker] = set()
        self._checked: dict[str, MockPolicyError | None] = {}
        self._refills: set[asyncio.Task[None]] = set()
        self._started = False

    async def __aenter__(self) -> SandboxPool:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start every worker (concurrently); returns when all are ready."""
        if self._started:
            return
        self._started = True
        results = await asyncio.gather(
            *(_Worker.start(self.limits, self._spec) for _ in range(self.size)), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        for result in results:
            if isinstance(result, _Worker):
                self._workers.add(result)
                self._idle.put_nowait(result)
        if failures:
            await self.close()
            raise failures[0]

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers (for inspection and tests)."""
        return sorted(w.pid for w in self._workers if w.alive)

    def check(self, code: str) -> None:
        """The allow-list check, cached by the code's hash."""
        key = hashlib.sha256(code.encode()).hexdigest()
        if key not in self._checked:
            try:
                check_code(code)
                self._checked[key] = None
            except MockPolicyError as exc:
                self._checked[key] = exc
        error = self._checked[key]
        if error is not None:
            raise error

    async def run(
        self,
        code: str,
        arguments: dict[str, Any],
        *,
        name: str = "tool",
        external: ExternalHandler | None = None,
        seed: str = "",
    ) -> Any:
        """Run ``main(**arguments)`` of ``code`` in a worker; the output as JSON data.

        Raises :class:`MockPolicyError` when the code is refused, :class:`MockArgumentsError` when the
        mock rejects its arguments, :class:`MockLimitError` for a limit, :class:`MockCallError` else."""
        self.check(code)
        if not self._started:
            await self.start()
        worker = await self._acquire()
        request = {"op": "call", "code": code, "name": name, "arguments": arguments, "seed": seed}
        replace = True  # unless the call ends normally: a cancelled call leaves the worker busy
        try:
            reply = await worker.run(request, external)
            # a worker that hit its memory or CPU limit may be left in a poor state: start afresh
            replace = not reply.get("ok") and reply.get("kind") in ("memory", "cpu")
        except _WorkerLost as exc:
            raise MockCallError(
                f"mock {name} crashed its sandbox worker: {exc}; the worker was restarted", kind="crash"
            ) from None
        finally:
            self._release(worker, replace or not worker.alive)
        return _outcome(reply, name)

    async def _acquire(self) -> _Worker:
        worker = await self._idle.get()
        if worker is not None and worker.alive:
            return worker
        if worker is not None:
            self._workers.discard(worker)
            self.restarts += 1
        try:
            worker = await _Worker.start(self.limits, self._spec)
        except BaseException:
            self._idle.put_nowait(None)  # keep the slot; the next call tries to start it again
            raise
        self._workers.add(worker)
        return worker

    def _release(self, worker: _Worker, replace: bool) -> None:
        """Give the worker back, or kill it and start its replacement in the background (nothing is
        awaited here, so a cancelled call cannot cost the pool its slot)."""
        if not replace:
            self._idle.put_nowait(worker)
            return
        self._workers.discard(worker)
        self.restarts += 1
        if worker.alive:
            with contextlib.suppress(ProcessLookupError):
                worker.proc.kill()
        task = asyncio.get_running_loop().create_task(self._refill(worker))
        self._refills.add(task)
        task.add_done_callback(self._refills.discard)

    async def _refill(self, dead: _Worker) -> None:
        fresh: _Worker | None = None
        try:
            await dead.kill()  # reap it
            fresh = await _Worker.start(self.limits, self._spec)
            self._workers.add(fresh)
        except SandboxError:
            fresh = None  # the next call tries to start one again
        finally:
            self._idle.put_nowait(fresh)

    async def close(self) -> None:
        for task in list(self._refills):
            task.cancel()
        await asyncio.gather(*self._refills, return_exceptions=True)
        workers, self._workers = list(self._workers), set()
        await asyncio.gather(*(w.close() for w in workers), return_exceptions=True)
        self._idle = asyncio.Queue()
        self._started = False


def _outcome(reply: dict[str, Any], name: str) -> Any:
    if reply.get("ok"):
        try:
            return json.loads(reply["output"])
        except (KeyError, TypeError, json.JSONDecodeError):
            raise MockCallError(f"mock {name} returned output that is not JSON", kind="output") from None
    kind = str(reply.get("kind") or "exception")
    line = reply.get("line") if isinstance(reply.get("line"), int) else None
    where = f" (line {line})" if line else ""
    message = str(reply.get("message") or "")
    error_type = str(reply.get("type") or "Exception")
    if kind == "arguments":
        raise MockArgumentsError(
            f"mock {name} rejected the arguments: {error_type}: {message}{where}", line=line
        )
    if kind in _LIMIT_KINDS:
        raise MockLimitError(f"mock {name} was stopped: {message}", kind=kind, line=line)
    raise MockCallError(f"mock {name} failed: {error_type}: {message}{where}", kind=kind, line=line)
