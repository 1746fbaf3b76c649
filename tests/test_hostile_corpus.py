"""The hostile corpus (tests/hostile/): each module names the attack it makes and the result expected,
``static`` (the allow-list refuses it) or ``runtime KIND`` (it runs and a limit or check of the call
process stops it). Every ``static`` module is run a second time with the allow-list skipped, so the
OS layers alone must hold. After each module, nothing may have escaped: no secret of the parent in
what came back, files untouched, no connection to a loopback listener, no process killed or left
running, no limit exceeded, and a good mock answers as before. The corpus also goes through
``mock build`` with a teacher that returns it: nothing is accepted.

    python -m tests.test_hostile_corpus     # the table of results, module by module
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from graph_toucan.llm import LLM, ScriptedBackend
from graph_toucan.mock.build import build_mock
from graph_toucan.mock.errors import MockCallError, MockError, MockPolicyError
from graph_toucan.mock.policy import calls_external_api, check_code
from graph_toucan.mock.sandbox import Limits, SandboxPool
from graph_toucan.records import Tool
from graph_toucan.store import Store

CORPUS = sorted((Path(__file__).parent / "hostile").glob("h*.py"))
LIMITS = Limits(cpu_s=1.0, wall_s=3.0, memory_mb=256, output_kb=256)
CANARY_TEXT = "canary: nobody may change or read this\n"
GOOD = """
import math
import json
import random

def main(**a):
    random.seed(a["n"])
    flat = call_external_api("lookup", n=a["n"])
    return {"root": math.sqrt(a["n"]), "draw": random.randint(1, 10**6), "json": json.dumps({"k": [1, 2]}),
            "n": len([1, 2, 3]), "top": flat["top"]}
"""


def expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} has no '# expect:' line"
    return first.removeprefix("# expect: ").strip()


def attack(path: Path) -> str:
    return path.read_text().splitlines()[1].removeprefix("# attack: ").strip()


class _Listener:
    """A TCP and a UDP socket on one loopback port that count whatever reaches them."""

    def __init__(self) -> None:
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.setblocking(False)
        self.hits: list[str] = []
        self.tcp.settimeout(0.2)
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, peer = self.tcp.accept()
                self.hits.append(f"tcp from {peer}")
                conn.close()
            except (TimeoutError, OSError):
                continue

    def count(self) -> int:
        try:
            while True:
                self.hits.append(f"udp {self.udp.recv(100)!r}")
        except BlockingIOError:
            pass
        return len(self.hits)

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.tcp.close()
        self.udp.close()


@dataclass
class World:
    """What the corpus tries to reach, and how to tell whether it did."""

    secret: str
    canary_dir: Path
    canary: Path
    listener: _Listener
    sibling: subprocess.Popen

    def arguments(self) -> dict[str, Any]:
        return {
            "a": 1,
            "b": 2,
            "canary": str(self.canary),
            "canary_dir": str(self.canary_dir),
            "parent_pid": os.getpid(),
            "port": self.listener.port,
            "sibling_pid": self.sibling.pid,
        }

    def escapes(self, text: str) -> list[str]:
        """Every sign that the last module got out, given all the text it sent back."""
        found = []
        if self.secret in text:
            found.append("the parent's secret came back")
        if "ESCAPED" in text:
            found.append(f"the payload reported success: {text[text.index('ESCAPED') :][:80]}")
        if "root:x:0:0" in text or "root:$" in text or "root:*" in text or "root:!" in text:
            found.append("/etc/passwd or /etc/shadow came back")
        if CANARY_TEXT.strip() in text:
            found.append("the canary file was read")
        if not self.canary.exists() or self.canary.read_text() != CANARY_TEXT:
            found.append("the canary file was removed or changed")
        elif self.canary.stat().st_mode & 0o777 != 0o666:
            found.append("the canary file's mode changed")
        if sorted(p.name for p in self.canary_dir.iterdir()) != ["canary.txt"]:
            found.append(f"files appeared in the canary folder: {sorted(os.listdir(self.canary_dir))}")
        if self.listener.count():
            found.append(f"the loopback listener was reached: {self.listener.hits}")
        if self.sibling.poll() is not None:
            found.append("the sibling process was killed")
        if any(Path("/tmp").glob("gt-escape*")):
            found.append("a file appeared under /tmp")
        return found


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    saved = os.environ.get("ANTHROPIC_API_KEY")
    secret = f"sk-test-secret-{secrets.token_hex(8)}"
    os.environ["ANTHROPIC_API_KEY"] = secret
    canary_dir = Path(tempfile.mkdtemp(prefix="gt-canary-"))
    canary_dir.chmod(0o777)  # only the sandbox, not file permissions, may stop the corpus
    canary = canary_dir / "canary.txt"
    canary.write_text(CANARY_TEXT)
    canary.chmod(0o666)
    listener = _Listener()
    sibling = subprocess.Popen(["sleep", "600"])
    try:
        yield World(secret, canary_dir, canary, listener, sibling)
    finally:
        sibling.kill()
        sibling.wait()
        listener.close()
        shutil.rmtree(canary_dir, ignore_errors=True)
        if saved is None:
            os.environ.pop("ANTHROPIC_API_KEY", None)
        else:
            os.environ["ANTHROPIC_API_KEY"] = saved


async def _external(tool: str, arguments: dict) -> dict:
    return {"top": f"v{arguments.get('n')}"}


def _live_children(pid: int) -> list[int]:
    """Children of ``pid`` that are not zombies."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


