"""A do-nothing stdio relay: it starts a server and copies lines both ways, nothing else.

The latency bench calls a server through it to measure the floor of any gateway written in
Python on this machine: one more process and two more pipe hops, with asyncio's event loop.

Run by the bench: python -m tests.benchmarks.relay COMMAND [ARGS...]
"""

from __future__ import annotations

import asyncio
import os
import sys


async def relay(argv: list[str]) -> None:
    server = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert server.stdin is not None and server.stdout is not None
    loop = asyncio.get_running_loop()
    client = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(client), os.fdopen(0, "rb", buffering=0)
    )
    out, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(1, "wb", buffering=0))

    async def up() -> None:
        while line := await client.readline():
            server.stdin.write(line)  # type: ignore[union-attr]
        server.stdin.close()  # type: ignore[union-attr]

    async def down() -> None:
        while line := await server.stdout.readline():  # type: ignore[union-attr]
            out.write(line)

    await asyncio.gather(up(), down())


if __name__ == "__main__":
    asyncio.run(relay(sys.argv[1:]))
