"""An upstream server over stdio: its process, and its messages one bounded line each.

The SDK's `stdio_client` reads a server's stdout without a limit and joins its buffer once per
chunk, so one 64 MiB line takes minutes and the call waits out its whole timeout. This transport
keeps what the SDK's does (the same default environment, a new process group, stdin closed then
the group terminated on the way out, lines parsed by `jsonrpc_message_adapter`) and bounds each
line at MESSAGE_BYTES: a longer one is skipped to its end, and the request it answers (its `id`,
read from the line's start) fails at once with the limit named. A line the SDK's parser refuses
that answers a request fails that request at once too, where the SDK's reader made it junk and
the call waited out its timeout.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.abc
import mcp_types as types
from mcp.client.stdio import get_default_environment
from mcp.os.posix.utilities import terminate_posix_process_tree
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from skillgate.base.limits import MESSAGE_BYTES
from skillgate.base.sdk_compat import TransportStreams

logger = logging.getLogger("skillgate.upstream.connection")

STDIN_CLOSE_GRACE = 2.0  # seconds a server has to exit once its stdin is closed (as the SDK waits)
DRAIN_SECONDS = 3 * STDIN_CLOSE_GRACE  # stdin grace, then SIGTERM and its grace (the SDK's, 2 s)
HEAD_BYTES = 65_536  # of a line over the limit, the start and the end are kept to find its id
TAIL_BYTES = 4_096
_ID = r'"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")'
_SCALAR = r'(?:-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|"(?:[^"\\]|\\.)*"|true|false|null)'
# the id among the last members of the object a line ends, after its big value (result first, as
# the TypeScript SDK writes answers): only scalar members and the closing brace follow it
_TRAILING_ID = re.compile(_ID + r'(?=(?:\s*,\s*"(?:[^"\\]|\\.)*"\s*:\s*' + _SCALAR + r")*\s*}\s*$)")


@asynccontextmanager
async def stdio_transport(
    command: str, args: Sequence[str], env: Mapping[str, str], cwd: Path, errlog: IO[Any]
) -> AsyncIterator[TransportStreams]:
    """The server's (read, write) streams of SessionMessages; the process is stopped on exit."""
    process = await anyio.open_process(
        [command, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errlog,
        cwd=cwd,
        env={**get_default_environment(), **env},
        start_new_session=True,  # its children are stopped with it
    )
    read_send, read_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_send, write_receive = anyio.create_memory_object_stream[SessionMessage](0)

    async def reader() -> None:
        assert process.stdout is not None
        try:
            async with read_send:
                async for message in lines(process.stdout):
                    await read_send.send(message)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            pass  # the session is gone, or the pipe broke: the read side ends either way
        # drained, so a server blocked writing can exit; bounded, as a child of the server may hold
        # its stdout open after it exited (stop() ends the group within these seconds)
        with anyio.move_on_after(DRAIN_SECONDS, shield=True), suppress(Exception):
            async for _ in process.stdout:
                pass

    async def writer() -> None:
        assert process.stdin is not None
        try:
            async with write_receive:
                async for session_message in write_receive:
                    data = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send(data.encode("utf-8") + b"\n")
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            await read_send.aclose()  # the server stopped reading: the session sees the end

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            tg.start_soon(writer)
            try:
                yield read_receive, write_send
            finally:
                read_receive.close()  # the reader stops delivering and drains
                write_send.close()
                with anyio.CancelScope(shield=True):
                    await stop(process)
                tg.cancel_scope.cancel()
    finally:
        for stream in (read_receive, write_send):
            stream.close()


async def stop(process: anyio.abc.Process) -> None:
    """Close its stdin, give it STDIN_CLOSE_GRACE seconds, then terminate its process group; return
    once its exit is known."""
    if process.stdin is not None:
        with suppress(OSError, anyio.BrokenResourceError):
            await process.stdin.aclose()
    with anyio.move_on_after(STDIN_CLOSE_GRACE):
        while process.returncode is None:  # polled: a child of the server may hold its pipes open
            await anyio.sleep(0.02)
        return
    await terminate_posix_process_tree(process)
    # its group is gone, but the loop may not have heard of its exit yet: a process object left
    # without its exit status is killed again and warned about when it is garbage-collected
    with anyio.move_on_after(STDIN_CLOSE_GRACE):
        await process.wait()


async def lines(stdout: anyio.abc.ByteReceiveStream) -> AsyncIterator[SessionMessage | Exception]:
    """The server's messages, a line each, as the SDK's reader parses them (an unreadable line is
    an exception the session counts as junk). A line over MESSAGE_BYTES becomes the error answer
    to the request it names, or junk when it names none."""
    buffer = bytearray()
    skipped: bytes | None = None  # the start of a line over the limit, while its end is awaited
    tail = b""  # and its last TAIL_BYTES
    async for chunk in stdout:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0 or start < len(chunk):
            piece = chunk[start:] if end < 0 else chunk[start:end]
            start = len(chunk) if end < 0 else end + 1
            if skipped is not None:
                skipped += piece[: max(HEAD_BYTES - len(skipped), 0)]
                tail = (tail + piece)[-TAIL_BYTES:]
            else:
                buffer += piece
                if len(buffer) > MESSAGE_BYTES:
                    skipped, tail = bytes(buffer[:HEAD_BYTES]), bytes(buffer[-TAIL_BYTES:])
                    buffer.clear()
            if end < 0:
                break
            if skipped is not None:
                yield over_limit(skipped, tail)
                skipped, tail = None, b""
            elif buffer and not buffer.isspace():  # (strip() copied the line to ask)
                yield parse(bytes(buffer))
            buffer.clear()


def parse(line: bytes) -> SessionMessage | Exception:
    """The message a line holds. A line the SDK cannot read that answers a request (a lone
    surrogate, a result of the wrong shape) fails that request at once, as its error; before, it
    was junk and the call waited out its whole timeout."""
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:
        request_id = _answered(line)
        if request_id is None:  # junk (a banner, a log line): the session counts it, no more
            return exc
        problem = f"the server sent an answer that is not valid MCP ({_why(exc)}); it was dropped"
        return _error_answer(problem, request_id)


def over_limit(head: bytes, tail: bytes = b"") -> SessionMessage | Exception:
    """The error answer for the request a too-long line answers; junk when it names none."""
    problem = f"the server sent a message over the {MESSAGE_BYTES // 2**20} MiB limit; it was dropped"
    request_id = _answered_by_cut(head, tail)
    if request_id is None:
        logger.warning("%s (it answered no request that can be named)", problem)
        return ValueError(problem)
    return _error_answer(problem, request_id)


def _answered(line: bytes) -> types.RequestId | None:
    """The request a whole line the SDK refused answers: read by Python's own parser, which takes
    what the SDK's refuses (a lone surrogate, 1e400); None for the server's own requests and
    notifications (a `method` anywhere at the top level), whose ids are the server's own."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):  # not JSON even to Python: look at its ends
        # (its first 4 kB only: the scan runs in Python, on the loop, for every junk line)
        return _answered_by_cut(line[:TAIL_BYTES], line[-TAIL_BYTES:])
    if not isinstance(message, dict) or "method" in message:
        return None
    found = message.get("id")
    return found if type(found) in (int, str) else None


def _answered_by_cut(head: bytes, tail: bytes) -> types.RequestId | None:
    """The request a line known by its ends answers: its id at the top level of the start, or
    among the last members of the end; None when it names none, or when it is the server's own
    request or notification (a `method` at its start)."""
    start = head.decode("utf-8", "replace")
    request_id = top_level_id(start)
    if request_id is None and not _has_method(start):
        found = _TRAILING_ID.search(tail.decode("utf-8", "replace"))
        try:  # the pattern takes any escape: "C:\Users" in a log line is no JSON string
            request_id = json.loads(found.group(1)) if found else None
        except ValueError:
            return None
    return request_id


def _error_answer(problem: str, request_id: types.RequestId) -> SessionMessage:
    error = types.ErrorData(code=types.INTERNAL_ERROR, message=problem)
    return SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=request_id, error=error))


def _why(exc: ValueError) -> str:
    """What is wrong with a line, in a few words, never its content: of the message kinds it
    failed to be, a member present but wrong tells more than one missing."""
    if not isinstance(exc, ValidationError) or not exc.errors():
        return type(exc).__name__
    errors = exc.errors()
    first = next((e for e in errors if e["type"] != "missing"), errors[0])
    where = ".".join(str(part) for part in first["loc"][-3:])
    return (f"{where}: {first['msg']}" if where else str(first["msg"]))[:200]


def _has_method(text: str) -> bool:
    return (
        re.match(r'\s*\{(?:\s*"(?:jsonrpc|id)"\s*:\s*' + _SCALAR + r"\s*,)*\s*\"method\"", text) is not None
    )


def top_level_id(text: str) -> types.RequestId | None:
    """The `id` member of the JSON object `text` starts (a string or an integer), if it comes
    before the text ends: read by depth, so an "id" inside the result is never taken for it.
    None for the server's own requests (a top-level `method` before the cut)."""
    try:
        found = _top_level_id(text)
    except (ValueError, RecursionError):  # a deeply nested value before the id: give up on it
        return None
    return None if found is None or _has_method(text) else found


def _top_level_id(text: str) -> types.RequestId | None:
    decoder = json.JSONDecoder()
    depth, i = 0, 0
    while i < len(text):
        c = text[i]
        if c == '"':
            try:
                key, after = decoder.raw_decode(text, i)
            except ValueError:
                return None
            rest = text[after:].lstrip()
            if depth == 1 and key == "id" and rest.startswith(":"):
                value_at = len(text) - len(rest[1:].lstrip())
                try:
                    value, end = decoder.raw_decode(text, value_at)
                except ValueError:
                    return None
                ok = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
                ok = ok and end < len(text)  # a number the cut ended may have had more digits
                return value if ok else None
            i = after
            continue
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
        i += 1
    return None