async def _attempt(pool: SandboxPool, code: str, world: World, *, checked: bool) -> tuple[str, str]:
    """(outcome, all text that came back): ``ok``, ``policy`` or the error's kind."""
    run = pool.run if checked else pool.run_unchecked
    try:
        output = await run(code, world.arguments(), name="hostile", external=_external, seed="s")
        return "ok", json.dumps(output)
    except MockPolicyError as exc:
        return "policy", str(exc)
    except MockCallError as exc:
        return exc.kind, str(exc)


async def run_module(pool: SandboxPool, path: Path, world: World) -> dict[str, Any]:
    """Run one corpus module (checked, then unchecked when static) and collect every escape."""
    code = path.read_text()
    expected = expectation(path)
    result: dict[str, Any] = {"module": path.name, "expected": expected, "escapes": []}
    [zygote] = pool.pids
    baseline = await pool.run(GOOD, {"n": 16}, external=_external)
    runs = [("checked", True)] + ([("unchecked", False)] if expected == "static" else [])
    for label, checked in runs:
        started = time.monotonic()
        outcome, text = await _attempt(pool, code, world, checked=checked)
        elapsed = time.monotonic() - started
        result[label] = outcome
        result["escapes"] += [f"{label}: {e}" for e in world.escapes(text)]
        if elapsed > LIMITS.wall_s + 1.5:
            result["escapes"].append(f"{label}: ran {elapsed:.1f} s, past the wall-clock limit")
        for _ in range(100):
            if not _live_children(zygote):
                break
            await asyncio.sleep(0.01)
        else:
            result["escapes"].append(f"{label}: a process outlived its call: {_live_children(zygote)}")
        if pool.pids != [zygote] or pool.call_pids:
            result["escapes"].append(f"{label}: the zygote was replaced or a call is still running")
        after = await pool.run(GOOD, {"n": 16}, external=_external)
        if after != baseline:
            result["escapes"].append(f"{label}: a good mock now answers {after} instead of {baseline}")
    return result


def _tolerated(expected: str, outcome: str) -> bool:
    if expected == "static":
        return outcome == "policy"
    return outcome == expected.removeprefix("runtime ").strip()


def test_the_corpus_is_large_and_every_module_says_what_to_expect():
    assert len(CORPUS) >= 80
    for path in CORPUS:
        expected = expectation(path)
        assert expected == "static" or expected.startswith("runtime "), path.name
        assert attack(path), path.name
        if expected == "static":
            with pytest.raises(MockPolicyError):
                check_code(path.read_text())
        else:
            check_code(path.read_text())  # allowed code: only the call process stops it


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
async def test_no_module_of_the_corpus_escapes(path, world):
    async with SandboxPool(workers=1, limits=LIMITS) as pool:
        result = await run_module(pool, path, world)
    assert result["escapes"] == [], result
    assert _tolerated(result["expected"], result["checked"]), result


