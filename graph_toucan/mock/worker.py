"""The sandbox zygote: a pristine process that forks one fresh, confined process per mock call.

Started by :mod:`graph_toucan.mock.sandbox` as ``python -S -s -B -P worker.py`` with a scrubbed
environment, its stdin a Unix socket to the parent (stdout and stderr are /dev/null). It imports only
the standard library, :mod:`isolation` beside it (loaded by path) and ``pyseccomp`` from the path the
parent names, so it runs from a checkout or a wheel.

At start-up the zygote imports the allowed modules, builds the restricted builtins and read-only
module proxies, and isolates itself (:func:`isolation.isolate_zygote`: namespaces, read-only file
system, another uid, no capabilities, no new privileges, non-dumpable). It never runs or compiles
mock code, so it stays as small as it started. For each call it forks a child that confines itself
further (rlimits, Landlock, seccomp), reads the call from its own socket, runs it and exits, so
nothing a mock does survives into the next call.

Control protocol (frames of a 4-byte big-endian length and UTF-8 JSON, lock-step):

    parent -> {"op": "init", "limits": {...}, "spec": {...}, "path": [...]}
    zygote -> {"op": "ready", "pid": N, "layers": {...}}
    parent -> {"op": "fork", "reap": [pids]}  with one socket passed as SCM_RIGHTS
    zygote -> {"op": "forked", "pid": N}
    parent -> {"op": "wait", "pid": N}        (after killing it: its exit status and CPU time)
    zygote -> {"op": "status", "pid": N, "status": S, "cpu_s": T}

Call protocol, on the socket passed with ``fork`` (the child's only channel):

    parent -> {"op": "call", "compiled": "<base64 marshal>" | "code": "...", "name": "tool",
               "arguments": {...}, "seed": "..."}
    child  -> {"op": "external", "tool": "...", "arguments": {...}}     (zero or more times)
    parent -> {"op": "values", "values": {...}} | {"op": "error", "message": "..."}
    child  -> {"op": "result", "ok": true, "output": "<json text>"}
            | {"op": "result", "ok": false, "kind": "...", "type": "...", "message": "...", "line": N}

The parent validates every frame it reads; nothing the child sends is trusted.
"""

import array
import base64
import builtins
import contextlib
import decimal
import gc
import importlib
import importlib.util
import json
import marshal
import math
import os
import random
import resource
import signal
import socket
import struct
import sys
import traceback
import types

_HEADER = struct.Struct(">I")
_CONTROL_FD = 0
# Modules that allowed C code imports through the mock's own __import__, and the names it uses.
_C_IMPORTS = {
    "_strptime": ("_strptime_datetime", "_strptime_time"),
    "time": ("strftime", "struct_time", "localtime", "gmtime", "mktime", "time"),  # strftime, timetuple
}
_LAZY_IMPORTS = (
    "_strptime",
    "heapq",
    "bisect",
    "copy",
    "warnings",
    "unicodedata",
    "locale",
    "calendar",
    "encodings.idna",
    "encodings.latin_1",
    "encodings.ascii",
    "encodings.utf_16",
    "encodings.utf_32",
)


class CpuLimitExceeded(Exception):
    """Raised inside the mock when its CPU seconds are spent."""


class ExternalCallError(Exception):
    """The parent could not answer ``call_external_api``."""


