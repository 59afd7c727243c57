"""An upstream server over stdio: its process, its pipes, and a direct lane for tool calls.

The MCP SDK's `stdio_client` passes every message through memory streams and tasks (a
writer task, a reader task, the session's dispatcher): four task switches before an answer
reaches the caller. This transport gives the SDK session the same (read, write) streams for
everything else (handshake, tools/list, notifications), and lets `StdioPipe.request` write a
request straight to the server's stdin and take its answer straight off stdout. Requests of
the lane carry string ids `sg-N` (the SDK's are integers), so the two never meet; progress
for them arrives by the same token and is routed here too. A request that times out or is
cancelled is cancelled upstream with `notifications/cancelled`, as the SDK does.

The process is started and stopped as the SDK starts and stops its own: a new session (so
the whole tree can be stopped), only the given environment, stdin closed first, then SIGTERM
to the process group after 2 s and SIGKILL after 2 more.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import anyio
import anyio.abc
import mcp_types as types
from mcp import MCPError
from mcp.client.stdio import get_default_environment
from mcp.os.posix.utilities import terminate_posix_process_tree
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.message import SessionMessage

from skillgate.jsonrpc import Lines, Stamp, error_of, is_lane_id, lane_id, message_of, progress_of
from skillgate.limits import MESSAGE_BYTES

logger = logging.getLogger(__name__)

EXIT_GRACE = 2.0  # seconds for the server to exit once its stdin is closed
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL


@dataclass
class _Waiter:
    done: anyio.Event = field(default_factory=anyio.Event)
    progress: ProgressFnT | None = None
    result: dict[str, Any] | None = None
    error: types.ErrorData | None = None


class StdioPipe:
    """A running server's pipes: the SDK session's streams and the direct request lane."""

    def __init__(self, process: anyio.abc.Process) -> None:
        self._process = process
        self._waiters: dict[str, _Waiter] = {}
        self._writing = anyio.Lock()
        self._closed = False

    async def request(
        self,
        method: str,
        params: dict[str, Any],
        stamp: Stamp,
        *,
        timeout: float,
        progress: ProgressFnT | None = None,
    ) -> dict[str, Any]:
        """Send one request, in the envelope the session's `stamp` gives, and wait for its result.

        Raises `MCPError` as the SDK does: the server's error, REQUEST_TIMEOUT after `timeout`,
        CONNECTION_CLOSED when the server goes away."""
        if self._closed:
            raise MCPError(types.CONNECTION_CLOSED, "Connection closed")
        request_id = lane_id()
        data: dict[str, Any] = {"method": method, "params": params}
        stamp(data, {})
        if progress is not None:
            data["params"]["_meta"] = {**data["params"].get("_meta", {}), "progressToken": request_id}
        waiter = self._waiters[request_id] = _Waiter(progress=progress)
        try:
            await self._send({"jsonrpc": "2.0", "id": request_id, **data})
            with anyio.fail_after(timeout):
                await waiter.done.wait()
        except TimeoutError:
            await self._cancel(request_id, "timed out", stamp)
            raise MCPError(
                types.REQUEST_TIMEOUT, f"Timed out while waiting for response to {method}"
            ) from None
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._cancel(request_id, "cancelled by the caller", stamp)
            raise
        finally:
            del self._waiters[request_id]
        if waiter.error is not None:
            raise MCPError(waiter.error.code, waiter.error.message, waiter.error.data)
        if waiter.result is None:
            raise MCPError(types.CONNECTION_CLOSED, "Connection closed")
        return waiter.result

    async def _cancel(self, request_id: str, reason: str, stamp: Stamp) -> None:
        if self._closed:
            return
        data: dict[str, Any] = {
            "method": "notifications/cancelled",
            "params": {"requestId": request_id, "reason": reason},
        }
        stamp(data, {})
        with suppress(Exception):  # the server may be gone already
            await self._send({"jsonrpc": "2.0", **data})

    async def _send(self, message: Mapping[str, Any]) -> None:
        await self._write(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")

    async def _write(self, data: bytes) -> None:
        assert self._process.stdin is not None
        async with self._writing:  # one message at a time, even when a write blocks midway
            await self._process.stdin.send(data)

    def _take(self, line: bytes, tg: anyio.abc.TaskGroup) -> bool:
        """True if the line is an answer to, or progress of, a request of the lane."""
        message = message_of(line)
        if message is None:
            return False
        request_id = message.get("id")
        if is_lane_id(request_id) and "method" not in message:
            waiter = self._waiters.get(request_id)
            if waiter is not None:  # else: it came after a timeout or a cancellation
                if isinstance(message.get("result"), dict):
                    waiter.result = message["result"]
                else:
                    waiter.error = error_of(message.get("error"))
                waiter.done.set()
            return True
        params = message.get("params")
        if message.get("method") == "notifications/progress" and isinstance(params, dict):
            waiter = self._waiters.get(params.get("progressToken"))  # type: ignore[arg-type]
            if waiter is None:
                return False
            if waiter.progress is not None and (reported := progress_of(params)) is not None:
                tg.start_soon(_report, waiter.progress, *reported)
            return True
        return False

    async def _read(self, to_session: Any, tg: anyio.abc.TaskGroup) -> None:
        """Lines from stdout: the lane's to their waiters, the rest parsed for the SDK session."""
        assert self._process.stdout is not None
        lines = Lines(MESSAGE_BYTES)
        try:
            async with to_session:
                async for chunk in self._process.stdout:
                    for line in lines.feed(chunk):
                        if line is None:
                            await to_session.send(ValueError(f"a message over {MESSAGE_BYTES:,} bytes"))
                        elif not (self._waiters and b'"sg-' in line and self._take(line, tg)):
                            await to_session.send(_parsed(line))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError):
            pass
        finally:
            self._closed = True
            for waiter in self._waiters.values():
                waiter.done.set()  # no result: CONNECTION_CLOSED

    async def _pump(self, from_session: Any) -> None:
        """The SDK session's messages to stdin."""
        try:
            async with from_session:
                async for session_message in from_session:
                    dumped = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await self._write(dumped.encode() + b"\n")
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            pass

    async def _stop(self) -> None:
        """Close stdin, give the server time to exit, then stop its process group."""
        self._closed = True
        process = self._process
        with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            assert process.stdin is not None
            await process.stdin.aclose()
        with anyio.move_on_after(EXIT_GRACE):
            while process.returncode is None:
                await anyio.sleep(0.01)
        if process.returncode is None:
            await terminate_posix_process_tree(process, KILL_GRACE)
        with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            assert process.stdout is not None
            await process.stdout.aclose()


