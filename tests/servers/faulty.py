"""A small upstream MCP server for fault tests: it can hang, crash and report its pid.

Run: python -m tests.servers.faulty [--echo-description TEXT]
(the option changes a tool definition between runs, for lock drift tests).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import anyio
from mcp.server.mcpserver import Context, MCPServer

_parser = argparse.ArgumentParser()
_parser.add_argument("--echo-description", default="Return the text, repeated `times` times.")
_parser.add_argument("--junk", type=int, default=0, help="Non-JSON lines to print on stdout at start.")
_parser.add_argument("--http", type=int, default=0, help="Serve streamable HTTP on this port, not stdio.")
_parser.add_argument("--sigterm-exit", type=int, default=None, help="Exit with this code on SIGTERM.")
OPTIONS = _parser.parse_known_args(sys.argv[1:])[0]

server = MCPServer("faulty")


@server.tool(description=OPTIONS.echo_description)
def echo(text: str, times: int = 1) -> str:
    """Return the text, repeated `times` times."""
    return text * times


@server.tool()
def getenv(name: str) -> str:
    """The value of an environment variable of this server (to test secret redaction)."""
    return os.environ.get(name, "")


@server.tool()
def pid() -> int:
    """The process id of this server."""
    return os.getpid()


@server.tool()
async def hang(seconds: float = 3600) -> str:
    """Sleep for `seconds` before answering."""
    await anyio.sleep(seconds)
    return "woke up"


@server.tool()
async def wait_for_cancel(marker: str) -> str:
    """Write MARKER.started once the call runs; wait until it is cancelled, then write
    'cancelled' to the file `marker`."""
    Path(f"{marker}.started").write_text("started")
    try:
        await anyio.sleep(3600)
    except anyio.get_cancelled_exc_class():
        Path(marker).write_text("cancelled")
        raise
    return "never cancelled"


@server.tool()
async def slow(steps: int, ctx: Context, delay: float = 0.05) -> str:
    """Report progress with a message at each of `steps` steps, then answer."""
    for step in range(1, steps + 1):
        await anyio.sleep(delay)
        await ctx.report_progress(step, steps, f"step {step} of {steps}")
    return f"done after {steps} steps"


@server.tool()
def crash() -> str:
    """Exit the process at once, without answering."""
    os._exit(3)


@server.tool()
async def leak(name: str, ctx: Context) -> str:
    """Show the environment variable `name` on stderr and in a progress message (secret masking tests)."""
    value = os.environ.get(name, "")
    print(f"stderr says {value}", file=sys.stderr, flush=True)
    await ctx.report_progress(1, 1, f"progress says {value}")
    return "shown"


@server.tool()
def traceparent(ctx: Context) -> str:
    """The W3C traceparent this call arrived with in its _meta (tracing tests), or nothing."""
    meta = ctx.request_context.meta or {}
    return str(meta.get("traceparent", ""))


@server.tool()
def request_id(ctx: Context) -> str:
    """The JSON-RPC id this call arrived with (which client path sent it), and its protocol era."""
    return f"{ctx.request_id} {ctx.request_context.protocol_version}"


@server.tool()
async def grow(ctx: Context) -> str:
    """Add a tool named `grown`, and tell the client the tool list changed."""

    def grown() -> str:
        """A tool added while running."""
        return "grown"

    server.add_tool(grown)
    await ctx.notify_tools_changed()  # 2026-era clients listening on subscriptions/listen
    await ctx.session.send_tool_list_changed()  # handshake-era clients
    return "added"


if __name__ == "__main__":
    if OPTIONS.sigterm_exit is not None:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(OPTIONS.sigterm_exit))
    for number in range(OPTIONS.junk):
        print(f"junk line {number}: this is not JSON-RPC", flush=True)
    if OPTIONS.http:
        server.run("streamable-http", host="127.0.0.1", port=OPTIONS.http)
    else:
        server.run("stdio")
