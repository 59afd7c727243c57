"""Dynamic mode (opt-in): after load_skill, the skill's tools are listed to that session."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import REPO, faulty_server, gateway_client, text_of, time_server, write_skill

pytestmark = pytest.mark.anyio


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    write_skill(
        tmp_path, "clock", "Current time.", servers={"time": time_server(allowedTools=["get_current_time"])}
    )
    write_skill(tmp_path, "echoes", "Echo.", servers={"f": faulty_server(allowedTools=["echo"])})
    return tmp_path


async def test_loaded_skills_tools_appear_and_the_session_is_told(catalog: Path) -> None:
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with gateway_client(catalog, "legacy", dynamic=True, message_handler=on_message) as (client, _):
        assert [t.name for t in (await client.list_tools()).tools] == [
            "list_skills",
            "load_skill",
            "call_skill",
        ]
        await client.call_tool("load_skill", {"name": "clock"})
        with anyio.fail_after(5):
            await changed.wait()
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert list(tools) == ["list_skills", "load_skill", "call_skill", "clock__get_current_time"]
        assert tools["clock__get_current_time"].input_schema["required"] == ["timezone"]
        result = await client.call_tool("clock__get_current_time", {"timezone": "Asia/Tokyo"})
        assert not result.is_error and result.structured_content is not None
        assert result.structured_content["timezone"] == "Asia/Tokyo"
        bad = await client.call_tool("clock__get_current_time", {})
        assert bad.is_error and "'timezone' is a required property" in text_of(bad)
        assert (await client.call_tool("echoes__echo", {"text": "x"})).is_error  # not loaded in this session


async def test_dynamic_mode_is_off_by_default(catalog: Path) -> None:
    async with gateway_client(catalog, "legacy") as (client, _):
        await client.call_tool("load_skill", {"name": "clock"})
        assert len((await client.list_tools()).tools) == 3


async def test_sessions_do_not_see_each_others_tools(catalog: Path) -> None:
    async with gateway_client(catalog, "legacy", dynamic=True) as (first, _):
        await first.call_tool("load_skill", {"name": "echoes"})
        assert "echoes__echo" in [t.name for t in (await first.list_tools()).tools]
    async with gateway_client(catalog, "legacy", dynamic=True) as (second, _):
        assert "echoes__echo" not in [t.name for t in (await second.list_tools()).tools]


async def test_dynamic_tools_over_stdio_in_the_2026_era(catalog: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "skillgate", "serve", str(catalog), "--dynamic"],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
        cwd=str(REPO),
    )
    async with Client(params) as client:
        assert client.protocol_version == "2026-07-28"
        await client.call_tool("load_skill", {"name": "echoes"})
        names = [t.name for t in (await client.list_tools(cache_mode="bypass")).tools]
        assert names[-1] == "echoes__echo"
        assert text_of(await client.call_tool("echoes__echo", {"text": "hi"})) == "hi"
