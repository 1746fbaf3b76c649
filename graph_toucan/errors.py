"""One error hierarchy: every message says what was wrong and how to fix it."""


class GraphToucanError(Exception):
    """Root of every error graph-toucan raises on purpose; the CLI prints it as one line."""


class CatalogError(GraphToucanError):
    """A catalog file, server entry or tool that cannot be imported."""


class SchemaError(CatalogError):
    """A JSON Schema that is invalid and cannot be repaired."""


class StoreError(GraphToucanError):
    """The workspace database cannot be opened or migrated."""


class LiveServerError(CatalogError):
    """A live MCP server that cannot be started, crashes, or does not answer in time."""


class LLMError(GraphToucanError):
    """An LLM call that failed for good (after retries)."""


class LLMConfigError(LLMError):
    """A teacher name, key or price table that is not usable."""


class LLMOutputError(LLMError):
    """The model's answer never parsed into the task's output model, retries included."""


class TransientLLMError(LLMError):
    """A rate limit, 5xx, timeout or malformed body: worth retrying with backoff. ``connection`` marks
    the failures that say the teacher cannot be reached at all (refused connection, timeout), which
    the client's circuit breaker counts."""

    def __init__(self, message: str, retry_after: float | None = None, *, connection: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.connection = connection


class StructuredOutputRefused(LLMError):
    """The server rejected the structured-output form of a request (``response_format`` or a forced
    tool); the client falls back to the prompt-only form for this backend."""


class TeacherUnavailable(GraphToucanError):
    """The teacher cannot answer at all (a refused key, an endpoint that does not answer): the stage
    stops at once. Not an :class:`LLMError`, so no per-item handler takes it for one item's failure."""


class BudgetExceeded(LLMError):
    """The run's budget (calls or dollars) is spent; a rerun continues from the call log."""


class StageFailed(GraphToucanError):
    """Every item of a stage failed: nothing it should make was made."""


def every_item_failed(
    stage: str, items: str, failures: list[tuple[str, str]] | dict[str, str], done: int
) -> None:
    """Raise :class:`StageFailed` when ``failures`` is every item (none ``done``), with the first error."""
    pairs = list(failures.items()) if isinstance(failures, dict) else list(failures)
    if pairs and not done:
        item, error = pairs[0]
        raise StageFailed(
            f"{stage} failed for every one of the {len(pairs)} {items}; the first, {item}: {error}. "
            "Fix the teacher (see `graph-toucan calls`) and rerun: what succeeded is kept"
        )
