"""Pydantic records that flow between stages, each with a stable content-hash id.

Ids name *identity*, digests name *content*: a tool's ``id`` comes from its server and name, so
annotating it (tags, class, output schema) keeps the id, while ``digest`` (description and input
schema) changes when the tool itself changes, which is what later stages key their caches on.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from graph_toucan.ids import content_id

ToolClass = Literal["computation", "query", "action"]
ParameterClass = Literal["user", "issued"]


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
    parameter_classes: dict[str, ParameterClass] | None = Field(
        default=None,
        description="Input parameter -> user (a person states it) or issued (only a tool output holds it); "
        "None until annotated.",
    )

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
    for the items of a list; ``input`` is a top-level
    parameter of the target's input schema."""

    output: str = Field(min_length=1)
    input: str = Field(min_length=1)


class EdgeJudgement(Record):
    """The judge's verdict on the ordered pair source -> target (docs/method.md section 3).

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


# -- planned paths (walks.py, operations.py; issue 4) ---------------------------------------------------

Sampler = Literal["graph", "random"]
DependencyType = Literal["full", "partial", "prerequisite"]
DependencyOrigin = Literal["walk", "insert-short", "insert-long"]
TurnOperation = Literal[
    "merge", "insert-short", "insert-long", "insert-long-source", "split", "parallel", "new-task"
]
TurnType = Literal["normal", "empty", "merge", "insert-short", "insert-long", "insert-mixed", "merge-insert"]
SplitKind = Literal["miss-func", "miss-param"]


class PlannedCall(Record):
    """One reference call of a planned path; ids run ``c1``, ``c2``, ... in execution order."""

    id: str = Field(pattern=r"^c[1-9][0-9]*$")
    tool_id: str
    tool: str = Field(description="The tool's reference, server/tool.")
    server: str
    server_id: str
    implicit: bool = Field(default=False, description="A helper the user does not ask for (insert-short).")


class PathDependency(Record):
    """A dependency fact: the output field ``output`` of call ``source`` fills parameter ``input`` of the
    later call ``target``. ``prerequisite`` facts have neither: the source's result decides whether the
    target is called. ``origin`` says which step made it: the walk's edge, an insert-short helper or an
    insert-long reference to an earlier turn."""

    source: str
    target: str
    type: DependencyType
    output: str | None = None
    input: str | None = None
    origin: DependencyOrigin


class SplitDetail(Record):
    """Why a split turn cannot be served: ``miss-func`` withholds the tool of call ``call`` (offered from the
    next turn on), ``miss-param`` has the user leave out its required ``parameter`` (given in the next
    turn). Call ``call`` is made in the next turn."""

    kind: SplitKind
    call: str
    tool_id: str
    parameter: str | None = None


class PlannedTurn(Record):
    """One turn: its reference calls (``[]`` for a split turn), the operations that shaped it, the turn type
    they give (docs/method.md section 6), and the tools withheld from the available ones during this turn."""

    type: TurnType
    operations: list[TurnOperation] = Field(default_factory=list)
    calls: list[PlannedCall] = Field(default_factory=list)
    split: SplitDetail | None = None
    withheld: list[str] = Field(default_factory=list, description="Tool ids not available in this turn.")


class AvailableTool(Record):
    """A tool offered to the assistant: one of the path's, or a distractor."""

    id: str
    tool: str
    distractor: bool = False


class PlannedPath(Record):
    """A function signature path after the node operations, ready for translation.

    The id hashes the content (sampler, turns, dependencies, available tools), not the seed or the
    position in the seed's stream, so the same plan is stored once however it was drawn."""

    sampler: Sampler
    seed: int
    index: int = Field(ge=0, description="Position in the stream of paths of this seed.")
    turns: list[PlannedTurn] = Field(min_length=1)
    dependencies: list[PathDependency] = Field(default_factory=list)
    available_tools: list[AvailableTool] = Field(min_length=1)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        content = self.model_dump_json(include={"turns", "dependencies", "available_tools"})
        return content_id("path", self.sampler, content)

    @property
    def calls(self) -> list[PlannedCall]:
        """Every reference call in execution order."""
        return [c for turn in self.turns for c in turn.calls]

    def model_post_init(self, context: Any, /) -> None:
        """Structural rules every stage may rely on (graph-independent; see tests/test_sampling_properties.py)."""
        position = {c.id: i for i, c in enumerate(self.calls)}
        if len(position) != len(self.calls):
            raise ValueError("call ids must be unique within a path")
        for dep in self.dependencies:
            if dep.source not in position or dep.target not in position:
                raise ValueError(f"dependency {dep.source} -> {dep.target} names a call not in the path")
            if position[dep.source] >= position[dep.target]:
                raise ValueError(f"dependency {dep.source} -> {dep.target} must point to a later call")
        available = {t.id for t in self.available_tools}
        for k, turn in enumerate(self.turns):
            if turn.split is None:
                continue
            later = self.turns[k + 1].calls if k + 1 < len(self.turns) else []
            if turn.calls or turn.split.call not in {c.id for c in later}:
                raise ValueError(f"split turn {k + 1} must have no calls and its call in the next turn")
            if turn.split.kind == "miss-func" and turn.split.tool_id not in available:
                raise ValueError(f"the tool withheld in turn {k + 1} must be offered from the next turn on")


MockStatus = Literal["accepted", "unmockable"]


