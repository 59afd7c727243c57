"""What an upstream connection is made of besides the SDK's session: a watch on its streams (a
dead server is noticed before the next call), its stderr relayed into skillgate's log, the junk
lines it writes to stdout counted, its command found, and its failures described."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
from mcp import MCPError
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCMessage, JSONRPCNotification

from skillgate.base.sdk_compat import Transport, TransportStreams

logger = logging.getLogger("skillgate.upstream.connection")  # one logger for an upstream's lines

STDERR_LINE_CHARS = 2_000
STDERR_TAIL_LINES = 3  # what a failed start reports of its stderr
JUNK_WARNING_INTERVAL = 60.0


@asynccontextmanager
async def watched(transport: Transport, on_close: Callable[[], None]) -> AsyncIterator[TransportStreams]:
    """The transport's streams, calling `on_close` as soon as the server's side ends.

    The SDK notices a dead server only when a request fails; watching the read stream
    lets the supervisor restart a crashed server before the next call needs it.
    """
    async with transport as (read, write):
        send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](16)

        async def pump() -> None:
            try:
                async with send:
                    async for message in read:
                        if isinstance(message, SessionMessage) and not sane_numbers(message.message):
                            logger.warning(
                                "an upstream sent a progress notification with a number out of range; dropped"
                            )
                            continue
                        await send.send(message)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass
            finally:
                on_close()

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            try:
                yield receive, write
            finally:
                tg.cancel_scope.cancel()


def sane_numbers(message: JSONRPCMessage) -> bool:
    """False for a progress notification whose `progress` or `total` no float can hold (a
    400-digit integer, or Infinity/NaN): the SDK's float() of it would end the connection and
    every call in flight on it. Such a notification is dropped; nothing else is looked at."""
    if not isinstance(message, JSONRPCNotification) or message.method != "notifications/progress":
        return True
    params = message.params or {}
    for key in ("progress", "total"):
        value = params.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        try:
            if not math.isfinite(float(value)):
                return False
        except OverflowError:
            return False
    return True


class StderrRelay:
    """An upstream's stderr, line by line into skillgate's log (`upstream NAME: ...`), secrets masked.

    A pipe the server writes to, drained by a thread until the server's end closes. Lines are
    logged at INFO (`--log-level info` shows them) and cut at 2,000 characters.
    """

    def __init__(self, name: str, redact: Callable[[str], str]) -> None:
        self.name = name
        self.redact = redact
        read_fd, write_fd = os.pipe()
        self.writer = os.fdopen(write_fd, "w")
        self._reader = os.fdopen(read_fd, "rb")
        self._thread = threading.Thread(target=self._drain, name=f"stderr-{name}", daemon=True)
        self.tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)  # its last lines, masked, for people

    def __enter__(self) -> StderrRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.writer.close()  # the server holds its own copy; the thread ends when that closes too

    def _drain(self) -> None:
        with self._reader:
            for raw in self._reader:
                line = raw.decode("utf-8", "replace").rstrip()[:STDERR_LINE_CHARS]
                if line:
                    self.tail.append(self.redact(line))
                    logger.info("upstream %s: %s", self.name, self.tail[-1])

    def last_words(self, wait: float) -> str:
        """Its last stderr lines once the server's end closed (waiting at most `wait` s), for people:
        a server that exits at start usually says why there. Never for a model: untrusted text."""
        self._thread.join(wait)
        return " / ".join(self.tail)[:STDERR_LINE_CHARS]


class JunkLines:
    """Lines an upstream wrote to stdout that are not JSON-RPC: one warning, then one a minute."""

    def __init__(self) -> None:
        self.count = 0
        self._next_warning = 0.0

    def note(self, name: str) -> None:
        self.count += 1
        now = time.monotonic()
        if now >= self._next_warning:
            self._next_warning = now + JUNK_WARNING_INTERVAL
            logger.warning(
                "upstream %s wrote %d line(s) to stdout that are not JSON-RPC; they are ignored "
                "(a stdio server must log to stderr)",
                name,
                self.count,
            )


class _QuietParseErrors(logging.Filter):
    """The SDK logs every junk stdout line with a full traceback; `_JunkLines` reports them instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to parse JSONRPC message from server")


logging.getLogger("mcp.client.stdio").addFilter(_QuietParseErrors())


def describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {exc.filename or exc}"
    if isinstance(exc, MCPError):
        return exc.error.message
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
