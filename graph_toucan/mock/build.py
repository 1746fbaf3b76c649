"""Building mocks: ask the teacher for code, check it, feed failures back, store the outcome.

A module is accepted when it passes the allow-list, defines ``main``, keeps to its class (a
``computation`` never calls ``call_external_api``; a ``query`` or ``action`` always does), returns
output valid against the output schema for sample arguments built from the input schema, raises
an argument error when required arguments are missing, and passes the property checks
(:func:`check_properties`): the same arguments give the same output, and for a tool of a recognised
computation family (:mod:`graph_toucan.mock.families`) the known answers come out and the outputs
change with the inputs that should change them. Otherwise the error goes back to the teacher,
up to ``attempts`` times; then the tool is recorded as ``unmockable`` with the last reason.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph_toucan.errors import BudgetExceeded, LLMError, every_item_failed
from graph_toucan.ids import canonical_json, content_id
from graph_toucan.llm.client import LLM
from graph_toucan.mock.arithmetic import arithmetic_plan
from graph_toucan.mock.codegen import MOCK_CODE, code_inputs, tool_view
from graph_toucan.mock.errors import MockArgumentsError, MockCallError, MockError, MockNotFoundError
from graph_toucan.mock.families import Plan, plan_family
from graph_toucan.mock.files import write_mock_folder
from graph_toucan.mock.flatten import flat_fields
from graph_toucan.mock.policy import calls_external_api, check_code, defines_main
from graph_toucan.mock.runtime import MockRuntime, schema_problem, schema_validator
from graph_toucan.mock.sandbox import SandboxPool
from graph_toucan.mock.simulate import DeterministicSimulator
from graph_toucan.records import MockTool, Tool
from graph_toucan.schema import example_arguments
from graph_toucan.store import Store

DEFAULT_ATTEMPTS = 3


@contextlib.contextmanager
def remembered_checks(store: Store, pool: SandboxPool) -> Iterator[None]:
    """The pool takes as passed the allow-list checks the workspace remembers, and the workspace
    remembers those the pool passes (also when the stage fails or is stopped): a rerun or the next
    stage does not parse the same mock code again."""
    trusted = store.passed_checks()
    pool.trust(trusted)
    try:
        yield
    finally:
        store.add_passed_checks(pool.passed() - trusted)


def mock_key(tool: Tool) -> str:
    """What a mock is built from: the tool's description and input schema, output schema and class."""
    return content_id("mock", tool.digest, tool.output_schema, tool.tool_class)


def not_mockable(tool: Tool) -> str | None:
    """Why no mock can be built for ``tool`` yet, or None."""
    if tool.output_schema is None or tool.tool_class is None:
        missing = " and ".join(
            n
            for n, v in (("an output schema", tool.output_schema), ("a class", tool.tool_class))
            if v is None
        )
        return f"has no {missing} yet; annotate the tools first"
    return None


def sample_arguments(tool: Tool) -> list[dict[str, Any]]:
    """Distinct argument sets for the check: required only, then with every optional argument."""
    sets = [example_arguments(tool.input_schema), example_arguments(tool.input_schema, include_optional=True)]
    return list({canonical_json(s): s for s in sets}.values())


def _placeholders(arguments: dict[str, Any]) -> bool:
    """Whether a sample holds a value :func:`example_value` made up knowing nothing about it."""
    return any(
        isinstance(v, str) and v.startswith("example") and set(v[7:]) <= {"x"} for v in arguments.values()
    )


