"""OpenTelemetry traces: a span per meta-tool call, the upstream call as its child.

Off by default. `[tracing] enabled = true` (or `OTEL_TRACES_EXPORTER=otlp` in the environment)
turns it on, exporting OTLP over HTTP to `[tracing] endpoint`, else `OTEL_EXPORTER_OTLP_*`
(the OpenTelemetry SDK's standard variables; `OTEL_SERVICE_NAME` too).

The MCP SDK traces its side once a tracer provider exists: a server span per request that
honours the W3C `traceparent` in the request's `_meta`, and a client span per request to an
upstream that puts its own `traceparent` in that request's `_meta`, so an upstream over HTTP
or stdio continues the trace. skillgate adds what only it knows: on the request's span the
skill, tool and outcome (argument values only with `[tracing] arguments = true`, secret-looking
keys redacted), and a span per upstream call naming the server, parent of the SDK's. With
tracing off nothing of OpenTelemetry is imported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from skillgate.base.errors import UsageError
from skillgate.observe.audit import redact

_tracer: Any = None
_record_arguments = False


def configure(enabled: bool, endpoint: str | None, arguments: bool, environ: Mapping[str, str]) -> bool:
    """Set up the OTLP exporter when tracing is asked for; True when it is on."""
    global _tracer, _record_arguments
    if not (enabled or environ.get("OTEL_TRACES_EXPORTER", "").lower() == "otlp"):
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise UsageError(
            "tracing needs the OpenTelemetry packages: pip install 'skillgate[tracing]' "
            "(or turn [tracing] enabled off)"
        ) from None

    service = environ.get("OTEL_SERVICE_NAME", "skillgate")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter = (
        OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces") if endpoint else OTLPSpanExporter()
    )
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    _tracer = trace.get_tracer("skillgate")
    _record_arguments = arguments
    return True


def active() -> bool:
    return _tracer is not None


def shutdown() -> None:
    """Send the spans still queued (at exit)."""
    if _tracer is not None:
        from opentelemetry import trace

        provider = trace.get_tracer_provider()
        if hasattr(provider, "shutdown"):
            provider.shutdown()


def request_span(tool: str, arguments: Mapping[str, Any]) -> Any:
    """The span of the request being handled (the MCP SDK's), with skillgate's attributes added."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    span = trace.get_current_span()
    if not span.is_recording():
        return None
    span.set_attribute("skillgate.meta_tool", tool)
    for key, attribute in (("name", "skillgate.skill"), ("tool", "skillgate.tool")):
        if isinstance(arguments.get(key), str):
            span.set_attribute(attribute, arguments[key])
    if _record_arguments:
        span.set_attribute("skillgate.arguments", json.dumps(redact(dict(arguments)), default=str)[:4096])
    return span


@contextmanager
def upstream_span(server: str, tool: str) -> Iterator[None]:
    """A span around one upstream call, naming the server; the SDK's request span is its child."""
    if _tracer is None:
        yield
        return
    attributes = {"skillgate.upstream": server, "mcp.tool.name": tool}
    with _tracer.start_as_current_span(f"upstream {server} {tool}", attributes=attributes):
        yield


def set_outcome(span: Any, outcome: str) -> None:
    if span is not None:
        span.set_attribute("skillgate.outcome", outcome)
        if outcome not in ("ok", "cancelled"):
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR, outcome))
