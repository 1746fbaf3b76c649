"""The synthesis server's app: configuration, the shared services, tool registration, error
translation, and serving on stdio or HTTP.

A tool is one small function registered with :func:`synthesis_tool` in the module of its stage; a
resource one registered with :func:`synthesis_resource`. Both get the shared :class:`Services`
through :func:`services`::

    @synthesis_tool(read_only=True)
    async def count_tools(ctx: Context) -> int:
        \"\"\"How many tools the workspace holds.\"\"\"
        return services(ctx).store.count("tools")
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio
import anyio.to_thread
import fastmcp
from fastmcp import Context, FastMCP
from fastmcp.exceptions import ResourceError, ToolError
from fastmcp.tools import FunctionTool
from fastmcp.utilities.json_schema import dereference_refs
from mcp_types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from graph_toucan import __version__
from graph_toucan.errors import BudgetExceeded, GraphToucanError, LLMError
from graph_toucan.llm import LLM, OfflineBackend, make_backend
from graph_toucan.mock.files import bundled_mock_folder, read_mock_folder
from graph_toucan.mock.runtime import MockRuntime
from graph_toucan.mock.sandbox import Limits, SandboxPool
from graph_toucan.records import MockTool
from graph_toucan.store import Store
from graph_toucan.workers import Workers
from graph_toucan.workspace_lock import workspace_lock

from .security import PathGuard, check_listen

SERVICES = "graph-toucan"
INSTRUCTIONS = """\
graph-toucan synthesizes multi-turn function-calling data from a catalog of real MCP tools.
Usual order: import_catalog -> annotate_tools -> build_graph -> sample_fsp -> build_mocks ->
translate_fsp (each path id; list_paths shows them) -> augment_refusal (some accepted
conversations) -> make_pairs -> export_dataset -> evaluate_model (score a model on the export
against the mocks). Inspect with search_tools, describe_tool,
graph_neighbors, list_conversations, get_conversation and dataset_stats; call a simulated tool with
run_mock_tool. Reruns are cheap: every stage skips the work it already did. Resources:
graph-toucan://graph/stats (the graph summary), graph-toucan://conversations/{id} (a conversation)
and graph-toucan://stats (the dataset statistics, Markdown)."""

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


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
    call_timeout: float = Field(300.0, gt=0, le=86_400, description="Wall-clock seconds per tool call.")
    max_workspace_mb: float = Field(
        4096.0, gt=0, description="Tools that write stop when the workspace database grows past this."
    )
    session_idle: float = Field(
        600.0, gt=0, le=86_400, description="Seconds an HTTP session may stay idle before it is closed."
    )


WRITE_GUARD_EXEMPT = {"export_dataset"}  # writes files from the database, not to it
LOCK_EXEMPT = {"run_mock_tool"}  # a mock's state lives in the sandbox, never in the workspace


Teacher = Callable[[Store], LLM]


@dataclass
class Services:
    """What every tool shares: the workspace, the teacher, the path guard and the mock runtime."""

    config: ServerConfig
    store: Store
    llm: LLM
    guard: PathGuard
    pool: SandboxPool
    workers: Workers = field(default_factory=Workers)  # processes for CPU-heavy calls (sample_fsp)
    stage_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # this server's writers, first come first
    _mocks: MockRuntime | None = None
    _mock_key: tuple[Any, ...] | None = None
    _workspace_mocks: set[str] = field(default_factory=set)

    def offline_only(self) -> bool:
        """Whether the teacher is the offline one alone, with no budget: then a worker process can
        make the same calls with its own (the call log is the workspace's), the CPU-bound work off
        the event loop."""
        llm = self.llm
        limits = (llm.budget.max_calls, llm.budget.max_cost_usd)
        return isinstance(llm.backend, OfflineBackend) and not llm.overrides and limits == (None, None)

    def check_size(self) -> None:
        """The per-workspace size guard: a tool that writes refuses once the database is too large."""
        limit = self.config.max_workspace_mb
        size = sum(
            p.stat().st_size
            for p in (self.store.path, self.store.path.with_name(self.store.path.name + "-wal"))
            if p.exists()
        )
        if size > limit * 2**20:
            raise ToolError(
                f"the workspace database is {size / 2**20:.0f} MB, over this server's limit of {limit:.0f} MB "
                "(serve --max-workspace-mb): export the dataset with export_dataset and continue in a fresh "
                "workspace, or ask the operator to restart the server with a larger limit"
            )

    def mocks(self) -> MockRuntime:
        """The bundled mocks of the example catalog, overridden by the workspace's accepted mocks: a
        tool the workspace has built a mock for gets that one, every other bundled tool keeps its own.
        Read again whenever the workspace's mocks change."""
        key = self.store.db.execute("select count(*), coalesce(max(created_at), 0) from mocks").fetchone()
        if self._mocks is not None and tuple(key) == self._mock_key:
            return self._mocks
        if self._mocks is None:
            self._mocks = MockRuntime(self.pool)
            self._mocks.add(read_mock_folder(bundled_mock_folder()))
        accepted = self.store.mocks(status="accepted")
        self._mocks.add(accepted)
        self._mock_key = tuple(key)
        self._workspace_mocks = {m.id for m in accepted}
        return self._mocks

    def mock_source(self, mock: MockTool) -> Literal["workspace", "bundled"]:
        return "workspace" if mock.id in self._workspace_mocks else "bundled"


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
        workers = Workers()
        await anyio.to_thread.run_sync(workers.start)  # one worker ready before the first heavy call
        try:
            guard = PathGuard([store.workspace, *config.roots])
            yield {SERVICES: Services(config, store, teacher(store), guard, pool, workers)}
        finally:
            workers.close()
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