async def check_mock(code: str, tool: Tool, pool: SandboxPool, *, seed: int = 0) -> None:
    """Raise :class:`MockError` saying what is wrong with ``code`` as a mock of ``tool``."""
    tree = check_code(code)
    if not defines_main(tree):
        raise MockError("the module defines no top-level function main(**arguments)")
    uses_api = calls_external_api(tree)
    if tool.tool_class == "computation" and uses_api:
        raise MockError("a computation mock must compute its answer and never call call_external_api")
    if tool.tool_class != "computation" and not uses_api:
        raise MockError(f"mocks of {tool.tool_class} tools must get their values from call_external_api(...)")
    runtime = MockRuntime(pool, DeterministicSimulator(seed))
    runtime.add([MockTool(tool=tool, key=mock_key(tool), status="accepted", code=code, teacher="check")])
    name = next(iter(runtime.mocks))
    inputs = schema_validator(tool.input_schema)
    samples = sample_arguments(tool)
    valid = [s for s in samples if schema_problem(inputs, s) is None]
    for n, arguments in enumerate(valid or samples[:1]):
        try:
            await runtime.call(name, arguments, conversation=f"check-{n}", validate_arguments=False)
        except MockNotFoundError:
            continue  # the sample id is rightly unknown to a fresh conversation
        except MockArgumentsError as exc:
            # a mock may rightly refuse the placeholder "example" (an expression, a URL); other
            # refusals of schema-valid arguments are its fault
            if valid and not _placeholders(arguments):
                raise MockError(
                    f"with the valid sample arguments {canonical_json(arguments)}: {exc}"
                ) from None
        except MockCallError as exc:
            raise MockError(f"with the sample arguments {canonical_json(arguments)}: {exc}") from None
    await check_properties(runtime, name, tool, valid)
    required = [
        r for r in tool.input_schema.get("required") or [] if r in (tool.input_schema.get("properties") or {})
    ]
    if required:
        try:
            await runtime.call(name, {}, conversation="check-missing", validate_arguments=False)
        except MockArgumentsError:
            return
        except MockCallError as exc:
            raise MockError(
                f"called without its required arguments ({', '.join(required)}) it failed with {exc}; "
                "check the arguments first and raise ValueError naming what is missing"
            ) from None
        raise MockError(
            f"main() accepted a call without its required arguments ({', '.join(required)}); "
            "it must raise ValueError naming what is missing"
        )


def family_plan(tool: Tool) -> Plan | None:
    """The computation family of ``tool`` (with its known answers), or None."""
    view = tool_view(tool)
    return plan_family(view) or arithmetic_plan(view)