async def test_mock_build_accepts_none_of_the_corpus_and_tells_the_teacher_no_secret(world, tmp_path):
    add = Tool(
        server_id="calc",
        server_name="Calc",
        name="add",
        input_schema={
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
        },
        output_schema={
            "type": "object",
            "properties": {"result": {"type": "number"}},
            "required": ["result"],
        },
        tool_class="computation",
        source="test",
    )
    lookup = add.model_copy(update={"name": "lookup", "tool_class": "query"})
    codes = [p.read_text() for p in CORPUS]
    backend = ScriptedBackend([json.dumps({"code": f"```python\n{code}\n```"}) for code in codes])
    llm = LLM(backend, Store(tmp_path / "gt.db"))
    accepted = []
    async with SandboxPool(workers=2, limits=LIMITS) as pool:
        for path, code in zip(CORPUS, codes, strict=True):
            try:
                tool = lookup if calls_external_api(check_code(code)) else add
            except MockPolicyError:
                tool = add
            tool = tool.model_copy(update={"name": f"{tool.name}_{path.stem}"})  # one prompt each
            mock = await build_mock(tool, llm, pool, attempts=1)
            if mock.status == "accepted":
                accepted.append(path.name)
    assert accepted == []
    assert len(backend.requests) == len(CORPUS)
    assert world.escapes(json.dumps(backend.requests)) == []


async def test_the_pool_serves_the_bundled_mocks_identically_after_the_whole_corpus(world):
    from graph_toucan.mock.files import bundled_mock_folder, read_mock_folder
    from graph_toucan.mock.runtime import MockRuntime
    from graph_toucan.schema import example_arguments

    mocks = read_mock_folder(bundled_mock_folder())
    async with SandboxPool(workers=2, limits=LIMITS) as pool:
        runtime = MockRuntime(pool)
        runtime.add(mocks)
        calls = [
            (name, example_arguments(m.mock.tool.input_schema)) for name, m in sorted(runtime.mocks.items())
        ]

        async def answers() -> list[Any]:
            out = []
            for n, (name, arguments) in enumerate(calls):
                try:
                    out.append(await runtime.call(name, arguments, conversation=f"c{n}"))
                except MockError as exc:
                    out.append(f"error: {exc}")
            return out

        before = await answers()
        assert sum(not isinstance(a, str) for a in before) >= 80  # most bundled mocks answer
        for path in CORPUS:
            code = path.read_text()
            await _attempt(pool, code, world, checked=True)
            if expectation(path) == "static":
                await _attempt(pool, code, world, checked=False)
        runtime.conversations = type(runtime.conversations)()  # the same fresh conversations again
        assert await answers() == before
        assert world.escapes("") == []


async def _table() -> None:
    with tempfile.TemporaryDirectory():
        gen = world.__wrapped__()  # type: ignore[attr-defined]
        w = next(gen)
        counts: dict[str, int] = {}
        try:
            for path in CORPUS:
                async with SandboxPool(workers=1, limits=LIMITS) as pool:
                    r = await run_module(pool, path, w)
                key = f"{r['expected'].split()[0]}: checked={r['checked']}" + (
                    f", allow-list skipped={r['unchecked']}" if "unchecked" in r else ""
                )
                counts[key] = counts.get(key, 0) + 1
                mark = "ESCAPED " + "; ".join(r["escapes"]) if r["escapes"] else "held"
                print(
                    f"{r['module']:<48} {r['expected']:<20} {r['checked']:<10} {r.get('unchecked', ''):<10} {mark}"
                )
        finally:
            gen.close()
        print(f"\n{len(CORPUS)} modules")
        for key, n in sorted(counts.items()):
            print(f"  {n:3d}  {key}")


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    asyncio.run(_table())
