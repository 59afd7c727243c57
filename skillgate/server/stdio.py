"""stdin/stdout as MCP streams, read and written by the event loop, with the fast path's stdio lane.

The SDK's `stdio_server` reads each line and writes each message through a worker thread.
When stdin and stdout are pipes or sockets — as every MCP client launches a server — this
transport uses the event loop's own pipe transports instead, and reads lines exactly as the
SDK does (UTF-8 with replacement, universal newlines, `jsonrpc_message_adapter`), so every
line means the same to both. Like the SDK, it points fd 0 at the null device and fd 1 at
stderr while serving, so a stray `print` or a child process never writes into the protocol.

`StdioLane` takes the meta-tool calls the fast path may answer (`fast_path.MetaCall`) before
they reach the SDK's session and answers them with the SDK's kernel; it mirrors the session
layer's rules: the first request decides the connection's era (as `serve_dual_era_loop`);
handshake-era calls only after a successful `initialize`; 2026-era calls classified by the
SDK's `classify_inbound_request`; ids compared as the dispatcher compares them
(`coerce_request_id`), a duplicate id replacing the older entry; a call registered as in
flight when its line is read, so a cancellation on the next line always finds it; a cancelled
call never answered. Anything it is not sure of goes to the SDK.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from mcp.server.connection import Connection
from mcp.server.stdio import stdio_server
from mcp.shared.dispatcher import coerce_request_id
from mcp.shared.inbound import InboundLadderRejection, classify_inbound_request
from mcp.shared.jsonrpc_dispatcher import cancelled_request_id_from_params
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from skillgate.base.limits import MESSAGE_BYTES
from skillgate.server.fast_path import Exchange, FastPath, MetaCall, WireOutbound, exchange_for

logger = logging.getLogger(__name__)

# What the SDK's dispatcher answers a request still running when its connection closes.
CLOSED = types.ErrorData(code=types.CONNECTION_CLOSED, message="Connection closed")
SHUTDOWN_WRITE_SECONDS = 1.0
TOO_LONG = (
    f"invalid request: a message is at most {MESSAGE_BYTES // 2**20} MiB (one line); this one was longer"
)
NEWLINES = re.compile(r"\r\n|\r|\n")  # a text stream's universal newlines, as the SDK reads stdin


def _pipe_like(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@dataclass(frozen=True)
class Refusal:
    """The answer to a line that is not a message the session can take."""

    answer: types.JSONRPCError


def parse(text: str) -> types.JSONRPCMessage | Refusal | None:
    """One line as the SDK's stdio reader parses it, or the JSON-RPC error that answers it.

    The SDK's session drops a line it cannot read, and the client waits for its own timeout;
    JSON-RPC answers it: -32700 (parse error) for a line that is not JSON, -32600 (invalid
    request) for a batch (MCP has none), a value that is not an object, or a message that is not
    one of MCP's, with the request's id when it has a valid one, else null. An `id` that is not a
    string or an integer (true, {}, 1.5, null) makes it invalid too: the SDK would take it for a
    notification and never answer; but a notification with `"id": null` passes, as the SDK read
    it. None for a malformed response: JSON-RPC never answers a response.
    """
    try:
        message = types.jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValidationError as exc:
        return _refusal(text, exc)
    if isinstance(message, types.JSONRPCNotification) and ('"id"' in text or "\\u" in text):
        raw = _json(text)
        has_id = isinstance(raw, dict) and "id" in raw  # at the top, not inside params
        if has_id and (raw["id"] is not None or not message.method.startswith("notifications/")):
            return Refusal(
                _error(types.INVALID_REQUEST, "invalid request: 'id' must be a string or an integer")
            )
    return message


def _refusal(text: str, exc: ValidationError) -> Refusal | None:
    if any(e["type"] == "json_invalid" for e in exc.errors()):
        return Refusal(_error(types.PARSE_ERROR, "parse error: the line is not JSON (or not UTF-8)"))
    raw = _json(text)  # JSON the adapter read, but not a message of MCP's: read once, to say why
    if isinstance(raw, dict) and "method" not in raw and ("result" in raw or "error" in raw):
        logger.warning("a malformed response from the client was dropped (a response is never answered)")
        return None
    return Refusal(_invalid(raw))


def _invalid(raw: Any) -> types.JSONRPCError:
    if isinstance(raw, list):
        return _error(
            types.INVALID_REQUEST,
            "invalid request: JSON-RPC batches are not part of MCP; send one message per line",
        )
    if not isinstance(raw, dict):
        return _error(types.INVALID_REQUEST, "invalid request: a message is a JSON object")
    key = raw.get("id")
    valid = isinstance(key, str) or (isinstance(key, int) and not isinstance(key, bool))
    problem = (
        "'jsonrpc' must be \"2.0\""
        if raw.get("jsonrpc") != "2.0"
        else "not a JSON-RPC request, notification or response"
    )
    return _error(types.INVALID_REQUEST, f"invalid request: {problem}", key if valid else None)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # what the adapter took, nested too deep for json
        return None


def _error(code: int, message: str, key: types.RequestId | None = None) -> types.JSONRPCError:
    return types.JSONRPCError(jsonrpc="2.0", id=key, error=types.ErrorData(code=code, message=message))


def has_modern_envelope(params: Any) -> bool:
    """The SDK's era signal: `params._meta` holds the 2026 protocol-version key."""
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and types.PROTOCOL_VERSION_META_KEY in meta


