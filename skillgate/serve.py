"""Running skillgate: over stdio or streamable HTTP, with the upstream pool, the audit
log and the catalog watcher around it."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from skillgate.base.disk_cache import DiskCache
from skillgate.base.errors import UsageError
from skillgate.base.wording import count
from skillgate.observe.audit import AuditLog
from skillgate.search.hybrid import Ranker, ranker_for
from skillgate.server.reload import Reloader
from skillgate.settings import Settings
from skillgate.skills.catalog import Catalog
from skillgate.skills.profile import DEFAULT_PROFILE
from skillgate.tools.gateway import Gateway
from skillgate.tools.models import META_TOOLS
from skillgate.upstream.pool import UpstreamPool

if TYPE_CHECKING:  # the HTTP stack loads only for --http and the preview
    import uvicorn

    from skillgate.server.http import Tokens

PRESTART_DELAY = 0.5


def search_ranker(settings: Settings, environ: Mapping[str, str] = os.environ) -> Ranker:
    """The search ranker `[search]` asks for, caching vectors in its cache_dir or the cache folder."""
    folder = settings.search.cache_dir
    return ranker_for(settings.search, folder.expanduser() if folder else settings.cache_folder(environ))


def _tracing(settings: Settings) -> None:
    from skillgate.observe import tracing

    tracing.configure(
        settings.tracing.enabled, settings.tracing.endpoint, settings.tracing.arguments, os.environ
    )


def _gateway(catalog: Catalog, pool: UpstreamPool, settings: Settings) -> Gateway:
    from skillgate.base.tokens import CountCache

    counts = CountCache(DiskCache(settings.cache_folder(os.environ), "tokens"), _catalog_name(catalog))
    return Gateway(
        catalog, pool, settings.drift, search_ranker(settings), settings.render.workers_pool(), counts
    )


def _catalog_name(catalog: Catalog) -> str:
    """One cache file per catalog folder."""
    return hashlib.sha256(str(catalog.root.resolve()).encode()).hexdigest()[:16]


def open_audit(settings: Settings) -> AuditLog | None:
    audit = settings.audit
    if audit.path is None:
        return None
    return AuditLog(
        audit.path, max_bytes=audit.max_bytes, backups=audit.backups, raw_arguments=audit.raw_arguments
    )


async def serve_stdio(catalog: Catalog, settings: Settings, profile: str = DEFAULT_PROFILE) -> None:
    """Serve one client on stdin/stdout until it closes them or SIGTERM/SIGINT arrives."""
    from skillgate.server.fast_path import FastPath
    from skillgate.server.mcp_server import SkillgateServer
    from skillgate.server.stdio import serving_streams

    audit = open_audit(settings)
    _tracing(settings)
    async with anyio.create_task_group() as tg, UpstreamPool(os.environ) as pool:
        tg.start_soon(_exit_on_signal_stdio, pool)
        gateway = _gateway(catalog, pool, settings)
        gateway.warm_up(settings.warm)
        tg.start_soon(_prestart_renderer, gateway)
        app = SkillgateServer(
            gateway,
            profile=profile,
            view=settings.profile(profile),
            audit=audit,
            dynamic=settings.dynamic,
            one_client=True,
            cache=DiskCache(settings.cache_folder(os.environ), "startup"),
        )
        stop = anyio.Event()
        if settings.reload.enabled:
            tg.start_soon(Reloader(gateway, [app.catalog_changed, _warm(gateway, settings)]).watch, stop)
        fast = FastPath(app) if settings.lanes.on(os.environ) else None
        async with serving_streams(fast) as (read, write):
            await app.server.run(read, write, app.server.create_initialization_options())
        stop.set()
        tg.cancel_scope.cancel()


async def _prestart_renderer(gateway: Gateway) -> None:
    """A render worker, started just after the handshake rather than on the first load_skill."""
    await anyio.sleep(PRESTART_DELAY)
    await anyio.to_thread.run_sync(gateway.renderer.prestart)


def _warm(gateway: Gateway, settings: Settings) -> Callable[[], Awaitable[None]]:
    """After a reload, start the warm upstreams of new or changed bindings."""

    async def warm() -> None:
        gateway.warm_up(settings.warm)

    return warm


async def _exit_on_signal_stdio(pool: UpstreamPool) -> None:
    """Stop the upstreams, then exit: the stdin reader is a thread no cancellation reaches."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            await pool.shutdown()
            from skillgate.observe import tracing

            tracing.shutdown()  # queued spans are sent before the process ends
            sys.stdout.flush()
            os._exit(0)


