"""Run untrusted mock code, one fresh confined process per call, forked from a pristine zygote.

The zygote is a ``python -S -s -B -P worker.py`` with an environment holding nothing but ``PATH``,
``LANG`` and ``PYTHONHASHSEED`` (no keys, no tokens). It imports the allowed modules, isolates itself
with the kernel's mechanisms (:mod:`graph_toucan.mock.isolation`: namespaces, read-only file system,
uid ``nobody`` or a user namespace, no capabilities, no new privileges, non-dumpable) and then only
forks: each call gets a new process with its own socket, rlimits, a Landlock domain and a seccomp
filter. Nothing a mock does (patched classes, threads, stray frames) survives into the next call.

Code is checked against the allow-list (:mod:`graph_toucan.mock.policy`) before it is sent; the
child enforces the same lists at run time. Every frame a child sends is validated here with this
process's own decoder; a frame that breaks the protocol fails the call. A call that breaks a limit
fails with a :class:`MockLimitError`; the pool keeps serving.

``call_external_api`` inside a mock is a round trip to the caller's ``external`` handler (the value
simulator, which may be a teacher LLM in this process); time spent there does not count against the
mock's wall-clock limit.

A pool refuses to start when a required isolation layer is missing
(:data:`isolation.REQUIRED_LAYERS`), with what is missing and how to get it; set
``GRAPH_TOUCAN_SANDBOX=weak`` to run with the layers this machine has (``pool.layers``).

    async with SandboxPool(workers=2) as pool:
        output = await pool.run(code, {"a": 1, "b": 2}, name="add")
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import importlib.util
import json
import marshal
import os
import signal
import socket
import struct
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from graph_toucan.mock import isolation
from graph_toucan.mock.errors import (
    MockArgumentsError,
    MockCallError,
    MockLimitError,
    MockPolicyError,
    SandboxError,
)
from graph_toucan.mock.policy import check_code, check_key, sandbox_spec

WORKER_SCRIPT = Path(__file__).resolve().parent / "worker.py"
SANDBOX_ENV = "GRAPH_TOUCAN_SANDBOX"
_HEADER = struct.Struct(">I")
_COMPILED_KEPT = 4096  # code objects kept marshalled, about 9 KB each
_NOT_COMPILED = object()
_LIMIT_KINDS = {"cpu", "memory", "wall", "recursion", "output"}
_FAILURE_KINDS = _LIMIT_KINDS | {"arguments", "exception", "contract", "external", "sandbox"}

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
    memory_mb: int = Field(default=512, ge=64, le=65536, description="Address space of a call (RLIMIT_AS).")
    output_kb: int = Field(default=1024, ge=1, le=65536, description="Largest output, as JSON.")
    recursion: int = Field(default=1000, ge=50, le=20000, description="Python recursion limit.")
    external_calls: int = Field(default=16, ge=0, le=1000, description="call_external_api calls per call.")


def worker_environment() -> dict[str, str]:
    """The whole environment of the zygote: nothing inherited, so no secret can leak into it."""
    return {"PATH": os.defpath, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


def _seccomp_path() -> list[str]:
    """Where the zygote finds ``pyseccomp`` (it runs with ``-S``, without site-packages)."""
    spec = importlib.util.find_spec("pyseccomp")
    return [str(Path(spec.origin).parent)] if spec and spec.origin else []


class _Lost(Exception):
    """The process on the other end died, closed its socket or broke the protocol."""


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _decode(data: bytes | str) -> Any:
    """This process's strict decoder: JSON only (no NaN or Infinity), bounded depth and digits."""
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise _Lost(f"sent a frame that is not strict JSON ({str(exc)[:200]})") from None


def _frame(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, ensure_ascii=False, allow_nan=False).encode()
    return _HEADER.pack(len(data)) + data


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _send_with_rights(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, data: bytes, rights: list[Any]
) -> int:
    """``sendmsg`` of the first bytes of ``data`` with the descriptors, on a non-blocking socket: when
    the socket's buffer is full (many forks of large code ahead of the zygote) wait until it drains,
    instead of failing with EAGAIN. Returns how many bytes went."""
    while True:
        try:
            return sock.sendmsg([data], rights)
        except (BlockingIOError, InterruptedError):
            writable: asyncio.Future[None] = loop.create_future()
            loop.add_writer(sock.fileno(), _resolve, writable)
            try:
                await writable
            finally:
                loop.remove_writer(sock.fileno())