@dataclass
class _InFlight:
    scope: anyio.CancelScope
    exchange: Exchange


class StdioLane:
    """The fast path's view of one stdio connection (see the module docstring)."""

    def __init__(self, fast: FastPath) -> None:
        self.fast = fast
        self.modern: bool | None = None  # decided by the connection's first request
        self._initializing: dict[types.RequestId, dict[str, Any] | None] = {}
        self._handshake: Connection | None = None  # handshake era, once `initialize` succeeded
        self._in_flight: dict[types.RequestId, _InFlight] = {}
        self._outbound: WireOutbound | None = None
        self._used = False

    def take(self, message: types.JSONRPCMessage, write: Any, tg: anyio.abc.TaskGroup) -> bool:
        """True if the lane took `message` (answered or consumed it); False hands it to the SDK."""
        if isinstance(message, types.JSONRPCNotification):
            return message.method == "notifications/cancelled" and self._cancel(message.params)
        if not isinstance(message, types.JSONRPCRequest):
            return False
        key = coerce_request_id(message.id)
        if self.modern is None:  # the SDK decides the era on this request: it must see it
            self.modern = message.method != "initialize" and has_modern_envelope(message.params)
            return self._to_sdk(message, key)
        call = MetaCall.of(message, self.fast.app)
        connection = self._connection_for(message) if call is not None else None
        if call is None or connection is None:
            return self._to_sdk(message, key)
        if not self._used:
            self._used = True
            logger.debug(
                "meta-tool calls answered on the stdio call lane ([lanes] enabled = false: by the SDK)"
            )
        exchange = exchange_for(call, write.notification)
        entry = self._in_flight[key] = _InFlight(anyio.CancelScope(), exchange)
        tg.start_soon(self._answer, call, connection, entry, key, write)
        return True

    def _to_sdk(self, message: types.JSONRPCRequest, key: types.RequestId) -> bool:
        """The SDK answers this request; its id is now the SDK's newest (a cancel goes there)."""
        self._in_flight.pop(key, None)
        if message.method == "initialize" and not self.modern:
            self._initializing[key] = message.params
        return False

    def _connection_for(self, message: types.JSONRPCRequest) -> Connection | None:
        """The connection the SDK would serve this call on, or None if the SDK must answer it
        (an envelope the classifier refuses, an envelope on a handshake connection, a call
        before the handshake succeeded)."""
        if self.modern:
            route = classify_inbound_request({"method": message.method, "params": message.params})
            if isinstance(route, InboundLadderRejection):
                return None
            assert self._outbound is not None
            return Connection.from_envelope(
                route.protocol_version, route.client_info, route.client_capabilities, outbound=self._outbound
            )
        if has_modern_envelope(message.params):
            return None
        return self._handshake

    def _cancel(self, params: Any) -> bool:
        request_id = cancelled_request_id_from_params(params if isinstance(params, dict) else None)
        entry = self._in_flight.get(coerce_request_id(request_id)) if request_id is not None else None
        if entry is None:
            return False
        entry.exchange.cancel_requested.set()
        entry.scope.cancel()
        return True

    def sent(self, message: types.JSONRPCMessage) -> None:
        """An SDK answer going out: a successful `initialize` opens the handshake era's connection
        (the client's params and the version the server chose, as the SDK commits them)."""
        if not self._initializing or not isinstance(message, types.JSONRPCResponse | types.JSONRPCError):
            return
        key = coerce_request_id(message.id) if message.id is not None else None
        params = self._initializing.pop(key, None) if key is not None else None
        if not isinstance(message, types.JSONRPCResponse) or params is None:
            return
        version = message.result.get("protocolVersion")
        try:
            client = types.InitializeRequestParams.model_validate(params, by_name=False)
        except ValidationError:
            return
        if isinstance(version, str):
            assert self._outbound is not None
            self._handshake = Connection(self._outbound, protocol_version=version, client_params=client)
            self._handshake.initialized.set()

    async def _answer(
        self, call: MetaCall, connection: Connection, entry: _InFlight, key: types.RequestId, write: Any
    ) -> None:
        answer = None
        try:
            with entry.scope:
                try:
                    answer = await self.fast.answer(call, connection, entry.exchange)
                finally:
                    if self._in_flight.get(key) is entry:  # a newer request with this id keeps its entry
                        del self._in_flight[key]
        except anyio.get_cancelled_exc_class():  # the server is stopping: answered as the SDK does
            if not entry.exchange.cancel_requested.is_set():
                with anyio.move_on_after(SHUTDOWN_WRITE_SECONDS, shield=True):
                    await write.message(types.JSONRPCError(jsonrpc="2.0", id=call.request.id, error=CLOSED))
            raise
        if answer is not None and not entry.exchange.cancel_requested.is_set():
            await write.message(answer)


