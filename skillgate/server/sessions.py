"""What skillgate keeps per client: who it is (for the audit log), whether it can hear
`tools/list_changed`, and — in dynamic mode — the tools of the skills it loaded.

A client is its SDK `Connection` (one per stdio client or handshake-era HTTP session; a fresh
one per 2026-era request), held weakly so a closed connection drops out by itself and a new
one never inherits another's state. A stdio server serves one client whatever its
connections: it is keyed by one `OnlyClient` object instead.
"""

from __future__ import annotations

import hashlib
import itertools
import weakref
from typing import Any

import mcp_types as types
from mcp.server import ServerRequestContext
from mcp.server.connection import Connection
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from skillgate.base.sdk_compat import connection_of
from skillgate.base.text import printable
from skillgate.tools.models import LoadedSkill

MAX_TRACKED_SESSIONS = 10_000
DYNAMIC_SEPARATOR = "__"

_connection_numbers = itertools.count(1)


class OnlyClient:
    """The key of the one client a stdio server serves (its state outlives any one connection)."""


def client_of(ctx: ServerRequestContext[Any]) -> dict[str, Any]:
    """The client's name and version as the audit log records them."""
    client_params = ctx.session.client_params
    info = client_params.client_info if client_params is not None else None
    if info is None:
        return {"name": None, "version": None}
    return {"name": printable(info.name), "version": printable(info.version)}  # a 2026 envelope is JSON


def session_tag(basis: str) -> str:
    return hashlib.sha256(basis.encode()).hexdigest()[:8]


def session_tag_of(ctx: ServerRequestContext[Any], one_client: bool) -> str:
    """A short tag grouping one agent's calls in the audit log: the stdio client, its connection
    (handshake era over HTTP), or — in the sessionless 2026 era over HTTP, where every request
    stands alone — its client name and version."""
    if one_client:
        return session_tag("0")
    if ctx.session.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return session_tag(repr(sorted(client_of(ctx).items())))
    connection = connection_of(ctx.session)
    if connection is None:
        return session_tag("?")
    number = connection.state.setdefault("skillgate.connection", next(_connection_numbers))
    return session_tag(str(number))


class Sessions:
    """The per-client state of one server (one profile)."""

    def __init__(self, one_client: bool) -> None:
        self.one_client = one_client
        self._only_client = OnlyClient()
        # Dynamic mode: per client, the tools of the skills it loaded, as "<skill>__<tool>".
        self._loaded: weakref.WeakKeyDictionary[object, dict[str, tuple[str, types.Tool]]] = (
            weakref.WeakKeyDictionary()
        )
        # Handshake-era connections that may hear tools/list_changed.
        self._listeners: weakref.WeakKeyDictionary[Connection, None] = weakref.WeakKeyDictionary()
        self._only_listener: Connection | None = None  # stdio

    def key(self, ctx: ServerRequestContext[Any]) -> object:
        """Whose dynamic tools these are: the connection's (handshake era), or the only client's (stdio)."""
        return self._only_client if self.one_client else connection_of(ctx.session) or self._only_client

    def remember(self, ctx: ServerRequestContext[Any]) -> None:
        """Keep the request's connection as a listener of tools/list_changed (handshake era only:
        2026-era clients hear changes on subscriptions/listen)."""
        if ctx.session.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        connection = connection_of(ctx.session)
        if connection is None:
            return
        if self.one_client:
            self._only_listener = self._only_listener or connection
        elif len(self._listeners) < MAX_TRACKED_SESSIONS:
            self._listeners[connection] = None

    async def notify_changed(self) -> None:
        """Tell every listening connection that the tools, prompts and resources changed."""
        listeners = [self._only_listener] if self._only_listener is not None else list(self._listeners)
        for connection in listeners:
            try:
                await connection.send_tool_list_changed()
                await connection.send_prompt_list_changed()
                await connection.send_resource_list_changed()
            except Exception:  # a connection that went away is forgotten
                self._listeners.pop(connection, None)
                if connection is self._only_listener:
                    self._only_listener = None

    def dynamic_tools(self, ctx: ServerRequestContext[Any]) -> list[types.Tool]:
        loaded = self._loaded.get(self.key(ctx), {})
        return [loaded[name][1] for name in sorted(loaded)]

    def dynamic_tool(self, ctx: ServerRequestContext[Any], name: str) -> tuple[str, str] | None:
        """(skill, upstream tool) of a dynamic tool this client may call, or None."""
        found = self._loaded.get(self.key(ctx), {}).get(name)
        return (found[0], name.split(DYNAMIC_SEPARATOR, 1)[1]) if found is not None else None

    def add_dynamic_tools(self, ctx: ServerRequestContext[Any], loaded: LoadedSkill) -> bool:
        """List the loaded skill's tools to this client; True if any was new."""
        key = self.key(ctx)
        if key not in self._loaded and len(self._loaded) >= MAX_TRACKED_SESSIONS:
            del self._loaded[next(iter(self._loaded))]  # forget the oldest session
        tools = self._loaded.setdefault(key, {})
        added = False
        for spec in loaded.tools:
            name = f"{loaded.name}{DYNAMIC_SEPARATOR}{spec.name}"
            if name not in tools:
                description = f"[{loaded.name}] {spec.description or ''}".strip()
                tools[name] = (
                    loaded.name,
                    types.Tool(name=name, description=description, input_schema=spec.input_schema),
                )
                added = True
        return added
