"""The stdio call lane: call_skill answered straight from the wire must be the SDK's answer,
byte for byte, with the same audit lines, progress and cancellation, in both protocol eras."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import anyio.abc
import pytest

from skillgate.server.stdio import StdioLane, parse
from tests.conftest import REPO, faulty_server, started, write_skill

pytestmark = pytest.mark.anyio

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "wire-test", "version": "1.0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


class Wire:
    """A JSON-RPC client writing and reading raw lines, so the answers are compared as sent."""

    def __init__(self, process: anyio.abc.Process, modern: bool) -> None:
        self.process = process
        self.modern = modern
        self.buffer = b""
        self.next_id = 0

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(json.dumps(message).encode() + b"\n")

    async def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        with anyio.fail_after(20):
            while b"\n" not in self.buffer:
                self.buffer += await self.process.stdout.receive()
        line, self.buffer = self.buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def request(self, method: str, params: dict[str, Any], **meta: Any) -> dict[str, Any]:
        self.next_id += 1
        if self.modern or meta:
            params = {**params, "_meta": {**(MODERN_META if self.modern else {}), **meta}}
        return {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}

    async def call(self, arguments: Any, tool: str = "call_skill", **meta: Any) -> list[dict[str, Any]]:
        """A meta-tool call; every line up to its answer (progress notifications first)."""
        request = self.request("tools/call", {"name": tool, "arguments": arguments}, **meta)
        await self.send(request)
        lines = [await self.receive()]
        while lines[-1].get("id") != request["id"]:
            lines.append(await self.receive())
        return lines


@asynccontextmanager
async def wire(catalog: Path, modern: bool, lane: bool, audit: Path) -> AsyncIterator[Wire]:
    config = audit.with_suffix(".toml")
    config.write_text(f"[audit]\npath = {json.dumps(str(audit))}\n")
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO),
        "SKILLGATE_CALL_LANE": "on" if lane else "off",
    }
    command = [sys.executable, "-m", "skillgate", "--log-level", "debug", "serve", str(catalog)]
    with audit.with_suffix(".log").open("wb") as log:
        process = await anyio.open_process(
            [*command, "--config", str(config)], env=env, cwd=str(REPO), stderr=log
        )
    async with process:
        client = Wire(process, modern)
        if modern:
            await client.send(client.request("server/discover", {}))
        else:
            await client.send(
                client.request(
                    "initialize",
                    {
                        "protocolVersion": "2025-11-25",
                        "capabilities": {},
                        "clientInfo": {"name": "wire-test", "version": "1.0"},
                    },
                )
            )
        await client.receive()
        if not modern:
            await client.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        yield client
        assert process.stdin is not None
        await process.stdin.aclose()
        with anyio.fail_after(20):
            await process.wait()


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    write_skill(
        root,
        "faults",
        servers={"f": {**faulty_server(), "allowedTools": ["echo", "slow", "wait_for_cancel"]}},
    )
    write_skill(root, "notes", "Instructions only.")
    return root


CALLS: list[Any] = [
    {"name": "faults", "tool": "echo", "arguments": {"text": "hi", "times": 2}},
    {"name": "faults", "tool": "echo", "arguments": {"text": "ünïcode ✓"}},
    {"name": "faults", "tool": "echo", "arguments": {"times": "many"}},  # the schema check refuses it
    {"name": "faults", "tool": "crash", "arguments": {}},  # not in the allowlist
    {"name": "fault", "tool": "echo", "arguments": {"text": "x"}},  # did you mean "faults"
    {"name": "notes", "tool": "echo"},  # a skill without tools
    {"name": "faults"},  # call_skill's own arguments are incomplete
    {"name": "faults", "tool": "echo", "arguments": "not an object"},
    ["not", "an", "object"],  # the lane leaves this to the SDK
]


OTHER_CALLS: list[tuple[str, Any]] = [
    ("list_skills", {"query": "faults"}),
    ("list_skills", {}),
    ("list_skills", {"limit": 0}),  # refused by the argument model
    ("load_skill", {"name": "faults"}),
    ("load_skill", {"name": "notes", "section": "Title"}),
    ("load_skill", {"name": "nope"}),
    ("load_skill", {"name": "notes", "file": "missing.md"}),
]


async def session(catalog: Path, modern: bool, lane: bool, audit: Path) -> list[list[dict[str, Any]]]:
    async with wire(catalog, modern, lane, audit) as client:
        answers = [await client.call(arguments) for arguments in CALLS]
        answers += [await client.call(arguments, tool) for tool, arguments in OTHER_CALLS]
        answers.append(await client.call(CALLS[0], progressToken="p-1"))
        answers.append(
            await client.call({"name": "faults", "tool": "slow", "arguments": {"steps": 3}}, progressToken=7)
        )
        return answers


def audit_lines(path: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in line.items() if k not in ("time", "duration_ms")} for line in lines]


@pytest.mark.parametrize("modern", [True, False], ids=["2026", "handshake"])
async def test_the_lane_answers_exactly_as_the_sdk_does(catalog: Path, tmp_path: Path, modern: bool) -> None:
    through_sdk = await session(catalog, modern, lane=False, audit=tmp_path / "sdk.jsonl")
    through_lane = await session(catalog, modern, lane=True, audit=tmp_path / "lane.jsonl")
    assert through_lane == through_sdk
    assert audit_lines(tmp_path / "lane.jsonl") == audit_lines(tmp_path / "sdk.jsonl")
    # The answers are the ones a client needs, and the lane did answer them.
    assert through_lane[0][0]["result"]["content"][0]["text"] == "hihi"
    assert "Did you mean 'faults'?" in through_lane[4][0]["result"]["content"][0]["text"]
    progress = [line["params"] for line in through_lane[-1][:-1]]
    assert [(p["progressToken"], p["progress"], p["total"]) for p in progress] == [
        (7, 1, 3),
        (7, 2, 3),
        (7, 3, 3),
    ]
    assert "meta-tool calls answered on the stdio call lane" in (tmp_path / "lane.log").read_text()
    loaded = through_lane[len(CALLS) + 3][0]["result"]
    assert loaded["structuredContent"]["name"] == "faults" and not loaded["isError"]
    assert "call lane" not in (tmp_path / "sdk.log").read_text()
    if modern:
        assert (
            through_lane[0][0]["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "skillgate"
        )


@pytest.mark.parametrize("modern", [True, False], ids=["2026", "handshake"])
async def test_a_cancelled_lane_call_is_cancelled_upstream_and_never_answered(
    catalog: Path, tmp_path: Path, modern: bool
) -> None:
    marker = tmp_path / "cancelled.txt"
    async with wire(catalog, modern, lane=True, audit=tmp_path / "audit.jsonl") as client:
        await client.call(CALLS[0])  # the upstream is up
        slow = client.request(
            "tools/call",
            {
                "name": "call_skill",
                "arguments": {
                    "name": "faults",
                    "tool": "wait_for_cancel",
                    "arguments": {"marker": str(marker)},
                },
            },
        )
        await client.send(slow)
        await started(marker)
        cancel: dict[str, Any] = {"requestId": slow["id"], "reason": "the user moved on"}
        if modern:
            cancel["_meta"] = MODERN_META
        await client.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": cancel})
        with anyio.fail_after(10):
            while not marker.exists():
                await anyio.sleep(0.05)
        assert marker.read_text() == "cancelled"
        after = await client.call(CALLS[0])
        assert [line["id"] for line in after] == [slow["id"] + 1]  # nothing came for the cancelled one
    outcomes = [line["outcome"] for line in audit_lines(tmp_path / "audit.jsonl")]
    assert outcomes == ["ok", "cancelled", "ok"]


class Tasks:
    """Stands in for the task group: records the calls the lane starts instead of running them."""

    def __init__(self) -> None:
        self.started: list[Any] = []

    def start_soon(self, fn: Any, *args: Any) -> None:
        self.started.append(args[0].request.id)  # the MetaCall


def lane_of(dynamic: bool = False) -> tuple[StdioLane, Tasks, Any]:
    lane = StdioLane(SimpleNamespace(app=SimpleNamespace(dynamic=dynamic)))  # type: ignore[arg-type]
    lane._outbound = SimpleNamespace()  # type: ignore[assignment]
    return lane, Tasks(), SimpleNamespace(notification=None)


def parsed(message: Any) -> Any:
    result = parse(json.dumps(message))
    assert not isinstance(result, Exception), result
    return result


def call(request_id: Any = 1, name: str = "call_skill", **params: Any) -> Any:
    arguments = {"name": "s", "tool": "t", "arguments": {}}
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments, **params},
    }


async def test_the_lane_takes_only_what_it_answers_exactly_in_the_2026_era() -> None:
    lane, tasks, write = lane_of()

    def takes(message: Any) -> bool:
        return lane.take(parsed(message), write, tasks)  # type: ignore[arg-type]

    assert not takes(call(0, _meta=MODERN_META))  # the first request decides the era: the SDK's
    assert lane.modern is True
    assert takes(call(1, _meta=MODERN_META))
    old = {**MODERN_META, "io.modelcontextprotocol/protocolVersion": "2025-11-25"}
    assert not takes(call(2, _meta=old))  # the SDK's classifier refuses it
    no_capabilities = {k: v for k, v in MODERN_META.items() if "Capabilities" not in k}
    assert not takes(call(3, _meta=no_capabilities))
    assert not takes(call(4))  # no envelope on a 2026 connection: the SDK refuses it
    assert not takes({"jsonrpc": "2.0", "id": 5, "method": "initialize", "params": {}})
    assert not takes(call(6, name="s__call_skill", _meta=MODERN_META))  # a dynamic tool
    assert tasks.started == [1]


async def test_the_lane_takes_handshake_calls_only_after_a_successful_initialize() -> None:
    from mcp_types import JSONRPCError, JSONRPCResponse

    lane, tasks, write = lane_of()

    def takes(message: Any) -> bool:
        return lane.take(parsed(message), write, tasks)  # type: ignore[arg-type]

    init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}
    assert not takes({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init})
    assert lane.modern is False
    assert not takes(call(1))  # not answered yet
    lane.sent(JSONRPCError(jsonrpc="2.0", id=0, error={"code": -32602, "message": "no"}))
    assert not takes(call(2))  # the handshake failed
    assert not takes({"jsonrpc": "2.0", "id": "7", "method": "initialize", "params": init})
    lane.sent(JSONRPCResponse(jsonrpc="2.0", id=7, result={"protocolVersion": "2025-06-18"}))  # "7" is 7
    assert lane._handshake is not None and lane._handshake.protocol_version == "2025-06-18"
    assert takes(call(3))
    assert not takes(call(4, _meta=MODERN_META))  # the SDK refuses an envelope on a handshake connection
    load = call(5, name="load_skill")
    assert takes(load)
    dynamic, dynamic_tasks, _ = lane_of(dynamic=True)
    dynamic.modern, dynamic._handshake = False, lane._handshake
    assert not dynamic.take(parsed(load), write, dynamic_tasks)  # it changes the session's tool list
    for declined in (call(True), call(None), call(1.5)):  # the SDK reads these as notifications
        assert not takes(declined)
    assert takes(call(6, arguments=["x"])) is not False  # taken: the kernel answers INVALID_PARAMS
    assert tasks.started == [3, 5, 6]


async def test_cancellations_find_the_calls_the_lane_holds_as_the_sdk_finds_its_own() -> None:
    lane, tasks, write = lane_of()
    lane.modern = True
    for request_id in (5, "x"):
        assert lane.take(parsed(call(request_id, _meta=MODERN_META)), write, tasks)  # type: ignore[arg-type]

    def cancels(request_id: Any) -> bool:
        message = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request_id}}
        return lane.take(parsed(message), write, tasks)  # type: ignore[arg-type]

    for odd in ([5], {"id": 5}, 5.0, True, None, "y", 6):
        assert not cancels(odd)  # not a call the lane holds: the SDK's (which ignores the odd ones)
    assert cancels("5")  # "5" and 5 are one id to the SDK's dispatcher
    assert lane._in_flight[5].exchange.cancel_requested.is_set()
    assert cancels("x")
    # A request handed to the SDK with the id of a lane call is the newest with that id: the
    # SDK's table now holds it, so its cancellation goes there.
    assert not lane.take(parsed({"jsonrpc": "2.0", "id": "x", "method": "ping"}), write, tasks)  # type: ignore[arg-type]
    assert not cancels("x")
