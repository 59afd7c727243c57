"""Every use of the MCP SDK's private names, in one place.

skillgate otherwise uses only the SDK's public modules. Each name below is private (a module
or attribute starting with `_`) and may move in any release; `pyproject.toml` pins `mcp` to
the minor versions the test suite ran on, and `tests/test_sdk_compat.py` fails loudly, naming
the missing piece, on a release that moved one of them.

- `mcp.client._transport.Transport`, `TransportStreams`: the type of a client transport (the
  SDK exports none publicly).
- `mcp.shared._httpx_utils.create_mcp_http_client`: an HTTP client with the SDK transports'
  own timeouts, carrying a binding's headers.
- `ServerSession._connection`: the connection a request came on, the key of a session's
  dynamic tools and of its tools/list_changed notifications.
"""

from __future__ import annotations

from typing import Any

import httpx2
from mcp.client._transport import Transport, TransportStreams  # types only: no public export
from mcp.server.connection import Connection
from mcp.shared._httpx_utils import create_mcp_http_client

__all__ = ["Transport", "TransportStreams", "connection_of", "mcp_http_client"]


def mcp_http_client(headers: dict[str, str]) -> httpx2.AsyncClient:
    """The HTTP client an upstream's streamable-HTTP transport uses: the SDK's defaults (30 s to
    connect and write, 300 s to read a held-open stream, redirects left to the transport) with
    the binding's headers."""
    return create_mcp_http_client(headers=headers)


def connection_of(session: Any) -> Connection | None:
    """The `Connection` a server session belongs to (one per stdio client or handshake-era HTTP
    session; a fresh one per 2026-era request). The SDK exposes no accessor for it."""
    connection = getattr(session, "_connection", None)
    return connection if isinstance(connection, Connection) else None
