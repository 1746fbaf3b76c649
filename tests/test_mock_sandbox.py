"""The sandbox: the allow-list refuses hostile code, the worker limits stop what gets through, and the
pool keeps answering after every failure (docs/design.md: generated code is untrusted)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from graph_toucan.mock.errors import MockArgumentsError, MockCallError, MockLimitError, MockPolicyError
from graph_toucan.mock.policy import check_code, sandbox_spec
from graph_toucan.mock.sandbox import Limits, SandboxPool, _Worker

GOOD = """
import math
from collections import Counter

def main(**arguments):
    words = Counter(arguments["text"].split())
    flat = call_external_api("lookup", word=words.most_common(1)[0][0])
    return {"root": math.sqrt(arguments["n"]), "top": flat["top"], "label": f"{arguments['n']:03d}"}
"""

# Each entry is refused by the allow-list before any worker sees it; the reason must name the trick.
REFUSED = {
    "read a file": ("def main(**a):\n    return open('/etc/passwd').read()", "'open'"),
    "write a file": ("def main(**a):\n    open('/tmp/x', 'w').write('x')\n    return {}", "'open'"),
    "import os": ("import os\ndef main(**a):\n    return os.listdir('/')", "import of 'os'"),
    "import sys": ("import sys\ndef main(**a):\n    return sys.path", "import of 'sys'"),
    "import subprocess": (
        "import subprocess\ndef main(**a):\n    return subprocess.run(['id']).returncode",
        "import of 'subprocess'",
    ),
    "import socket": ("import socket\ndef main(**a):\n    return socket.gethostname()", "import of 'socket'"),
    "from-import of a module": ("from os import path\ndef main(**a):\n    return 1", "import from 'os'"),
    "relative import": ("from . import x\ndef main(**a):\n    return 1", "import from"),
    "__import__": ("def main(**a):\n    return __import__('os').getcwd()", "'__import__'"),
    "subclasses escape": (
        "def main(**a):\n    return [c.__name__ for c in ().__class__.__bases__[0].__subclasses__()]",
        "'__subclasses__'",
    ),
    "globals escape": ("def main(**a):\n    return main.__globals__['__builtins__']", "'__globals__'"),
    "getattr trick": ("def main(**a):\n    return getattr(main, '__glo' + 'bals__')", "'getattr'"),
    "module private attribute": ("import random\ndef main(**a):\n    return random._os.getcwd()", "'_os'"),
    "frame walk": (
        "def main(**a):\n    g = (x for x in [1])\n    return g.gi_frame.f_back.f_globals",
        "'gi_frame'",
    ),
    "format attribute field": ("def main(**a):\n    return '{0.__class__}'.format(1)", "format"),
    "format on a variable": ("def main(**a):\n    t = '{0}'\n    return t.format(1)", "format"),
    "eval": ("def main(**a):\n    return eval('1+1')", "'eval'"),
    "exec": ("def main(**a):\n    exec('x=1')\n    return {}", "'exec'"),
    "compile": ("def main(**a):\n    return compile('1', 'f', 'eval')", "'compile'"),
    "globals()": ("def main(**a):\n    return globals()", "'globals'"),
    "vars()": ("def main(**a):\n    return vars()", "'vars'"),
    "kill itself": ("import os\ndef main(**a):\n    os.kill(os.getpid(), 9)", "import of 'os'"),
    "exit": ("def main(**a):\n    exit(3)", "'exit'"),
    "metaclass": (
        "class M(type):\n    pass\nclass C(metaclass=M):\n    pass\ndef main(**a):\n    return 1",
        "metaclass",
    ),
    "async": ("async def main(**a):\n    return 1", "async"),
    "syntax error": ("def main(**a)\n    return 1", "syntax error"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_allow_list_refuses_hostile_code_naming_the_trick(name):
    code, reason = REFUSED[name]
    with pytest.raises(MockPolicyError) as caught:
        check_code(code)
    assert reason in str(caught.value), str(caught.value)
    assert "line " in str(caught.value)


def test_allow_list_accepts_plain_pure_code_and_lists_every_violation():
    check_code(GOOD)
    check_code("def main(**a):\n    return {'v': '{} and {}'.format(1, 2)}")
    check_code(
        "import datetime\nclass P:\n    def __init__(self, x):\n        self.x = x\n"
        "def main(**a):\n    return {'d': datetime.date(2025, 1, 2).isoformat(), 'x': P(1).x}"
    )
    with pytest.raises(MockPolicyError) as caught:
        check_code("import os\nimport socket\ndef main(**a):\n    return open('x')")
    assert len(caught.value.violations) == 3
    assert [v.split(":")[0] for v in caught.value.violations] == ["line 1", "line 2", "line 4"]


@pytest.fixture
async def pool():
    limits = Limits(cpu_s=0.5, wall_s=2.0, memory_mb=256, output_kb=64)
    async with SandboxPool(workers=1, limits=limits) as started:
        yield started


async def _still_serves(pool: SandboxPool) -> None:
    async def external(tool: str, arguments: dict) -> dict:
        assert tool == "lookup"
        return {"top": arguments["word"].upper()}

    output = await pool.run(GOOD, {"text": "b a b", "n": 16}, external=external)
    assert output == {"root": 4.0, "top": "B", "label": "016"}


async def test_pool_runs_a_mock_and_answers_call_external_api_from_the_parent(pool):
    await _still_serves(pool)
    with pytest.raises(MockArgumentsError, match=r"ValueError: n must be positive \(line 3\)"):
        await pool.run(
            "def main(**a):\n    if a['n'] < 0:\n        raise ValueError('n must be positive')", {"n": -1}
        )


# Each entry passes the allow-list and is stopped by a limit of the worker: (code, error kind, message part).
LIMITED = {
    "infinite loop": ("def main(**a):\n    while True:\n        pass", "cpu", "CPU time"),
    "memory bomb": (
        "def main(**a):\n    chunks = []\n    while True:\n        chunks.append('x' * 10**7)",
        "memory",
        "more than 256 MB",
    ),
    "deep recursion": (
        "def main(**a):\n    def f(n):\n        return f(n + 1)\n    return f(0)",
        "recursion",
        "recursion",
    ),
    "huge output": ("def main(**a):\n    return {'x': 'y' * 10**6}", "output", "more than the 64 KB"),
    "loop that swallows the CPU signal": (
        "def main(**a):\n    while True:\n        try:\n            while True:\n                pass\n"
        "        except Exception:\n            pass",
        "wall",
        "longer than 2.0 s",
    ),
}


@pytest.mark.parametrize("name", list(LIMITED))
async def test_limits_stop_a_hostile_mock_and_the_pool_keeps_serving(pool, name):
    code, kind, message = LIMITED[name]
    check_code(code)  # these get past the allow-list: only the limits stop them
    started = time.monotonic()
    with pytest.raises(MockLimitError) as caught:
        await pool.run(code, {}, name="hostile")
    assert caught.value.kind == kind
    assert message in str(caught.value)
    assert time.monotonic() - started < 6
    await _still_serves(pool)


async def test_a_worker_killed_mid_call_fails_that_call_and_is_replaced(pool):
    [victim] = pool.pids
    call = asyncio.create_task(pool.run("def main(**a):\n    while True:\n        pass", {}, name="spin"))
    await asyncio.sleep(0.3)
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(MockCallError, match="killed by SIGKILL") as caught:
        await call
    assert caught.value.kind == "crash"
    await _still_serves(pool)
    assert pool.pids and pool.pids != [victim]
    assert pool.restarts == 1


async def test_a_cancelled_call_does_not_leave_its_answer_for_the_next_caller(pool):
    call = asyncio.create_task(pool.run("def main(**a):\n    while True:\n        pass", {}, name="spin"))
    await asyncio.sleep(0.2)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await _still_serves(pool)  # a fresh worker, not the one still spinning
    assert pool.restarts == 1


async def test_workers_have_no_secrets_in_their_environment(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret-for-the-test")
    async with SandboxPool(workers=2) as pool:
        for pid in pool.pids:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            names = {e.split(b"=", 1)[0].decode() for e in environ if e}
            assert names == {"PATH", "LANG", "PYTHONHASHSEED"}
            assert b"sk-secret" not in b"".join(environ)


async def test_the_worker_enforces_the_allow_list_again_at_run_time():
    """Defence in depth: code that never went through check_code still cannot import or open."""
    worker = await _Worker.start(Limits(), sandbox_spec())
    try:
        for code, expected in [
            ("import os\ndef main(**a):\n    return 1", "import of 'os' is not allowed"),
            ("def main(**a):\n    return open('/etc/passwd').read()", "name 'open' is not defined"),
            ("import random\ndef main(**a):\n    return random._os.getcwd()", "no attribute '_os'"),
        ]:
            reply = await worker.run({"op": "call", "code": code, "name": "raw", "arguments": {}}, None)
            assert reply["ok"] is False and expected in reply["message"], reply
    finally:
        await worker.close()


async def test_external_failures_and_simulator_time():
    async def broken(tool: str, arguments: dict) -> dict:
        raise RuntimeError("the teacher is down")

    async def slow(tool: str, arguments: dict) -> dict:
        await asyncio.sleep(0.8)  # longer than wall_s, but spent in the parent, not in the mock
        return {"v": 1}

    code = "def main(**a):\n    return call_external_api('t', q=1)"
    async with SandboxPool(workers=1, limits=Limits(wall_s=0.5)) as pool:
        with pytest.raises(MockCallError, match="the value simulator failed: the teacher is down") as caught:
            await pool.run(code, {}, external=broken)
        assert caught.value.kind == "external"
        assert await pool.run(code, {}, external=slow) == {"v": 1}
        with pytest.raises(MockCallError, match="has no value simulator"):
            await pool.run(code, {})
        await _still_serves(pool)


async def test_random_is_seeded_per_call_and_state_does_not_leak_between_calls(pool):
    code = "import random\nCOUNT = []\ndef main(**a):\n    COUNT.append(1)\n    return [random.random(), len(COUNT)]"
    first = await pool.run(code, {}, seed="s1")
    assert await pool.run(code, {}, seed="s1") == first
    assert (await pool.run(code, {}, seed="s2"))[0] != first[0]
    assert first[1] == 1
