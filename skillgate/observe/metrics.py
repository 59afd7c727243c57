"""Prometheus metrics: requests, errors by kind and latency per meta-tool and skill, upstream
state, catalog state and audit events, in the Prometheus text format.

Label values come from fixed sets (meta-tool names, error kinds, upstream states) or from the
catalog (skill and upstream names); a name a caller made up is counted as "(unknown)", so a
client cannot grow the number of series. Gauges are read from the gateway at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from pydantic import ValidationError

from skillgate.base.errors import SkillgateError

if TYPE_CHECKING:
    from skillgate.observe.audit import AuditLog
    from skillgate.tools.gateway import Gateway

UNKNOWN = "(unknown)"
STATES = ("stopped", "starting", "ready", "backoff")
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def error_kind(exc: BaseException | None, tool_error: bool = False) -> str:
    """The error kind of a failed request, a fixed vocabulary: `SkillgateError.kind`, else
    `bad_arguments` for a meta-tool's own argument check, else `internal`."""
    if exc is None:
        return "tool_error" if tool_error else "none"
    if isinstance(exc, SkillgateError):
        return exc.kind
    return "bad_arguments" if isinstance(exc, ValidationError) else "internal"


class Metrics:
    """The registry of one gateway, shared by its profiles' servers."""

    def __init__(self, gateway: Gateway, audit: AuditLog | None = None, tools: Iterable[str] = ()) -> None:
        self.gateway = gateway
        self.tools = frozenset(tools)  # the tool names counted by name; others are UNKNOWN
        self.audit = audit
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "skillgate_requests", "Meta-tool requests.", ["tool", "skill", "error"], registry=self.registry
        )
        self.latency = Histogram(
            "skillgate_request_seconds",
            "Meta-tool latency.",
            ["tool"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.skill_latency = Histogram(
            "skillgate_skill_request_seconds",
            "load_skill and call_skill latency per skill.",
            ["tool", "skill"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_calls = Counter(
            "skillgate_upstream_calls",
            "call_skill calls per upstream.",
            ["upstream", "error"],
            registry=self.registry,
        )
        self.registry.register(_State(gateway, self))

    def observe(self, tool: str, skill: object, upstream: str | None, kind: str, seconds: float) -> None:
        """One meta-tool request: `skill` and `upstream` are checked against the catalog."""
        tool = tool if tool in self.tools else UNKNOWN
        name = skill if isinstance(skill, str) and skill in self.gateway.catalog.skills else None
        self.requests.labels(tool, name or ("" if skill is None else UNKNOWN), kind).inc()
        self.latency.labels(tool).observe(seconds)
        if name is not None and tool != "list_skills":
            self.skill_latency.labels(tool, name).observe(seconds)
        if upstream is not None:
            self.upstream_calls.labels(upstream, kind).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _State:
    """Gauges read at scrape time: catalog, upstreams, audit."""

    def __init__(self, gateway: Gateway, metrics: Metrics) -> None:
        self.gateway = gateway
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        gateway = self.gateway
        catalog = gateway.catalog
        yield _gauge("skillgate_catalog_generation", "Catalog loads since start.", gateway.generation)
        yield _gauge("skillgate_skills_loaded", "Skills served.", len(catalog))
        broken = {d.path.rsplit("/", 2)[-2] for d in catalog.errors if "/" in d.path}
        yield _gauge("skillgate_skills_broken", "Skill folders left out for errors.", len(broken))
        upstreams = gateway.pool.upstreams
        yield _gauge("skillgate_upstreams", "Upstream connections in the pool.", len(upstreams))
        state = GaugeMetricFamily(
            "skillgate_upstream_state", "1 for the upstream's current state.", labels=["upstream", "state"]
        )
        restarts = GaugeMetricFamily(
            "skillgate_upstream_restarts", "Restarts of the upstream.", labels=["upstream"]
        )
        for upstream in upstreams:
            for name in STATES:
                state.add_metric([upstream.name, name], 1.0 if str(upstream.state) == name else 0.0)
            restarts.add_metric([upstream.name], float(upstream.restarts))
        yield state
        yield restarts
        audit = self.metrics.audit
        yield _gauge("skillgate_audit_events_written", "Audit events written.", audit.written if audit else 0)
        yield _gauge(
            "skillgate_audit_events_dropped",
            "Audit events that could not be written.",
            audit.dropped if audit else 0,
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))
