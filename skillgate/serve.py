"""Running the MCP server over stdio or streamable HTTP, with the upstream pool around it."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import uvicorn
from mcp.server.stdio import stdio_server

from skillgate.binding import DriftPolicy
from skillgate.catalog import Catalog
from skillgate.gateway import Gateway
from skillgate.pool import UpstreamPool
from skillgate.server import SkillgateServer


async def serve_stdio(catalog: Catalog, drift: DriftPolicy = "block") -> None:
    """Serve one client on stdin/stdout until it closes them or SIGTERM/SIGINT arrives."""
    async with anyio.create_task_group() as tg, UpstreamPool(os.environ) as pool:
        tg.start_soon(_exit_on_signal_stdio, pool)
        app = SkillgateServer(Gateway(catalog, pool, drift))
        async with stdio_server() as (read, write):
            await app.server.run(read, write, app.server.create_initialization_options())
        tg.cancel_scope.cancel()


async def _exit_on_signal_stdio(pool: UpstreamPool) -> None:
    """Stop the upstreams, then exit: the stdin reader is a thread no cancellation reaches."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            await pool.shutdown()
            sys.stdout.flush()
            os._exit(0)


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: skillgate stops it, then its upstreams, then exits 0."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_http(catalog: Catalog, host: str, port: int, drift: DriftPolicy = "block") -> None:
    """Serve streamable HTTP at /mcp until SIGINT/SIGTERM."""
    async with UpstreamPool(os.environ) as pool:
        app = SkillgateServer(Gateway(catalog, pool, drift))
        asgi = app.server.streamable_http_app(streamable_http_path="/mcp", host=host)
        config = uvicorn.Config(asgi, host=host, port=port, log_level="warning", lifespan="on")
        server = _Uvicorn(config)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_announce, server, len(catalog))
            tg.start_soon(_exit_on_signal, server)
            await server.serve()
            tg.cancel_scope.cancel()


async def _exit_on_signal(server: uvicorn.Server) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            server.should_exit = True
            return


async def _announce(server: uvicorn.Server, skills: int) -> None:
    while not server.started:
        await anyio.sleep(0.02)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    url = f"http://{host}:{port}/mcp"
    print(
        f"skillgate: serving {skills} skills at {url}\n"
        f'Point an MCP client at it, e.g. {{"mcpServers": {{"skillgate": {{"url": "{url}"}}}}}}',
        file=sys.stderr,
        flush=True,
    )
