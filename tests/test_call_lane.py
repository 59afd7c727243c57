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

from skillgate.call_lane import CallLane, call_request
from tests.conftest import REPO, faulty_server, write_skill

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
        await anyio.sleep(0.5)
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


def test_the_lane_takes_only_what_it_answers_exactly() -> None:
    lane = CallLane(app=None)  # type: ignore[arg-type]

    def line(message: Any) -> bytes:
        return json.dumps(message).encode()

    def call(request_id: Any = 1, **params: Any) -> bytes:
        arguments = {"name": "s", "tool": "t", "arguments": {}}
        return line(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": "tools/call",
                "params": {"name": "call_skill", "arguments": arguments, **params},
            }
        )

    assert lane.take(call()) is None  # before the handshake
    assert lane.take(call(_meta=MODERN_META)) is not None  # the 2026 era needs none
    assert (
        lane.take(call(_meta={**MODERN_META, "io.modelcontextprotocol/protocolVersion": "2025-11-25"}))
        is None
    )
    assert lane.take(call(_meta={k: v for k, v in MODERN_META.items() if "Capabilities" not in k})) is None
    lane.take(
        line(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"clientInfo": {"name": "c", "version": "1"}},
            }
        )
    )
    assert lane.take(call()) is None  # not answered yet
    from mcp_types import JSONRPCResponse

    lane.sent(JSONRPCResponse(jsonrpc="2.0", id=0, result={"protocolVersion": "2025-11-25"}))
    assert lane.take(call()) is None  # not initialized yet
    lane.take(line({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    assert lane.take(call()) is not None
    load = json.loads(call())
    load["params"].update(name="load_skill", arguments={"name": "s"})
    dynamic = SimpleNamespace(dynamic=True)
    assert call_request(load, SimpleNamespace(dynamic=False)) is load  # type: ignore[arg-type]
    assert call_request(load, dynamic) is None  # type: ignore[arg-type] # dynamic mode: the SDK's
    for declined in (
        call(request_id=True),
        call(request_id=None),
        call(request_id=1.5),
        call(arguments=["x"]),
        call(_meta="text"),
        line(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "s__call_skill", "arguments": {"query": "call_skill"}},  # a dynamic tool
            }
        ),
        line({"jsonrpc": "1.0", "id": 1, "method": "tools/call", "params": {"name": "call_skill"}}),
        b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "call_skill"',
        b"[" * 100_000 + b'"call_skill"',
        line(["call_skill"]),
    ):
        assert lane.take(declined) is None, declined
