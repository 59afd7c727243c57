"""Upstream faults stay one call's problem (issue 22): a hand-written hostile server
(tests/servers/hostile.py) over stdio and over streamable HTTP, in both eras, answers calls with
error codes of every kind (-32000 included), numbers no float holds, odd notifications, answers
to ids never sent, late and duplicate answers, and an answer over the 64 MiB message limit.

The property: each fault is that call's result or error; the connection survives (the server's
process id is unchanged) unless the transport really died; the next call works; and a call in
flight beside a faulty one is not failed by it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skillgate.base.limits import MESSAGE_BYTES
from tests.conftest import REPO, free_port, gateway_client, listening, text_of, write_skill

pytestmark = pytest.mark.anyio

ERROR_CODES = [-32000, -32001, -32099, -32600, -32601, -32602, -32603, -32700, -1, 0, 1, 42, 2**31 - 1]
# fault -> (arguments, what the call answers: None for an error, else a text in its result)
FAULTS: dict[str, tuple[dict[str, Any], str | None]] = {
    "huge_progress": ({}, "after the huge progress"),
    "inf_progress": ({}, "after the infinite progress"),
    "odd_notes": ({}, "after the odd notifications"),
    "stranger": ({}, "after the stranger"),
    "two_answers": ({}, "first"),
    "list_token": ({}, "after the odd progress"),
    "fine": ({}, "fine"),
}

# Over HTTP the SDK fails the request whose event stream carries a notification it cannot parse
# (that call's error; the connection lives on); over stdio such a line is skipped. And over HTTP
# the first answer on a request's own event stream is that request's, whatever id it names.
CALL_ERRORS = {("http", "odd_notes")}
HTTP_ANSWERS = {"stranger": "for nobody"}


@pytest.fixture(
    scope="module",
    params=[("stdio", False), ("stdio", True), ("http", False), ("http", True)],
    ids=["stdio-handshake", "stdio-2026", "http-handshake", "http-2026"],
)
def hostile(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A catalog of skills bound to the hostile server: `hostile` (calls time out after 3 s) and
    `impatient` (1 s), and `patient` (120 s); the catalog folder's name says the transport."""
    transport, modern = request.param
    tmp = tmp_path_factory.mktemp("faults")
    counts = tmp / "counts.txt"
    argv = ["-m", "tests.servers.hostile", str(counts), *(["--modern"] if modern else [])]
    catalog = tmp / transport
    if transport == "stdio":
        server: dict[str, Any] = {"command": sys.executable, "args": argv, "cwd": str(REPO), "timeout": 3}
        write_skill(catalog, "hostile", servers={"h": server})
        write_skill(catalog, "impatient", servers={"i": {**server, "timeout": 1}})
        write_skill(catalog, "patient", servers={"p": {**server, "timeout": 120}})
        yield catalog
        return
    port = free_port()
    with listening([sys.executable, *argv, "--http", str(port)], port, "/mcp", cwd=REPO) as url:
        write_skill(catalog, "hostile", servers={"h": {"url": url, "timeout": 3}})
        write_skill(catalog, "impatient", servers={"i": {"url": url, "timeout": 1}})
        write_skill(catalog, "patient", servers={"p": {"url": url, "timeout": 120}})
        yield catalog


def counts(catalog: Path) -> list[str]:
    """The tools the hostile server was called with so far, in order (it logs each call)."""
    path = catalog.parent / "counts.txt"
    return path.read_text().split() if path.exists() else []


async def logged(catalog: Path, entry: str, times: int) -> None:
    with anyio.fail_after(20):
        while counts(catalog).count(entry) < times:
            await anyio.sleep(0.01)


def call(tool: str, skill: str = "hostile", **arguments: Any) -> dict[str, Any]:
    return {"name": skill, "tool": tool, "arguments": arguments}