class _Writer:
    """Messages to stdout, one line each, as the SDK writes them; a message that cannot be
    written (a value JSON cannot carry) becomes its request's internal error, never a crash."""

    def __init__(self, writer: asyncio.StreamWriter, lane: StdioLane | None) -> None:
        self._writer = writer
        self._lane = lane

    async def message(self, message: types.JSONRPCMessage, refusal: bool = False) -> None:
        """Write `message`; a `refusal` (the reader's answer to a line that is no message) is not
        one of the SDK's answers, so the lane does not read it as one."""
        if self._lane is not None and not refusal:
            self._lane.sent(message)
        try:
            data = message.model_dump_json(by_alias=True, exclude_unset=True)
        except Exception as exc:  # e.g. a lone surrogate: not UTF-8, so not JSON on the wire
            logger.error("an answer could not be written (%s); its request gets an internal error", exc)
            if not isinstance(message, types.JSONRPCResponse | types.JSONRPCError) or message.id is None:
                return
            error = types.ErrorData(code=types.INTERNAL_ERROR, message="the answer could not be encoded")
            data = types.JSONRPCError(jsonrpc="2.0", id=message.id, error=error).model_dump_json(
                by_alias=True, exclude_unset=True
            )
        self._writer.write(data.encode() + b"\n")
        await self._writer.drain()

    async def notification(self, message: types.JSONRPCNotification) -> None:
        await self.message(message)


@asynccontextmanager
async def serving_streams(fast: FastPath | None = None) -> AsyncIterator[tuple[Any, Any]]:
    """(read stream, write stream) of SessionMessages over stdin/stdout. Over pipes (how every MCP
    client starts a server) lines are read here, so a line that is not a message gets its
    JSON-RPC error (`parse`), and with `fast` the meta-tool calls its lane takes are answered by
    it. A terminal or a file uses the SDK's own `stdio_server`."""
    if not (_pipe_like(0) and _pipe_like(1)):
        async with stdio_server() as streams:
            yield streams
        return
    loop = asyncio.get_running_loop()
    wire_in, wire_out = os.dup(0), os.dup(1)
    saved_in, saved_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    reader = asyncio.StreamReader(limit=MESSAGE_BYTES)
    read_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(wire_in, "rb", buffering=0)
    )
    write_transport, write_protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(wire_out, "wb", buffering=0)
    )
    lane = StdioLane(fast) if fast is not None else None
    writer = _Writer(asyncio.StreamWriter(write_transport, write_protocol, None, loop), lane)
    if lane is not None:
        lane._outbound = WireOutbound(writer.notification)
    to_server, from_client = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    to_client, from_server = anyio.create_memory_object_stream[SessionMessage](0)

    async def read(calls: anyio.abc.TaskGroup) -> None:
        skipping = False  # the rest of a line over the limit is still coming
        async with to_server:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError) as exc:  # a line over the limit
                    if not skipping:  # one answer per line, however many reads it overruns
                        await writer.message(_error(types.INVALID_REQUEST, TOO_LONG), refusal=True)
                    skipping = "not found" in str(exc)  # asyncio kept no newline: the rest follows
                    continue
                if not line:
                    return
                if skipping:
                    skipping = False
                    continue
                for text in NEWLINES.split(line.decode("utf-8", "replace")):
                    if not text:
                        continue
                    message = parse(text)
                    if message is None:  # a malformed response: dropped, never answered
                        continue
                    if isinstance(message, Refusal):  # answered here: the session would drop it
                        await writer.message(message.answer, refusal=True)
                    elif lane is None or not lane.take(message, writer, calls):
                        await to_server.send(SessionMessage(message))

    async def write() -> None:
        async with from_server:
            async for session_message in from_server:
                await writer.message(session_message.message)

    try:
        async with anyio.create_task_group() as tg, anyio.create_task_group() as calls:
            tg.start_soon(read, calls)
            tg.start_soon(write)
            try:
                yield from_client, to_client
            finally:
                calls.cancel_scope.cancel()
                tg.cancel_scope.cancel()
    finally:
        read_transport.close()
        write_transport.close()
        os.dup2(saved_in, 0)
        os.dup2(saved_out, 1)
        os.close(saved_in)
        os.close(saved_out)