# -- messages for an agent -----------------------------------------------------------------------------

# CLI commands named in library messages, and the MCP tool that does the same (longest first).
CLI_TOOLS = {
    "graph-toucan import": "import_catalog",
    "graph-toucan annotate": "annotate_tools",
    "graph-toucan graph build": "build_graph",
    "graph-toucan graph show": "graph_neighbors",
    "graph-toucan tools": "search_tools",
    "graph-toucan sample": "sample_fsp",
    "graph-toucan paths": "list_paths",
    "graph-toucan mock build": "build_mocks",
    "graph-toucan mock show": "search_tools",
    "graph-toucan mock call": "run_mock_tool",
    "graph-toucan run": "sample_fsp and translate_fsp",
    "graph-toucan augment": "augment_refusal",
    "graph-toucan pairs": "make_pairs",
    "graph-toucan export": "export_dataset",
    "graph-toucan stats": "dataset_stats",
    "graph-toucan eval": "evaluate_model",
    "graph-toucan conversations list": "list_conversations",
    "graph-toucan conversations show": "get_conversation",
    "tools list": "search_tools",
}


def agent_message(message: str) -> str:
    """A library message with each CLI command it names replaced by the MCP tool that does the same
    (an agent on this server can call tools, not commands)."""

    def name_tool(match: re.Match[str]) -> str:
        command = match.group(1)
        hits = [
            tool
            for cli, tool in sorted(CLI_TOOLS.items(), key=lambda kv: -len(kv[0]))
            if command.startswith(cli)
        ]
        if not hits:
            return match.group(0)
        return f"the {hits[0]} tools" if " and " in hits[0] else f"the {hits[0]} tool"

    return re.sub(r"'((?:graph-toucan|tools) [^']*)'", name_tool, " ".join(message.split()))


def teacher_failed(exc: LLMError, what: str, tool: str) -> ToolError:
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


def timeout_message(limit: float) -> str:
    return (
        f"the call ran past this server's limit of {limit:g} s per call and was stopped (serve "
        "--call-timeout sets the limit: ask the operator to raise it); what it finished is stored: call "
        "it again to continue, or ask for less at once (a smaller count)"
    )


def _as_tool_errors(
    fn: F, error: type[Exception] = ToolError, *, writes: bool = False, locks: bool = False
) -> F:
    """Library errors as MCP errors whose message says what to change; every call within the server's
    time limit (cancelled at it: work in a worker process is killed), a tool that ``writes`` within
    its workspace size guard, and one that ``locks`` holding the workspace lock (one writer at a
    time, with the CLI's commands too; waiting for it counts apart, up to the same limit)."""

    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        ctx = next((a for a in (*args, *kwargs.values()) if isinstance(a, Context)), None)
        svc = services(ctx) if ctx is not None else None
        limit = svc.config.call_timeout if svc is not None else None
        try:
            if writes and svc is not None:
                svc.check_size()
            async with contextlib.AsyncExitStack() as stack:
                if locks and svc is not None:
                    with anyio.move_on_after(limit) as waited:  # fair among this server's calls
                        await stack.enter_async_context(svc.write_lock)
                    if waited.cancelled_caught:
                        raise ToolError(
                            f"other calls of this server writing the workspace took longer than its limit of "
                            f"{limit:g} s per call (serve --call-timeout); call {fn.__name__} again when they "
                            "are done"
                        )
                    holder = f"the synthesis server's {fn.__name__}"
                    await stack.enter_async_context(
                        workspace_lock(svc.store.workspace, wait_s=limit, what=holder)
                    )
                with anyio.fail_after(limit):
                    return await fn(*args, **kwargs)
        except TimeoutError:
            raise error(timeout_message(limit or 0)) from None
        except GraphToucanError as exc:
            raise error(agent_message(str(exc))) from None
        except ToolError as exc:
            raise error(agent_message(str(exc))) from None

    return run  # type: ignore[return-value]


