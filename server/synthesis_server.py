"""The synthesis MCP server: every stage of graph-toucan as an MCP tool (FastMCP 4.1.2).

Thin typed wrappers over the library: each tool validates its input (bounded pydantic fields), calls
the same functions as the CLI, and returns a structured result; long tools report progress. One
workspace and one teacher are opened at start-up by the lifespan and shared by every session, as is
one sandbox pool for the mock tools.

A tool is one small function registered with :func:`synthesis_tool`; a resource one registered with
:func:`synthesis_resource`. Both get the shared :class:`Services` through :func:`services`:

    @synthesis_tool(read_only=True)
    async def count_tools(ctx: Context) -> int:
        \"\"\"How many tools the workspace holds.\"\"\"
        return services(ctx).store.count("tools")

Safety for a server others connect to: file paths only inside the workspace and the roots given at
start-up (:class:`PathGuard`), live MCP servers only from allow-lists, inputs bounded, and over HTTP
either a loopback address or a bearer token that every request must carry (:func:`serve`).

Started by ``graph-toucan serve``; loaded by path (``graph_toucan.resources.server_module``), so
this file works from a checkout and from the wheel (``graph_toucan/_data/server/``).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import ipaddress
import json
import os
import re
import shlex
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal, TypeVar

from fastmcp import Context, FastMCP
from fastmcp.exceptions import ResourceError, ToolError
from fastmcp.server.auth import AccessToken, TokenVerifier
from fastmcp.tools import FunctionTool
from fastmcp.utilities.json_schema import dereference_refs
from mcp_types import ToolAnnotations
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from graph_toucan.annotate import annotate_tools as annotate_workspace
from graph_toucan.catalog import FORMATS, ImportReport, count_entries, import_entries, read_catalog
from graph_toucan.errors import BudgetExceeded, GraphToucanError, LLMError
from graph_toucan.export import FORMATS as EXPORT_FORMATS
from graph_toucan.export import Format
from graph_toucan.export import export as export_conversations
from graph_toucan.graph import build_graph as build_workspace_graph
from graph_toucan.graph import find_node, graph_path, graph_stats, load_graph, neighbourhood
from graph_toucan.graph_index import GraphIndex
from graph_toucan.llm import LLM, make_backend
from graph_toucan.messages import transcript as plain_transcript
from graph_toucan.mock import build_mocks
from graph_toucan.mock.errors import MockError
from graph_toucan.mock.files import bundled_mock_folder, read_mock_folder
from graph_toucan.mock.runtime import MockRuntime
from graph_toucan.mock.sandbox import Limits, SandboxPool
from graph_toucan.pipeline import translator_for
from graph_toucan.pruning import PruneConfig
from graph_toucan.records import (
    AvailableTool,
    Conversation,
    PathDependency,
    PlannedPath,
    PlannedTurn,
    Sampler,
    ServerStatus,
    Tool,
    ToolExample,
    conversation_id,
)
from graph_toucan.refusal import Augmenter, RefusalKind, miss_func_sites, miss_param_sites
from graph_toucan.resources import example_catalog
from graph_toucan.sampling import SampleConfig, load_config, population, sample_to_store
from graph_toucan.stats import compute_stats, stats_markdown
from graph_toucan.store import Store

SERVICES = "graph-toucan"
TOKEN_ENV = "GRAPH_TOUCAN_TOKEN"
LIST_CAP = 50  # longest list of issues or failures a result carries
INSTRUCTIONS = """\
graph-toucan synthesizes multi-turn function-calling data from a catalog of real MCP tools.
Usual order: import_catalog -> annotate_tools -> build_graph -> sample_fsp -> translate_fsp (each
path id) -> augment_refusal (some accepted conversations) -> export_dataset. Inspect with
search_tools, describe_tool, graph_neighbors, get_conversation and dataset_stats; call a simulated
tool with run_mock_tool. Reruns are cheap: every stage skips the work it already did. Resources:
graph-toucan://graph/stats (the graph summary), graph-toucan://conversations/{id} (a conversation)
and graph-toucan://stats (the dataset statistics, Markdown)."""

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


# -- configuration and shared services -------------------------------------------------------------


class ServerConfig(BaseModel):
    """What the server is allowed to touch, fixed at start-up."""

    model_config = ConfigDict(frozen=True)

    workspace: Path | None = Field(None, description="Workspace folder (default ./gt-workspace).")
    teacher: str = Field("offline", description="Teacher name; anything but offline reaches a network.")
    roots: tuple[Path, ...] = Field((), description="Folders besides the workspace that paths may name.")
    allowed_commands: tuple[str, ...] = Field((), description="Exact stdio MCP command lines to import.")
    allowed_urls: tuple[str, ...] = Field((), description="Exact MCP server URLs to import.")
    token: str | None = Field(None, description="Bearer token every HTTP request must carry.")
    mock_workers: int = Field(2, ge=1, le=64, description="Sandbox worker processes for mocks.")
    mock_timeout: float = Field(5.0, gt=0, le=600, description="Wall-clock seconds per mock call.")


Teacher = Callable[[Store], LLM]


