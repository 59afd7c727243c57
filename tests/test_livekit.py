"""The LiveKit agents MCP client, driven directly (no room, no LLM), against skillgate over
streamable HTTP and over stdio: list the tools, find a skill by a spoken-style query, load it,
call a real upstream, and see progress from a slow upstream reach the client."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import REPO, faulty_server, time_server, write_skill
from tests.support.replica import replica

if TYPE_CHECKING:
    from livekit.agents.llm import mcp

pytestmark = pytest.mark.anyio
# LAZY: the client library is imported inside the tests that use it; at the top it cost about 1.4 s
# of CPU in every pytest worker, each of which collects every module.
VOICE_PAGE = (REPO / "docs" / "voice.md").read_text()


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    write_skill(
        tmp_path,
        "time-zones",
        "Tell the current time in any city or time zone.",
        servers={"time": time_server(allowedTools=["get_current_time", "convert_time"])},
    )
    write_skill(tmp_path, "long-jobs", "Run slow jobs that report progress.", servers={"f": faulty_server()})
    write_skill(tmp_path, "recipes", "Suggest recipes for dinner.")
    return tmp_path


@pytest.fixture
def http_url(catalog: Path) -> Iterator[str]:
    with replica(catalog) as (_, url):
        yield url


@pytest.fixture
async def livekit_http(http_url: str) -> AsyncIterator[mcp.MCPServer]:
    from tests.livekit_agent import skillgate_http  # see LAZY

    server = skillgate_http(http_url)
    await server.initialize()
    yield server
    await server.aclose()


class RunContextStandIn:
    """What LiveKit's tool wrapper needs of a voice RunContext: `update(message)` (spoken while it runs)."""

    def __init__(self) -> None:
        self.updates: list[str] = []

    async def update(self, message: str) -> None:
        self.updates.append(message)


async def tools_by_name(server: mcp.MCPServer, **options: Any) -> dict[str, Any]:
    from livekit.agents.llm.tool_context import get_raw_function_info  # see LAZY

    tools = await server.list_tools(tool_options=options or None)
    return {get_raw_function_info(t).name: t for t in tools}


def content(result: str) -> str:
    """LiveKit's default resolver hands the LLM the content block as JSON."""
    return str(json.loads(result)["text"])


async def flow(server: mcp.MCPServer) -> None:
    tools = await tools_by_name(server)
    assert list(tools) == ["list_skills", "load_skill", "call_skill"]  # all on LiveKit's first page
    found = content(
        await tools["list_skills"](raw_arguments={"query": "uh what time is it in tokyo right now"})
    )
    assert found.splitlines()[0].startswith("- time-zones:")
    loaded = content(await tools["load_skill"](raw_arguments={"name": "time-zones"}))
    assert "get_current_time(timezone: string)" in loaded  # the tool with its arguments
    called = content(
        await tools["call_skill"](
            raw_arguments={
                "name": "time-zones",
                "tool": "get_current_time",
                "arguments": {"timezone": "Asia/Tokyo"},
            }
        )
    )
    assert json.loads(called)["timezone"] == "Asia/Tokyo"
    with_progress = await tools_by_name(server, call_skill={"report_progress": True})
    ctx = RunContextStandIn()
    slow = await with_progress["call_skill"](
        ctx, raw_arguments={"name": "long-jobs", "tool": "slow", "arguments": {"steps": 3}}
    )
    assert content(slow) == "done after 3 steps"
    assert ctx.updates == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]


async def test_livekit_client_over_streamable_http(livekit_http: mcp.MCPServer) -> None:
    await flow(livekit_http)


async def test_livekit_client_over_stdio(catalog: Path) -> None:
    from tests.livekit_agent import skillgate_stdio  # see LAZY

    server = skillgate_stdio(str(catalog), command=str(REPO / ".venv" / "bin" / "skillgate"))
    await server.initialize()
    try:
        await flow(server)
    finally:
        await server.aclose()


def test_the_readme_shows_the_example_the_tests_use() -> None:
    from tests.livekit_agent import SKILLGATE_INSTRUCTIONS  # see LAZY

    (block,) = [b for b in re.findall(r"```python\n(.*?)```", VOICE_PAGE, re.DOTALL) if "SkillAgent" in b]
    assert block == (REPO / "tests" / "livekit_agent.py").read_text()
    assert "list_skills(query)" in SKILLGATE_INSTRUCTIONS
