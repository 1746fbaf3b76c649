"""The sandbox: the allow-list refuses hostile code, the worker limits stop what gets through, and the
pool keeps answering after every failure: generated code is untrusted."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from graph_toucan.mock import policy, sandbox
from graph_toucan.mock.errors import MockArgumentsError, MockCallError, MockLimitError, MockPolicyError
from graph_toucan.mock.policy import check_code, check_key
from graph_toucan.mock.sandbox import Limits, SandboxPool

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
    "match class pattern": (
        "import json\ndef main(**a):\n    match json:\n        case object(__getattr__=f):\n            return f",
        "class pattern matching the private or dunder attribute '__getattr__'",
    ),
    "match mapping pattern": (
        "def main(**a):\n    match a:\n        case {'_x': v}:\n            return v",
        "mapping pattern may match only literal keys",
    ),
    "dunder name in a string": (
        "import functools\ndef main(**a):\n    return functools.partial(main, '__globals__')",
        "a string naming '__globals__'",
    ),
    "update_wrapper": (
        "import functools\ndef main(**a):\n    return functools.update_wrapper(main, main)",
        "functools.update_wrapper is not available",
    ),
    "nested format spec": (
        "def main(**a):\n    return '{0:{1.real}}'.format(1, 2)",
        ".format() is allowed only",
    ),
    "assign a module's class attribute": (
        "import json\ndef main(**a):\n    json.JSONEncoder.encode = None",
        "assignment to the attribute 'encode' of 'json.JSONEncoder'",
    ),
    "assign through an alias": (
        "import random\ndef main(**a):\n    r = random\n    r.randint = None",
        "assignment to the attribute 'randint' of 'r'",
    ),
    "type with three arguments": (
        "def main(**a):\n    return type('X', (), {})",
        "type() with more than one",
    ),
    "dunder parameter": ("def main(__builtins__=None, **a):\n    return 1", "dunder parameter"),
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
        "    def grow(self):\n        self.x += 1\n"
        "def main(**a):\n    return {'d': datetime.date(2025, 1, 2).isoformat(), 'x': P(1).x}"
    )
    check_code(
        'def main(**a):\n    "Docstrings may name __init__."\n    match a:\n'
        "        case {'city': str(c)}:\n            return {'v': f'{c:>10}', 'w': '{0:>{1}}'.format(c, 3)}"
    )
    with pytest.raises(MockPolicyError) as caught:
        check_code("import os\nimport socket\ndef main(**a):\n    return open('x')")
    assert len(caught.value.violations) == 3
    assert [v.split(":")[0] for v in caught.value.violations] == ["line 1", "line 2", "line 4"]


def test_a_check_a_pool_trusts_skips_the_parse_of_that_code_under_those_rules_only(monkeypatch):
    first = SandboxPool(workers=1)
    first.check(GOOD)
    with pytest.raises(MockPolicyError):
        first.check("import os\ndef main(**a):\n    return 1")
    assert first.passed() == {check_key(GOOD)}  # a refusal is never remembered as passed
    parsed: list[str] = []
    monkeypatch.setattr(sandbox, "check_code", lambda code: parsed.append(code) or check_code(code))
    later = SandboxPool(workers=1)
    later.trust(first.passed())
    later.check(GOOD)
    assert parsed == []
    hostile = GOOD + "\nimport os\n"
    with pytest.raises(MockPolicyError):
        later.check(hostile)  # other code has another key: checked, and refused
    assert parsed == [hostile]
    monkeypatch.setattr(policy, "policy_digest", lambda: "other rules")
    assert check_key(GOOD) not in first.passed()  # changed rules: the old verdict no longer applies


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
        "cpu",
        "more than 0.5 s",
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


async def test_the_wall_clock_limit_kills_a_call_that_outlives_it():
    async with SandboxPool(workers=1, limits=Limits(cpu_s=5, wall_s=0.5)) as pool:
        started = time.monotonic()
        with pytest.raises(MockLimitError, match=r"longer than 0\.5 s") as caught:
            await pool.run("def main(**a):\n    while True:\n        pass", {})
        assert caught.value.kind == "wall" and time.monotonic() - started < 2
        await _still_serves(pool)


async def test_a_call_process_killed_mid_call_fails_that_call_only(pool):
    call = asyncio.create_task(pool.run("def main(**a):\n    while True:\n        pass", {}, name="spin"))
    while not pool.call_pids:
        await asyncio.sleep(0.01)
    [victim] = pool.call_pids
    zygote = pool.pids
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(MockCallError, match="killed by SIGKILL") as caught:
        await call
    assert caught.value.kind == "crash"
    await _still_serves(pool)
    assert pool.pids == zygote and pool.restarts == 0  # the zygote never runs mock code


async def test_a_dead_zygote_is_replaced(pool):
    [zygote] = pool.pids
    os.kill(zygote, signal.SIGKILL)
    await _still_serves(pool)  # whether or not the pool has noticed the death yet
    assert pool.pids and pool.pids != [zygote]
    assert pool.restarts == 1


async def test_a_cancelled_call_does_not_leave_its_process_or_answer_behind(pool):
    call = asyncio.create_task(pool.run("def main(**a):\n    while True:\n        pass", {}, name="spin"))
    while not pool.call_pids:
        await asyncio.sleep(0.01)
    [spinning] = pool.call_pids
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await _still_serves(pool)  # a fresh process, not the one that was spinning
    assert (
        not Path(f"/proc/{spinning}").exists() or "Z" in Path(f"/proc/{spinning}/stat").read_text().split()[2]
    )
    assert pool.call_pids == []


async def test_the_zygote_has_no_secrets_in_its_environment(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret-for-the-test")
    async with SandboxPool(workers=2) as pool:
        for pid in pool.pids:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            names = {e.split(b"=", 1)[0].decode() for e in environ if e}
            assert names == {"PATH", "LANG", "PYTHONHASHSEED"}
            assert b"sk-secret" not in b"".join(environ)


async def test_the_call_process_enforces_the_allow_list_again_at_run_time(pool):
    """Defence in depth: code that never went through check_code still cannot import or open."""
    for code, expected in [
        ("import os\ndef main(**a):\n    return 1", "import of 'os' is not allowed"),
        ("def main(**a):\n    return open('/etc/passwd').read()", "name 'open' is not defined"),
        ("import random\ndef main(**a):\n    return random._os.getcwd()", "no attribute '_os'"),
        ("import json\ndef main(**a):\n    json.dumps = None", "read-only"),
    ]:
        with pytest.raises(MockCallError, match=expected):
            await pool.run_unchecked(code, {}, name="raw")


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


async def test_every_required_isolation_layer_is_in_force_and_the_parent_is_not_dumpable(pool):
    import ctypes

    from graph_toucan.mock.isolation import REQUIRED_LAYERS

    layers = pool.layers
    assert all(layer in layers for layer in REQUIRED_LAYERS), layers
    assert "EPERM" in layers["seccomp"]
    libc = ctypes.CDLL(None)
    assert libc.prctl(3, 0, 0, 0, 0) == 0  # PR_GET_DUMPABLE: /proc/<parent>/environ is not readable
    code = "def main(**a):\n    return {'v': 1}"
    assert await pool.run(code, {}) == {"v": 1}


async def test_a_pool_without_a_required_layer_refuses_to_run_generated_code(monkeypatch):
    from graph_toucan.errors import GraphToucanError
    from graph_toucan.mock import sandbox

    monkeypatch.setattr(sandbox, "_seccomp_path", lambda: [])  # the zygote cannot load pyseccomp
    with pytest.raises(
        GraphToucanError, match=r"lacks seccomp .*pip install pyseccomp.*GRAPH_TOUCAN_SANDBOX=weak"
    ):
        async with SandboxPool(workers=1):
            pass
    monkeypatch.setenv("GRAPH_TOUCAN_SANDBOX", "weak")
    async with SandboxPool(workers=1) as weak:
        assert "seccomp" not in weak.layers and "seccomp_error" in weak.layers
        assert "landlock" in weak.layers or "landlock_error" in weak.layers
        assert await weak.run("def main(**a):\n    return 2", {}) == 2


# Escaped code (the allow-list skipped) writing raw bytes on its socket: the parent's own decoder and
# checks refuse each frame, the call fails with a clear error, and the next call is a fresh process.
ESCAPE = (
    "def main(**a):\n    g = call_external_api.__globals__\n    os = g['os']\n"
    "    for fd in range(3, 16):\n        try:\n            os.write(fd, DATA)\n        except Exception:\n"
    "            pass\n    os._exit(0)\n"
)


def _framed(text: bytes) -> bytes:
    return len(text).to_bytes(4, "big") + text


FRAMES = {
    "a length past the limit": (b"\xff\xff\xff\xff", "more than"),
    "a frame that is not JSON": (_framed(b"abc"), "not strict JSON"),
    "NaN in a frame": (_framed(b'{"op": "result", "ok": false, "x": NaN}'), "not strict JSON"),
    "an unknown op": (_framed(b'{"op": "ready!"}'), "neither an external request nor a result"),
    "an external request without arguments": (
        _framed(b'{"op": "external", "tool": 1}'),
        "without a tool name and an arguments object",
    ),
    "a cut frame": (_framed(b'{"op": "result", "ok": true, "output": "1"}')[:-3], "closed its socket"),
}


@pytest.mark.parametrize("name", list(FRAMES))
async def test_the_parent_refuses_frames_that_break_the_protocol(pool, name):
    data, message = FRAMES[name]
    code = f"DATA = {data!r}\n" + ESCAPE
    with pytest.raises(MockCallError, match=message) as caught:
        await pool.run_unchecked(code, {})
    assert caught.value.kind == "crash"
    await _still_serves(pool)


async def test_a_call_process_gone_while_its_parent_answers_it_is_a_crash(pool):
    # The process asks for values and dies: the parent's answer meets a closed socket (a broken pipe,
    # or the end of the stream when the parent saw that first). Either way the call fails as a crash,
    # not as the pipe's own error, and the next call is served.
    request = _framed(b'{"op": "external", "tool": "lookup", "arguments": {}}')
    code = f"DATA = {request!r}\n" + ESCAPE

    async def external(tool: str, arguments: dict) -> dict:
        await asyncio.sleep(0.2)  # the process is gone by the time the values are sent
        return {"top": "X"}

    for _ in range(3):
        with pytest.raises(MockCallError, match="crashed its call process") as caught:
            await pool.run_unchecked(code, {}, external=external)
        assert caught.value.kind == "crash"
    await _still_serves(pool)


async def test_a_forged_result_answers_only_the_call_that_forged_it(pool):
    frame = b'{"op": "result", "ok": true, "output": "{\\"city\\": \\"PWNED\\"}"}'
    code = f"DATA = {_framed(frame) * 5!r}\n" + ESCAPE
    assert await pool.run_unchecked(code, {}) == {"city": "PWNED"}  # its own answer, nothing more
    await _still_serves(pool)
    await _still_serves(pool)


async def test_allowed_modules_work_whole_inside_the_confined_process(pool):
    code = (
        "import datetime, decimal, json, re, statistics\nfrom collections import Counter\n"
        "def main(**a):\n    d = datetime.datetime.strptime(a['day'], '%Y-%m-%d')\n"
        "    return {'d': d.isoformat(), 'w': d.strftime('%A'), 'top': Counter('abca').most_common(1)[0][0],\n"
        "            'm': statistics.median([3, 1, 2]), 'x': str(decimal.Decimal('1.10') * 3),\n"
        "            'r': re.sub(r'\\d', '#', 'a1b2'), 'j': json.loads('[1]'), 'now': datetime.datetime.now().year > 2000}"
    )
    assert await pool.run(code, {"day": "2024-03-01"}) == {
        "d": "2024-03-01T00:00:00",
        "w": "Friday",
        "top": "a",
        "m": 2,
        "x": "3.30",
        "r": "a#b#",
        "j": [1],
        "now": True,
    }


async def test_forks_wait_for_a_full_control_socket_instead_of_failing():
    """Many calls at once on a control socket with a small buffer: each fork request waits for room
    (with its descriptor) rather than losing the zygote to EAGAIN."""
    import socket

    async with SandboxPool(workers=64) as pool:
        pool._zygote.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)  # the kernel's least
        outputs = await asyncio.gather(
            *(pool.run(f"def main(**a):\n    return {{'n': a['n'] + {i}}}", {"n": i}) for i in range(64))
        )
        assert outputs == [{"n": 2 * i} for i in range(64)]
        assert pool.restarts == 0