def _load_isolation():
    spec = importlib.util.spec_from_file_location(
        "graph_toucan_isolation", os.path.join(os.path.dirname(os.path.abspath(__file__)), "isolation.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ReadOnlyModule:
    """What a mock sees of an allowed module: its public names, which cannot be set or deleted."""

    __slots__ = ("_names", "_title")

    def __init__(self, title, names) -> None:
        object.__setattr__(self, "_title", title)
        object.__setattr__(self, "_names", types.MappingProxyType(dict(names)))

    def __getattr__(self, name):
        try:
            return object.__getattribute__(self, "_names")[name]
        except KeyError:
            title = object.__getattribute__(self, "_title")
            raise AttributeError(f"module {title!r} has no attribute {name!r} in the sandbox") from None

    def __setattr__(self, name, value):
        raise AttributeError(
            f"module {object.__getattribute__(self, '_title')!r} is read-only in the sandbox"
        )

    def __delattr__(self, name):
        raise AttributeError(
            f"module {object.__getattribute__(self, '_title')!r} is read-only in the sandbox"
        )

    def __repr__(self) -> str:
        return f"<module {object.__getattribute__(self, '_title')!r} (sandbox)>"


class Sandbox:
    """Restricted builtins and read-only module proxies rebuilt from the parent's allow-list."""

    def __init__(self, spec) -> None:
        self.modules = {}
        for name, names in spec["modules"].items():
            module = importlib.import_module(name)
            self.modules[name] = ReadOnlyModule(name, {n: getattr(module, n) for n in names})
        self.builtins = {n: getattr(builtins, n) for n in spec["builtins"]}
        self.builtins["__import__"] = self._import
        self.builtins["__build_class__"] = builtins.__build_class__
        # What allowed modules import lazily, imported now: a call process cannot open any file.
        for lazy in _LAZY_IMPORTS:
            with contextlib.suppress(ImportError):
                importlib.import_module(lazy)

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        if not level and name in _C_IMPORTS:  # datetime.strptime imports _strptime from C
            module = importlib.import_module(name)
            return ReadOnlyModule(name, {n: getattr(module, n) for n in _C_IMPORTS[name]})
        if level or name not in self.modules:
            raise ImportError(f"import of {name!r} is not allowed in the sandbox")
        return self.modules[name]


# -- frames ---------------------------------------------------------------------------------------
def _encode(message) -> bytes:
    data = json.dumps(message, ensure_ascii=False, allow_nan=False).encode()
    return _HEADER.pack(len(data)) + data


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            os._exit(0)  # the parent closed the channel: nothing left to do
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int):
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    return json.loads(_read_exactly(fd, size))


class Control:
    """The zygote's socket to the parent; a ``fork`` request carries one file descriptor."""

    def __init__(self) -> None:
        self.sock = socket.socket(fileno=os.dup(_CONTROL_FD))
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.close(devnull)
        self.buffer = b""
        self.fds: list[int] = []

    def read(self):
        while True:
            if len(self.buffer) >= _HEADER.size:
                (size,) = _HEADER.unpack(self.buffer[: _HEADER.size])
                if len(self.buffer) >= _HEADER.size + size:
                    frame = self.buffer[_HEADER.size : _HEADER.size + size]
                    self.buffer = self.buffer[_HEADER.size + size :]
                    return json.loads(frame)
            data, ancillary, _, _ = self.sock.recvmsg(1 << 16, socket.CMSG_SPACE(4 * 16))
            if not data:
                sys.exit(0)  # the parent is gone: shut down
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                    self.fds.extend(fds)
            self.buffer += data

    def write(self, message) -> None:
        self.sock.sendall(_encode(message))

    def take_fd(self):
        return self.fds.pop(0) if self.fds else None


# -- one call, in the forked child ----------------------------------------------------------------
def _apply_limits(limits) -> None:
    memory = int(limits["memory_mb"]) * 2**20
    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ValueError, OSError):
        if sys.platform == "linux":
            raise  # elsewhere (macOS) RLIMIT_AS may not be settable: the sandbox is weak there anyway
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))
    cpu = max(1, math.ceil(float(limits["cpu_s"])))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))  # SIGKILL, whatever the mock does
    with contextlib.suppress(ValueError, OSError):  # seccomp refuses clone anyway
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    sys.setrecursionlimit(int(limits["recursion"]))


def _failure(kind, type_name, message, line=None):
    return {"op": "result", "ok": False, "kind": kind, "type": type_name, "message": message, "line": line}


def _exception(exc):
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):  # no source lookup: no file access
        if frame.f_code.co_filename.startswith("<mock"):
            line = lineno
    try:
        message = str(exc)[:2000]
    except BaseException:  # a hostile __str__
        message = "(the exception's message could not be read)"
    kind = "arguments" if isinstance(exc, TypeError | ValueError) else "exception"
    return _failure(kind, type(exc).__name__, message, line)


