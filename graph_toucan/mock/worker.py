"""A sandbox worker: runs mock modules sent by the parent, one call at a time.

Started by :mod:`graph_toucan.mock.sandbox` as ``python -S -s -B -P worker.py`` with a scrubbed
environment; it imports only the standard library, so it can run by path from a checkout or a wheel.

Protocol (both directions): frames of a 4-byte big-endian length and UTF-8 JSON, on the worker's
original stdin and stdout (which are then pointed at /dev/null, so a mock's ``print`` goes nowhere).

    parent -> {"op": "init", "limits": {...}, "spec": {"modules": {...}, "builtins": [...]}}
    worker -> {"op": "ready", "pid": N}
    parent -> {"op": "call", "code": "...", "name": "tool", "arguments": {...}, "seed": "..."}
    worker -> {"op": "external", "tool": "...", "arguments": {...}}     (zero or more times)
    parent -> {"op": "values", "values": {...}} | {"op": "error", "message": "..."}
    worker -> {"op": "result", "ok": true, "output": "<json text>"}
            | {"op": "result", "ok": false, "kind": "...", "type": "...", "message": "...", "line": N}

Limits set here: address space (RLIMIT_AS), CPU seconds per call (ITIMER_PROF, backed by a soft
RLIMIT_CPU; both signals raise inside the mock), no child processes (RLIMIT_NPROC 0), no file
writes (RLIMIT_FSIZE 0), no core files, and a recursion limit. The parent adds the wall-clock limit and kills what overruns it.
"""

import contextlib
import decimal
import hashlib
import importlib
import json
import math
import os
import random
import resource
import signal
import struct
import sys
import traceback
import types

_HEADER = struct.Struct(">I")


class CpuLimitExceeded(Exception):
    """Raised inside the mock when its CPU seconds are spent."""


class ExternalCallError(Exception):
    """The parent could not answer ``call_external_api``."""


class Channel:
    def __init__(self) -> None:
        self.reader = os.fdopen(os.dup(0), "rb", buffering=0)
        self.writer = os.fdopen(os.dup(1), "wb", buffering=0)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.close(devnull)

    def read(self):
        header = self._exactly(_HEADER.size)
        return json.loads(self._exactly(_HEADER.unpack(header)[0]))

    def write(self, message) -> None:
        data = json.dumps(message, ensure_ascii=False, allow_nan=False).encode()
        self.writer.write(_HEADER.pack(len(data)) + data)

    def _exactly(self, n: int) -> bytes:
        chunks = []
        while n:
            chunk = self.reader.read(n)
            if not chunk:
                sys.exit(0)  # the parent closed the pipe: shut down quietly
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)


def _on_xcpu(signum, frame):
    raise CpuLimitExceeded("the mock used more CPU time than allowed")


