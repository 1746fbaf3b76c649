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
    """A rate limit, 5xx, timeout or malformed body: worth retrying with backoff."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BudgetExceeded(LLMError):
    """The run's budget (calls or dollars) is spent; a rerun continues from the call log."""
