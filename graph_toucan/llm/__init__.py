"""The LLM layer: tasks, backends, and the :class:`LLM` that runs a task with cache, budget and log."""

from graph_toucan.llm.backends import (
    AnthropicBackend,
    Backend,
    Completion,
    OfflineBackend,
    OpenAIBackend,
    ScriptedBackend,
    make_backend,
)
from graph_toucan.llm.client import LLM, Budget, RunStats
from graph_toucan.llm.pricing import PriceTable
from graph_toucan.llm.task import TASKS, OutputParseError, Task, extract_json

__all__ = [
    "LLM",
    "TASKS",
    "AnthropicBackend",
    "Backend",
    "Budget",
    "Completion",
    "OfflineBackend",
    "OpenAIBackend",
    "OutputParseError",
    "PriceTable",
    "RunStats",
    "ScriptedBackend",
    "Task",
    "extract_json",
    "make_backend",
]
