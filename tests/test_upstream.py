"""Upstream connections: sharing, restarts, timeouts, progress and cancellation, with real servers."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import anyio
import pytest

from skillgate.skills.catalog import Catalog
from tests.conftest import faulty_server, gateway_client, started, text_of, write_skill

pytestmark = pytest.mark.anyio


def call(name: str, tool: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "tool": tool, "arguments": arguments}


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    shared = tmp_path / "mcp.json"
    shared.write_text('{"mcpServers": {"faulty": ' + json.dumps(faulty_server()) + "}}")
    write_skill(tmp_path, "echo-only", servers={"faulty": {"allowedTools": ["echo", "pid"]}})
    write_skill(tmp_path, "slow", servers={"faulty": {"allowedTools": ["hang", "wait_for_cancel", "pid"]}})
    write_skill(
        tmp_path,
        "impatient",
        servers={"f2": faulty_server(timeout=0.5, allowedTools=["hang", "wait_for_cancel", "echo"])},
    )
    write_skill(tmp_path, "missing", servers={"gone": {"command": "/nonexistent/mcp-server"}})
    return tmp_path


async def test_skills_sharing_a_server_use_one_process(catalog: Path) -> None:
    async with gateway_client(catalog) as (client, pool):
        one = await client.call_tool("call_skill", call("echo-only", "pid"))
        two = await client.call_tool("call_skill", call("slow", "pid"))
        assert text_of(one) == text_of(two)
        assert len(pool.upstreams) == 1


async def test_upstream_killed_mid_call_errors_and_the_next_call_succeeds(catalog: Path) -> None:
    async with gateway_client(catalog) as (client, pool):
        pid = int(text_of(await client.call_tool("call_skill", call("slow", "pid"))))
        async with anyio.create_task_group() as tg:
            results: list[Any] = []

            async def slow_call() -> None:
                waiting = call("slow", "wait_for_cancel", marker=str(catalog / "killed"))
                results.append(await client.call_tool("call_skill", waiting))

            tg.start_soon(slow_call)
            await started(catalog / "killed")  # the call reached the upstream
            os.kill(pid, signal.SIGKILL)
        (killed,) = results
        assert killed.is_error and "closed the connection" in text_of(killed)
        again = await client.call_tool("call_skill", call("echo-only", "echo", text="back"))
        assert not again.is_error, text_of(again)
        assert text_of(again) == "back"
        new_pid = int(text_of(await client.call_tool("call_skill", call("slow", "pid"))))
        assert new_pid != pid
        assert pool.upstreams[0].restarts >= 1


async def test_a_crash_while_idle_is_healed_before_the_next_call(catalog: Path) -> None:
    async with gateway_client(catalog) as (client, pool):
        pid = int(text_of(await client.call_tool("call_skill", call("slow", "pid"))))
        (upstream,) = pool.upstreams
        os.kill(pid, signal.SIGKILL)
        with anyio.fail_after(20):  # no call is made: the supervisor notices the exit by itself
            while upstream.restarts == 0 or upstream.state != "ready":
                await anyio.sleep(0.05)
        result = await client.call_tool("call_skill", call("echo-only", "echo", text="x"))
        assert not result.is_error, text_of(result)
        assert int(text_of(await client.call_tool("call_skill", call("slow", "pid")))) != pid


async def test_a_hung_upstream_times_out_and_the_gateway_keeps_answering(catalog: Path) -> None:
    async with gateway_client(catalog) as (client, pool):
        (binding,) = Catalog.load(catalog).skills["impatient"].bindings
        await pool.get(binding).tools()  # started first: 0.5 s is the call's limit, start included
        await client.call_tool("call_skill", call("echo-only", "echo", text="started"))
        async with anyio.create_task_group() as tg:
            results: dict[str, Any] = {}

            async def hung() -> None:
                results["hung"] = await client.call_tool("call_skill", call("impatient", "hang"))

            tg.start_soon(hung)
            listed = await client.call_tool("list_skills", {})
            echoed = await client.call_tool("call_skill", call("echo-only", "echo", text="still here"))
            assert "hung" not in results  # both answered while the hung call was waiting
            assert not listed.is_error and text_of(echoed) == "still here"
        assert results["hung"].is_error
        assert "did not answer within 0.5 s" in text_of(results["hung"])


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_call_that_times_out_is_cancelled_upstream_and_the_connection_stays_good(
    catalog: Path, tmp_path: Path, mode: str
) -> None:
    marker = tmp_path / "cancelled.txt"
    async with gateway_client(catalog, mode) as (client, pool):
        (binding,) = Catalog.load(catalog).skills["impatient"].bindings
        await pool.get(binding).tools()
        timed_out = await client.call_tool(
            "call_skill", call("impatient", "wait_for_cancel", marker=str(marker))
        )
        assert timed_out.is_error and "did not answer within 0.5 s" in text_of(timed_out)
        with anyio.fail_after(10):
            while not marker.exists():
                await anyio.sleep(0.05)
        assert marker.read_text() == "cancelled"  # the upstream heard the cancellation, in either era
        ok = await client.call_tool("call_skill", call("impatient", "echo", text="next"))
        assert text_of(ok) == "next"
        assert pool.get(binding).restarts == 0


async def test_a_server_that_cannot_start_fails_fast_with_a_clear_error(catalog: Path) -> None:
    async with gateway_client(catalog) as (client, _):
        first = await client.call_tool("call_skill", call("missing", "x"))
        assert first.is_error
        assert "command not found" in text_of(first) or "could not be started" in text_of(first)
        with anyio.fail_after(2):  # in back-off: fails at once
            second = await client.call_tool("call_skill", call("missing", "x"))
        assert second.is_error and "down" in text_of(second)
        ok = await client.call_tool("call_skill", call("echo-only", "echo", text="fine"))
        assert text_of(ok) == "fine"


async def test_a_skill_whose_server_cannot_start_still_loads_its_instructions(catalog: Path) -> None:
    async with gateway_client(catalog) as (client, _):
        loaded = await client.call_tool("load_skill", {"name": "missing"})
        assert not loaded.is_error
        assert loaded.structured_content is not None
        assert "Do the thing." in loaded.structured_content["instructions"]
        assert loaded.structured_content["tools"] == []
        (warning,) = loaded.structured_content["warnings"]
        assert warning.startswith("its tools are unavailable now: server 'gone'")


async def test_cancelling_a_call_cancels_it_upstream(catalog: Path, tmp_path: Path) -> None:
    marker = tmp_path / "cancelled.txt"
    async with gateway_client(catalog, "legacy") as (client, _):
        await client.call_tool("call_skill", call("slow", "pid"))  # started
        with anyio.move_on_after(0.5):
            await client.call_tool("call_skill", call("slow", "wait_for_cancel", marker=str(marker)))
        with anyio.fail_after(10):
            while not marker.exists():
                await anyio.sleep(0.05)
        assert marker.read_text() == "cancelled"
        ok = await client.call_tool("call_skill", call("echo-only", "echo", text="after"))
        assert text_of(ok) == "after"


async def test_progress_and_cancellation_pass_through_over_streamable_http(
    tmp_path: Path, everything_http: str
) -> None:
    write_skill(
        tmp_path,
        "demo",
        servers={
            "everything": {"url": everything_http, "allowedTools": ["echo", "trigger-long-running-operation"]}
        },
    )
    progress: list[tuple[float, float | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total))

    async with gateway_client(tmp_path, "legacy") as (client, _):
        result = await client.call_tool(
            "call_skill",
            call("demo", "trigger-long-running-operation", duration=0.6, steps=3),
            progress_callback=on_progress,
        )
        assert not result.is_error, text_of(result)
        assert "Long running operation completed" in text_of(result)
        assert progress == [(1, 3), (2, 3), (3, 3)]
        with anyio.move_on_after(0.5) as scope:
            await client.call_tool(
                "call_skill", call("demo", "trigger-long-running-operation", duration=30, steps=2)
            )
        assert scope.cancelled_caught
        echoed = await client.call_tool("call_skill", call("demo", "echo", message="hi"))
        assert "hi" in text_of(echoed)


async def test_legacy_sse_upstream_is_reached_when_the_url_says_so(
    tmp_path: Path, everything_sse: str
) -> None:
    write_skill(tmp_path, "old", servers={"everything": {"url": everything_sse, "allowedTools": ["echo"]}})
    async with gateway_client(tmp_path) as (client, pool):
        echoed = await client.call_tool("call_skill", call("old", "echo", message="over sse"))
        assert "over sse" in text_of(echoed), text_of(echoed)
        assert pool.upstreams[0].binding.kind == "sse"


async def test_expanded_secrets_never_appear_in_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKILLGATE_TEST_SECRET", "hunter2-very-secret")
    write_skill(tmp_path, "s", servers={"x": {"command": "/nonexistent/${SKILLGATE_TEST_SECRET}"}})
    write_skill(tmp_path, "u", servers={"y": {"command": "x", "args": ["${SKILLGATE_TEST_UNSET_VAR}"]}})
    async with gateway_client(tmp_path) as (client, _):
        failed = await client.call_tool("call_skill", call("s", "t"))
        assert failed.is_error and "hunter2" not in text_of(failed)
        assert "***" in text_of(failed)
        unset = await client.call_tool("call_skill", call("u", "t"))
        assert "SKILLGATE_TEST_UNSET_VAR is not set" in text_of(unset)


def test_arguments_utf8_cannot_carry_are_refused_before_they_reach_any_upstream() -> None:
    """Every caller of call_skill (MCP, `skillgate call`, dynamic tools) meets the same check: sent
    upstream, a lone surrogate would break the connection of every call in flight on it."""
    import mcp_types as types

    from skillgate.base.errors import ArgumentsInvalid
    from skillgate.tools.arguments import ArgumentCheck

    tool = types.Tool(name="echo", input_schema={"type": "object"})
    ArgumentCheck().check("server", tool, {"text": "fine"})
    with pytest.raises(ArgumentsInvalid, match="lone surrogate"):
        ArgumentCheck().check("server", tool, {"text": "\ud800"})
