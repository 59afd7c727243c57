"""The fast path: a meta-tool call answered without the SDK's session machinery, by the SDK's kernel.

The SDK answers a request in two layers: a session layer (transport threads, memory streams, a
dispatcher task per message, the era-replay relay) and a kernel, `mcp.server.runner.serve_one`,
which validates the params per protocol version, runs the server middleware (OpenTelemetry
spans), calls the handler and shapes the result (`serialize_server_result`, `resultType`, the
`serverInfo` stamp). The SDK itself answers 2026-era requests through `serve_one`. The fast
path keeps the kernel and replaces only the session layer, for one kind of message: a
`tools/call` of a meta-tool. So every answer is the SDK's answer by construction; what is
skillgate's own is small and lives here: which requests the path may take (`MetaCall.of`), the
per-request dispatch context (progress, cancellation), and the mapping of a failure to the
error the SDK's session layer would send (`error_for`).

Nothing raised inside the kernel leaves `FastPath.answer`: every exception becomes the
JSON-RPC error the SDK path gives for it. Only cancellation passes through.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.server.connection import Connection
from mcp.server.runner import modern_error_data, serve_one
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.jsonrpc_dispatcher import handler_exception_to_error_data, progress_token_from_params
from mcp.shared.transport_context import TransportContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from skillgate.tools.models import META_TOOLS

if TYPE_CHECKING:
    from skillgate.server.mcp_server import SkillgateServer

logger = logging.getLogger(__name__)

Answer = types.JSONRPCResponse | types.JSONRPCError
Notify = Callable[[types.JSONRPCNotification], Awaitable[None]]


@dataclass
class WireOutbound:
    """A connection's standalone channel on the fast path: notifications only (server-initiated
    requests are refused, as the SDK refuses them on 2026 connections)."""

    notify_wire: Notify

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        await self.notify_wire(
            types.JSONRPCNotification(jsonrpc="2.0", method=method, params=dict(params) if params else None)
        )


@dataclass
class Exchange(WireOutbound):
    """The `DispatchContext` of one request on the fast path: progress and notifications go to
    the client's wire; the server cannot send requests back (as on a 2026 connection);
    `cancel_requested` is set by the client's `notifications/cancelled`."""

    request_id: types.RequestId
    progress_token: types.ProgressToken | None = None
    transport: TransportContext = field(
        default_factory=lambda: TransportContext(kind="stdio", can_send_request=False)
    )
    message_metadata: Any = None
    cancel_requested: anyio.Event = field(default_factory=anyio.Event)

    @property
    def can_send_request(self) -> bool:
        return False

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        if not self.cancel_requested.is_set():  # nothing more is sent for a cancelled request
            await super().notify(method, params, opts)

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if self.progress_token is None:
            return
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self.notify("notifications/progress", params)


@dataclass(frozen=True, slots=True)
class MetaCall:
    """A request the fast path may take: a `tools/call` of a meta-tool the server answers without
    a session (load_skill in dynamic mode changes the session's tool list, so it is not one)."""

    request: types.JSONRPCRequest

    @classmethod
    def of(cls, message: types.JSONRPCMessage, app: SkillgateServer) -> MetaCall | None:
        if not isinstance(message, types.JSONRPCRequest) or message.method != "tools/call":
            return None
        params = message.params
        name = params.get("name") if isinstance(params, dict) else None
        if not isinstance(name, str) or name not in META_TOOLS or (name == "load_skill" and app.dynamic):
            return None
        return cls(message)

    @property
    def params(self) -> dict[str, Any] | None:
        return self.request.params


def error_for(exc: Exception, version: str) -> types.ErrorData:
    """The error the SDK's session layer sends for a request whose kernel raised `exc`: its own
    mapping (MCPError, ValidationError), else — as its dispatchers do — a generic internal error
    in the 2026 era and the handshake era's `code 0` with the message."""
    error = handler_exception_to_error_data(exc)
    if error is not None:
        return error
    if version in MODERN_PROTOCOL_VERSIONS:
        return modern_error_data(exc)
    logger.exception("fast path: handler for tools/call raised")
    return types.ErrorData(code=0, message=str(exc))


class FastPath:
    """Answers a `MetaCall` with the SDK's kernel over `connection`. `lifespan_state` is what the
    server's lifespan yields; skillgate's server keeps the SDK's default lifespan, whose state is
    an empty dict, so the fast path's empty dict is what the SDK path passes too."""

    def __init__(self, app: SkillgateServer, lifespan_state: Any = None) -> None:
        self.app = app
        self.lifespan_state: Any = {} if lifespan_state is None else lifespan_state

    async def answer(self, call: MetaCall, connection: Connection, exchange: Exchange) -> Answer:
        request = call.request
        try:
            result = await serve_one(
                self.app.server,
                exchange,
                request.method,
                request.params,
                connection=connection,
                lifespan_state=self.lifespan_state,
            )
            return types.JSONRPCResponse(jsonrpc="2.0", id=request.id, result=result)
        except Exception as exc:  # the SDK's answer for a failing request, never a crash
            return types.JSONRPCError(
                jsonrpc="2.0", id=request.id, error=error_for(exc, connection.protocol_version)
            )


def exchange_for(call: MetaCall, notify_wire: Notify) -> Exchange:
    return Exchange(notify_wire, call.request.id, progress_token_from_params(call.params))