class PathGuard:
    """Resolves paths a client names, refusing anything outside the allowed roots.

    Relative paths are taken from the first root (the workspace). ``..`` is refused outright;
    symlinks are followed before the check, so one pointing outside is refused too, and a folder is
    refused when anything inside it resolves outside."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self.roots: list[Path] = []
        for root in roots:
            if not root.is_dir():
                raise GraphToucanError(f"the root {root} is not a folder; give existing folders with --root")
            self.roots.append(root.resolve())

    def _inside(self, path: Path) -> bool:
        return any(path == root or path.is_relative_to(root) for root in self.roots)

    def _refuse(self, raw: str, why: str) -> ToolError:
        allowed = ", ".join(str(r) for r in self.roots)
        return ToolError(
            f"the path {raw!r} {why}; name a file inside the workspace or an allowed root ({allowed}), "
            "or restart the server with --root for another folder"
        )

    def resolve(self, raw: str, *, must_exist: bool = True) -> Path:
        """The real path of ``raw``, inside a root; ToolError otherwise."""
        if not raw or "\x00" in raw:
            raise self._refuse(raw, "is empty or holds a NUL byte")
        if ".." in PurePath(raw).parts:
            raise self._refuse(raw, "contains '..'")
        candidate = Path(raw).expanduser()
        if not candidate.is_absolute():
            candidate = self.roots[0] / candidate
        real = Path(os.path.realpath(candidate))
        if not self._inside(real):
            raise self._refuse(raw, f"resolves to {real}, outside the allowed roots")
        if must_exist and not real.exists():
            raise ToolError(f"{raw!r} does not exist; check the name (relative paths start in the workspace)")
        if real.is_dir():
            self._check_tree(raw, real)
        return real

    def writable(self, raw: str) -> Path:
        """A path to write: its folder must exist inside a root (for export tools)."""
        path = self.resolve(raw, must_exist=False)
        if not path.parent.is_dir():
            raise ToolError(f"the folder of {raw!r} does not exist; create it first or write elsewhere")
        return path

    def _check_tree(self, raw: str, folder: Path, limit: int = 100_000) -> None:
        """Refuse a folder holding a symlink that leads outside the roots."""
        seen = 0
        for parent, dirs, files in os.walk(folder, followlinks=False):
            for name in dirs + files:
                seen += 1
                entry = Path(parent, name)
                if entry.is_symlink() and not self._inside(Path(os.path.realpath(entry))):
                    raise self._refuse(raw, f"holds {entry.relative_to(folder)}, a link to outside the roots")
                if seen > limit:
                    raise self._refuse(raw, f"holds more than {limit} entries")


@dataclass
class Services:
    """What every tool shares: the workspace, the teacher, the path guard and the mock runtime."""

    config: ServerConfig
    store: Store
    llm: LLM
    guard: PathGuard
    pool: SandboxPool
    mocks: MockRuntime | None = None
    mock_source: Literal["workspace", "bundled"] = "bundled"
    stage_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _graph_index: tuple[Any, GraphIndex] | None = None

    def population(self, sampler: Sampler, config: SampleConfig) -> GraphIndex:
        """What ``sampler`` draws from; the graph's index is kept until the graph file changes."""
        file = graph_path(self.store)
        if sampler != "graph" or not file.exists():
            return population(self.store, sampler, config)
        stat = file.stat()
        key = (stat.st_mtime_ns, stat.st_size, config.walk.edge_weights.model_dump_json())
        if self._graph_index is None or self._graph_index[0] != key:
            self._graph_index = (key, population(self.store, sampler, config))
        return self._graph_index[1]

    def load_mocks(self) -> MockRuntime:
        """The workspace's accepted mocks, or the bundled ones when it has none (read again on demand)."""
        accepted = self.store.mocks(status="accepted")
        source: Literal["workspace", "bundled"] = "workspace" if accepted else "bundled"
        if self.mocks is None or source != self.mock_source:
            self.mocks = MockRuntime(self.pool)
            self.mock_source = source
        self.mocks.add(accepted or read_mock_folder(bundled_mock_folder()))
        return self.mocks


def services(ctx: Context) -> Services:
    """The shared services the lifespan opened."""
    return ctx.lifespan_context[SERVICES]


def offline_teacher(store: Store) -> LLM:
    return LLM(make_backend("offline"), store)


def _lifespan(config: ServerConfig, teacher: Teacher) -> Callable[[FastMCP], Any]:
    @asynccontextmanager
    async def lifespan(_app: FastMCP) -> AsyncIterator[dict[str, Any]]:
        store = Store.open(config.workspace)
        pool = SandboxPool(config.mock_workers, Limits(wall_s=config.mock_timeout))  # started on first call
        try:
            guard = PathGuard([store.workspace, *config.roots])
            yield {SERVICES: Services(config, store, teacher(store), guard, pool)}
        finally:
            await pool.close()
            store.close()

    return lifespan


# -- registering tools and resources ---------------------------------------------------------------


@dataclass(frozen=True)
class ToolSpec:
    fn: Callable[..., Awaitable[Any]]
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool
    uses_teacher: bool
    title: str | None


@dataclass(frozen=True)
class ResourceSpec:
    fn: Callable[..., Awaitable[Any]]
    uri: str
    name: str
    mime_type: str


TOOLS: list[ToolSpec] = []
RESOURCES: list[ResourceSpec] = []


def synthesis_tool(
    *,
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = True,
    open_world: bool = False,
    uses_teacher: bool = False,
    title: str | None = None,
) -> Callable[[F], F]:
    """Register a tool: its name is the function's, its description the docstring. ``uses_teacher``
    makes it open-world whenever the teacher is not offline."""

    def register(fn: F) -> F:
        TOOLS.append(ToolSpec(fn, read_only, destructive, idempotent, open_world, uses_teacher, title))
        return fn

    return register


def synthesis_resource(uri: str, *, name: str, mime_type: str = "application/json") -> Callable[[F], F]:
    """Register a resource read by ``fn(ctx)``."""

    def register(fn: F) -> F:
        RESOURCES.append(ResourceSpec(fn, uri, name, mime_type))
        return fn

    return register


# CLI commands named in library messages, and the tool that does the same over MCP.
CLI_TOOLS = {
    "graph-toucan import": "import_catalog",
    "graph-toucan annotate": "annotate_tools",
    "graph-toucan graph build": "build_graph",
    "graph-toucan graph show": "graph_neighbors",
    "graph-toucan tools": "search_tools",
    "graph-toucan sample": "sample_fsp",
    "graph-toucan mock call": "run_mock_tool",
    "graph-toucan run": "translate_fsp",
    "graph-toucan augment": "augment_refusal",
    "graph-toucan export": "export_dataset",
    "graph-toucan stats": "dataset_stats",
    "graph-toucan conversations show": "get_conversation",
}


def agent_message(message: str) -> str:
    """A library message with the MCP tool named beside each CLI command it mentions."""

    def name_tool(match: re.Match[str]) -> str:
        command = match.group(1)
        hits = [tool for cli, tool in CLI_TOOLS.items() if command.startswith(cli)]
        return f"{match.group(0)} (the {hits[0]} tool)" if hits else match.group(0)

    return re.sub(r"'(graph-toucan [^']*)'", name_tool, " ".join(message.split()))


def _as_tool_errors(fn: F, error: type[Exception] = ToolError) -> F:
    """Library errors as MCP errors whose message says what to change."""

    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except GraphToucanError as exc:
            raise error(agent_message(str(exc))) from None

    return run  # type: ignore[return-value]


def _annotations(spec: ToolSpec, teacher: str) -> ToolAnnotations:
    remote = spec.uses_teacher and teacher != "offline"
    return ToolAnnotations(
        title=spec.title,
        read_only_hint=spec.read_only,
        destructive_hint=False if spec.read_only else spec.destructive,
        idempotent_hint=spec.idempotent,
        open_world_hint=spec.open_world or remote,
    )