def http_tokens(settings: Settings, environ: Mapping[str, str]) -> Tokens:
    """The bearer tokens, refusing an open non-loopback server unless told to allow it."""
    from skillgate.server.http import LOOPBACK, Tokens

    tokens = Tokens(settings.token_values(environ))
    if settings.host not in LOOPBACK and not tokens.enabled and not settings.allow_unauthenticated:
        raise UsageError(
            f"refusing to serve {settings.host} without authentication: add [[tokens]] to the settings file, "
            "or pass --allow-unauthenticated (allow_unauthenticated = true) if something else guards it"
        )
    return tokens


async def serve_http(catalog: Catalog, settings: Settings) -> None:
    """Serve streamable HTTP at /mcp and /mcp/<profile> until SIGINT/SIGTERM."""
    from skillgate.server.http import build_app
    from skillgate.server.mcp_server import SkillgateServer

    tokens = http_tokens(settings, os.environ)
    audit = open_audit(settings)
    _tracing(settings)
    async with UpstreamPool(os.environ) as pool:
        gateway = _gateway(catalog, pool, settings)
        gateway.warm_up(settings.warm)
        metrics = None
        if settings.metrics.enabled:
            from skillgate.observe.metrics import Metrics

            metrics = Metrics(gateway, audit, META_TOOLS)
            if settings.metrics.port is not None:  # the usual pattern: a loopback port, no auth
                from prometheus_client import start_http_server

                start_http_server(settings.metrics.port, addr="127.0.0.1", registry=metrics.registry)
        servers = {
            name: SkillgateServer(
                gateway,
                profile=name,
                view=settings.profile(name),
                audit=audit,
                dynamic=settings.dynamic,
                cache=DiskCache(settings.cache_folder(os.environ), "startup"),
                metrics=metrics,
            )
            for name in settings.profile_names
        }
        reloader = Reloader(
            gateway, [*(s.catalog_changed for s in servers.values()), _warm(gateway, settings)]
        )

        async def lifespan() -> AsyncIterator[None]:
            stop = anyio.Event()
            async with anyio.create_task_group() as tg:
                if settings.reload.enabled:
                    tg.start_soon(reloader.watch, stop)
                tg.start_soon(_prestart_renderer, gateway)
                yield
                stop.set()  # the watcher's thread ends at its next step, without a cancel wait

        app = build_app(
            gateway,
            servers,
            tokens,
            host=settings.host,
            stateless=settings.stateless,
            extra_hosts=settings.allowed_hosts,
            lifespan=lifespan,
            metrics=metrics if settings.metrics.port is None else None,
        )
        headers = {"headers": {"Authorization": "Bearer <token>"}} if tokens.enabled else {}

        def announce(url: str) -> str:
            entry = json.dumps({"mcpServers": {"skillgate": {"url": f"{url}/mcp", **headers}}})
            serving = f"skillgate: serving {count(len(catalog), 'skill')} at {url}/mcp"
            return f"{serving}\nPoint an MCP client at it, e.g. {entry}"

        await _run_uvicorn(app, settings.host, settings.port, announce)
    from skillgate.observe import tracing

    tracing.shutdown()


async def serve_preview(catalog: Catalog, host: str, port: int, audit: list[Path] | None = None) -> None:
    """The preview page until SIGINT/SIGTERM."""
    from skillgate.authoring.preview import build_preview

    app = build_preview(catalog, os.environ, ranker=search_ranker(Settings()), host=host, audit=audit)
    await _run_uvicorn(
        app, host, port, lambda url: f"skillgate: preview of {count(len(catalog), 'skill')} at {url}/"
    )


async def _run_uvicorn(app: Any, host: str, port: int, announce: Callable[[str], str]) -> None:
    import uvicorn

    class _Uvicorn(uvicorn.Server):
        """uvicorn without its own signal handling: skillgate stops it, then its upstreams, then exits 0."""

        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    listening = listen(host, port)  # before uvicorn: a busy port is one line, not its traceback
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = _Uvicorn(config)
    with listening:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_announce, server, announce)
            tg.start_soon(_exit_on_signal, server)
            await server.serve(sockets=[listening])
            tg.cancel_scope.cancel()


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, or a people's error naming the port and what to do."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(
            f"cannot listen on {host!r}: the host name does not resolve ({exc}); use an IP address"
        ) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} on {host} is in use (another skillgate, or another server); stop it, or pick "
                f"another port: `--port {port + 1}` (`make run PORT={port + 1}`)"
            ) from None
        if exc.errno == errno.EACCES:
            raise UsageError(
                f"not allowed to listen on port {port}: ports below 1024 need root; pick one above 1024"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; check --host") from None
    return sock


async def _exit_on_signal(server: uvicorn.Server) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            server.should_exit = True
            return


async def _announce(server: uvicorn.Server, message: Callable[[str], str]) -> None:
    while not server.started:
        await anyio.sleep(0.02)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(message(f"http://{shown}:{port}"), file=sys.stderr, flush=True)
