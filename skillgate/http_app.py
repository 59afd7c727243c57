"""The HTTP edge: streamable HTTP at /mcp and /mcp/<profile>, /healthz and /readyz.

Bearer tokens are checked before anything else. `/mcp` serves the caller's token's
profile (or `default`); `/mcp/<profile>` serves that profile if the token may use it.
Each profile is its own MCP server (own startup context), over one shared gateway.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from skillgate.gateway import Gateway
from skillgate.profile import DEFAULT_PROFILE
from skillgate.server import SkillgateServer

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def transport_security(host: str, extra_hosts: list[str]) -> TransportSecuritySettings:
    """Host/Origin validation against DNS rebinding: loopback, the bound host, and configured names."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", *extra_hosts]
    if host not in LOOPBACK and host not in ("0.0.0.0", "::"):
        hosts.append(f"{host}:*")
    origins = [f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


class Tokens:
    """Bearer tokens and the profile each is limited to (None: any profile)."""

    def __init__(self, tokens: dict[str, str | None]) -> None:
        self._tokens = [(value.encode(), profile) for value, profile in sorted(tokens.items())]

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def check(self, authorization: str | None) -> tuple[bool, str | None]:
        """(valid, profile limit) for an Authorization header; compared in constant time."""
        if not self._tokens:
            return True, None
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not value:
            return False, None
        found: tuple[bool, str | None] = (False, None)
        for token, profile in self._tokens:
            if hmac.compare_digest(token, value.strip().encode()):
                found = (True, profile)
        return found


def _unauthorized(message: str, error: str | None) -> Response:
    challenge = 'Bearer realm="skillgate"' + (f', error="{error}"' if error else "")
    return JSONResponse({"error": message}, status_code=401, headers={"WWW-Authenticate": challenge})


class McpEndpoint:
    """Authenticates, picks the profile, and hands the request to that profile's MCP app."""

    def __init__(self, apps: dict[str, StreamableHTTPASGIApp], tokens: Tokens) -> None:
        self.apps = apps
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        valid, limit = self.tokens.check(request.headers.get("authorization"))
        if not valid:
            missing = "authorization" not in request.headers
            response = _unauthorized(
                "missing bearer token: send 'Authorization: Bearer <token>'"
                if missing
                else "invalid bearer token",
                None if missing else "invalid_token",
            )
            return await response(scope, receive, send)
        asked = scope.get("path_params", {}).get("profile")
        profile = asked or limit or DEFAULT_PROFILE
        if profile not in self.apps:
            response = JSONResponse({"error": f"no profile {profile!r}"}, status_code=404)
            return await response(scope, receive, send)
        if limit is not None and profile != limit:
            response = JSONResponse({"error": f"this token may not use profile {profile!r}"}, status_code=403)
            return await response(scope, receive, send)
        await self.apps[profile](scope, receive, send)


def build_app(
    gateway: Gateway,
    servers: dict[str, SkillgateServer],
    tokens: Tokens,
    *,
    host: str,
    stateless: bool,
    extra_hosts: list[str],
    lifespan: Callable[[], AsyncIterator[None]],
) -> Starlette:
    """The Starlette app. `lifespan` runs around the session managers (pool, watcher...)."""
    security = transport_security(host, extra_hosts)
    managers = {
        name: StreamableHTTPSessionManager(app=s.server, stateless=stateless, security_settings=security)
        for name, s in servers.items()
    }
    endpoint = McpEndpoint({name: StreamableHTTPASGIApp(m) for name, m in managers.items()}, tokens)
    state = {"ready": False}

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        body: dict[str, Any] = {
            "ready": state["ready"],
            "skills": len(gateway.catalog),
            "generation": gateway.generation,
        }
        if tokens.check(request.headers.get("authorization"))[0]:  # details only for authenticated callers
            body["profiles"] = sorted(servers)
            body["upstreams"] = [
                {"name": u.name, "state": str(u.state), "restarts": u.restarts, "last_error": u.last_error}
                for u in gateway.pool.upstreams
            ]
            body["diagnostics"] = [str(d) for d in gateway.catalog.diagnostics]
        return Response(
            json.dumps(body, sort_keys=True),
            status_code=200 if state["ready"] else 503,
            media_type="application/json",
        )

    @asynccontextmanager
    async def app_lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for manager in managers.values():
                await stack.enter_async_context(manager.run())
            await stack.enter_async_context(asynccontextmanager(lifespan)())
            state["ready"] = True
            yield
            state["ready"] = False

    return Starlette(
        routes=[
            Route("/mcp", endpoint=endpoint, methods=["GET", "POST", "DELETE"]),
            Route("/mcp/{profile}", endpoint=endpoint, methods=["GET", "POST", "DELETE"]),
            Route("/healthz", endpoint=healthz),
            Route("/readyz", endpoint=readyz),
        ],
        lifespan=app_lifespan,
    )
