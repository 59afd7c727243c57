"""skillgate as a real process: stdio in both eras, a third-party client, HTTP, and clean exits."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import EXAMPLES, REPO, faulty_server, pid_alive, text_of, wait_until_dead, write_skill
from tests.support.replica import replica

pytestmark = pytest.mark.anyio


def gateway_params(catalog: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "skillgate", "serve", str(catalog)],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
        cwd=str(REPO),
    )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_gateway_serves_the_example_catalog_in_both_eras(mode: str) -> None:
    async with Client(gateway_params(EXAMPLES), mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == [
            "list_skills",
            "load_skill",
            "call_skill",
        ]
        assert client.instructions is not None and "time-zones" in client.instructions
        found = await client.call_tool("list_skills", {"query": "what time is it in Tokyo"})
        assert found.structured_content is not None
        assert found.structured_content["skills"][0]["name"] == "time-zones"
        loaded = await client.call_tool("load_skill", {"name": "time-zones", "variables": {"style": "full"}})
        assert "UTC offset" in text_of(loaded)
        result = await client.call_tool(
            "call_skill",
            {"name": "time-zones", "tool": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}},
        )
        assert not result.is_error and result.structured_content is not None
        assert result.structured_content["timezone"] == "Asia/Tokyo"


async def test_fastmcp_client_lists_loads_and_calls() -> None:
    from fastmcp import Client as FastMCPClient  # imported here: 0.7 s of CPU in every worker
    from fastmcp.client.transports import StdioTransport

    transport = StdioTransport(
        command=sys.executable,
        args=["-m", "skillgate", "serve", str(EXAMPLES)],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
        cwd=str(REPO),
    )
    async with FastMCPClient(transport) as client:
        names = [t.name for t in await client.list_tools()]
        assert names == ["list_skills", "load_skill", "call_skill"]
        listed = await client.call_tool("list_skills", {})
        assert listed.structured_content["skills"][0]["name"] == "commit-messages"
        # Typed results, built by fastmcp from the declared output schemas.
        assert type(listed.data).__name__ == "SkillPage" and listed.data.skills[0].name == "commit-messages"
        loaded = await client.call_tool("load_skill", {"name": "time-zones"})
        assert loaded.data.instructions == loaded.structured_content["instructions"]
        assert "get_current_time" in [tool.name for tool in loaded.data.tools]
        path = "references/conventional-commits.md"
        file = await client.call_tool("load_skill", {"name": "commit-messages", "file": path})
        assert file.data.path == path and file.data.mimeType.startswith("text/")
        assert file.data.text == (EXAMPLES / "commit-messages" / path).read_text()
        result = await client.call_tool(
            "call_skill",
            {"name": "time-zones", "tool": "convert_time", "arguments": {
                "source_timezone": "Europe/Berlin", "time": "09:00", "target_timezone": "Asia/Tokyo"}},
        )  # fmt: skip
        assert "Asia/Tokyo" in result.content[0].text  # type: ignore[union-attr]
        assert result.data == result.structured_content  # the upstream's result: a plain mapping


@pytest.fixture
def faulty_catalog(tmp_path: Path) -> Path:
    write_skill(tmp_path, "f", servers={"faulty": faulty_server()})
    return tmp_path


async def upstream_pid(client: Client) -> int:
    return int(text_of(await client.call_tool("call_skill", {"name": "f", "tool": "pid"})))


async def test_nothing_outlives_a_gateway_whose_client_closed(
    faulty_catalog: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The quick exit after stdin closes still stops the upstream and the render workers, and the
    audit line of the last call is on disk."""
    outside = tmp_path_factory.mktemp("settings")  # not in the catalog folder
    audit = outside / "audit.jsonl"
    config = outside / "skillgate.toml"
    config.write_text(f"[audit]\npath = {json.dumps(str(audit))}\n")
    params = gateway_params(faulty_catalog)
    params.args += ["--config", str(config)]
    async with Client(params) as client:
        pid = await upstream_pid(client)
        loaded = await client.call_tool("load_skill", {"name": "f"})  # a render worker serves it
        assert not loaded.is_error
        gateway = next(p for p in _children(os.getpid()) if f"serve {faulty_catalog} " in _command(p))
        workers = [p for p in _children(gateway) if "skillgate.render.worker" in _command(p)]
        assert pid_alive(pid) and workers
    assert wait_until_dead(pid) and all(wait_until_dead(w) for w in workers) and wait_until_dead(gateway)
    assert json.loads(audit.read_text().splitlines()[-1])["method"] == "load_skill"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _command(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture
def http_gateway(faulty_catalog: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    with replica(faulty_catalog) as found:
        yield found


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_http_gateway_answers_both_eras_and_sigterm_leaves_no_upstream(
    http_gateway: tuple[subprocess.Popen[bytes], str], mode: str
) -> None:
    process, url = http_gateway
    assert url.startswith("http://127.0.0.1:")
    async with Client(url, mode=mode) as client:
        listed = await client.call_tool("list_skills", {})
        assert listed.structured_content is not None and listed.structured_content["total"] == 1
        pid = await upstream_pid(client)
    process.send_signal(signal.SIGTERM)
    await anyio.to_thread.run_sync(lambda: process.wait(20))
    assert process.returncode == 0
    assert wait_until_dead(pid)


async def test_sigterm_to_a_stdio_gateway_leaves_no_upstream(faulty_catalog: Path) -> None:
    process = await anyio.open_process(
        [sys.executable, "-m", "skillgate", "serve", str(faulty_catalog)], cwd=REPO, stderr=subprocess.DEVNULL
    )
    async with process:
        assert process.stdin is not None and process.stdout is not None
        messages = [
            '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
            '"capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}',
            '{"jsonrpc":"2.0","method":"notifications/initialized"}',
            '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"call_skill",'
            '"arguments":{"name":"f","tool":"pid"}}}',
        ]
        await process.stdin.send(("\n".join(messages) + "\n").encode())
        buffer = b""
        with anyio.fail_after(30):
            while b'"id":2' not in buffer:
                buffer += await process.stdout.receive()
        pid = int(re.search(rb'"result":(\d+)', buffer).group(1))  # type: ignore[union-attr]
        assert pid_alive(pid)
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            await process.wait()
    assert wait_until_dead(pid)
