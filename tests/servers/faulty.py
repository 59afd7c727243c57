"""A small upstream MCP server for fault tests: it can hang, crash and report its pid.

Run: python -m tests.servers.faulty [--echo-description TEXT]
(the option changes a tool definition between runs, for lock drift tests).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import anyio
from mcp.server.mcpserver import Context, MCPServer

_parser = argparse.ArgumentParser()
_parser.add_argument("--echo-description", default="Return the text, repeated `times` times.")
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
    """Wait until the call is cancelled, then write 'cancelled' to the file `marker`."""
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


if __name__ == "__main__":
    server.run("stdio")
