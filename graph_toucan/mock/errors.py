"""Errors of the execution simulator: a refused module, and a mock call that failed (and why)."""

from __future__ import annotations

from graph_toucan.errors import GraphToucanError


class MockError(GraphToucanError):
    """Root of the mock errors."""


class MockPolicyError(MockError):
    """Mock code that does not parse or steps outside the allow-list; lists every violation found."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = violations
        shown = "; ".join(violations[:10])
        more = f" (and {len(violations) - 10} more)" if len(violations) > 10 else ""
        super().__init__(f"mock code refused by the sandbox allow-list: {shown}{more}")


class MockCallError(MockError):
    """One mock call that failed. ``kind`` says how: ``arguments`` (the mock rejected its input),
    ``exception`` (the mock raised), ``cpu``, ``memory``, ``wall``, ``recursion``, ``output`` (limits),
    ``crash`` (the worker died), ``contract`` (no ``main``), ``external`` (``call_external_api``
    failed), ``schema`` (the output does not match the output schema)."""

    def __init__(self, message: str, *, kind: str = "exception", line: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.line = line


class MockArgumentsError(MockCallError):
    """The arguments were refused: by the input schema, or by the mock's own checks."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message, kind="arguments", line=line)


class MockNotFoundError(MockCallError):
    """The call names an entity the conversation never produced, or one it deleted: the tool's own
    "not found" error, which the model calling it must handle."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="not_found")


class MockLimitError(MockCallError):
    """The call was stopped by a sandbox limit (CPU, memory, wall clock, recursion, output size)."""


class SandboxError(MockError):
    """The sandbox itself cannot work (a worker that cannot start), as opposed to one bad mock."""
