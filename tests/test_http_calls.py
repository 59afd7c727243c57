"""Meta-tool calls over HTTP and tool calls to upstreams, all on the SDK's own path: a 2026-era
call_skill POST gets the SDK's answer (status, content type, body) and its audit line whatever
the fast-path setting (the fast path is stdio's), a client that hangs up cancels the call
upstream, and upstream calls keep progress, timeouts and cancellation in both eras."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from skillgate.skills.catalog import Catalog
from tests.conftest import faulty_http, faulty_server, gateway_client, text_of, write_skill
from tests.support.replica import serving
from tests.test_call_lane import CALLS, MODERN_META, OTHER_CALLS, audit_lines

HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/call",
    "Mcp-Name": "call_skill",
}


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    allowed = ["echo", "slow", "wait_for_cancel", "request_id"]
    write_skill(root, "faults", servers={"f": {**faulty_server(), "allowedTools": allowed}})
    write_skill(root, "notes", "Instructions only.")
    return root


def post(
    client: httpx2.Client, url: str, request_id: int, arguments: Any, tool: str = "call_skill", **headers: str
) -> dict[str, Any]:
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments, "_meta": MODERN_META},
    }
    response = client.post(url, content=json.dumps(body), headers={**HEADERS, "Mcp-Name": tool, **headers})
    kind = response.headers.get("content-type", "")
    if kind.startswith("text/event-stream"):
        events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
        return {"status": response.status_code, "events": events}
    return {
        "status": response.status_code,
        "type": kind,
        "body": response.json() if response.content else None,
    }


@pytest.fixture
def served(catalog: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """skillgate over HTTP with the lane on or off, an audit log, and its debug log kept."""

    def serve(lane: bool, audit: Path, log: list[bytes]) -> Any:
        monkeypatch.setenv("SKILLGATE_CALL_LANE", "on" if lane else "off")
        config = audit.with_suffix(".toml")
        config.write_text(f"[audit]\npath = {json.dumps(str(audit))}\n")
        command = [sys.executable, "-m", "skillgate", "--log-level", "debug", "serve", str(catalog), "--http"]
        return serving([*command, "--port", "0", "--config", str(config)], log=log)

    yield serve


def http_session(url: str) -> list[dict[str, Any]]:
    with httpx2.Client(timeout=20) as client:
        answers = [post(client, url, number, arguments) for number, arguments in enumerate(CALLS)]
        answers += [
            post(client, url, 20 + n, arguments, tool) for n, (tool, arguments) in enumerate(OTHER_CALLS)
        ]
        answers.append(post(client, url, 50, CALLS[0], **{"Mcp-Name": "list_skills"}))  # header disagrees
        answers.append(post(client, url, 51, CALLS[0], **{"MCP-Protocol-Version": "2025-11-25"}))
        answers.append(post(client, url, 52, CALLS[0], Accept="application/json"))
        slow = {"name": "faults", "tool": "slow", "arguments": {"steps": 2}}
        body = {
            "jsonrpc": "2.0",
            "id": 53,
            "method": "tools/call",
            "params": {
                "name": "call_skill",
                "arguments": slow,
                "_meta": {**MODERN_META, "progressToken": "t"},
            },
        }
        response = client.post(url, content=json.dumps(body), headers=HEADERS)  # progress: the SDK streams it
        answers.append({"status": response.status_code, "sse": response.text.count("notifications/progress")})
        return answers


def test_http_answers_are_the_sdks_with_the_fast_path_on_and_off(served: Any, tmp_path: Path) -> None:
    sdk_log: list[bytes] = []
    lane_log: list[bytes] = []
    with served(False, tmp_path / "sdk.jsonl", sdk_log) as (_, url):
        through_sdk = http_session(url)
    with served(True, tmp_path / "lane.jsonl", lane_log) as (_, url):
        through_lane = http_session(url)
    assert through_lane == through_sdk
    assert b"call lane" not in b"".join(lane_log) + b"".join(sdk_log)
    assert audit_lines(tmp_path / "lane.jsonl") == audit_lines(tmp_path / "sdk.jsonl")
    first = through_lane[0]
    assert first["type"] == "application/json"
    assert first["body"]["result"]["content"][0]["text"] == "hihi"
    assert first["body"]["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "skillgate"
    assert through_lane[-4]["status"] == 400 and "mcp-name header does not match" in json.dumps(
        through_lane[-4]["body"]
    )
    assert through_lane[-1] == {"status": 200, "sse": 2}


def test_a_client_hanging_up_cancels_a_lane_call_upstream(served: Any, tmp_path: Path) -> None:
    marker = tmp_path / "cancelled.txt"
    with served(True, tmp_path / "audit.jsonl", []) as (_, url), httpx2.Client(timeout=20) as client:
        assert post(client, url, 1, CALLS[0])["status"] == 200
        call = {"name": "faults", "tool": "wait_for_cancel", "arguments": {"marker": str(marker)}}
        with pytest.raises(httpx2.ReadTimeout), httpx2.Client(timeout=1) as impatient:
            post(impatient, url, 2, call)
        for _ in range(200):
            if marker.exists():
                break
            anyio.run(anyio.sleep, 0.05)
        assert marker.read_text() == "cancelled"
        assert post(client, url, 3, CALLS[0])["status"] == 200
    assert [line["outcome"] for line in audit_lines(tmp_path / "audit.jsonl")] == ["ok", "cancelled", "ok"]


@pytest.mark.anyio
async def test_upstream_calls_keep_progress_timeouts_and_cancellation_in_both_eras(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "cancelled.txt"
    tools = ["echo", "slow", "wait_for_cancel", "request_id"]
    with faulty_http() as url:
        write_skill(tmp_path, "piped", servers={"p": {**faulty_server(), "allowedTools": tools}})
        write_skill(tmp_path, "posted", servers={"h": {"url": url, "timeout": 1, "allowedTools": tools}})
        progress: list[str | None] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append(message)

        for mode in ("auto", "legacy"):  # the client's era; skillgate reaches both upstreams in 2026's
            async with gateway_client(tmp_path, mode) as (client, pool):
                for skill in ("piped", "posted"):
                    seen = text_of(await client.call_tool("call_skill", call(skill, "request_id")))
                    assert seen.split()[1] == "2026-07-28", (skill, seen)  # the SDK client's era
                progress.clear()
                done = await client.call_tool(
                    "call_skill", call("posted", "slow", steps=3), progress_callback=on_progress
                )
                assert text_of(done) == "done after 3 steps"
                assert progress == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]
                timed_out = await client.call_tool(
                    "call_skill", call("posted", "wait_for_cancel", marker=str(marker))
                )
                assert "did not answer within 1 s" in text_of(timed_out)
                with anyio.fail_after(10):
                    while not marker.exists():
                        await anyio.sleep(0.05)
                assert marker.read_text() == "cancelled"  # closing the stream cancelled it upstream
                marker.unlink()
                (binding,) = Catalog.load(tmp_path).skills["posted"].bindings
                assert pool.get(binding).restarts == 0


def call(name: str, tool: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "tool": tool, "arguments": arguments}


def test_a_lone_surrogate_in_call_arguments_over_http_is_a_tool_error_audited_before_the_upstream(
    served: Any, tmp_path: Path
) -> None:
    """JSON's parser reads "\\ud800" into a string no upstream can be sent: it is refused, audited."""
    audit = tmp_path / "audit.jsonl"
    with served(True, audit, []) as (_, url), httpx2.Client(timeout=20) as client:
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "call_skill", "arguments": CALLS[0], "_meta": MODERN_META},
            }
        ).replace('"hi"', '"\\ud800"')
        refused = client.post(url, content=body, headers=HEADERS)
        assert refused.status_code == 200
        result = refused.json()["result"]
        assert result["isError"] and "lone surrogate" in result["content"][0]["text"]
        assert post(client, url, 2, CALLS[0])["body"]["result"]["content"][0]["text"] == "hihi"  # same client
    lines = audit_lines(audit)
    assert [line["outcome"] for line in lines] == ["tool_error", "ok"]


def test_a_client_name_with_a_lone_surrogate_gets_its_answer_and_leaves_its_audit_line(
    served: Any, tmp_path: Path
) -> None:
    """The 2026 envelope's clientInfo is read by a plain JSON parser: a lone surrogate in the
    client's name is recorded as "?", never an internal error or a call without its line."""
    audit = tmp_path / "audit.jsonl"
    odd = {**MODERN_META, "io.modelcontextprotocol/clientInfo": {"name": "agent-X", "version": "1"}}
    with served(True, audit, []) as (_, url), httpx2.Client(timeout=20) as client:
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "call_skill", "arguments": CALLS[0], "_meta": odd},
            }
        ).replace("agent-X", "agent\\ud800")
        answered = client.post(url, content=body, headers=HEADERS)
        assert answered.status_code == 200
        assert answered.json()["result"]["content"][0]["text"] == "hihi"
    (line,) = audit_lines(audit)
    assert line["client"]["name"] == "agent?" and line["outcome"] == "ok"
