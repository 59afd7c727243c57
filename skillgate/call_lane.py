"""The stdio call lane: meta-tool calls answered straight from the wire.

Over stdio, a call of a meta-tool (call_skill above all, list_skills and load_skill too) is
read and answered here instead of going through the MCP
SDK's request cycle (message models, dispatcher tasks and streams, middleware, request
context), which costs more per call than skillgate's own work. What a call guarantees stays,
because the lane calls the same `SkillgateServer.answer` as the SDK path: allowlist, lock and
drift check, argument schema check, secret masking, audit line and metrics. The result is
shaped by the SDK's own per-version serialiser (`serialize_server_result`) and, in the 2026
era, stamped with skillgate's `serverInfo`, as the SDK does. Progress goes to the client as
`notifications/progress` for the request's token; a `notifications/cancelled` for the request
cancels it (the upstream call too) and no answer is sent.

The lane takes only what it can answer exactly as the SDK would: a `tools/call` of a
meta-tool with a string or integer id and object arguments, after a completed handshake
(handshake era) or carrying the 2026 era's `_meta` envelope. Everything else goes to the SDK:
other methods, dynamic tools, load_skill in dynamic mode (it tells the session its tool list
changed). With tracing on, the lane makes the SDK's request span (`tracing.server_span`).
`SKILLGATE_CALL_LANE=off` in the environment turns the lanes off (`jsonrpc.lanes_enabled`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp_types import methods
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from skillgate import tracing
from skillgate.jsonrpc import message_of
from skillgate.models import META_TOOLS

if TYPE_CHECKING:
    from skillgate.server import Caller, SkillgateServer
    from skillgate.upstream import ProgressFn

logger = logging.getLogger(__name__)

Send = Callable[[bytes], Awaitable[None]]

PROTOCOL_VERSION = types.PROTOCOL_VERSION_META_KEY
CLIENT_INFO = types.CLIENT_INFO_META_KEY
CLIENT_CAPABILITIES = types.CLIENT_CAPABILITIES_META_KEY
SERVER_INFO = types.SERVER_INFO_META_KEY


class CallLane:
    """What the lane learns from the wire (the handshake) and the calls it has in flight."""

    def __init__(self, app: SkillgateServer) -> None:
        self.app = app
        self._initialize_id: Any = None
        self._handshake_client: dict[str, Any] = {"name": None, "version": None}
        self._negotiated: str | None = None  # handshake era: the version the server answered
        self._initialized = False
        self._in_flight: dict[str | int, anyio.CancelScope] = {}
        self._used = False

    # -- reading ----------------------------------------------------------------

    def take(self, line: bytes) -> dict[str, Any] | None:
        """The request on this line if the lane answers it; None hands the line to the SDK."""
        if b"_skill" not in line:  # no meta-tool named
            if b"notifications/" in line or b"initialize" in line:
                self._watch(message_of(line))
            return None
        message = message_of(line)
        request = call_request(message, self.app)
        if request is None:
            self._watch(message)  # a handshake may name a skill too
            return None
        if request["id"] in self._in_flight:  # a duplicate id: the SDK's rules answer it
            return None
        if self._era(request["params"].get("_meta") or {}) is None:
            return None
        return request

    def consumed(self, line: bytes) -> bool:
        """True when the line is a cancellation of a call the lane holds: cancelled, not forwarded."""
        if not self._in_flight or b"notifications/cancelled" not in line:
            return False
        message = message_of(line)
        params = message.get("params") if message is not None else None
        if not isinstance(params, dict):
            return False
        scope = self._in_flight.get(params.get("requestId"))  # type: ignore[arg-type]
        if scope is None:
            return False
        scope.cancel()
        return True

    def _watch(self, message: dict[str, Any] | None) -> None:
        """The handshake: the client's identity from `initialize`, then `notifications/initialized`."""
        if message is None:
            return
        method = message.get("method")
        if method == "initialize" and "id" in message:
            self._initialize_id = message["id"]
            params = message.get("params")
            info = params.get("clientInfo") if isinstance(params, dict) else None
            self._handshake_client = client_of(info)
        elif method == "notifications/initialized":
            self._initialized = True

    def sent(self, message: types.JSONRPCMessage) -> None:
        """An outgoing SDK message: the `initialize` answer tells the negotiated version."""
        if self._initialize_id is None or not isinstance(message, types.JSONRPCResponse):
            return
        if message.id == self._initialize_id and isinstance(message.result, dict):
            version = message.result.get("protocolVersion")
            self._negotiated = version if isinstance(version, str) else None

    def _era(self, meta: Mapping[str, Any]) -> str | None:
        version = meta.get(PROTOCOL_VERSION)
        if version is not None:
            modern = version in MODERN_PROTOCOL_VERSIONS and isinstance(meta.get(CLIENT_CAPABILITIES), dict)
            return version if modern else None
        return self._negotiated if self._initialized else None

    # -- answering ----------------------------------------------------------------

    async def answer(self, request: dict[str, Any], send: Send) -> None:
        """Answer one taken request (run as its own task)."""
        from skillgate.server import Caller, session_tag

        if not self._used:
            self._used = True
            logger.debug(
                "meta-tool calls answered on the stdio call lane (SKILLGATE_CALL_LANE=off: by the SDK)"
            )
        request_id: str | int = request["id"]
        params: dict[str, Any] = request["params"]
        meta: dict[str, Any] = params.get("_meta") or {}
        version = self._era(meta)
        assert version is not None
        modern = version in MODERN_PROTOCOL_VERSIONS
        client = client_of(meta.get(CLIENT_INFO)) if modern else self._handshake_client
        token = meta.get("progressToken")
        progress = (
            _progress(token, send) if isinstance(token, str | int) and not isinstance(token, bool) else None
        )
        caller = Caller(client, session_tag("0"), progress)
        with anyio.CancelScope() as scope:
            self._in_flight[request_id] = scope
            try:
                answer = await respond(self.app, request_id, params, version, caller)
            finally:
                del self._in_flight[request_id]
        if not scope.cancel_called:  # a cancelled request gets no answer
            await send(answer)