class _Zygote:
    """The parent's end of one zygote: start it, ask it to fork a call process, reap that process."""

    def __init__(self, proc: asyncio.subprocess.Process, sock: socket.socket) -> None:
        self.proc = proc
        self.sock = sock
        self.sending = asyncio.Lock()  # one frame (and its descriptor) at a time on the socket
        self.waiting: deque[asyncio.Future[dict[str, Any]]] = deque()  # replies come in request order
        self.reader: asyncio.Task[None] | None = None
        self.layers: dict[str, str] = {}
        self.reap: list[int] = []

    @classmethod
    async def start(cls, limits: Limits, spec: dict[str, Any], timeout: float = 30.0) -> _Zygote:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-S",
                "-s",
                "-B",
                "-P",
                str(WORKER_SCRIPT),
                stdin=theirs.fileno(),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                env=worker_environment(),
                cwd="/",
                start_new_session=True,
            )
        except OSError as exc:
            ours.close()
            raise SandboxError(f"cannot start the sandbox zygote ({sys.executable}): {exc}") from None
        finally:
            theirs.close()
        ours.setblocking(False)
        zygote = cls(proc, ours)
        try:
            init = {"op": "init", "limits": limits.model_dump(), "spec": spec, "path": _seccomp_path()}
            ready = await asyncio.wait_for(zygote.request(init), timeout)
        except (TimeoutError, _Lost) as exc:
            await zygote.close()
            raise SandboxError(
                f"the sandbox zygote did not start ({exc or 'no answer in time'}); check that "
                f"'{sys.executable} -S {WORKER_SCRIPT}' runs on this machine"
            ) from None
        if ready.get("op") != "ready" or not isinstance(ready.get("layers"), dict):
            await zygote.close()
            raise SandboxError(f"the sandbox zygote answered {ready!r} instead of ready")
        zygote.layers = {str(k): str(v) for k, v in ready["layers"].items()}
        return zygote

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def request(self, message: dict[str, Any], fd: int | None = None) -> dict[str, Any]:
        """One exchange on the control socket (``fd`` travels as SCM_RIGHTS). Requests are pipelined:
        the zygote answers them in order, so many calls never wait for one another's round trip."""
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[dict[str, Any]] = loop.create_future()
        async with self.sending:
            data = _frame(message)
            try:
                if fd is None:
                    await loop.sock_sendall(self.sock, data)
                else:
                    rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))]
                    sent = await _send_with_rights(loop, self.sock, data, rights)
                    await loop.sock_sendall(self.sock, data[sent:])
            except OSError as exc:
                raise _Lost(f"the zygote's socket failed: {exc}") from None
            self.waiting.append(reply)
            if self.reader is None or self.reader.done():
                self.reader = asyncio.ensure_future(self._read_replies())
        return await reply

    async def _read_replies(self) -> None:
        """Hand each reply to the oldest request waiting; a fork nobody waits for any more (its
        caller was cancelled) is reaped with the next fork."""
        try:
            while self.waiting:
                header = await self._exactly(_HEADER.size)
                reply = _decode(await self._exactly(_HEADER.unpack(header)[0]))
                if not isinstance(reply, dict):
                    raise _Lost("the zygote sent a frame that is not a JSON object")
                waiter = self.waiting.popleft()
                if not waiter.done():
                    waiter.set_result(reply)
                elif reply.get("op") == "forked" and isinstance(reply.get("pid"), int):
                    self.reap.append(reply["pid"])  # its socket is closed: it exits at once
        except OSError as exc:
            self._fail(_Lost(f"the zygote's socket failed: {exc}"))
        except _Lost as exc:
            self._fail(exc)

    def _fail(self, error: _Lost) -> None:
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    async def _exactly(self, n: int) -> bytes:
        loop = asyncio.get_running_loop()
        chunks = []
        while n:
            chunk = await loop.sock_recv(self.sock, min(n, 1 << 16))
            if not chunk:
                raise _Lost("the zygote closed its socket")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    async def fork(self) -> tuple[int, socket.socket]:
        """A new call process and the parent's end of its socket."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            reap, self.reap = self.reap, []
            reply = await self.request({"op": "fork", "reap": reap}, fd=theirs.fileno())
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        pid = reply.get("pid")
        if reply.get("op") != "forked" or not isinstance(pid, int) or pid <= 0:
            ours.close()
            raise _Lost(f"the zygote answered {str(reply)[:200]} to fork")
        return pid, ours

    async def wait(self, pid: int) -> tuple[int | None, float | None]:
        """Exit status and CPU seconds of a call process that was killed (and so can be reaped)."""
        reply = await self.request({"op": "wait", "pid": pid})
        status, cpu = reply.get("status"), reply.get("cpu_s")
        return (status if isinstance(status, int) else None, cpu if isinstance(cpu, int | float) else None)

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        self._fail(_Lost("the zygote was closed"))
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.alive:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 1.0)
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.proc.wait(), 5.0)


class _Call:
    """One call process, seen from the parent: its socket, every frame checked."""

    def __init__(self, pid: int, sock: socket.socket, limits: Limits) -> None:
        self.pid = pid
        self.sock = sock
        self.limits = limits
        self.max_frame = limits.output_kb * 1024 * 6 + 64 * 1024  # \\uXXXX escapes of the output text
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_unix_connection(sock=self.sock, limit=1 << 20)

    def send(self, message: dict[str, Any]) -> None:
        self.write(_frame(message))

    def write(self, frame: bytes) -> None:
        assert self.writer is not None
        try:
            self.writer.write(frame)
        except (ConnectionError, RuntimeError) as exc:
            raise _Lost(f"cannot write to the call process: {exc}") from None

    async def receive(self) -> dict[str, Any]:
        assert self.reader is not None
        try:
            (size,) = _HEADER.unpack(await self.reader.readexactly(_HEADER.size))
            if size > self.max_frame:
                raise _Lost(f"sent a {size}-byte frame, more than {self.max_frame}")
            message = _decode(await self.reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError):  # also a broken pipe from our last write
            raise _Lost("closed its socket") from None
        if not isinstance(message, dict) or message.get("op") not in ("external", "result"):
            raise _Lost("sent a frame that is neither an external request nor a result")
        return message

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signal.SIGKILL)
        if self.writer is not None:
            self.writer.close()
        else:
            self.sock.close()


class SandboxPool:
    """Runs mock calls, at most ``workers`` at once, each in its own confined process.

    Use ``async with``, or :meth:`start` and :meth:`close`."""

    def __init__(
        self, workers: int = 2, limits: Limits | None = None, *, require_isolation: bool | None = None
    ):
        if workers < 1:
            raise SandboxError("a sandbox pool needs at least one worker")
        self.size = workers
        self.limits = limits or Limits()
        self.require_isolation = (
            os.environ.get(SANDBOX_ENV, "").lower() != "weak"
            if require_isolation is None
            else require_isolation
        )
        self.restarts = 0
        self.calls = 0
        self._spec = sandbox_spec()
        self._zygote: _Zygote | None = None
        self._starting: asyncio.Lock | None = None
        self._slots: asyncio.Semaphore | None = None
        self._running: dict[int, _Call] = {}
        self._checked: dict[str, tuple[str, MockPolicyError | None]] = {}  # code -> its check key, verdict
        self._trusted: set[str] = set()
        self._compiled: dict[tuple[str, str], str | None] = {}  # (name, code) -> marshalled code object

    async def __aenter__(self) -> SandboxPool:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the zygote and check its isolation; returns when it is ready."""
        if self._starting is None:
            self._starting = asyncio.Lock()
            self._slots = asyncio.Semaphore(self.size)
        isolation.make_non_dumpable()  # our /proc/<pid>/environ and memory: unreadable to our uid
        await self._zygote_ready()

    async def _zygote_ready(self) -> _Zygote:
        assert self._starting is not None
        async with self._starting:
            if self._zygote is not None and self._zygote.alive:
                return self._zygote
            if self._zygote is not None:
                await self._zygote.close()
                self._zygote = None
                self.restarts += 1
            zygote = await _Zygote.start(self.limits, self._spec)
            missing = [layer for layer in isolation.REQUIRED_LAYERS if layer not in zygote.layers]
            if missing and self.require_isolation:
                await zygote.close()
                reasons = "; ".join(
                    f"{layer}: {zygote.layers.get(layer + '_error', 'not available')}" for layer in missing
                )
                platform = zygote.layers.get("platform_error")
                raise SandboxError(
                    "refusing to run generated mock code: the sandbox lacks "
                    f"{', '.join(missing)} ({platform or reasons}). Run on Linux with user namespaces "
                    f"and libseccomp2 (pip install pyseccomp), or set {SANDBOX_ENV}=weak to run with "
                    "only the allow-list and process limits"
                )
            self._zygote = zygote
            return zygote

    @property
    def layers(self) -> dict[str, str]:
        """The isolation layers in force (``layer -> how``), and ``<layer>_error`` for those missing."""
        return dict(self._zygote.layers) if self._zygote else {}

    @property
    def pids(self) -> list[int]:
        """Process id of the live zygote (for inspection and tests)."""
        return [self._zygote.pid] if self._zygote and self._zygote.alive else []

    @property
    def call_pids(self) -> list[int]:
        """Process ids of the calls running now."""
        return sorted(self._running)

    def check(self, code: str) -> None:
        """The allow-list check, once per code in this pool (by the string itself: a mock's code is one
        string, whose hash Python keeps) and not at all for code whose :func:`policy.check_key` the pool
        was told to trust."""
        found = self._checked.get(code)
        if found is None:
            key, error = check_key(code), None
            if key not in self._trusted:
                try:
                    check_code(code)
                except MockPolicyError as exc:
                    error = exc
            found = self._checked[code] = (key, error)
        if found[1] is not None:
            raise found[1]

    def trust(self, keys: Iterable[str]) -> None:
        """Take these check keys as passed (checks an earlier process ran on the same code under the
        same rules, as :meth:`passed` gave them): their code is not parsed again."""
        self._trusted.update(keys)

    def passed(self) -> set[str]:
        """Keys of the code that passed the check in this pool, or was trusted."""
        return self._trusted | {key for key, error in self._checked.values() if error is None}

    def _compile(self, code: str, name: str) -> str | None:
        """The code object of ``code``, marshalled and base64-encoded for the call request (compiled once
        per code and name, here: a call process only loads it); None when it does not compile."""
        key = (name, code)
        compiled = self._compiled.pop(key, _NOT_COMPILED)
        if compiled is _NOT_COMPILED:
            try:
                # dont_inherit: not this module's __future__ flags; optimize 0: asserts run, as in the worker
                obj = compile(code, f"<mock {name}>", "exec", dont_inherit=True, optimize=0)
                compiled = base64.b64encode(marshal.dumps(obj)).decode("ascii")
            except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
                compiled = None
            if len(self._compiled) >= _COMPILED_KEPT:
                self._compiled.pop(next(iter(self._compiled)))
        self._compiled[key] = compiled  # most recently used last
        return compiled  # type: ignore[return-value]

    async def run(
        self,
        code: str,
        arguments: dict[str, Any],
        *,
        name: str = "tool",
        external: ExternalHandler | None = None,
        seed: str = "",
    ) -> Any:
        """Run ``main(**arguments)`` of ``code`` in a fresh call process; the output as JSON data.

        Raises :class:`MockPolicyError` when the code is refused, :class:`MockArgumentsError` when the
        mock rejects its arguments, :class:`MockLimitError` for a limit, :class:`MockCallError` else."""
        self.check(code)
        return await self.run_unchecked(code, arguments, name=name, external=external, seed=seed)

    async def run_unchecked(
        self,
        code: str,
        arguments: dict[str, Any],
        *,
        name: str = "tool",
        external: ExternalHandler | None = None,
        seed: str = "",
    ) -> Any:
        """:meth:`run` without the allow-list check: only the OS layers and the run-time lists stand
        (for tests of those layers; never for generated code)."""
        request: dict[str, Any] = {"op": "call", "name": name, "arguments": arguments, "seed": seed}
        compiled = self._compile(code, name)
        if compiled is None:
            request["code"] = code  # it does not compile: the call process reports how
        else:
            request["compiled"] = compiled
        try:
            frame = _frame(request)  # encoded once: the check that the arguments are JSON
        except (TypeError, ValueError) as exc:
            raise MockArgumentsError(f"the arguments are not JSON: {exc}") from None
        if self._slots is None:  # a pool used without start(); afterwards the zygote is checked below
            await self.start()
        assert self._slots is not None
        async with self._slots:
            for attempt in (1, 2):  # a zygote found dead is replaced once, within the call
                zygote = await self._zygote_ready()
                try:
                    pid, sock = await zygote.fork()
                    break
                except _Lost as exc:
                    await zygote.close()
                    if attempt == 2:
                        raise MockCallError(
                            f"the sandbox zygote failed twice ({exc})", kind="crash"
                        ) from None
            call = _Call(pid, sock, self.limits)
            self._running[pid] = call
            self.calls += 1
            reaped = False
            try:
                await call.open()
                call.write(frame)
                reply = await self._serve(call, external)
            except _Lost as exc:
                call.kill()
                reaped = True
                raise await self._crash(zygote, call, name, str(exc)) from None
            finally:
                self._running.pop(pid, None)
                if not reaped:
                    call.kill()
                    zygote.reap.append(pid)
        return _outcome(reply, name, self.limits)

    async def _serve(self, call: _Call, external: ExternalHandler | None) -> dict[str, Any]:
        budget = self.limits.wall_s
        while True:
            started = time.monotonic()
            try:
                message = await asyncio.wait_for(call.receive(), budget)
            except TimeoutError:
                raise MockLimitError(
                    f"the mock ran longer than {self.limits.wall_s} s of wall-clock time and was stopped",
                    kind="wall",
                ) from None
            budget -= time.monotonic() - started
            if message["op"] == "result":
                return message
            tool, arguments = message.get("tool"), message.get("arguments")
            if not isinstance(tool, str) or not isinstance(arguments, dict):
                raise _Lost("sent an external request without a tool name and an arguments object")
            if external is None:
                call.send(
                    {"op": "error", "message": "this call has no value simulator for call_external_api"}
                )
                continue
            try:
                values = await external(tool, arguments)
                call.send({"op": "values", "values": values})
            except _Lost:
                raise
            except Exception as exc:  # the simulator's failure becomes the mock's error
                call.send({"op": "error", "message": f"the value simulator failed: {exc}"})

    async def _crash(self, zygote: _Zygote, call: _Call, name: str, what: str) -> MockCallError:
        """The error for a call process that died or broke the protocol, with how it died."""
        try:
            status, cpu = await asyncio.wait_for(zygote.wait(call.pid), 5.0)
        except (TimeoutError, _Lost):
            status, cpu = None, None
        killed = status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) in (9, 24)
        if cpu is not None and (cpu >= self.limits.cpu_s or (killed and cpu >= self.limits.cpu_s / 2)):
            # SIGKILL or SIGXCPU at the RLIMIT_CPU of the call (rusage rounds to the scheduler's tick)
            return MockLimitError(
                f"mock {name} was stopped: it used {cpu:.1f} CPU seconds, more than {self.limits.cpu_s} s",
                kind="cpu",
            )
        how = ""
        if status is not None and os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            try:
                how = f", killed by {signal.Signals(number).name}"
            except ValueError:
                how = f", killed by signal {number}"
        elif status is not None and os.WIFEXITED(status):
            how = f", exited with status {os.WEXITSTATUS(status)}"
        return MockCallError(f"mock {name} crashed its call process: it {what}{how}", kind="crash")

    async def close(self) -> None:
        for call in list(self._running.values()):
            call.kill()
        self._running.clear()
        if self._zygote is not None:
            await self._zygote.close()
        self._zygote = None


