"""Upstream: one supervised client connection to one upstream MCP server.

The connection is started on first need by a supervisor task. Its tool list is
cached (and refreshed when the server says its list changed). When the connection
dies, the supervisor restarts it: at once after a healthy run, then with bounded
exponential back-off while starts keep failing. During back-off calls fail fast.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from contextlib import AsyncExitStack
from enum import StrEnum
from typing import Any

import anyio
import mcp_types as types
from mcp import Client, MCPError
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import Subscription
from mcp.shared.dispatcher import ProgressFnT
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from skillgate.base import sdk_compat
from skillgate.base.errors import SkillgateError, UpstreamTimeout, UpstreamUnavailable
from skillgate.base.limits import MESSAGE_BYTES
from skillgate.base.sdk_compat import Transport
from skillgate.observe import tracing
from skillgate.skills.binding import ServerBinding, expand, find_command
from skillgate.upstream.secrets import Secrets
from skillgate.upstream.stdio import stdio_transport
from skillgate.upstream.transports import JunkLines, StderrRelay, describe, watched

logger = logging.getLogger(__name__)
PING_SECONDS = 5.0  # an HTTP upstream that does not answer a check in this time is reconnected
STDERR_WAIT = 1.0  # how long a failed start waits for the last of its stderr

ProgressFn = ProgressFnT  # (progress, total, message) -> None


class State(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    READY = "ready"
    BACKOFF = "backoff"


class Upstream:
    """A shared connection to one upstream server, used by every skill bound to it."""

    def __init__(
        self,
        binding: ServerBinding,
        environ: Mapping[str, str],
        *,
        start_timeout: float = 30.0,
        call_timeout: float = 60.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self.binding = binding
        self.key = binding.connection_key()
        self._environ = environ
        self.start_timeout = start_timeout
        self.call_timeout = call_timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self.state = State.STOPPED
        self.last_error: str | None = None
        self.restarts = 0
        self._client: Client | None = None
        self._tools: list[types.Tool] = []
        self._tools_known = False
        self._stderr: StderrRelay | None = None  # the last start's stderr, for a failure's log line
        self.tools_version = 0  # bumped whenever the tool list is replaced
        self._by_name: tuple[int, dict[str, types.Tool]] = (-1, {})
        self._ready = anyio.Event()
        self._broken = anyio.Event()
        self._retry_at = 0.0
        self.stopped = anyio.Event()
        self._scope = anyio.CancelScope()
        self.secrets = Secrets(binding, environ)
        self._tools_changed = anyio.Event()
        self._junk = JunkLines()

    @property
    def name(self) -> str:
        return self.binding.name

    # -- what skills use -------------------------------------------------------

    def cached_tools(self) -> list[types.Tool] | None:
        """The last tool list this server gave, or None if it never answered."""
        return list(self._tools) if self._tools_known else None

    async def tools(self, limit: float | None = None) -> list[types.Tool]:
        await self._wait_ready(limit)
        return list(self._tools)

    async def tool(self, name: str, limit: float | None = None) -> types.Tool | None:
        """The server's live definition of one tool (None: it has no such tool)."""
        await self._wait_ready(limit)
        if self._by_name[0] != self.tools_version:
            self._by_name = (self.tools_version, {t.name: t for t in self._tools})
        return self._by_name[1].get(name)

    async def call(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        *,
        timeout: float | None = None,
        progress: ProgressFn | None = None,
    ) -> types.CallToolResult:
        """One tool call through the SDK's client session: its per-version result checks, its
        output-schema check, its timeout (the call is cancelled upstream) and progress by token."""
        seconds = timeout or self.call_timeout
        client = await self._wait_ready(seconds)
        started = anyio.current_time()
        try:
            with tracing.upstream_span(self.name, tool):
                result = await client.call_tool(
                    tool,
                    dict(arguments),
                    read_timeout_seconds=seconds,
                    progress_callback=self.secrets.progress(progress),
                )
            return self.secrets.model(result, types.CallToolResult)
        except ValidationError as exc:
            raise UpstreamUnavailable(
                f"server {self.name!r} answered {tool!r} with a malformed result: "
                f"{self.redact(str(exc))[:500]}"
            ) from None
        except MCPError as exc:
            # The SDK's own outcomes share their numbers with errors an upstream may send: a timeout
            # is ours only once the time is up, a closed connection only once the transport ended.
            if exc.code == types.REQUEST_TIMEOUT and anyio.current_time() - started >= seconds * 0.99:
                raise UpstreamTimeout(
                    f"{tool!r} on server {self.name!r} did not answer within {seconds:g} s; the call was "
                    "cancelled. Retry, or raise 'timeout' for this server in the skill's mcp.json"
                ) from None
            if exc.code in (types.CONNECTION_CLOSED, types.INVALID_REQUEST) and not await self._alive(client):
                # the transport really ended: the watch on its streams saw it, or (over HTTP, where
                # one request's stream can fail alone, or a restarted server forgets the session)
                # a request on it fails. An upstream's own -32000 is that one call's error, below.
                if self._client is client:  # not yet replaced by a restart
                    self._mark_down()
                raise UpstreamUnavailable(
                    f"server {self.name!r} closed the connection during {tool!r}; it is being restarted, "
                    "retry the call"
                ) from None
            raise UpstreamUnavailable(
                f"server {self.name!r} rejected {tool!r}: {self.redact(exc.error.message)}"
            ) from None
        except RuntimeError as exc:  # the SDK's check of structuredContent against outputSchema
            raise UpstreamUnavailable(
                f"server {self.name!r} answered {tool!r} wrongly: {self.redact(str(exc))}"
            ) from None

    async def _alive(self, client: Client) -> bool:
        """Whether the connection `client` is on still works: its transport has not ended and, over
        HTTP, it answers tools/list (the one request of both eras) within PING_SECONDS."""
        if self._client is not client or self._broken.is_set():
            return False
        if self.binding.kind == "stdio":  # a pipe's end is seen by the watch at once
            return True
        with anyio.move_on_after(PING_SECONDS):
            try:
                await client.list_tools(cache_mode="refresh")  # ping exists only before 2026-07-28
            except Exception:
                return False
            return True
        return False

    async def _list_tools(self, client: Client, refresh: bool = False) -> list[types.Tool]:
        """The server's tools, with secrets masked in every text (a description may quote one)."""
        return [self.secrets.model(t, types.Tool) for t in await _list_all_tools(client, refresh)]

    def redact(self, text: str) -> str:
        return self.secrets.redact(text)

    async def _wait_ready(self, limit: float | None = None) -> Client:
        """The ready client, waiting at most `limit` (a call's own timeout) or the start timeout."""
        if self.state is State.READY and self._client is not None:
            return self._client
        if self.state is State.BACKOFF:
            wait = max(0.0, self._retry_at - anyio.current_time())
            raise UpstreamUnavailable(
                f"server {self.name!r} is down ({self.last_error}); next restart in {wait:.1f} s. "
                "Other skills keep working; retry later"
            )
        seconds = min(limit, self.start_timeout + 1) if limit else self.start_timeout + 1
        with anyio.move_on_after(seconds):
            await self._ready.wait()
        if self.state is State.STARTING and not self._ready.is_set():
            raise UpstreamTimeout(
                f"server {self.name!r} is still starting after {seconds:g} s (the call's timeout); it keeps "
                "starting in the background, retry in a moment"
            )
        if self._client is None or self.state is not State.READY:
            raise UpstreamUnavailable(
                f"server {self.name!r} could not be started: {self.last_error or 'no answer'}; "
                "its command/url in mcp.json needs fixing (`skillgate call` debugs a binding)",
                f"server {self.name!r} could not be started: {self.last_error or 'no answer'}; check its "
                f"command/url in {self.binding.base_dir / 'mcp.json'} (--verbose shows its own stderr)",
            )
        return self._client

    # -- supervision -----------------------------------------------------------

    async def run(self) -> None:
        """Keep the connection up until cancelled (the pool cancels it on shutdown)."""
        failures = 0
        try:
            with self._scope:
                while True:
                    if await self._connect_once():
                        self.restarts += 1
                        failures = 0
                        continue  # it was healthy: restart at once
                    failures += 1
                    delay = min(self._backoff_max, self._backoff_initial * 2 ** (failures - 1))
                    self._retry_at = anyio.current_time() + delay
                    self.state = State.BACKOFF
                    self._ready.set()  # wake waiters: they fail fast with the error
                    await anyio.sleep(delay)
        finally:
            self._client = None
            self.state = State.STOPPED
            self._ready.set()  # waiters fail at once
            self.stopped.set()

    def stop(self) -> None:
        """Stop the connection (and its process) for good; `run` returns."""
        self.last_error = "it was stopped because its binding changed"
        self._scope.cancel()

    def _mark_down(self) -> None:
        """The connection is gone: new calls wait for the restart instead of using it."""
        self._client = None
        self.state = State.STARTING
        if self._ready.is_set():
            self._ready = anyio.Event()
        self._broken.set()

    async def _connect_once(self) -> bool:
        """One connection's life; True if it got ready before it ended."""
        self.state = State.STARTING
        if self._ready.is_set():
            self._ready = anyio.Event()
        self._broken = anyio.Event()
        became_ready = False
        with anyio.CancelScope() as attempt:
            attempt.deadline = anyio.current_time() + self.start_timeout
            try:
                async with AsyncExitStack() as stack:
                    transport = await self._transport(stack)
                    client = await stack.enter_async_context(
                        Client(transport, message_handler=self._on_message)
                    )
                    changes = await self._listen(client, stack)  # before the list: no change missed
                    self._tools = await self._list_tools(client)
                    self._tools_known = True
                    self.tools_version += 1
                    attempt.deadline = math.inf
                    self._client = client
                    self.state = State.READY
                    self.last_error = None
                    became_ready = True
                    self._ready.set()
                    logger.info("upstream %s ready with %d tools", self.name, len(self._tools))
                    await self._serve(client, changes)
                    self.last_error = "the connection closed"
                    logger.warning("upstream %s closed its connection; restarting", self.name)
            except SkillgateError as exc:
                self.last_error = self.redact(str(exc))
            except Exception as exc:  # any failure of a third-party server is reported, never raised
                self.last_error = self.redact(describe(exc))
                said = await self._stderr_said()
                logger.warning("upstream %s failed: %s%s", self.name, self.last_error, said)
            finally:
                self._client = None
        if attempt.cancelled_caught:
            self.last_error = f"it did not answer within {self.start_timeout:g} s"
        return became_ready

    async def _stderr_said(self) -> str:
        """ "; its stderr said: ..." with a stdio server's last stderr lines, for the log only."""
        relay, self._stderr = self._stderr, None
        if relay is None:
            return ""
        words = await anyio.to_thread.run_sync(relay.last_words, STDERR_WAIT)
        return f"; its stderr said: {words}" if words else ""

    async def _listen(self, client: Client, stack: AsyncExitStack) -> Subscription | None:
        """A 2026-era server's stream of tool-list changes, acknowledged before the first tools/list
        (and before calls reach the server), so no change falls between the two; None when the
        server predates listening (its handshake-era notifications reach `_on_message`)."""
        if client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            return None
        try:
            return await stack.enter_async_context(client.listen(tools_list_changed=True))
        except Exception as exc:  # no listen support
            logger.debug("upstream %s: no change stream (%s)", self.name, describe(exc))
            return None

    async def _serve(self, client: Client, changes: Subscription | None) -> None:
        """While connected: refresh the tool list whenever the server says it changed.

        The refresh runs here, not in the notification handler: that handler runs on the
        connection's read loop, which must stay free to receive the tools/list answer.
        """
        async with anyio.create_task_group() as tg:

            async def refresh() -> None:
                while True:
                    await self._tools_changed.wait()
                    self._tools_changed = anyio.Event()
                    try:
                        self._tools = await self._list_tools(client, refresh=True)
                        self.tools_version += 1
                        logger.info("upstream %s changed its tools: now %d", self.name, len(self._tools))
                    except Exception as exc:  # the connection is checked by the watcher, not here
                        logger.warning(
                            "upstream %s: tools/list failed: %s", self.name, self.redact(describe(exc))
                        )

            async def listen(
                events: Subscription,
            ) -> None:  # 2026-era servers tell listeners, not the session
                try:
                    async for _ in events:
                        self._tools_changed.set()
                except Exception as exc:  # the stream dropped: the connection's watcher decides
                    logger.debug("upstream %s: change stream ended (%s)", self.name, describe(exc))

            tg.start_soon(refresh)
            if changes is not None:
                tg.start_soon(listen, changes)
            await self._broken.wait()
            tg.cancel_scope.cancel()

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._tools_changed.set()
        elif isinstance(message, Exception):
            self._junk.note(self.name)

    async def _transport(self, stack: AsyncExitStack) -> Transport:
        """The connection's streams for the SDK session (the SDK's own transports); `_mark_down`
        is called when they end."""
        entry, name = self.binding.entry, self.name
        kind = self.binding.kind
        if kind == "stdio":
            assert entry.command is not None
            cwd = self.binding.resolved_cwd()
            if not cwd.is_dir():
                raise UpstreamUnavailable(
                    f"its working folder {str(cwd)!r} does not exist; fix 'cwd' in mcp.json"
                )
            errlog = self._stderr = stack.enter_context(StderrRelay(self.name, self.redact))
            stdio = stdio_transport(
                find_command(expand(entry.command, self._environ, name)),
                [expand(a, self._environ, name) for a in entry.args],
                {k: expand(v, self._environ, name) for k, v in entry.env.items()},
                cwd,
                errlog.writer,
            )
            return watched(stdio, self._mark_down)
        assert entry.url is not None
        url = expand(entry.url, self._environ, name)
        headers = {k: expand(v, self._environ, name) for k, v in entry.headers.items()}
        if kind == "sse":
            return watched(sse_client(url, headers=headers), self._mark_down)
        http = await stack.enter_async_context(sdk_compat.mcp_http_client(headers))
        # one server-sent event carries one message: the same 64 MiB bound as a stdio line (the SDK's
        # default, 1 MiB, refused real answers); over it, that call fails at once with the limit named
        stream = streamable_http_client(url, http_client=http, max_sse_event_size=MESSAGE_BYTES)
        return watched(stream, self._mark_down)


async def _list_all_tools(client: Client, refresh: bool = False) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor, cache_mode="refresh" if refresh else "use")
        tools += page.tools
        cursor = page.next_cursor
        if not cursor:
            return sorted(tools, key=lambda t: t.name)