class BearerToken(TokenVerifier):
    """Accepts exactly one bearer token, compared in constant time."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not hmac.compare_digest(token.encode(), self._token):
            return None
        return AccessToken(token=token, client_id="graph-toucan", scopes=[], expires_at=None)


def _inlined(tool: FunctionTool) -> FunctionTool:
    """The tool with ``$ref``-free schemas (some clients cannot follow them), inlined once here:
    FastMCP's own dereferencing runs on every listing, and a 2026-07-28 client lists per call."""
    output = tool.output_schema
    return tool.model_copy(
        update={
            "parameters": dereference_refs(tool.parameters),
            "output_schema": dereference_refs(output) if output is not None else None,
        }
    )


def create_server(config: ServerConfig | None = None, teacher: Teacher | None = None) -> FastMCP:
    """The synthesis server over ``config``'s workspace; ``teacher`` builds the LLM on the store
    (default: the offline teacher)."""
    config = config or ServerConfig()
    PathGuard(config.roots)  # a missing root fails here, at start-up
    app = FastMCP(
        "graph-toucan",
        instructions=INSTRUCTIONS,
        lifespan=_lifespan(config, teacher or offline_teacher),
        auth=BearerToken(config.token) if config.token else None,
        mask_error_details=True,  # unexpected failures are logged here, not sent to clients
        dereference_schemas=False,  # done once per tool by _inlined, not on every request
        on_duplicate="error",
    )
    for spec in TOOLS:
        tool = FunctionTool.from_function(
            _as_tool_errors(spec.fn), title=spec.title, annotations=_annotations(spec, config.teacher)
        )
        app.add_tool(_inlined(tool))
    for res in RESOURCES:
        wrapped = _as_tool_errors(res.fn, ResourceError)
        app.resource(res.uri, name=res.name, mime_type=res.mime_type)(wrapped)
    return app


# -- progress ----------------------------------------------------------------------------------------


class Progress:
    """The library's synchronous progress callbacks as MCP progress notifications, sent in order."""

    def __init__(self, ctx: Context, total: float | None = None) -> None:
        self.ctx = ctx
        self.total = total
        self.done = 0.0
        self._queue: asyncio.Queue[tuple[float, float | None, str] | None] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Progress:
        self._sender = asyncio.create_task(self._send())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None and self.total is not None and self.done < self.total:
            self.done = self.total  # finished early: the rest had nothing to do
            self._queue.put_nowait((self.done, self.total, "done"))
        self._queue.put_nowait(None)
        if self._sender is not None:
            await self._sender

    def advance(self, n: int = 1, message: str = "") -> None:
        self.done += n
        self._queue.put_nowait((self.done, self.total, message))

    def stages(self, names: list[str]) -> Callable[[str, int, int], None]:
        """A ``progress(stage, done, total)`` callback mapped onto one rising count (one unit a stage)."""
        self.total = len(names)

        def update(stage: str, done: int, total: int) -> None:
            k = names.index(stage) if stage in names else len(names) - 1
            self.done = max(self.done, k + (done / total if total else 1))
            self._queue.put_nowait((self.done, self.total, f"{stage} {done}/{total}"))

        return update

    async def _send(self) -> None:
        while (item := await self._queue.get()) is not None:
            try:
                await self.ctx.report_progress(*item)
            except Exception:  # a client that went away must not stop the work
                continue


def _record(store: Store, command: str, started: float, summary: dict[str, Any]) -> None:
    store.record_run(uuid.uuid4().hex[:12], f"mcp {command}", "done", started, summary)


# -- bounded inputs -------------------------------------------------------------------------------------

MAX_ARGUMENT_BYTES = 64 * 1024
MAX_ARGUMENT_DEPTH = 16


def _json_depth(value: Any) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
    return depth


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode())
    if size > MAX_ARGUMENT_BYTES:
        raise ValueError(f"arguments are {size} bytes; at most {MAX_ARGUMENT_BYTES} are accepted")
    if _json_depth(value) > MAX_ARGUMENT_DEPTH:
        raise ValueError(f"arguments nest deeper than {MAX_ARGUMENT_DEPTH} levels")
    return value


ToolRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=300,
        description="A tool: SERVER/TOOL, its id, or its name when only one server has it.",
    ),
]
PathText = Annotated[str, Field(min_length=1, max_length=4096)]
Seed = Annotated[int, Field(ge=0, le=2**31 - 1, description="Same seed and settings: the same result.")]


class Failure(BaseModel):
    tool: str
    reason: str


# -- catalog tools ------------------------------------------------------------------------------------


class ImportResult(BaseModel):
    """What an import wrote (lists are cut at 50 entries)."""

    source: str
    servers: int
    tools_read: int
    imported: int
    new: int
    updated: int
    unchanged: int
    repaired: int
    skipped: int
    examples: int
    repairs: list[str]
    skips: list[str]
    unprobed: list[str]
    tools_in_workspace: int


def _allowed_command(config: ServerConfig, command: str) -> str:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ToolError(f"cannot read the command {command!r} ({exc}); quote it as a shell would") from None
    for allowed in config.allowed_commands:
        if shlex.split(allowed) == argv:
            return command
    allowed = ", ".join(repr(c) for c in config.allowed_commands) or "none"
    raise ToolError(
        f"the command {command!r} is not on this server's allow-list (allowed: {allowed}); use one of "
        "those exactly, or ask the operator to restart the server with --allow-command"
    )


def _allowed_url(config: ServerConfig, url: str) -> str:
    if url in config.allowed_urls:
        return url
    allowed = ", ".join(repr(u) for u in config.allowed_urls) or "none"
    raise ToolError(
        f"the URL {url!r} is not on this server's allow-list (allowed: {allowed}); use one of those "
        "exactly, or ask the operator to restart the server with --allow-url"
    )


async def _import_live(
    svc: Services, command: str | None, url: str | None, probe: int, timeout: float, progress: Progress
) -> ImportReport:
    from graph_toucan.live import LiveTarget, import_live  # the MCP SDK client loads slowly

    target = (
        LiveTarget(command=_allowed_command(svc.config, command))
        if command
        else LiveTarget(url=_allowed_url(svc.config, url or ""))
    )
    progress.total = 1
    return await import_live(svc.store, [target], probe=probe, timeout=timeout, progress=progress.advance)