async def pid_of(client: Any, skill: str = "hostile") -> str:
    result = await client.call_tool("call_skill", call("pid", skill))
    assert not result.is_error, text_of(result)
    return text_of(result)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(st.sampled_from(sorted(FAULTS)), st.sampled_from(ERROR_CODES)),
        min_size=1,
        max_size=6,
    )
)
def test_each_upstream_fault_is_one_calls_problem_and_the_connection_survives(
    hostile: Path, faults: list[Any]
) -> None:
    async def run() -> None:
        async with gateway_client(hostile) as (client, _):
            before = await pid_of(client)
            for fault in faults:
                if isinstance(fault, int):
                    result = await client.call_tool("call_skill", call("error", code=fault))
                    assert result.is_error and f"upstream error {fault}" in text_of(result), text_of(result)
                    assert "restarted" not in text_of(result)
                else:
                    arguments, expected = FAULTS[fault]
                    result = await client.call_tool("call_skill", call(fault, **arguments))
                    if result.is_error:  # allowed only where the SDK fails the call it belongs to
                        assert (hostile.name, fault) in CALL_ERRORS, (fault, text_of(result))
                        assert "restarted" not in text_of(result)
                    else:
                        if hostile.name == "http":
                            expected = HTTP_ANSWERS.get(fault, expected)
                        assert expected in text_of(result), (fault, text_of(result))
            assert await pid_of(client) == before  # never restarted: no transport died

    anyio.run(run)


async def test_an_upstream_error_coded_minus_32000_fails_only_its_call_not_the_one_beside_it(
    hostile: Path,
) -> None:
    async with gateway_client(hostile) as (client, _):
        before = await pid_of(client)
        results: dict[str, Any] = {}

        async def late() -> None:
            results["late"] = await client.call_tool("call_skill", call("late", seconds=1))

        async with anyio.create_task_group() as tg:
            calls = counts(hostile).count("late")
            tg.start_soon(late)
            await logged(hostile, "late", calls + 1)  # the late call is in flight
            results["error"] = await client.call_tool("call_skill", call("error", code=-32000))
            assert "late" not in results  # it failed while the late one was still waiting
        assert results["error"].is_error and "upstream error -32000" in text_of(results["error"])
        assert not results["late"].is_error and text_of(results["late"]) == "late"
        assert await pid_of(client) == before


async def test_a_late_answer_after_the_calls_timeout_is_dropped_and_the_next_call_works(
    hostile: Path,
) -> None:
    async with gateway_client(hostile) as (client, _):
        before = await pid_of(client, "impatient")
        sent = counts(hostile).count("late-sent")
        result = await client.call_tool("call_skill", call("late", "impatient", seconds=1.3))
        assert result.is_error and "did not answer within 1 s" in text_of(result), text_of(result)
        await logged(hostile, "late-sent", sent + 1)  # its answer came, for an id no one awaits
        assert await pid_of(client, "impatient") == before


async def test_an_answer_the_sdk_cannot_read_fails_its_call_at_once(hostile: Path) -> None:
    """A lone surrogate in a result: the SDK's parser refuses the line. Over stdio it was junk and
    the call waited out its timeout; now it is that call's error at once, and the next call works."""
    async with gateway_client(hostile) as (client, _):
        before = await pid_of(client, "patient")
        with anyio.fail_after(30):  # the call's own timeout is 120 s
            result = await client.call_tool("call_skill", call("surrogate", "patient"))
        assert result.is_error, text_of(result)
        if hostile.name == "stdio":
            assert "not valid MCP" in text_of(result), text_of(result)
        assert await pid_of(client, "patient") == before
        assert text_of(await client.call_tool("call_skill", call("fine", "patient"))) == "fine"


async def test_an_answer_over_the_message_limit_fails_its_call_at_once_with_the_limit_named(
    hostile: Path,
) -> None:
    async with gateway_client(hostile) as (client, _):
        before = await pid_of(client, "patient")
        # the call's own timeout is 120 s: failing within 30 s (64 MiB sent and read on a busy
        # machine) is failing at once, not waiting the timeout out
        with anyio.fail_after(30):
            result = await client.call_tool("call_skill", call("over_limit", "patient"))
        limit = "64 MiB limit" if hostile.name == "stdio" else f"{MESSAGE_BYTES} byte limit"
        assert result.is_error and limit in text_of(result), text_of(result)[:300]
        assert await pid_of(client, "patient") == before
        counted = json.dumps(text_of(await client.call_tool("call_skill", call("fine", "patient"))))
        assert "fine" in counted