# -- schemas every client can read --------------------------------------------------------------------


def _no_null_branches(schema: Any) -> Any:
    """``anyOf [X, {type: null}]`` as X itself, everywhere in a schema: an optional parameter is then
    declared by its type and default (``null``: left out), which older clients (the MCP Inspector 0.x
    among them) read as the type, where they send a list or object as a string for the union. The
    server still accepts an explicit null."""
    if isinstance(schema, list):
        return [_no_null_branches(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _no_null_branches(value) for key, value in schema.items()}
    branches = out.get("anyOf")
    if isinstance(branches, list) and len(branches) == 2 and {"type": "null"} in branches:
        other = next(b for b in branches if b != {"type": "null"})
        if isinstance(other, dict) and "anyOf" not in other:
            del out["anyOf"]
            out = other | out  # the field's own description and default win over the type's
    return out


def _client_schemas(tool: FunctionTool) -> FunctionTool:
    """The tool with ``$ref``-free schemas (some clients cannot follow them) and no null branches,
    made once here: FastMCP's own dereferencing runs on every listing."""
    output = tool.output_schema
    return tool.model_copy(
        update={
            "parameters": _no_null_branches(dereference_refs(tool.parameters)),
            "output_schema": dereference_refs(output) if output is not None else None,
        }
    )


def _annotations(spec: ToolSpec, teacher: str) -> ToolAnnotations:
    remote = spec.uses_teacher and teacher != "offline"
    return ToolAnnotations(
        title=spec.title,
        read_only_hint=spec.read_only,
        destructive_hint=False if spec.read_only else spec.destructive,
        idempotent_hint=spec.idempotent,
        open_world_hint=spec.open_world or remote,
    )


def create_server(config: ServerConfig | None = None, teacher: Teacher | None = None) -> FastMCP:
    """The synthesis server over ``config``'s workspace; ``teacher`` builds the LLM on the store
    (default: the offline teacher)."""
    config = config or ServerConfig()
    PathGuard(config.roots)  # a missing root fails here, at start-up
    app = FastMCP(
        "graph-toucan",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=_lifespan(config, teacher or offline_teacher),
        auth=check_listen("127.0.0.1", config.token),
        mask_error_details=True,  # unexpected failures are logged here, not sent to clients
        dereference_schemas=False,  # done once per tool by _client_schemas, not on every request
        on_duplicate="error",
    )
    for spec in TOOLS:
        writes = not spec.read_only and spec.fn.__name__ not in WRITE_GUARD_EXEMPT
        locks = not spec.read_only and spec.fn.__name__ not in LOCK_EXEMPT
        tool = FunctionTool.from_function(
            _as_tool_errors(spec.fn, writes=writes, locks=locks),
            title=spec.title,
            annotations=_annotations(spec, config.teacher),
        )
        app.add_tool(_client_schemas(tool))
    for res in RESOURCES:
        wrapped = _as_tool_errors(res.fn, ResourceError)
        app.resource(res.uri, name=res.name, mime_type=res.mime_type)(wrapped)
    return app


# -- serving ---------------------------------------------------------------------------------------------


def preflight(config: ServerConfig) -> None:
    """What must hold before serving, checked at start-up so that it fails with a reason: the roots
    exist and the workspace opens."""
    PathGuard(config.roots)
    Store.open(config.workspace).close()


def failed_start(reason: str) -> FastMCP:
    """A stand-in server for a start that failed: the client connects and shows why (in the server's
    instructions, the one tool's description and its error) instead of "connection closed"."""
    message = f"graph-toucan could not start: {reason}. Fix the server's command line and restart it."
    app = FastMCP("graph-toucan", instructions=message, version=__version__)

    async def why_not_started() -> str:
        raise ToolError(message)

    app.add_tool(FunctionTool.from_function(why_not_started, description=message))
    return app


async def serve(
    config: ServerConfig, teacher: Teacher | None = None, *, http: tuple[str, int] | None = None
) -> None:
    """Run the server on stdio, or on streamable HTTP at ``http`` (host, port); HTTP off loopback
    needs a token. On stdio a start that fails still answers, with the reason (see :func:`failed_start`)."""
    if http is not None:
        check_listen(http[0], config.token)
        preflight(config)
        host, port = http
        # idle streamable-HTTP sessions (and what they hold) are closed after config.session_idle seconds
        fastmcp.settings.http_session_idle_timeout = config.session_idle
        await create_server(config, teacher).run_async(
            transport="http", host=host, port=port, show_banner=False, host_origin_protection="auto"
        )
        return
    try:  # the client started this process: there is nothing to authenticate
        preflight(config)
        app = create_server(config.model_copy(update={"token": None}), teacher)
    except GraphToucanError as exc:
        app = failed_start(str(exc))
    await app.run_async(transport="stdio", show_banner=False)
