"""Stateless replicas behind nginx: calls keep succeeding when one replica stops."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import pytest
from mcp import Client

from tests.conftest import faulty_server, text_of, write_skill
from tests.support.nginx import nginx
from tests.support.replica import replica

pytestmark = [pytest.mark.anyio, pytest.mark.nginx]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_calls_through_nginx_survive_losing_a_replica(tmp_path: Path, mode: str) -> None:
    write_skill(tmp_path / "catalog", "echoes", "Echo text back.", servers={"f": faulty_server()})
    catalog = tmp_path / "catalog"
    with replica(catalog, "--stateless") as (first, url1), replica(catalog, "--stateless") as (_, url2):
        ports = [int(u.split(":")[2].split("/")[0]) for u in (url1, url2)]
        with nginx(tmp_path / "nginx", ports) as base:
            async with Client(base + "/mcp", mode=mode) as client:
                pids = set()
                for _ in range(20):  # nginx alternates requests between the replicas
                    pid = await client.call_tool(
                        "call_skill", {"name": "echoes", "tool": "pid", "arguments": {}}
                    )
                    pids.add(text_of(pid))
                assert len(pids) == 2  # both replicas (each with its own upstream) answered
                first.send_signal(signal.SIGTERM)
                await anyio.to_thread.run_sync(lambda: first.wait(20))
                for n in range(20):
                    listed = await client.call_tool("list_skills", {})
                    assert not listed.is_error
                    echoed = await client.call_tool(
                        "call_skill", {"name": "echoes", "tool": "echo", "arguments": {"text": f"b{n}"}}
                    )
                    assert text_of(echoed) == f"b{n}"