def _outcome(reply: dict[str, Any], name: str, limits: Limits) -> Any:
    """The output of a result frame, or the error it reports; every field checked."""
    if reply.get("ok") is True:
        output = reply.get("output")
        if not isinstance(output, str):
            raise MockCallError(f"mock {name} sent a result without output text", kind="output")
        if len(output) > limits.output_kb * 1024:
            raise MockLimitError(
                f"mock {name} was stopped: its output is more than the {limits.output_kb} KB allowed",
                kind="output",
            )
        try:
            return _decode(output)
        except _Lost:
            raise MockCallError(f"mock {name} returned output that is not JSON", kind="output") from None
    kind = reply.get("kind") if reply.get("kind") in _FAILURE_KINDS else "exception"
    line = reply.get("line") if type(reply.get("line")) is int else None
    where = f" (line {line})" if line else ""
    message = reply.get("message") if isinstance(reply.get("message"), str) else ""
    message = message[:2000]
    error_type = reply.get("type") if isinstance(reply.get("type"), str) else "Exception"
    error_type = error_type[:100]
    if kind == "arguments":
        raise MockArgumentsError(
            f"mock {name} rejected the arguments: {error_type}: {message}{where}", line=line
        )
    if kind in _LIMIT_KINDS:
        raise MockLimitError(f"mock {name} was stopped: {message}", kind=kind, line=line)
    raise MockCallError(f"mock {name} failed: {error_type}: {message}{where}", kind=kind, line=line)
