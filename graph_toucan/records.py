"""Pydantic records that flow between stages, each with a stable content-hash id.

Ids name *identity*, digests name *content*: a tool's ``id`` comes from its server and name, so
annotating it (tags, class, output schema) keeps the id, while ``digest`` (description and input
schema) changes when the tool itself changes, which is what later stages key their caches on.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from graph_toucan.ids import content_id

ToolClass = Literal["computation", "query", "action"]


class ServerStatus(StrEnum):
    """TOUCAN's connection status of a crawled server; ``live`` for servers read over MCP."""

    USABLE = "usable"
    TOOLS_INVALID = "tools_invalid"
    CONNECT_FAILED = "connect_failed"
    LIVE = "live"


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Server(Record):
    """One MCP server of a catalog."""

    name: str = Field(min_length=1)
    qualified_name: str = Field(min_length=1, description="Unique name in its source, e.g. '@owner/repo'.")
    source: str = Field(description="Where it came from: toucan, openai, mcp-list, bfcl, mcp-live.")
    status: ServerStatus = ServerStatus.USABLE
    overview: str = ""
    primary_label: str | None = None
    secondary_labels: list[str] = Field(default_factory=list)
    custom_label: str | None = None
    usage_rank: int | None = None
    usage_count: int | None = None
    license: str | None = None
    homepage: str | None = None
    repository_url: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return content_id("server", self.source, self.qualified_name)


def tool_id(server_id: str, name: str) -> str:
    """A tool's id: its server and name, so annotations and probe examples keep pointing at it."""
    return content_id("tool", server_id, name)


class Tool(Record):
    """One MCP tool: the node of the dependency graph once it has a class and an output schema."""

    server_id: str
    server_name: str
    name: str = Field(min_length=1)
    description: str = ""
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    tool_class: ToolClass | None = None
    category: str | None = Field(default=None, description="The server's primary label, if any.")
    source: str
    license: str | None = None
    read_only: bool | None = Field(default=None, description="MCP annotation readOnlyHint, when known.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return tool_id(self.server_id, self.name)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def digest(self) -> str:
        return content_id(self.description, self.input_schema)

    @property
    def ref(self) -> str:
        """Human reference ``server/tool`` used by the CLI."""
        return f"{self.server_name}/{self.name}"


class ToolExample(Record):
    """A real call of a tool (from ``import --probe``), kept for output-schema inference."""

    tool_id: str
    arguments: dict[str, Any]
    result: Any = None
    structured: dict[str, Any] | None = None
    is_error: bool = False
    error: str | None = None
    latency_s: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return content_id("example", self.tool_id, self.arguments)


class LLMCall(Record):
    """One request to a teacher, as logged in the store (also the cache)."""

    key: str
    task: str
    backend: str
    model: str
    request: dict[str, Any]
    response: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    error: str | None = None
    run_id: str | None = None


EdgeType = Literal["full", "partial", "prerequisite", "none"]


class FieldMapping(Record):
    """One output field of the source tool filling one input parameter of the target tool.

    ``output`` is a path in the source's output schema: ``user.name`` for nested objects, ``items[].id``
    for the items of a list (METHOD.md section 5 uses the same notation); ``input`` is a top-level
    parameter of the target's input schema."""

    output: str = Field(min_length=1)
    input: str = Field(min_length=1)


class EdgeJudgement(Record):
    """The judge's verdict on the ordered pair source -> target (METHOD.md section 3).

    ``key`` hashes what was judged (both tools' schemas after output filtering, and the teacher), so
    rebuilding the graph after adding or changing tools judges only the pairs that are new.
    A judgement with ``error`` set is a recorded failure (the judge never gave a valid answer)."""

    key: str
    source_id: str
    target_id: str
    type: EdgeType
    mapping: list[FieldMapping] = Field(default_factory=list)
    reason: str = ""
    judge: str
    error: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return self.key
