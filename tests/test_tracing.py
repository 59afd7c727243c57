"""OpenTelemetry traces: exported over OTLP/HTTP to a receiver built on the official
opentelemetry-proto messages; parent/child spans and traceparent propagation to an HTTP upstream."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import faulty_http, text_of, write_skill
from tests.support.replica import serving

pytestmark = pytest.mark.anyio
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


class Receiver:
    """An OTLP/HTTP trace receiver: POST /v1/traces, protobuf bodies, spans kept in memory."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        receiver.spans.extend(scope.spans)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def http_upstream() -> Iterator[str]:
    with faulty_http() as url:
        yield url


@pytest.mark.parametrize("lanes", ["on", "off"])
async def test_spans_nest_under_the_callers_traceparent_and_reach_an_http_upstream(
    tmp_path: Path, receiver: Receiver, http_upstream: str, lanes: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same spans whether the call lanes answer (they make the SDK's spans) or the SDK does."""
    monkeypatch.setenv("SKILLGATE_CALL_LANE", lanes)
    write_skill(
        tmp_path / "catalog", "traced", servers={"f": {"url": http_upstream, "allowedTools": ["traceparent"]}}
    )
    config = tmp_path / "skillgate.toml"
    config.write_text(f'[tracing]\nenabled = true\nendpoint = "{receiver.url}"\n')
    command = [sys.executable, "-m", "skillgate", "serve", str(tmp_path / "catalog"), "--http", "--port", "0",
               "--config", str(config)]  # fmt: skip
    with serving(command) as (_, url):
        async with Client(url) as client:
            meta = {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
            result = await client.call_tool(
                "call_skill",
                {"name": "traced", "tool": "traceparent", "arguments": {"secret": "x"}},
                meta=meta,
            )
            forwarded = text_of(result)
            await client.call_tool("list_skills", {"query": "traced"})
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(receiver.spans) < 3:
            time.sleep(0.2)
    spans = {span.name: span for span in receiver.spans}
    server, upstream = spans["tools/call call_skill"], spans["upstream f traceparent"]
    sent = spans["MCP send tools/call traceparent"]  # the client span to the upstream
    assert server.trace_id.hex() == CALLER_TRACE and server.parent_span_id.hex() == CALLER_SPAN
    assert upstream.trace_id.hex() == CALLER_TRACE and upstream.parent_span_id == server.span_id
    assert sent.parent_span_id == upstream.span_id
    # the HTTP upstream received the trace context of that client span, in the same trace
    assert forwarded == f"00-{CALLER_TRACE}-{sent.span_id.hex()}-01"
    attributes = {a.key: a.value.string_value for a in server.attributes}
    assert attributes["skillgate.skill"] == "traced" and attributes["skillgate.outcome"] == "ok"
    assert "skillgate.arguments" not in attributes  # no argument values unless asked for
    assert "tools/call list_skills" in spans