def apply_limits(limits) -> None:
    memory = int(limits["memory_mb"]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file write fails with EFBIG instead of killing us
    with contextlib.suppress(ValueError, OSError):  # some containers forbid lowering it
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    signal.signal(signal.SIGXCPU, _on_xcpu)
    signal.signal(signal.SIGPROF, _on_xcpu)
    sys.setrecursionlimit(int(limits["recursion"]))
    sys.dont_write_bytecode = True


def arm_cpu(seconds: float) -> None:
    """A precise per-call CPU budget (ITIMER_PROF counts user and system time), backed by a soft
    RLIMIT_CPU one second later in case the timer's signal is swallowed."""
    signal.setitimer(signal.ITIMER_PROF, seconds)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def disarm_cpu() -> None:
    signal.setitimer(signal.ITIMER_PROF, 0)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


class Sandbox:
    """Restricted builtins and module proxies rebuilt from the parent's allow-list."""

    def __init__(self, spec, channel: Channel, limits) -> None:
        self.channel = channel
        self.limits = limits
        self.modules = {}
        for name, names in spec["modules"].items():
            module = importlib.import_module(name)
            self.modules[name] = types.SimpleNamespace(**{n: getattr(module, n) for n in names})
        import builtins

        self.builtins = {n: getattr(builtins, n) for n in spec["builtins"]}
        self.builtins["__import__"] = self._import
        self.builtins["__build_class__"] = builtins.__build_class__
        self.compiled: dict[str, types.CodeType] = {}
        # Warm what allowed code may import lazily later, before the limits make that impossible.
        import _strptime  # noqa: F401

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        if level or name not in self.modules:
            raise ImportError(f"import of {name!r} is not allowed in the sandbox")
        return self.modules[name]

    def code(self, source: str, name: str):
        key = hashlib.sha256(source.encode()).hexdigest()
        compiled = self.compiled.get(key)
        if compiled is None:
            if len(self.compiled) > 256:
                self.compiled.clear()
            compiled = self.compiled[key] = compile(source, f"<mock {name}>", "exec")
        return compiled

    def call(self, request):
        calls = {"n": 0}

        def call_external_api(tool_name, /, **arguments):
            calls["n"] += 1
            if calls["n"] > int(self.limits["external_calls"]):
                raise ExternalCallError(
                    f"more than {self.limits['external_calls']} call_external_api calls in one mock call"
                )
            try:
                self.channel.write({"op": "external", "tool": str(tool_name), "arguments": arguments})
            except (TypeError, ValueError) as exc:
                raise ExternalCallError(f"call_external_api arguments are not JSON: {exc}") from None
            reply = self.channel.read()
            if reply.get("op") != "values":
                raise ExternalCallError(reply.get("message") or "call_external_api failed")
            return dict(reply["values"])

        namespace = {
            "__builtins__": self.builtins,
            "__name__": "mock",
            "call_external_api": call_external_api,
        }
        random.seed(request.get("seed") or "")
        decimal.setcontext(decimal.Context())
        code = self.code(request["code"], request.get("name") or "tool")
        arm_cpu(float(self.limits["cpu_s"]))
        stage = "run"
        try:
            exec(code, namespace)
            main = namespace.get("main")
            if not callable(main):
                return _failure("contract", "ContractError", "the module defines no main() function")
            output = main(**request["arguments"])
            stage = "encode"
            text = json.dumps(output, ensure_ascii=False, allow_nan=False)
        except CpuLimitExceeded as exc:
            return _failure("cpu", "CpuLimitExceeded", f"{exc} ({self.limits['cpu_s']} s)")
        except MemoryError:
            return _failure("memory", "MemoryError", f"the mock used more than {self.limits['memory_mb']} MB")
        except RecursionError:
            return _failure(
                "recursion", "RecursionError", f"recursion deeper than {self.limits['recursion']} frames"
            )
        except ExternalCallError as exc:
            return _failure("external", "ExternalCallError", str(exc))
        except BaseException as exc:  # anything the mock raises fails this call only
            if stage == "encode" and isinstance(exc, TypeError | ValueError):
                return _failure("output", type(exc).__name__, f"the output is not JSON: {exc}")
            return _exception(exc)
        finally:
            disarm_cpu()
        limit = int(self.limits["output_kb"]) * 1024
        if len(text) > limit:
            return _failure(
                "output",
                "OutputTooLarge",
                f"the output is {len(text) / 1024:.0f} KB of JSON, more than the {self.limits['output_kb']} KB allowed",
            )
        return {"op": "result", "ok": True, "output": text}


def _failure(kind, type_name, message, line=None):
    return {"op": "result", "ok": False, "kind": kind, "type": type_name, "message": message, "line": line}


def _exception(exc):
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith("<mock"):
            line = frame.lineno
    try:
        message = str(exc)[:2000]
    except Exception:  # a hostile __str__
        message = "(the exception's message could not be read)"
    kind = "arguments" if isinstance(exc, TypeError | ValueError) else "exception"
    return _failure(kind, type(exc).__name__, message, line)


def main() -> None:
    channel = Channel()
    init = channel.read()
    limits = init["limits"]
    sandbox = Sandbox(init["spec"], channel, limits)
    apply_limits(limits)
    os.chdir("/")
    channel.write({"op": "ready", "pid": os.getpid()})
    while True:
        request = channel.read()
        if request.get("op") != "call":
            channel.write(_failure("protocol", "ProtocolError", f"unknown op {request.get('op')!r}"))
            continue
        try:
            reply = sandbox.call(request)
        except MemoryError:
            reply = _failure("memory", "MemoryError", f"the mock used more than {limits['memory_mb']} MB")
        except CpuLimitExceeded:  # the timer fired just as the call ended
            disarm_cpu()
            reply = _failure(
                "cpu", "CpuLimitExceeded", f"the mock used more CPU time than allowed ({limits['cpu_s']} s)"
            )
        channel.write(reply)


if __name__ == "__main__":
    main()
