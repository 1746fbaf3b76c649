"""What every graph-toucan MCP server enforces over HTTP: a bearer token, or a loopback address only.

Used by ``graph-toucan serve`` (the synthesis server) and ``graph-toucan serve-mocks`` alike. Over
stdio there is nothing to check: the client started the process.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastmcp.server.auth import AccessToken, TokenVerifier

from graph_toucan.errors import GraphToucanError

TOKEN_ENV = "GRAPH_TOUCAN_TOKEN"


class BearerToken(TokenVerifier):
    """Accepts exactly one bearer token, compared in constant time."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not hmac.compare_digest(token.encode(), self._token):
            return None
        return AccessToken(token=token, client_id="graph-toucan", scopes=[], expires_at=None)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_listen(host: str, token: str | None) -> BearerToken | None:
    """The verifier for an HTTP server on ``host``: one for ``token`` when given; none on a loopback
    address; an error off loopback without a token (anyone who reaches it could drive the server)."""
    if token:
        return BearerToken(token)
    if not is_loopback(host):
        raise GraphToucanError(
            f"refusing to listen on {host} without a token: anyone who reaches it could drive the "
            f"server; give --token (or set {TOKEN_ENV}), or listen on 127.0.0.1"
        )
    return None
