"""The MCP SDK's private names skillgate uses (all in skillgate/base/sdk_compat.py) and the public
pieces the fast path is built from: a release that moved one fails here, naming it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.conftest import REPO

PRIVATE = [
    ("mcp.client._transport", "Transport"),
    ("mcp.client._transport", "TransportStreams"),
    ("mcp.shared._httpx_utils", "create_mcp_http_client"),
]
PUBLIC = [
    ("mcp.server.runner", "serve_one"),
    ("mcp.server.runner", "modern_error_data"),
    ("mcp.server.connection", "Connection"),
    ("mcp.shared.dispatcher", "coerce_request_id"),
    ("mcp.shared.inbound", "classify_inbound_request"),
    ("mcp.shared.jsonrpc_dispatcher", "cancelled_request_id_from_params"),
    ("mcp.shared.jsonrpc_dispatcher", "handler_exception_to_error_data"),
    ("mcp.shared.jsonrpc_dispatcher", "progress_token_from_params"),
]


@pytest.mark.parametrize(("module", "name"), PRIVATE + PUBLIC, ids=lambda v: str(v))
def test_every_sdk_name_skillgate_relies_on_is_where_it_was(module: str, name: str) -> None:
    found = importlib.import_module(module)
    assert hasattr(found, name), f"the MCP SDK moved {module}.{name}: update skillgate/base/sdk_compat.py"


def test_a_server_session_still_knows_its_connection() -> None:
    """`sdk_compat.connection_of` reads `ServerSession._connection`."""
    from mcp.server.connection import Connection
    from mcp.server.session import ServerSession

    from skillgate.base.sdk_compat import connection_of
    from skillgate.server.fast_path import Exchange

    async def nothing(message: object) -> None:
        pass

    connection = Connection.from_envelope("2026-07-28", None, None)
    session = ServerSession(Exchange(nothing, 1), connection)
    assert connection_of(session) is connection, "ServerSession._connection moved: update sdk_compat"


def test_no_module_but_sdk_compat_reaches_into_the_sdks_private_names() -> None:
    offenders = []
    for path in sorted((REPO / "skillgate").rglob("*.py")):
        if path.name == "sdk_compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mcp"):
                names = [node.module, *(alias.name for alias in node.names)]
                if any(part.startswith("_") for name in names for part in name.split(".")):
                    offenders.append(f"{Path(path).relative_to(REPO)}:{node.lineno}")
            if isinstance(node, ast.Attribute) and node.attr in ("_connection", "_stamp", "_dispatcher"):
                offenders.append(f"{Path(path).relative_to(REPO)}:{node.lineno}")
    assert offenders == []