@synthesis_tool(destructive=True, open_world=True, title="Import a tool catalog")
async def import_catalog(
    ctx: Context,
    path: Annotated[
        PathText | None,
        Field(description="A catalog file or TOUCAN folder inside the workspace or an allowed root."),
    ] = None,
    format: Annotated[
        Literal[FORMATS] | None,  # type: ignore[valid-type]
        Field(description="Catalog format; guessed from the file when left out."),
    ] = None,
    statuses: Annotated[
        list[ServerStatus] | None,
        Field(max_length=5, description="TOUCAN server statuses to import (default: usable)."),
    ] = None,
    server_name: Annotated[
        str | None, Field(max_length=200, description="Server name for single-server formats.")
    ] = None,
    command: Annotated[
        str | None,
        Field(max_length=1000, description="A stdio MCP server command line on the allow-list."),
    ] = None,
    url: Annotated[
        str | None, Field(max_length=2000, description="A streamable-HTTP MCP server URL on the allow-list.")
    ] = None,
    probe: Annotated[
        int, Field(ge=0, le=5, description="Real calls per read-only tool of a live server (examples).")
    ] = 0,
    timeout: Annotated[
        float, Field(ge=1, le=120, description="Seconds a live server has to start and list its tools.")
    ] = 30.0,
) -> ImportResult:
    """Import MCP tools into the workspace: from a catalog file or folder (TOUCAN, OpenAI tools, MCP
    tools/list, BFCL), or from a live MCP server (a command or URL the operator allowed). With no
    source it imports the bundled example catalog (22 servers, 98 tools). Use it first; rerunning is
    safe (unchanged tools are kept, changed tools replace the stored ones and lose their annotations)."""
    svc = services(ctx)
    if sum(x is not None for x in (path, command, url)) > 1:
        raise ToolError("give one source: path, command or url (none imports the bundled example catalog)")
    started = time.time()
    chosen = list(statuses or [ServerStatus.USABLE])
    async with svc.stage_lock, Progress(ctx) as progress:
        if command or url:
            report, source = await _import_live(svc, command, url, probe, timeout, progress), command or url
        else:
            catalog = svc.guard.resolve(path) if path else example_catalog()
            progress.total = count_entries(catalog, chosen)
            entries = read_catalog(catalog, format, statuses=chosen, server_name=server_name)
            report, source = import_entries(svc.store, entries, progress.advance), str(catalog)
    summary = report.as_dict()
    _record(svc.store, "import_catalog", started, summary | {"source": source})
    lists = {k: summary[k][:LIST_CAP] for k in ("repairs", "skips", "unprobed")}
    return ImportResult.model_validate(
        summary | lists | {"source": source, "tools_in_workspace": svc.store.count("tools")}
    )


class ToolSummary(BaseModel):
    id: str
    ref: str = Field(description="SERVER/TOOL, how other tools name it.")
    server: str
    name: str
    tool_class: str | None
    tags: list[str]
    description: str = Field(description="The first 300 characters.")
    annotated: bool = Field(description="Has tags, a class and an output schema (a graph node).")
    mocked: bool = Field(description="run_mock_tool can call it.")


class ToolList(BaseModel):
    tools: list[ToolSummary]
    tools_in_workspace: int


def _mocked_ids(svc: Services) -> set[str]:
    runtime = svc.mocks or svc.load_mocks()
    return {loaded.mock.tool.id for loaded in runtime.mocks.values()}


def _summary(tool: Tool, mocked: set[str]) -> ToolSummary:
    return ToolSummary(
        id=tool.id,
        ref=tool.ref,
        server=tool.server_name,
        name=tool.name,
        tool_class=tool.tool_class,
        tags=tool.tags,
        description=tool.description[:300],
        annotated=bool(tool.tags and tool.tool_class and tool.output_schema),
        mocked=tool.id in mocked,
    )


@synthesis_tool(read_only=True, title="Search imported tools")
async def search_tools(
    ctx: Context,
    query: Annotated[
        str | None,
        Field(min_length=1, max_length=200, description="Words to find in names, descriptions, servers."),
    ] = None,
    server: Annotated[str | None, Field(max_length=200, description="Only this server (name or id).")] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Most tools returned.")] = 20,
) -> ToolList:
    """Find imported tools by full-text search (or list them, without a query). Use it to pick tools
    for describe_tool, graph_neighbors, sample_fsp start points or run_mock_tool."""
    svc = services(ctx)
    tools = svc.store.tools(search=query, server=server, limit=limit)
    mocked = _mocked_ids(svc)
    return ToolList(tools=[_summary(t, mocked) for t in tools], tools_in_workspace=svc.store.count("tools"))


class ToolDetail(BaseModel):
    tool: Tool
    examples: list[ToolExample] = Field(description="Up to 5 probe calls of the live server.")
    mocked: bool


@synthesis_tool(read_only=True, title="Describe one tool")
async def describe_tool(ctx: Context, tool: ToolRef) -> ToolDetail:
    """One tool in full: description, input and output schemas, tags, class, and probe examples. Use
    it before calling run_mock_tool to see which arguments the tool takes."""
    svc = services(ctx)
    found = svc.store.get_tool(tool)
    if found is None:
        raise ToolError(f"no single tool matches {tool!r}; use SERVER/TOOL or an id from search_tools")
    return ToolDetail(
        tool=found, examples=svc.store.examples(found.id)[:5], mocked=found.id in _mocked_ids(svc)
    )


# -- annotation and the graph ---------------------------------------------------------------------------


class AnnotateResult(BaseModel):
    tools: int
    annotated: int
    already_annotated: int
    schemas_from_examples: int
    echo_fields_dropped: int
    failed: list[Failure] = Field(description="Tools the teacher never answered validly (first 50).")
    teacher: str
    llm_calls: int


@synthesis_tool(uses_teacher=True, title="Annotate tools")
async def annotate_tools(
    ctx: Context,
    server: Annotated[
        str | None, Field(max_length=200, description="Only this server's tools (name or id).")
    ] = None,
) -> AnnotateResult:
    """Give every imported tool three tags, a class (query, action, computation) and an output schema,
    with the teacher. Run it after import_catalog and before build_graph. Only tools still missing
    something are annotated, so a rerun retries just the failures."""
    svc = services(ctx)
    tools = svc.store.tools(server=server)
    if not tools:
        raise ToolError(f"no tools{f' of server {server!r}' if server else ''}; call import_catalog first")
    started, calls = time.time(), svc.llm.stats.calls
    async with svc.stage_lock, Progress(ctx, len(tools)) as progress:
        report = await annotate_workspace(svc.store, svc.llm, tools=tools, progress=progress.advance)
    summary = report.as_dict() | {"teacher": svc.llm.teacher, "llm_calls": svc.llm.stats.calls - calls}
    _record(svc.store, "annotate_tools", started, summary)
    return AnnotateResult.model_validate(summary | {"failed": summary["failed"][:LIST_CAP]})


class JudgeFailure(BaseModel):
    source: str
    target: str
    reason: str


