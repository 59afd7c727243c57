"""stdin/stdout as MCP streams, read and written by the event loop itself.

The SDK's `stdio_server` reads each line and writes each message through a worker thread
(three thread hand-offs per call). When stdin and stdout are pipes or sockets — as every MCP
client launches a server — this transport uses the event loop's own pipe transports
instead; anything else (a regular file, a terminal) falls back to the SDK's. Like the SDK,
it points fd 0 at the null device and fd 1 at stderr while serving, so a stray `print` or a
child process never writes into the protocol stream.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage

from skillgate.limits import MESSAGE_BYTES

if TYPE_CHECKING:
    from skillgate.call_lane import CallLane


def _pipe_like(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@asynccontextmanager
async def serving_streams(lane: CallLane | None = None) -> AsyncIterator[tuple[Any, Any]]:
    """(read stream, write stream) of SessionMessages over stdin/stdout; the requests `lane`
    takes are answered by it instead (pipes only)."""
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
    writer = asyncio.StreamWriter(write_transport, write_protocol, None, loop)
    to_server, from_client = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    to_client, from_server = anyio.create_memory_object_stream[SessionMessage](0)

    async def send_line(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    async def read(tg: anyio.abc.TaskGroup) -> None:
        async with to_server:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError) as exc:  # a line over the limit
                    await to_server.send(exc)
                    continue
                if not line:
                    return
                if lane is not None:
                    if lane.consumed(line):
                        continue
                    if (request := lane.take(line)) is not None:
                        tg.start_soon(lane.answer, request, send_line)
                        continue
                try:
                    message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                except Exception as exc:  # the session answers a parse error
                    await to_server.send(exc)
                    continue
                await to_server.send(SessionMessage(message))

    async def write() -> None:
        async with from_server:
            async for session_message in from_server:
                if lane is not None:
                    lane.sent(session_message.message)
                data = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
                await send_line(data.encode() + b"\n")

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
