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
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import INVALID_REQUEST
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from skillgate.base.limits import ARGUMENT_BYTES as MAX_ARGUMENT_BYTES
from skillgate.base.limits import HTTP_BODY_BYTES
from skillgate.server.mcp_server import SkillgateServer
from skillgate.skills.profile import DEFAULT_PROFILE
from skillgate.tools.gateway import Gateway

if TYPE_CHECKING:
    from skillgate.observe.metrics import Metrics

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def allowed_hosts(host: str, extra_hosts: list[str]) -> list[str]:
    """Host patterns accepted against DNS rebinding: loopback, the bound host, and configured names."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", *extra_hosts]
    if host not in LOOPBACK and host not in ("0.0.0.0", "::"):
        hosts.append(f"{host}:*")
    return hosts


def transport_security(hosts: list[str]) -> TransportSecuritySettings:
    origins = [f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def _split_netloc(netloc: str) -> tuple[str, str]:
    """(host, port) of `host[:port]`, with IPv6 hosts in brackets."""
    if netloc.startswith("["):
        host, _, rest = netloc.partition("]")
        return host + "]", rest.removeprefix(":")
    host, _, port = netloc.partition(":")
    return host, port


def _host_matches(netloc: str, pattern: str) -> bool:
    """`host[:port]` against `name:*` (any port, or none), `name:port` or `name`, compared exactly."""
    want_host, want_port = _split_netloc(pattern)
    host, port = _split_netloc(netloc)
    if host.lower() != want_host.lower() or (port and not port.isdigit()):
        return False
    return want_port in ("*", port)


class HostGuard:
    """Refuses requests whose Host (421) or Origin (403) is not one of the allowed hosts.

    Exact comparison of host names and numeric ports: `localhost:8000.evil.example` is not
    `localhost:*`. `exempt` paths (liveness probes) skip the check.
    """

    def __init__(self, app: ASGIApp, hosts: list[str], exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.hosts = hosts
        self.exempt = exempt

    def allows(self, headers: Headers) -> str | None:
        """None if allowed, else why not."""
        host = headers.get("host", "")
        if not any(_host_matches(host, p) for p in self.hosts):
            return f"Host {host[:100]!r} is not allowed; add it to allowed_hosts in the settings"
        origin = headers.get("origin")
        if origin is not None:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not any(
                _host_matches(parts.netloc, p) for p in self.hosts
            ):
                return f"Origin {origin[:100]!r} is not allowed"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.exempt:
            problem = self.allows(Headers(scope=scope))
            if problem is not None:
                status = 403 if problem.startswith("Origin") else 421
                return await JSONResponse({"error": problem}, status_code=status)(scope, receive, send)
        await self.app(scope, receive, send)


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

    def __init__(
        self,
        apps: dict[str, StreamableHTTPASGIApp],
        tokens: Tokens,
        on_too_large: Callable[[str, int], None] = lambda profile, size: None,
    ) -> None:
        self.apps = apps
        self.tokens = tokens
        self.on_too_large = on_too_large

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
        if limit is not None and asked is not None and asked != limit:  # 403 whether or not it exists
            response = JSONResponse(
                {"error": f"this token may use only /mcp/{limit} (or /mcp)"}, status_code=403
            )
            return await response(scope, receive, send)
        profile = asked or limit or DEFAULT_PROFILE
        if profile not in self.apps:
            response = JSONResponse({"error": f"no profile {profile!r}"}, status_code=404)
            return await response(scope, receive, send)
        size = request.headers.get("content-length", "")
        if size.isdigit() and int(size) > HTTP_BODY_BYTES:
            self.on_too_large(profile, int(size))
            return await _too_large(int(size))(scope, receive, send)
        await self.apps[profile](scope, receive, send)


def _too_large(size: int) -> Response:
    """A JSON-RPC error (HTTP 413) that names the limit and the fix, sent before the body is read."""
    message = (
        f"the request is {size:,} bytes; skillgate accepts at most {HTTP_BODY_BYTES:,} per request and "
        f"{MAX_ARGUMENT_BYTES:,} of call_skill arguments. Send less data, or put it in a file the tool "
        "can read"
    )
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": INVALID_REQUEST, "message": message}}
    return JSONResponse(body, status_code=413)


def build_app(
    gateway: Gateway,
    servers: dict[str, SkillgateServer],
    tokens: Tokens,
    *,
    host: str,
    stateless: bool,
    extra_hosts: list[str],
    lifespan: Callable[[], AsyncIterator[None]],
    metrics: Metrics | None = None,
) -> Starlette:
    """The Starlette app. `lifespan` runs around the session managers (pool, watcher...)."""
    hosts = allowed_hosts(host, extra_hosts)
    security = transport_security(hosts)
    managers = {
        name: StreamableHTTPSessionManager(
            app=s.server,
            stateless=stateless,
            security_settings=security,
            max_request_body_size=HTTP_BODY_BYTES,
        )
        for name, s in servers.items()
    }

    def too_large(profile: str, size: int) -> None:
        servers[profile].record_refused(size)

    endpoint = McpEndpoint(
        {name: StreamableHTTPASGIApp(m) for name, m in managers.items()},
        tokens,
        too_large,
    )
    state = {"ready": False}

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        body: dict[str, Any] = {
            "ready": state["ready"],
            "skills": len(gateway.catalog),
            "generation": gateway.generation,
        }
        valid, limit = tokens.check(request.headers.get("authorization"))
        if valid:  # details only for authenticated callers (HostGuard already refused foreign hosts)
            body.update(_details(gateway, servers, limit))
        return Response(
            json.dumps(body, sort_keys=True),
            status_code=200 if state["ready"] else 503,
            media_type="application/json",
        )

    async def metrics_page(request: Request) -> Response:
        """Prometheus metrics, behind the same tokens as /mcp (a profile-limited token may not read
        them: they cover every profile)."""
        valid, limit = tokens.check(request.headers.get("authorization"))
        if not valid:
            return _unauthorized("a bearer token is needed for /metrics", "invalid_token")
        if limit is not None:
            return JSONResponse({"error": "this token is limited to one profile; metrics cover all"}, 403)
        assert metrics is not None
        return Response(metrics.render(), media_type=METRICS_CONTENT_TYPE)

    @asynccontextmanager
    async def app_lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for manager in managers.values():
                await stack.enter_async_context(manager.run())
            await stack.enter_async_context(asynccontextmanager(lifespan)())
            state["ready"] = True
            yield
            state["ready"] = False

    app = Starlette(
        routes=[
            Route("/mcp", endpoint=endpoint, methods=["GET", "POST", "DELETE"]),
            Route("/mcp/{profile}", endpoint=endpoint, methods=["GET", "POST", "DELETE"]),
            Route("/healthz", endpoint=healthz),
            Route("/readyz", endpoint=readyz),
            *([Route("/metrics", endpoint=metrics_page)] if metrics is not None else []),
        ],
        lifespan=app_lifespan,
    )
    app.add_middleware(HostGuard, hosts=hosts, exempt=("/healthz",))
    return app


def _details(gateway: Gateway, servers: dict[str, SkillgateServer], limit: str | None) -> dict[str, Any]:
    """What /readyz shows an authenticated caller: for a profile-limited token, only its profile."""
    if limit is None:
        visible = list(gateway.catalog)
        admits: Callable[[str], bool] = lambda name: True  # noqa: E731
        profiles = sorted(servers)
    else:
        view = servers[limit].view
        visible = [s for s in gateway.catalog if view.admits(s.name)]
        admits = view.admits
        profiles = [limit]
    keys = {b.connection_key() for s in visible for b in s.bindings}
    root = gateway.catalog.root
    return {
        "profiles": profiles,
        "upstreams": [
            {"name": u.name, "state": str(u.state), "restarts": u.restarts, "last_error": u.last_error}
            for u in gateway.pool.upstreams
            if limit is None or u.key in keys
        ],
        "diagnostics": [str(d) for d in gateway.catalog.diagnostics if admits(_skill_folder(d.path, root))],
    }


def _skill_folder(path: str, root: Path) -> str:
    """The name of the skill folder a diagnostic's path is in (paths start with the catalog folder)."""
    parts = Path(path).parts
    return parts[-2] if len(parts) >= 2 else ""