class MockTool(Record):
    """A generated mock of one tool (docs/method.md section 5): its code when ``accepted``, or why none
    passed the checks when ``unmockable``. ``key`` hashes what the mock was built from (the tool's
    description, input and output schema, class), so a changed tool gets a new mock."""

    tool: Tool
    key: str
    status: MockStatus
    code: str = ""
    error: str | None = None
    attempts: int = 0
    teacher: str

    @field_validator("tool", mode="before")
    @classmethod
    def _tool_without_computed(cls, value: Any) -> Any:
        """A dumped tool carries its computed ``id`` and ``digest``; they are derived, not input."""
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if k not in ("id", "digest")}
        return value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return content_id("mock", self.tool.id, self.key)


# -- conversations (docs/method.md sections 6 to 8) --------------------------------------------------------

ConversationStatus = Literal["accepted", "rejected"]
ConversationKind = Literal["translation", "miss-func", "miss-params", "irrelevance"]
ArgumentSource = Literal["query", "context", "default"]
ErrorKind = Literal[
    "forgets-value",
    "wrong-function",
    "hallucinated-value",
    "guessed-value",
    "unsupported-call",
    "needless-call",
]


class Style(Record):
    """Who the user is and how they write; varied across conversations."""

    persona: str
    tone: str
    length: str

    def __str__(self) -> str:
        return f"{self.persona}; {self.tone}; {self.length}"


class ConversationTool(Record):
    """A tool offered in a conversation, under its function name (unique within the conversation)."""

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    tool_id: str
    tool: str = Field(description="The tool's reference, server/tool.")
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    distractor: bool = False
    parameter_classes: dict[str, ParameterClass] = Field(
        default_factory=dict, description="Input parameter -> user or issued."
    )


class ArgumentTrace(Record):
    """Where one argument value came from: the user's words, an earlier output, or the schema default."""

    name: str
    source: ArgumentSource
    call: str | None = Field(default=None, description="For context: the earlier call's plan id (c1, ...).")
    field: str | None = Field(default=None, description="For context: the output field, e.g. places[0].lat.")


class ToolCall(Record):
    """One executed call: ``plan`` is the planned call's id (c1, ...), ``id`` the message-level call id."""

    id: str
    plan: str
    name: str
    tool_id: str
    arguments: dict[str, Any]
    trace: list[ArgumentTrace] = Field(default_factory=list)
    output: Any = None
    error: str | None = None
    implicit: bool = False


class Mention(Record):
    """A value the user states in a query, for a parameter of a call of the plan."""

    call: str
    parameter: str
    value: Any


class Turn(Record):
    """One user turn and the assistant's answer: steps of parallel calls (a step waits for the results
    of the one before), then the final text. ``unavailable`` lists functions not offered in this turn."""

    type: TurnType
    user: str
    mentions: list[Mention] = Field(default_factory=list)
    steps: list[list[ToolCall]] = Field(default_factory=list)
    assistant: str = ""
    planned: list[PlannedCall] = Field(default_factory=list, description="The plan's reference calls.")
    split: SplitDetail | None = None
    refused: list[str] = Field(
        default_factory=list, description="Split turn: parameters the assistant found missing, not invented."
    )
    unavailable: list[str] = Field(default_factory=list)
    wanted: str | None = Field(
        default=None,
        description="Irrelevance: the catalog tool (server/tool) that would serve the request; not offered.",
    )
    judged: dict[str, str] = Field(
        default_factory=dict,
        description="Rule -> why the teacher judged it to hold where its keyword form failed (a real teacher).",
    )
    attempts: int = 1
    retried_for: list[str] = Field(
        default_factory=list,
        description="The checks (or 'parse') each earlier attempt of this turn failed, one entry per failure.",
    )

    @property
    def calls(self) -> list[ToolCall]:
        return [c for step in self.steps for c in step]


class Check(Record):
    """One verification rule and its result over a conversation; ``turns`` are the 1-based turns
    where it failed."""

    name: str
    passed: bool
    detail: str = ""
    turns: list[int] = Field(default_factory=list)


class Conversation(Record):
    """A translated conversation, accepted when every check passed, otherwise kept as rejected with
    its reasons. The id hashes the plan, the teacher, the seed and the kind, so translating the same
    path again overwrites, never duplicates."""

    path_id: str
    kind: ConversationKind = "translation"
    source_id: str | None = Field(
        default=None, description="For refusal variants: the conversation it came from."
    )
    sampler: Sampler
    seed: int
    teacher: str
    style: Style
    status: ConversationStatus
    tools: list[ConversationTool]
    turns: list[Turn]
    turn_types: list[TurnType]
    dependencies: list[PathDependency] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    llm_calls: int = 0
    mock_state: dict[str, Any] | None = Field(
        default=None,
        description="The mock tools' entity store when the conversation started and ended "
        "({initial, final}), so an eval replaying it can compare final states.",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return conversation_id(self.path_id, self.teacher, self.seed, self.kind, self.source_id)

    @property
    def calls(self) -> list[ToolCall]:
        return [c for turn in self.turns for c in turn.calls]


def conversation_id(
    path_id: str,
    teacher: str,
    seed: int,
    kind: ConversationKind = "translation",
    source_id: str | None = None,
) -> str:
    """The id a conversation of this plan, teacher, seed and kind has (to look one up before making it)."""
    return content_id("conversation", path_id, kind, source_id, teacher, seed)


class Message(Record):
    """A chat message in the neutral (OpenAI-shaped) form the exports start from."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None


class PreferencePair(Record):
    """A multi-turn DPO pair: the shared prefix, then the reference assistant message (chosen: calls,
    or a text that asks, declines or answers) and the same message with one typical error (rejected)."""

    conversation_id: str
    turn: int = Field(ge=1)
    step: int = Field(ge=1)
    kind: ErrorKind
    prefix: list[Message]
    chosen: Message
    rejected: Message
    teacher: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return content_id("pair", self.conversation_id, self.turn, self.step, self.kind, self.teacher)