def _at(output: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(output, dict) or part not in output:
            return None
        output = output[part]
    return output


def same_answer(actual: Any, expected: Any) -> bool:
    """Numbers within rounding, times to the minute (``T`` or a space), anything else exactly."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual == expected
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return abs(actual - expected) <= max(1e-6, 1e-4 * abs(expected))
    if isinstance(expected, str) and isinstance(actual, str):
        a, b = actual.replace(" ", "T"), expected.replace(" ", "T")
        if len(b) >= 16 and b[4] == "-" and b[10] == "T":
            return a[:16] == b[:16]
        return actual == expected
    return actual == expected


async def check_properties(
    runtime: MockRuntime, name: str, tool: Tool, samples: list[dict[str, Any]]
) -> None:
    """Raise :class:`MockError` with the reason when the mock is not deterministic, misses a known
    answer of its family, or ignores an input that should change its output."""

    async def run(arguments: dict[str, Any], conversation: str) -> Any:
        try:
            return await runtime.call(name, arguments, conversation=conversation, validate_arguments=False)
        except MockNotFoundError:
            return None

    for n, arguments in enumerate(samples[:1]):
        try:
            first, again = await run(arguments, f"same-{n}-a"), await run(arguments, f"same-{n}-b")
        except MockArgumentsError:
            continue  # a placeholder sample the mock rightly refuses (checked above)
        if first != again:
            raise MockError(
                f"the same arguments {canonical_json(arguments)} gave two different outputs "
                f"({canonical_json(first)[:200]} and {canonical_json(again)[:200]}); derive every value "
                "from the arguments (seed any randomness with them)"
            )
    plan = family_plan(tool)
    if plan is None:
        return
    paths = {f.key: f.path for f in flat_fields(tool.output_schema)}
    for n, (arguments, expected) in enumerate(plan.known):
        try:
            output = await run(arguments, f"known-{n}")
        except MockArgumentsError as exc:
            raise MockError(f"known answer: {canonical_json(arguments)} was refused: {exc}") from None
        for key, value in expected.items():
            actual = _at(output, paths.get(key, key))
            if not same_answer(actual, value):
                raise MockError(
                    f"known answer ({plan.family}): with {canonical_json(arguments)} the output "
                    f"'{paths.get(key, key)}' should be {value!r}, got {actual!r}"
                )
    for n, (a, b) in enumerate(plan.varying):
        first, second = await run(a, f"vary-{n}-a"), await run(b, f"vary-{n}-b")
        if first == second:
            changed = sorted(k for k in {*a, *b} if a.get(k) != b.get(k))
            raise MockError(
                f"the output ({canonical_json(first)[:200]}) does not change when {', '.join(changed)} "
                f"changes ({canonical_json(a)} vs {canonical_json(b)}); it must be computed from them"
            )


async def build_mock(
    tool: Tool, llm: LLM, pool: SandboxPool, *, attempts: int = DEFAULT_ATTEMPTS, seed: int = 0
) -> MockTool:
    """An accepted or unmockable :class:`MockTool` for ``tool``. Teacher failures (:class:`LLMError`)
    propagate: they say nothing about the tool, so nothing is recorded and a rerun tries again."""
    reason = not_mockable(tool)
    if reason:
        raise MockError(f"{tool.ref} {reason}")
    previous: list[dict[str, str]] = []
    error = "no attempt was made"
    for attempt in range(1, attempts + 1):
        answer = await llm.run(MOCK_CODE, code_inputs(tool, previous))
        if any(p["code"] == answer.code for p in previous):
            error = f"{previous[-1]['error']} (the teacher wrote the same code again)"
            break
        try:
            await check_mock(answer.code, tool, pool, seed=seed)
        except MockError as exc:
            error = str(exc)
            previous.append({"code": answer.code, "error": error})
            continue
        return MockTool(
            tool=tool,
            key=mock_key(tool),
            status="accepted",
            code=answer.code,
            attempts=attempt,
            teacher=llm.teacher_for("mocks"),
        )
    return MockTool(
        tool=tool,
        key=mock_key(tool),
        status="unmockable",
        error=error,
        attempts=len(previous),
        teacher=llm.teacher_for("mocks"),
    )


@dataclass
class BuildReport:
    """What ``mock build`` did, tool by tool."""

    accepted: list[str] = field(default_factory=list)
    unmockable: dict[str, str] = field(default_factory=dict)
    cached: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    folder: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": len(self.accepted),
            "unmockable": len(self.unmockable),
            "cached": self.cached,
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "folder": self.folder,
            "unmockable_tools": self.unmockable,
            "skipped_tools": self.skipped,
            "failed_tools": self.failed,
        }


async def build_mocks(
    store: Store,
    llm: LLM,
    pool: SandboxPool,
    *,
    tools: list[Tool] | None = None,
    force: bool = False,
    attempts: int = DEFAULT_ATTEMPTS,
    concurrency: int = 4,
    folder: Path | None = None,
    progress: Callable[[], None] | None = None,
) -> BuildReport:
    """Build the missing mocks of ``tools`` (default: every tool of the workspace), store them, and
    write the workspace's accepted mocks to ``folder`` (default ``<workspace>/mock_tools``).
    Mocks already built from the same tool version are kept unless ``force``."""
    report = BuildReport()
    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def one(tool: Tool) -> None:
        try:
            reason = not_mockable(tool)
            if reason:
                report.skipped[tool.ref] = reason
                return
            if not force and store.get_mock(tool.id, mock_key(tool)) is not None:
                report.cached += 1
                return
            async with semaphore:
                try:
                    mock = await build_mock(tool, llm, pool, attempts=attempts)
                except BudgetExceeded:
                    raise
                except LLMError as exc:
                    report.failed[tool.ref] = str(exc)
                    return
            store.add_mock(mock)
            if mock.status == "accepted":
                report.accepted.append(tool.ref)
            else:
                report.unmockable[tool.ref] = mock.error or ""
        finally:
            if progress:
                progress()

    target = folder or store.workspace / "mock_tools"
    try:
        async with asyncio.TaskGroup() as group:
            for tool in tools if tools is not None else store.tools():
                group.create_task(one(tool))
    except BaseExceptionGroup as failures:  # a spent budget stops every build; what is done is kept
        raise failures.exceptions[0] from None
    finally:
        write_mock_folder(store.mocks(status="accepted"), target)
    report.folder = str(target)
    every_item_failed(
        "mock build", "tools", report.failed, len(report.accepted) + len(report.unmockable) + report.cached
    )
    return report