async def respond(
    app: SkillgateServer,
    request_id: str | int,
    params: dict[str, Any],
    version: str,
    caller: Caller,
    *,
    ascii: bool = False,
) -> bytes:
    """The JSON-RPC answer to a meta-tool call, as the SDK would shape it for `version`
    (`ascii`: escaped as the SDK's HTTP answers are; its stdio lines are UTF-8)."""
    with tracing.server_span(params["name"], request_id, version, params.get("_meta") or {}):
        result = await app.answer(caller, params["name"], params.get("arguments") or {})
    shaped = methods.serialize_server_result(
        "tools/call", version, result.model_dump(by_alias=True, mode="json", exclude_none=True)
    )
    if version in MODERN_PROTOCOL_VERSIONS:
        shaped.setdefault("resultType", "complete")
        own = shaped.get("_meta")
        stamp = {SERVER_INFO: app.server.server_info_stamp}
        shaped["_meta"] = {**own, **stamp} if isinstance(own, dict) else stamp
    return _line({"jsonrpc": "2.0", "id": request_id, "result": shaped}, ascii)


def call_request(message: Any, app: SkillgateServer | None) -> dict[str, Any] | None:
    """`message` if it is a meta-tool call the lane can answer as the SDK would: JSON-RPC 2.0, a
    string or integer id, object params, arguments and `_meta`, a meta-tool `app` answers
    without its session (load_skill in dynamic mode needs it); else None."""
    if (
        not isinstance(message, dict)
        or message.get("method") != "tools/call"
        or message.get("jsonrpc") != "2.0"
    ):
        return None
    request_id, params = message.get("id"), message.get("params")
    if isinstance(request_id, bool) or not isinstance(request_id, str | int) or not isinstance(params, dict):
        return None
    name = params.get("name")
    if name not in META_TOOLS or not isinstance(params.get("arguments", {}), dict):
        return None
    if name == "load_skill" and (app is None or app.dynamic):
        return None
    if not isinstance(params.get("_meta", {}), dict):
        return None
    return message


def _progress(token: str | int, send: Send) -> ProgressFn:
    async def report(progress: float, total: float | None, message: str | None) -> None:
        params: dict[str, Any] = {"progressToken": token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await send(_line({"jsonrpc": "2.0", "method": "notifications/progress", "params": params}))

    return report


def client_of(info: Any) -> dict[str, Any]:
    """The client's name and version as the audit log records them."""
    if not isinstance(info, dict):
        return {"name": None, "version": None}
    name, version = info.get("name"), info.get("version")
    return {
        "name": name if isinstance(name, str) else None,
        "version": version if isinstance(version, str) else None,
    }


def _line(message: dict[str, Any], ascii: bool = False) -> bytes:
    return json.dumps(message, ensure_ascii=ascii, separators=(",", ":")).encode() + b"\n"