class BuildResult(BaseModel):
    tools: int
    nodes: int
    not_annotated: int = Field(description="Tools left out: call annotate_tools for them.")
    output_fields: int
    output_fields_filtered: int
    filter_failed: list[Failure]
    all_ordered_pairs: int
    candidate_pairs: int
    judged_now: int
    reused_judgements: int
    failed_judgements: list[JudgeFailure]
    edges: dict[str, int] = Field(description="Edges by type: full, partial, prerequisite.")
    seconds: float
    teacher: str
    llm_calls: int


@synthesis_tool(destructive=True, uses_teacher=True, title="Build the dependency graph")
async def build_graph(
    ctx: Context,
    cap: Annotated[int, Field(ge=1, le=200, description="Candidates judged per tool after pruning.")] = 30,
    floor: Annotated[
        int, Field(ge=0, le=50, description="Of those, at least this many from other servers.")
    ] = 5,
) -> BuildResult:
    """Build the tool dependency graph: drop output fields that echo inputs, prune candidate pairs,
    have the teacher judge the pairs not judged before, and save the graph (replacing the previous
    one). Run it after annotate_tools and before sample_fsp."""
    if floor > cap:
        raise ToolError(f"floor ({floor}) cannot exceed cap ({cap}); lower floor or raise cap")
    svc = services(ctx)
    started, calls = time.time(), svc.llm.stats.calls
    async with svc.stage_lock, Progress(ctx) as progress:
        _, report = await build_workspace_graph(
            svc.store,
            svc.llm,
            config=PruneConfig(cap=cap, floor=floor),
            progress=progress.stages(["filter outputs", "judge pairs"]),
        )
    summary = report.as_dict() | {"teacher": svc.llm.teacher, "llm_calls": svc.llm.stats.calls - calls}
    _record(svc.store, "build_graph", started, summary)
    cut = {k: summary[k][:LIST_CAP] for k in ("filter_failed", "failed_judgements")}
    return BuildResult.model_validate(summary | cut)


class FieldLink(BaseModel):
    output: str = Field(description="Output field of the earlier tool (items[].id: a list's items).")
    input: str = Field(description="Input parameter of the later tool it fills.")


class Neighbour(BaseModel):
    tool: str
    type: str = Field(description="full, partial or prerequisite.")
    mapping: list[FieldLink]
    reason: str


class Neighbourhood(BaseModel):
    tool: str
    tool_class: str | None
    outputs: list[str]
    incoming: list[Neighbour] = Field(description="Tools whose outputs feed this one.")
    outgoing: list[Neighbour] = Field(description="Tools this one's outputs feed.")
    incoming_total: int
    outgoing_total: int


@synthesis_tool(read_only=True, title="A tool's graph neighbours")
async def graph_neighbors(
    ctx: Context,
    tool: ToolRef,
    limit: Annotated[int, Field(ge=1, le=200, description="Most edges returned each way.")] = 50,
) -> Neighbourhood:
    """A tool's edges in the dependency graph, both ways, with the field mappings. Use it to see which
    tools can feed a tool (or be fed by it) before choosing sample_fsp start tools."""
    graph = load_graph(services(ctx).store)
    info = neighbourhood(graph, find_node(graph, tool))
    return Neighbourhood(
        tool=info["tool"],
        tool_class=info["tool_class"],
        outputs=info["outputs"],
        incoming=info["in"][:limit],
        outgoing=info["out"][:limit],
        incoming_total=len(info["in"]),
        outgoing_total=len(info["out"]),
    )


@synthesis_resource("graph-toucan://graph/stats", name="graph_stats")
async def graph_summary(ctx: Context) -> dict[str, Any]:
    """The dependency graph: nodes, edges by type, components, degrees, most connected tools."""
    return graph_stats(load_graph(services(ctx).store))


# -- sampling ------------------------------------------------------------------------------------------


class SampleSettings(BaseModel):
    """Walk and node-operation settings; those left out keep their defaults."""

    model_config = ConfigDict(extra="forbid")

    max_steps: int | None = Field(None, ge=1, le=10, description="Most edges per walk (default 5).")
    min_steps: int | None = Field(None, ge=0, le=10, description="Fewest edges per walk (default 1).")
    walks_per_start: int | None = Field(None, ge=1, le=20, description="Walks per start and round (3).")
    distractors: int | None = Field(None, ge=0, le=20, description="Tools offered besides the path's (4).")
    merge: float | None = Field(None, ge=0, le=1, description="Chance a turn joins the one before (0.3).")
    insert_short: float | None = Field(None, ge=0, le=1, description="Chance of a hidden helper call (0.25).")
    insert_long: float | None = Field(None, ge=0, le=1, description="Chance of a back-reference (0.3).")
    split: float | None = Field(None, ge=0, le=1, description="Chance of an empty, clarifying turn (0.2).")

    def overrides(self) -> dict[str, Any]:
        walk = {"max_steps", "min_steps", "walks_per_start"}
        operations = {"merge", "insert_short", "insert_long", "split"}
        prefix = {**dict.fromkeys(walk, "walk."), **dict.fromkeys(operations, "operations.")}
        return {f"{prefix.get(k, '')}{k}": v for k, v in self.model_dump().items()}


class SampleResult(BaseModel):
    sampler: str
    seed: int
    requested: int
    sampled: int
    new: int
    already_stored: int
    exhausted: bool = Field(description="Fewer distinct paths exist than requested with these settings.")
    tools: int
    usable_edges: int
    stored_paths: int
    path_ids: list[str] = Field(description="Every sampled path, in stream order.")
    paths: list[PlannedPath] = Field(description="The first `show` paths in full.")


@synthesis_tool(title="Sample function signature paths")
async def sample_fsp(
    ctx: Context,
    count: Annotated[
        int, Field(ge=1, le=1000, description="Paths to sample (the first of the stream).")
    ] = 10,
    seed: Seed = 0,
    sampler: Annotated[
        Literal["graph", "random"],
        Field(description="graph: walks + node operations; random: TOUCAN's tag baseline."),
    ] = "graph",
    settings: SampleSettings | None = None,
    start: Annotated[
        list[ToolRef] | None, Field(max_length=10, description="Start walks only at these tools.")
    ] = None,
    show: Annotated[int, Field(ge=0, le=50, description="How many paths to return in full.")] = 3,
) -> SampleResult:
    """Sample planned function-signature paths (multi-turn tool-call plans with their data
    dependencies) from the graph into the workspace, and return them. Run it after build_graph. The
    same seed and settings give the same paths; a larger count continues the same stream."""
    svc = services(ctx)
    config = load_config(None, **(settings or SampleSettings()).overrides())
    started = time.time()
    async with Progress(ctx, count) as progress:
        index = svc.population(sampler, config)
        report = sample_to_store(
            svc.store, sampler, count, seed, config, start or None, index=index, progress=progress.advance
        )
    summary = report.as_dict()
    _record(svc.store, "sample_fsp", started, summary)
    shown = [svc.store.get_path(pid) for pid in report.path_ids[:show]]
    return SampleResult.model_validate(
        summary | {"path_ids": report.path_ids, "paths": [p for p in shown if p is not None]}
    )


