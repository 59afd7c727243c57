"""What one meta-tool request leaves behind: its audit line, its span's outcome and its metrics,
recorded in one place for every path a request can take (the SDK's, the fast path's, HTTP's).

The outcome of a failed request comes from its error (`SkillgateError.outcome`); the metrics'
error label from its kind (`metrics.error_kind`): one mapping each, on the error classes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from skillgate.base.errors import SkillgateError
from skillgate.observe import tracing
from skillgate.observe.audit import (
    AuditEvent,
    AuditLog,
    Outcome,
    canonical_digest,
    redact,
    scrub,
)
from skillgate.observe.audit import now as audit_now

if TYPE_CHECKING:
    from skillgate.observe.metrics import Metrics


def outcome_of(error: SkillgateError) -> Outcome:
    return cast(Outcome, error.outcome)


@dataclass(frozen=True, slots=True)
class Request:
    """One meta-tool request as it is recorded."""

    client: dict[str, Any]
    session: str
    tool: str
    arguments: dict[str, Any]
    started: float


class RequestLog:
    """The audit log, spans and metrics of one server (profile); `upstream_of` names the bound
    server a call_skill goes to (a metrics label)."""

    def __init__(
        self,
        profile: str,
        audit: AuditLog | None,
        metrics: Metrics | None,
        upstream_of: Callable[[dict[str, Any]], str | None],
    ) -> None:
        self.profile = profile
        self.audit = audit
        self.metrics = metrics
        self.upstream_of = upstream_of

    def record(
        self,
        request: Request,
        outcome: Outcome,
        message: str | None,
        returned: list[str] | None,
        error: BaseException | None,
        span: Any,
    ) -> None:
        elapsed = time.perf_counter() - request.started
        if self.audit is not None:
            self._audit(request, outcome, message, returned, elapsed)
        tracing.set_outcome(span, outcome)
        if self.metrics is not None:
            from skillgate.observe.metrics import error_kind

            kind = "cancelled" if outcome == "cancelled" else error_kind(error, outcome == "tool_error")
            upstream = self.upstream_of(request.arguments) if request.tool == "call_skill" else None
            self.metrics.observe(request.tool, request.arguments.get("name"), upstream, kind, elapsed)

    def refused(self, size: int) -> None:
        """Audit an HTTP request refused unread because its body is over the limit."""
        if self.audit is None:
            return
        self.audit.record(
            AuditEvent(
                time=audit_now(),
                profile=self.profile,
                client={"name": None, "version": None},
                method="(request)",
                arguments_sha256=canonical_digest({}),
                outcome="too_large",
                duration_ms=0.0,
                message=f"a request body of {size:,} bytes was refused unread",
            )
        )

    def _audit(
        self,
        request: Request,
        outcome: Outcome,
        message: str | None,
        returned: list[str] | None,
        elapsed: float,
    ) -> None:
        assert self.audit is not None
        method, arguments = request.tool, request.arguments
        skill = arguments.get("name") if method in ("load_skill", "call_skill") else None
        tool = arguments.get("tool") if method == "call_skill" else None
        query = arguments.get("query") if method == "list_skills" else None
        self.audit.record(
            AuditEvent(
                time=audit_now(),
                profile=self.profile,
                client=request.client,
                method=method,
                session=request.session,
                skill=skill if isinstance(skill, str) else None,
                tool=tool if isinstance(tool, str) else None,
                query=scrub(query) if isinstance(query, str) and query.strip() else None,
                results=returned if query else None,
                arguments_sha256=canonical_digest(arguments),
                arguments=redact(arguments) if self.audit.raw_arguments else None,
                outcome=outcome,
                duration_ms=round(elapsed * 1000, 3),
                message=message,
            )
        )
