"""The fast paths over HTTP: a 2026-era call_skill POST answered by the HTTP call lane must get
the SDK's answer (status, content type, body) and the same audit lines, and a client that
hangs up cancels the call upstream; tool calls to upstreams take the direct lanes (a stdio
pipe, a plain POST to a 2026-era HTTP server) with progress, timeouts and cancellation."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import MCPError

from skillgate.catalog import Catalog
from skillgate.http_upstream import post_call
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


def test_the_http_lane_answers_exactly_as_the_sdk_does(served: Any, tmp_path: Path) -> None:
    sdk_log: list[bytes] = []
    lane_log: list[bytes] = []
    with served(False, tmp_path / "sdk.jsonl", sdk_log) as (_, url):
        through_sdk = http_session(url)
    with served(True, tmp_path / "lane.jsonl", lane_log) as (_, url):
        through_lane = http_session(url)
    assert through_lane == through_sdk
    assert b"meta-tool calls answered on the HTTP call lane" in b"".join(lane_log)
    assert b"call lane" not in b"".join(sdk_log)
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
async def test_upstream_calls_take_the_direct_lanes_with_progress_timeouts_and_cancellation(
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
                    assert seen.startswith("sg-") and seen.endswith(" 2026-07-28"), (skill, seen)
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


Reply = Callable[[dict[str, Any]], tuple[int, str, bytes]]  # request body -> status, content type, body


class Scripted:
    """An HTTP server answering each POST with the next scripted reply."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["content-length"])))
                scripted.requests.append({"headers": dict(self.headers), **request})
                status, kind, body = scripted.replies.pop(0)(request)
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/mcp"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b": ping\n\ndata: " + json.dumps(event).encode() + b"\n\n" for event in events)


@pytest.mark.anyio
async def test_a_direct_post_reads_json_and_event_streams_and_refuses_the_rest_clearly() -> None:
    """What a 2026-era HTTP upstream may send back to a direct tools/call POST."""
    scripted = Scripted()
    reports: list[tuple[float, float | None, str | None]] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        reports.append((value, total, message))

    def stamp(data: dict[str, Any], opts: Any) -> None:
        opts.setdefault("headers", {})["MCP-Protocol-Version"] = "2026-07-28"

    def text(value: str) -> dict[str, Any]:
        return {"content": [{"type": "text", "text": value}]}

    async with httpx2.AsyncClient() as http:

        async def call(reply: Reply, **options: Any) -> dict[str, Any]:
            scripted.replies.append(reply)
            return await post_call(
                http, scripted.url, {"name": "t", "arguments": {}}, stamp, timeout=5, **options
            )

        json_answer = await call(
            lambda r: (
                200,
                "application/json",
                json.dumps({"jsonrpc": "2.0", "id": r["id"], "result": text("a")}).encode(),
            )
        )
        assert json_answer == text("a")
        streamed = await call(
            lambda r: (
                200,
                "text/event-stream",
                sse(
                    {
                        "jsonrpc": "2.0",
                        "method": "notifications/progress",
                        "params": {
                            "progressToken": r["params"]["_meta"]["progressToken"],
                            "progress": 1,
                            "total": 2,
                            "message": "half",
                        },
                    },
                    {
                        "jsonrpc": "2.0",
                        "method": "notifications/progress",
                        "params": {"progressToken": "someone else's", "progress": 9},
                    },
                    {"jsonrpc": "2.0", "id": "not ours", "result": text("wrong")},
                    {"jsonrpc": "2.0", "id": r["id"], "result": text("b")},
                ),
            ),
            progress=progress,
        )
        assert streamed == text("b") and reports == [(1.0, 2.0, "half")]
        for reply, code, words in (
            (
                lambda r: (200, "text/html", b"<html>oops</html>"),
                types.INTERNAL_ERROR,
                "HTTP 200 with text/html",
            ),
            (
                lambda r: (500, "text/plain", b"Internal Server Error"),
                types.INTERNAL_ERROR,
                "HTTP 500 with text/plain",
            ),
            (
                lambda r: (200, "text/event-stream", sse({"jsonrpc": "2.0", "method": "x"})),
                types.CONNECTION_CLOSED,
                "ended without an answer",
            ),
            (
                lambda r: (
                    400,
                    "application/json",
                    json.dumps(
                        {"jsonrpc": "2.0", "id": r["id"], "error": {"code": -32602, "message": "bad"}}
                    ).encode(),
                ),
                -32602,
                "bad",
            ),
            (
                lambda r: (200, "application/json", b'{"jsonrpc": "2.0", "id": 1, "error": "no"}'),
                types.INTERNAL_ERROR,
                "malformed answer",
            ),
            (
                lambda r: (200, "application/json", b"[" * 100_000),
                types.INTERNAL_ERROR,
                "malformed answer: RecursionError",
            ),
            (
                lambda r: (200, "application/json", b""),
                types.INTERNAL_ERROR,
                "malformed answer: JSONDecodeError",
            ),
        ):
            with pytest.raises(MCPError) as refused:
                await call(reply)
            assert refused.value.code == code and words in refused.value.error.message, refused.value.error
    assert all(r["id"].startswith("sg-") for r in scripted.requests)  # the lane's ids, never the SDK's
    assert all(r["headers"]["MCP-Protocol-Version"] == "2026-07-28" for r in scripted.requests)  # stamped