# -- mock tools ----------------------------------------------------------------------------------------


class MockCall(BaseModel):
    tool: str = Field(description="The mock's published name.")
    ref: str = Field(description="SERVER/TOOL of the mocked tool.")
    conversation: str
    output: Any = Field(description="What the mock returned (valid against the tool's output schema).")
    mocks: Literal["workspace", "bundled"] = Field(description="Where the mocks come from.")


@synthesis_tool(title="Call a mock tool")
async def run_mock_tool(
    ctx: Context,
    tool: ToolRef,
    arguments: Annotated[
        dict[str, Any],
        AfterValidator(_bounded_json),
        Field(description="The tool's arguments, valid against its input schema (at most 64 KiB)."),
    ],
    conversation: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9_.:-]{1,128}$",
            description="Calls with the same id see consistent state (a booking made is found later).",
        ),
    ] = "default",
) -> MockCall:
    """Call the simulated (mock) version of a tool in a sandbox and get a realistic, schema-valid
    answer, offline. Mocks come from the workspace (graph-toucan mock build) or, when it has none,
    the bundled ones for the example catalog; search_tools marks which tools are mocked."""
    svc = services(ctx)
    runtime = svc.mocks or svc.load_mocks()
    try:
        loaded = runtime.find(tool)
    except MockError:
        runtime = svc.load_mocks()  # built since start-up?
        loaded = runtime.find(tool)
    output = await runtime.call(loaded.name, arguments, conversation=conversation)
    return MockCall(
        tool=loaded.name, ref=loaded.ref, conversation=conversation, output=output, mocks=svc.mock_source
    )


# -- translation and refusal variants --------------------------------------------------------------------

MAX_PATH_TURNS = 20
MAX_PATH_CALLS = 40
MAX_PATH_TOOLS = 64

ConversationRef = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{4,16}$",
        description="A conversation id (from translate_fsp or augment_refusal) or a unique prefix of 4+.",
    ),
]
Attempts = Annotated[
    int, Field(ge=1, le=10, description="Tries per turn, the failed checks fed back to the teacher.")
]