def run_call(sandbox: Sandbox, fd: int, limits) -> None:
    """Read the one call from ``fd``, run it, write its result. Returns to be ``_exit``-ed."""
    request = _read_frame(fd)
    calls = [0]
    cpu_s = float(limits["cpu_s"])
    fired = [False]

    def on_cpu(signum, frame):
        if fired[0]:  # the mock swallowed the first signal: end the process now
            _write_all(fd, _encode(_failure("cpu", "CpuLimitExceeded", f"the mock used more than {cpu_s} s")))
            os._exit(0)
        fired[0] = True
        signal.setitimer(signal.ITIMER_PROF, 0.05)
        raise CpuLimitExceeded("the mock used more CPU time than allowed")

    def call_external_api(tool_name, /, **arguments):
        calls[0] += 1
        if calls[0] > int(limits["external_calls"]):
            raise ExternalCallError(
                f"more than {limits['external_calls']} call_external_api calls in one mock call"
            )
        try:
            frame = _encode({"op": "external", "tool": str(tool_name), "arguments": arguments})
        except (TypeError, ValueError) as exc:
            raise ExternalCallError(f"call_external_api arguments are not JSON: {exc}") from None
        _write_all(fd, frame)
        reply = _read_frame(fd)
        if reply.get("op") != "values":
            raise ExternalCallError(reply.get("message") or "call_external_api failed")
        return dict(reply["values"])

    namespace = {"__builtins__": sandbox.builtins, "__name__": "mock", "call_external_api": call_external_api}
    random.seed(request.get("seed") or "")
    decimal.setcontext(decimal.Context())
    stage = "compile"
    try:
        compiled = request.get("compiled")
        if compiled is not None:  # compiled by the parent, from the code it checked
            code = marshal.loads(base64.b64decode(compiled))
        else:
            code = compile(request["code"], f"<mock {request.get('name') or 'tool'}>", "exec")
        signal.signal(signal.SIGPROF, on_cpu)
        signal.signal(signal.SIGXCPU, on_cpu)
        signal.setitimer(signal.ITIMER_PROF, cpu_s)
        stage = "run"
        exec(code, namespace)
        main = namespace.get("main")
        if not callable(main):
            reply = _failure("contract", "ContractError", "the module defines no main() function")
        else:
            output = main(**request["arguments"])
            stage = "encode"
            text = json.dumps(output, ensure_ascii=False, allow_nan=False)
            if len(text) > int(limits["output_kb"]) * 1024:
                reply = _failure(
                    "output",
                    "OutputTooLarge",
                    f"the output is {len(text) / 1024:.0f} KB of JSON, "
                    f"more than the {limits['output_kb']} KB allowed",
                )
            else:
                reply = {"op": "result", "ok": True, "output": text}
    except CpuLimitExceeded as exc:
        reply = _failure("cpu", "CpuLimitExceeded", f"{exc} ({cpu_s} s)")
    except MemoryError:
        reply = _failure("memory", "MemoryError", f"the mock used more than {limits['memory_mb']} MB")
    except RecursionError:
        reply = _failure("recursion", "RecursionError", f"recursion deeper than {limits['recursion']} frames")
    except ExternalCallError as exc:
        reply = _failure("external", "ExternalCallError", str(exc))
    except BaseException as exc:  # anything the mock raises fails this call only
        if stage == "encode" and isinstance(exc, TypeError | ValueError):
            reply = _failure("output", type(exc).__name__, f"the output is not JSON: {exc}")
        else:
            reply = _exception(exc)
    signal.setitimer(signal.ITIMER_PROF, 0)
    try:
        data = _encode(reply)
    except BaseException as exc:  # the mock broke the encoder: the parent refuses what comes
        data = _encode(_failure("output", type(exc).__name__, "the result could not be encoded"))
    _write_all(fd, data)


def _child(sandbox: Sandbox, confinement, fd: int, control: Control, limits) -> None:
    try:
        control.sock.close()
        os.closerange(3, fd)
        os.closerange(fd + 1, 1 << 16)
        _apply_limits(limits)
        confinement.apply()
    except BaseException as exc:  # never run a mock half-confined
        _write_all(fd, _encode(_failure("sandbox", type(exc).__name__, f"confinement failed: {exc}")))
        os._exit(3)
    try:
        run_call(sandbox, fd, limits)
    except MemoryError:
        _write_all(fd, _encode(_failure("memory", "MemoryError", f"more than {limits['memory_mb']} MB")))
    except CpuLimitExceeded:  # the timer fired just as the call ended
        _write_all(fd, _encode(_failure("cpu", "CpuLimitExceeded", f"more than {limits['cpu_s']} s")))
    finally:
        os._exit(0)


def main() -> None:
    control = Control()
    os.dup2(0, 1)  # stdout is /dev/null too: a mock's print goes nowhere
    init = control.read()
    limits = init["limits"]
    for path in init.get("path") or ():
        sys.path.append(path)
    sandbox = Sandbox(init["spec"])
    isolation = _load_isolation()
    confinement = isolation.Confinement()
    layers = dict(confinement.layers)
    layers.update(isolation.isolate_zygote())
    os.chdir("/")
    sys.dont_write_bytecode = True
    gc.freeze()  # what the zygote holds now is never scanned again: fewer pages copied per fork
    control.write({"op": "ready", "pid": os.getpid(), "layers": layers})
    dying: set[int] = set()
    while True:
        request = control.read()
        op = request.get("op")
        if op == "fork":
            # reap the calls the parent has killed, without waiting for those still dying
            dying.update(int(pid) for pid in request.get("reap") or ())
            for pid in list(dying):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        dying.discard(pid)
                except ChildProcessError:
                    dying.discard(pid)
            fd = control.take_fd()
            if fd is None:
                control.write({"op": "error", "message": "fork without a socket"})
                continue
            pid = os.fork()
            if pid == 0:
                _child(sandbox, confinement, fd, control, limits)
            os.close(fd)
            control.write({"op": "forked", "pid": pid})
        elif op == "wait":
            pid = int(request["pid"])
            dying.discard(pid)
            try:
                _, status, usage = os.wait4(pid, 0)
                control.write(
                    {"op": "status", "pid": pid, "status": status, "cpu_s": usage.ru_utime + usage.ru_stime}
                )
            except ChildProcessError:
                control.write({"op": "status", "pid": pid, "status": None, "cpu_s": None})
        else:
            control.write({"op": "error", "message": f"unknown op {op!r}"})


if __name__ == "__main__":
    main()
