"""The synthesis MCP server: every stage of graph-toucan as an MCP tool (FastMCP 4.1.2).

Thin typed wrappers over the library, one module of tools per stage, in the usual order: ``catalog``
(import_catalog, search_tools, describe_tool), ``annotation`` (annotate_tools), ``graph``
(build_graph, graph_neighbors), ``sampling`` (sample_fsp, list_paths), ``mocks`` (build_mocks,
run_mock_tool), ``translation`` (translate_fsp), ``refusal`` (augment_refusal), ``pairs``
(make_pairs), ``conversations`` (list_conversations, get_conversation), ``dataset``
(export_dataset, dataset_stats) and ``evaluation`` (evaluate_model). ``app`` holds the configuration, the shared services, registration
and serving; ``security`` the path guard, the allow-lists and the HTTP rules; ``inputs`` the bounded
input types; ``progress`` the progress notifications.

Started by ``graph-toucan serve``; loaded by path (``graph_toucan.resources.server_module``), so it
works from a checkout and from the wheel (``graph_toucan/_data/server/``).
"""

# isort: off
from . import catalog, annotation, graph, sampling, mocks  # noqa: F401  (each registers its tools, in order)
from . import translation, refusal, pairs, conversations, dataset, evaluation  # noqa: F401

# isort: on
from .app import (
    INSTRUCTIONS,
    TOOLS,
    ServerConfig,
    Services,
    agent_message,
    create_server,
    failed_start,
    preflight,
    serve,
    services,
    synthesis_resource,
    synthesis_tool,
)
from .security import TOKEN_ENV, BearerToken, PathGuard, is_loopback

__all__ = [
    "INSTRUCTIONS",
    "TOKEN_ENV",
    "TOOLS",
    "BearerToken",
    "PathGuard",
    "ServerConfig",
    "Services",
    "agent_message",
    "create_server",
    "failed_start",
    "is_loopback",
    "preflight",
    "serve",
    "services",
    "synthesis_resource",
    "synthesis_tool",
]