class InlinePath(PlannedPath):
    """A planned path in full, as sample_fsp returns it (possibly edited). Its id is recomputed from the
    content; an ``id`` key is accepted and ignored."""

    given_id: str | None = Field(None, alias="id", max_length=64, description="Ignored (recomputed).")
    turns: list[PlannedTurn] = Field(min_length=1, max_length=MAX_PATH_TURNS)
    dependencies: list[PathDependency] = Field(default_factory=list, max_length=4 * MAX_PATH_CALLS)
    available_tools: list[AvailableTool] = Field(min_length=1, max_length=MAX_PATH_TOOLS)

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        return _bounded_json(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _few_calls(self) -> InlinePath:
        if len(self.calls) > MAX_PATH_CALLS:
            raise ValueError(f"the path has {len(self.calls)} calls; at most {MAX_PATH_CALLS} are accepted")
        return self

    def planned(self) -> PlannedPath:
        return PlannedPath.model_validate(self.model_dump(include=set(PlannedPath.model_fields)))


class ConversationResult(BaseModel):
    """A stored conversation: the whole of it when accepted, the reasons when rejected."""

    id: str = Field(description="For get_conversation, augment_refusal, graph-toucan://conversations/{id}.")
    status: Literal["accepted", "rejected"]
    kind: str = Field(description="translation, miss-func, miss-params or irrelevance.")
    path_id: str
    source_id: str | None = Field(description="For a refusal variant: the conversation it came from.")
    teacher: str
    seed: int
    turns: int
    calls: int
    checks_passed: int
    checks_total: int
    reasons: list[str] = Field(description="Why it was rejected (empty when accepted).")
    conversation: Conversation | None = Field(
        description="The verified conversation when accepted (get_conversation shows a rejected one)."
    )
    llm_calls: int = Field(description="Teacher calls made for this result (cached answers included).")


def _conversation_result(conversation: Conversation, llm_calls: int) -> dict[str, Any]:
    c = conversation
    return {
        "id": c.id,
        "status": c.status,
        "kind": c.kind,
        "path_id": c.path_id,
        "source_id": c.source_id,
        "teacher": c.teacher,
        "seed": c.seed,
        "turns": len(c.turns),
        "calls": len(c.calls),
        "checks_passed": sum(ch.passed for ch in c.checks),
        "checks_total": len(c.checks),
        "reasons": c.reasons[:LIST_CAP],
        "conversation": c if c.status == "accepted" else None,
        "llm_calls": llm_calls,
    }


def _teacher_failed(exc: LLMError, what: str, tool: str) -> ToolError:
    """A teacher failure as a tool error: retry, or (a spent budget) ask the operator."""
    if isinstance(exc, BudgetExceeded):
        return ToolError(
            f"{exc}. The budget is this server's, for as long as it runs: ask the operator to restart it "
            "with a larger --max-calls or --max-cost"
        )
    return ToolError(
        f"the teacher failed {what} ({exc}); nothing was stored: call {tool} again to retry "
        "(answers already received come back from the call log)"
    )


class MockBuild(BaseModel):
    """Mocks built for the path's tools before translating (a path is only translated on mocks)."""

    built: list[str] = Field(description="Tools whose mock was accepted now.")
    already_built: int
    unmockable: dict[str, str] = Field(description="Tools no mock passed the checks for, and why.")
    skipped: dict[str, str] = Field(description="Tools not annotated enough to mock, and why.")


class TranslateResult(ConversationResult):
    mocks: MockBuild | None = Field(description="The mock build, unless build_missing_mocks was false.")


def _path_tools(svc: Services, path: PlannedPath) -> list[Tool]:
    tools = []
    for tool_id, ref in dict.fromkeys((c.tool_id, c.tool) for c in path.calls):
        tool = svc.store.get_tool(tool_id)
        if tool is None:
            raise ToolError(
                f"the path calls {ref} ({tool_id}), which is not in the workspace; import its catalog with "
                "import_catalog, or take a path from sample_fsp"
            )
        tools.append(tool)
    return tools


async def _build_path_mocks(svc: Services, tools: list[Tool], progress: Progress) -> MockBuild:
    async with svc.stage_lock:
        try:
            report = await build_mocks(
                svc.store,
                svc.llm,
                svc.pool,
                tools=tools,
                concurrency=2 * svc.config.mock_workers,
                progress=lambda: progress.advance(1, "mocks"),
            )
        except LLMError as exc:
            raise _teacher_failed(exc, "building mocks", "translate_fsp") from None
    if report.failed:
        ref, reason = next(iter(report.failed.items()))
        raise ToolError(
            f"the teacher failed building the mock of {ref} ({reason}); nothing was translated: call "
            "translate_fsp again to retry (answers already received come back from the call log)"
        )
    return MockBuild(
        built=report.accepted,
        already_built=report.cached,
        unmockable=report.unmockable,
        skipped=report.skipped,
    )


@synthesis_tool(uses_teacher=True, title="Translate a planned path into a conversation")
async def translate_fsp(
    ctx: Context,
    path_id: Annotated[
        str | None,
        Field(
            pattern=r"^[0-9a-f]{4,16}$",
            description="A path id from sample_fsp's path_ids (or a unique prefix of 4+ characters).",
        ),
    ] = None,
    path: Annotated[
        InlinePath | None,
        Field(description="Instead of path_id: a planned path in full, e.g. one of sample_fsp's, edited."),
    ] = None,
    seed: Annotated[
        int | None,
        Field(
            ge=0,
            le=2**31 - 1,
            description="Seed of the persona and simulated outputs (default: the path's seed, as "
            "graph-toucan run uses). Same path, teacher and seed: the same conversation id.",
        ),
    ] = None,
    attempts: Attempts = 3,
    build_missing_mocks: Annotated[
        bool,
        Field(description="First build the missing mocks of the path's tools with the teacher."),
    ] = True,
) -> TranslateResult:
    """Translate one planned path (from sample_fsp) into a multi-turn conversation with the teacher:
    user queries, filled arguments, tool calls answered by the mocks, assistant answers, every turn
    verified and retried with feedback. Stores the conversation, accepted or rejected, and returns it
    (or, rejected, the reasons). Run it after sample_fsp; then augment_refusal, export_dataset. The
    mocks of the path's tools are built first when missing."""
    svc = services(ctx)
    if (path_id is None) == (path is None):
        raise ToolError("give one of path_id (from sample_fsp) or path (a planned path in full)")
    if path is not None:
        planned = path.planned()
    else:
        found = svc.store.get_path(path_id or "")
        if found is None:
            raise ToolError(f"no single path matches {path_id!r}; take an id from sample_fsp's path_ids")
        planned = found
    tools = _path_tools(svc, planned)
    seed = planned.seed if seed is None else seed
    started, calls = time.time(), svc.llm.stats.calls
    async with Progress(ctx, (len(tools) if build_missing_mocks else 0) + 1) as progress:
        mocks = await _build_path_mocks(svc, tools, progress) if build_missing_mocks else None
        known = svc.store.get_conversation(conversation_id(planned.id, svc.llm.teacher, seed))
        if known is not None and known.status == "accepted":  # done before: no new teacher calls
            conversation = known
        else:
            translator = translator_for(svc.store, svc.llm, svc.pool, seed=seed, max_attempts=attempts)
            try:
                conversation = await translator.translate(planned, seed=seed)
            except LLMError as exc:
                raise _teacher_failed(exc, f"translating path {planned.id}", "translate_fsp") from None
            svc.store.add_conversation(conversation, position=planned.index)
        progress.advance(1, conversation.status)
    result = _conversation_result(conversation, svc.llm.stats.calls - calls) | {"mocks": mocks}
    recorded = {"conversation": None, "mocks": mocks.model_dump() if mocks else None}
    _record(svc.store, "translate_fsp", started, result | recorded)
    return TranslateResult.model_validate(result)


def _stored_conversation(svc: Services, ref: str) -> Conversation:
    found = svc.store.get_conversation(ref)
    if found is None:
        raise ToolError(
            f"no single conversation matches {ref!r}; take an id from translate_fsp (or a longer prefix)"
        )
    return found


@synthesis_tool(uses_teacher=True, title="Make a refusal variant of a conversation")
async def augment_refusal(
    ctx: Context,
    conversation: ConversationRef,
    kind: Annotated[
        RefusalKind,
        Field(
            description="miss-func: a tool is unavailable until the user offers it; miss-params: the user "
            "leaves out a required value and the assistant asks; irrelevance: a request no tool serves."
        ),
    ],
    attempts: Attempts = 3,
) -> ConversationResult:
    """Make a verified refusal variant of an accepted translation (from translate_fsp), teaching a model
    to ask or decline instead of guessing, and store it as a new conversation linked to its source.
    The variant is seeded by the source's seed, so the same source, kind and teacher give the same id."""
    svc = services(ctx)
    source = _stored_conversation(svc, conversation)
    if source.kind != "translation" or source.status != "accepted":
        raise ToolError(
            f"conversation {source.id} is a {source.status} {source.kind}; refusal variants are made from "
            "accepted translations (translate_fsp results with status accepted)"
        )
    started, calls = time.time(), svc.llm.stats.calls
    augmenter = Augmenter(svc.llm, max_attempts=attempts, catalog=svc.store.tools())
    try:
        variant = await augmenter.variant(source, kind)
    except LLMError as exc:
        raise _teacher_failed(exc, f"making the {kind} variant", "augment_refusal") from None
    if variant is None:
        sites = {"miss-func": miss_func_sites, "miss-params": miss_param_sites}.get(kind)
        if sites is not None and not sites(source):
            place = {
                "miss-func": "no first use of a tool the user asked for outside a split turn",
                "miss-params": "no required value the user stated once in a query",
            }[kind]
            raise ToolError(
                f"conversation {source.id} has no place for a {kind} variant ({place}); try another kind "
                "or another conversation"
            )
        raise ToolError(
            f"the teacher's answers for the {kind} variant of {source.id} never validated in {attempts} "
            "attempts; call augment_refusal again with more attempts"
        )
    svc.store.add_conversation(variant)
    result = _conversation_result(variant, svc.llm.stats.calls - calls)
    _record(svc.store, "augment_refusal", started, result | {"conversation": None})
    return ConversationResult.model_validate(result)


class ConversationDetail(BaseModel):
    conversation: Conversation
    transcript: str | None = Field(description="The conversation as readable plain text.")


@synthesis_tool(read_only=True, title="Show one conversation")
async def get_conversation(
    ctx: Context,
    conversation: ConversationRef,
    transcript: Annotated[bool, Field(description="Add a readable plain-text transcript.")] = True,
) -> ConversationDetail:
    """One stored conversation in full (turns, calls with arguments, sources and outputs, checks,
    reasons), with a readable transcript. Use it to inspect a translate_fsp or augment_refusal result,
    in particular a rejected one."""
    found = _stored_conversation(services(ctx), conversation)
    return ConversationDetail(conversation=found, transcript=plain_transcript(found) if transcript else None)


@synthesis_resource("graph-toucan://conversations/{id}", name="conversation")
async def conversation_resource(id: str, ctx: Context) -> dict[str, Any]:
    """One stored conversation by id (or a unique prefix of at least 4 characters)."""
    found = services(ctx).store.get_conversation(id) if re.fullmatch(r"[0-9a-f]{4,16}", id) else None
    if found is None:
        raise ResourceError(f"no single conversation matches {id!r}; take an id from translate_fsp")
    return found.model_dump(mode="json")


# -- the dataset -----------------------------------------------------------------------------------------


class ExportResult(BaseModel):
    out: str
    formats: list[str]
    rows: dict[str, dict[str, int]] = Field(description="Rows per format and split (dpo: preference pairs).")
    conversations: dict[str, int] = Field(description="Conversations per split.")
    kinds: dict[str, int]
    teachers: dict[str, int]
    samplers: dict[str, int]
    servers: dict[str, str | None] = Field(description="Servers whose tools are used, with their licenses.")
    tools_used: int
    skipped: dict[str, str] = Field(description="Conversations not expressible in the formats (first 50).")
    skipped_total: int
    seconds: dict[str, float]
    files: list[str] = Field(description="Every file written: JSONL and Parquet per split, stats, README.md.")


@synthesis_tool(destructive=True, title="Export the dataset")
async def export_dataset(
    ctx: Context,
    out: Annotated[
        PathText,
        Field(description="Folder to write, inside the workspace or an allowed root (e.g. 'export')."),
    ],
    formats: Annotated[
        list[Format] | None,
        Field(min_length=1, max_length=len(EXPORT_FORMATS), description="Default: every format."),
    ] = None,
    validation_share: Annotated[
        float, Field(ge=0, le=0.99, description="Share of conversation families in the validation split.")
    ] = 0.05,
    seed: Seed = 0,
    teacher: Annotated[
        str | None, Field(max_length=200, description="Only this teacher's conversations (e.g. offline).")
    ] = None,
    sampler: Annotated[Sampler | None, Field(description="Only this sampler's conversations.")] = None,
    metadata: Annotated[bool, Field(description="Add id and kind columns to every row.")] = True,
    license: Annotated[
        str | None, Field(max_length=100, description="The dataset's license for the card (e.g. mit).")
    ] = None,
) -> ExportResult:
    """Export the accepted conversations and preference pairs for trainers: OpenAI messages (TRL SFT),
    TRL DPO pairs, LLaMA-Factory ShareGPT and Hermes, JSONL and Parquet per train/validation split,
    with a dataset card (README.md) and the statistics (stats/). Files already in the folder are
    replaced. Run it when translate_fsp and augment_refusal have made enough conversations."""
    svc = services(ctx)
    folder = svc.guard.writable(out)
    if folder in svc.guard.roots:
        raise ToolError(
            f"{out!r} is the workspace or an allowed root itself; an export writes README.md and stats/ "
            "into its folder, so name a subfolder such as 'export'"
        )
    started = time.time()
    total = svc.store.conversation_count(status="accepted", teacher=teacher)
    async with Progress(ctx, total) as progress:
        report = export_conversations(
            svc.store,
            folder,
            formats or EXPORT_FORMATS,
            validation_share=validation_share,
            seed=seed,
            teacher=teacher,
            sampler=sampler,
            metadata=metadata,
            license=license,
            progress=progress.advance,
        )
    summary = report.as_dict()
    _record(svc.store, "export_dataset", started, summary)
    skipped = dict(list(report.skipped.items())[:LIST_CAP])
    return ExportResult.model_validate(summary | {"skipped": skipped, "skipped_total": len(report.skipped)})


class StatsResult(BaseModel):
    workspace: str
    teacher: str | None
    tools_total: int
    servers_total: int
    samplers: dict[str, dict[str, Any]] = Field(
        description="Figures per sampler: conversations, acceptance rate, turns, calls, dependencies, checks."
    )
    call_log: dict[str, Any] = Field(description="Teacher calls, tokens and cost: total, per accepted.")
    references: dict[str, dict[str, str]] = Field(description="Published figures of MAGNET and TOUCAN.")
    markdown: str | None = Field(description="The report as Markdown, when asked for.")


@synthesis_tool(read_only=True, title="Dataset statistics")
async def dataset_stats(
    ctx: Context,
    teacher: Annotated[
        str | None, Field(max_length=200, description="Only this teacher's conversations (e.g. offline).")
    ] = None,
    markdown: Annotated[bool, Field(description="Also return the report as Markdown.")] = False,
) -> StatsResult:
    """Statistics of the stored conversations (accepted and rejected), one column per sampler, beside
    MAGNET's and TOUCAN's published figures: acceptance rate, turns, calls, parallel steps, dependency
    types, tool coverage, check pass rates, rejection reasons, teacher cost. Use it to judge the data
    before export_dataset; the resource graph-toucan://stats is the same report as Markdown."""
    report = compute_stats(services(ctx).store, teacher=teacher)
    return StatsResult.model_validate(
        report.as_dict() | {"markdown": stats_markdown(report) if markdown else None}
    )


@synthesis_resource("graph-toucan://stats", name="dataset_stats", mime_type="text/markdown")
async def stats_resource(ctx: Context) -> str:
    """The statistics report of every stored conversation, as Markdown."""
    return stats_markdown(compute_stats(services(ctx).store))


# -- serving -------------------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def serve(
    config: ServerConfig, teacher: Teacher | None = None, *, http: tuple[str, int] | None = None
) -> None:
    """Run the server on stdio, or on streamable HTTP at ``http`` (host, port); HTTP off loopback
    needs a token."""
    if http is not None and not is_loopback(http[0]) and not config.token:
        raise GraphToucanError(
            f"refusing to listen on {http[0]} without a token: anyone who reaches it could drive the "
            f"server; give --token (or set {TOKEN_ENV}), or listen on 127.0.0.1"
        )
    if http is None:  # the client started this process: there is nothing to authenticate
        app = create_server(config.model_copy(update={"token": None}), teacher)
        await app.run_async(transport="stdio", show_banner=False)
        return
    app = create_server(config, teacher)
    host, port = http
    await app.run_async(
        transport="http", host=host, port=port, show_banner=False, host_origin_protection="auto"
    )
