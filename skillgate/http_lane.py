"""The HTTP call lane: a 2026-era meta-tool call answered without the SDK's request cycle.

The 2026 era makes every POST a self-contained request (no session), so a call_skill (or
list_skills, or load_skill) can be
answered by the same `SkillgateServer.answer` the SDK path uses, after the same checks the
SDK's single-exchange handler makes, in its order: Accept and Content-Type, one JSON-RPC
request, no duplicated routing header, and the SDK's own validation ladder
(`classify_inbound_request`: the `_meta` envelope, `MCP-Protocol-Version`, `Mcp-Method` and
`Mcp-Name` agreeing with the body). The answer is JSON, as the SDK sends a request that ends
without notifications; the client closing the connection cancels the call.

Left to the SDK: handshake-era requests (their session lives there), requests that ask for
progress (they get an event stream), anything that fails a check (the SDK words the
error), and everything while tracing is on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.streamable_http import check_accept_headers
from mcp.shared.inbound import InboundModernRoute, classify_inbound_request, find_duplicated_routing_header
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from skillgate.call_lane import call_request, client_of, respond
from skillgate.jsonrpc import message_of
from skillgate.limits import HTTP_BODY_BYTES
from skillgate.models import META_TOOLS

if TYPE_CHECKING:
    from skillgate.server import SkillgateServer

logger = logging.getLogger(__name__)


def wants(scope: Scope, headers: Headers) -> bool:
    """Whether the request may be a meta-tool call the lane answers, from its headers alone."""
    return (
        scope["method"] == "POST"
        and headers.get("mcp-protocol-version") in MODERN_PROTOCOL_VERSIONS
        and headers.get("mcp-method") == "tools/call"
        and headers.get("mcp-name") in META_TOOLS
        and headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"
        and not any(name.startswith("mcp-param-") for name in headers)
    )


async def read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body and whether it is complete (False: over the limit; the rest is unread)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > HTTP_BODY_BYTES:
            return b"".join(chunks), False
        if not message.get("more_body", False):
            return b"".join(chunks), True


def replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """`receive` for the SDK, giving back the body the lane already read."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return again


class HttpCallLane:
    def __init__(self) -> None:
        self._used = False

    async def answer(
        self, app: SkillgateServer, request: Request, body: bytes, receive: Receive, send: Send
    ) -> bool:
        """Answer the call if the lane may; False leaves the request to the SDK."""
        from skillgate.server import Caller, session_tag

        has_json, has_sse = check_accept_headers(request)
        if not (has_json and has_sse) or find_duplicated_routing_header(request.headers.items()) is not None:
            return False
        message = call_request(message_of(body), app)
        if message is None:
            return False
        params: dict[str, Any] = message["params"]
        meta: Mapping[str, Any] = params.get("_meta") or {}
        if "progressToken" in meta:
            return False
        verdict = classify_inbound_request(message, headers=dict(request.headers))
        if not isinstance(verdict, InboundModernRoute):
            return False
        if not self._used:
            self._used = True
            logger.debug(
                "meta-tool calls answered on the HTTP call lane (SKILLGATE_CALL_LANE=off: by the SDK)"
            )
        client = client_of(verdict.client_info)
        caller = Caller(client, session_tag(repr(sorted(client.items()))))
        answer: list[bytes] = []

        async def run(scope: anyio.CancelScope) -> None:
            answer.append(
                await respond(app, message["id"], params, verdict.protocol_version, caller, ascii=True)
            )
            scope.cancel()

        async def watch_disconnect(scope: anyio.CancelScope) -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            scope.cancel()  # the client went away: the call is cancelled, upstream too

        async with anyio.create_task_group() as tg:
            tg.start_soon(run, tg.cancel_scope)
            tg.start_soon(watch_disconnect, tg.cancel_scope)
        if answer:
            await Response(answer[0], media_type="application/json")(request.scope, receive, send)
        return True
