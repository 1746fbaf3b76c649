"""graph-toucan: multi-turn function-calling data from a tool dependency graph over real MCP tools."""

from graph_toucan.errors import GraphToucanError

__version__ = "0.1.0"
__all__ = ["GraphToucanError", "__version__"]