@asynccontextmanager
async def stdio_pipe(
    command: str,
    args: list[str],
    env: Mapping[str, str],
    cwd: Path,
    errlog: TextIO,
    on_close: Callable[[], None],
) -> AsyncIterator[tuple[StdioPipe, tuple[Any, Any]]]:
    """Start the server; yield its pipe and the (read, write) streams for an SDK session.
    `on_close` is called as soon as the server's stdout ends (it died or exited)."""
    process = await anyio.open_process(
        [command, *args],
        env=get_default_environment() | dict(env),
        stderr=errlog,
        cwd=cwd,
        start_new_session=True,
    )
    pipe = StdioPipe(process)
    to_session, read = anyio.create_memory_object_stream[SessionMessage | Exception](16)
    write, from_session = anyio.create_memory_object_stream[SessionMessage](16)

    async def read_then_close() -> None:
        try:
            await pipe._read(to_session, tg)
        finally:
            on_close()

    async with anyio.create_task_group() as tg:
        tg.start_soon(read_then_close)
        tg.start_soon(pipe._pump, from_session)
        try:
            yield pipe, (read, write)
        finally:
            with anyio.CancelScope(shield=True):
                await write.aclose()
                await pipe._stop()
            tg.cancel_scope.cancel()


def _parsed(line: bytes) -> SessionMessage | Exception:
    """A line for the SDK session: the message, or the error saying why it is not one (the
    session reports it)."""
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:
        return exc


async def _report(progress: ProgressFnT, value: float, total: float | None, message: str | None) -> None:
    try:
        await progress(value, total, message)
    except Exception:  # a failing callback must not end the connection
        logger.exception("progress callback failed")
