"""Usage: what agents did with the skills, read back from the audit log.

Per skill: how often a search surfaced it, how often it was loaded, called and failed, and the
p50/p99 latency of its loads and calls. The searches no skill answered — a `list_skills` query
after which the same session neither loaded nor called a skill before its next search (or
within ten minutes) — grouped by their normalised text. And the catalog's skills no search
ever surfaced. `skillgate stats` prints it; the data is plain, for the preview to show too.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from skillgate.base.reading import Unreadable, parse_json
from skillgate.base.wording import count

ANSWER_WINDOW = timedelta(minutes=10)
MAX_LINE_BYTES = 1_000_000


@dataclass
class SkillUsage:
    surfaced: int = 0
    loaded: int = 0
    called: int = 0
    failed: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None


@dataclass
class Miss:
    query: str
    count: int
    returned: list[str]  # what the search offered the last time it missed


@dataclass
class Usage:
    events: int
    searches: int
    skills: dict[str, SkillUsage] = field(default_factory=dict)
    misses: list[Miss] = field(default_factory=list)
    never_surfaced: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_events(paths: list[Path], since: datetime | None = None) -> list[dict[str, Any]]:
    """The audit events of `paths` (rotated files too), oldest first; unreadable lines skipped."""
    events = []
    for path in paths:
        with path.open("rb") as handle:
            for raw in _lines(handle):
                try:
                    event = parse_json(raw.decode("utf-8", "replace"))  # bounded depth: a log can be hostile
                    when = _time(str(event["time"]))
                except (Unreadable, ValueError, KeyError, TypeError):
                    continue
                if isinstance(event, dict) and (since is None or when >= since):
                    event["_when"] = when
                    events.append(event)
    return sorted(events, key=lambda e: e["_when"])


def _lines(handle: BinaryIO) -> Iterator[bytes]:
    """The file's lines, skipping any over MAX_LINE_BYTES without holding it whole in memory."""
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        if len(raw) <= MAX_LINE_BYTES:
            yield raw
        elif not raw.endswith(b"\n"):
            while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass  # the rest of an over-long line


def not_audit_logs(paths: list[Path], sample: int = 50) -> list[str]:
    """For each file that is not a skillgate audit log (none of its first `sample` non-empty lines
    is an audit event), a people's sentence saying so; an empty file is a log with no events yet."""
    problems = []
    for path in paths:
        seen, found = 0, False
        with path.open("rb") as handle:
            for raw in _lines(handle):
                if not raw.strip():
                    continue
                seen += 1
                found = _is_event(raw)
                if found or seen >= sample:
                    break
        if seen and not found:
            problems.append(
                f"{path} is not a skillgate audit log: none of its first {count(seen, 'line')} is an audit "
                "event (a JSON object with time and method); pass the file `[audit] path` names"
            )
    return problems


def _is_event(raw: bytes) -> bool:
    try:
        event = parse_json(raw.decode("utf-8", "replace"))
        _time(str(event["time"]))
    except (Unreadable, ValueError, KeyError, TypeError):
        return False
    return isinstance(event, dict) and isinstance(event.get("method"), str)


def usage(events: list[dict[str, Any]], catalog: list[str] | None = None) -> Usage:
    report = Usage(events=len(events), searches=0)
    skills: dict[str, SkillUsage] = defaultdict(SkillUsage)
    latencies: dict[str, list[float]] = defaultdict(list)
    open_searches: dict[str, dict[str, Any]] = {}  # per session: its last unanswered search
    missed: Counter[str] = Counter()
    offered: dict[str, list[str]] = {}

    def close(session: str, answered: bool) -> None:
        search = open_searches.pop(session, None)
        if search is not None and not answered:
            key = " ".join(str(search["query"]).lower().split())
            missed[key] += 1
            results = search.get("results")
            offered[key] = [r for r in results if isinstance(r, str)] if isinstance(results, list) else []

    for event in events:
        session = f"{event.get('profile')}/{event.get('session')}"
        method, name = event.get("method"), event.get("skill")
        stale = open_searches.get(session)
        if stale is not None and event["_when"] - stale["_when"] > ANSWER_WINDOW:
            close(session, answered=False)
        if method == "list_skills" and event.get("query"):
            report.searches += 1
            close(session, answered=False)
            open_searches[session] = event
            results = event.get("results")
            for surfaced in results if isinstance(results, list) else []:
                if isinstance(surfaced, str):
                    skills[surfaced].surfaced += 1
        elif method in ("load_skill", "call_skill") and isinstance(name, str):
            entry = skills[name]
            if event.get("outcome") == "ok":
                close(session, answered=True)
                if method == "load_skill":
                    entry.loaded += 1
                else:
                    entry.called += 1
            else:
                entry.failed += 1
            if isinstance(event.get("duration_ms"), int | float):
                latencies[name].append(float(event["duration_ms"]))
    for session in list(open_searches):
        close(session, answered=False)
    for name, times in latencies.items():
        ordered = sorted(times)
        skills[name].p50_ms = round(statistics.median(ordered), 3)
        skills[name].p99_ms = round(ordered[max(0, math.ceil(len(ordered) * 0.99) - 1)], 3)  # nearest rank
    report.skills = dict(sorted(skills.items()))
    report.misses = [Miss(q, n, offered[q]) for q, n in sorted(missed.items(), key=lambda i: (-i[1], i[0]))]
    if catalog is not None:
        report.never_surfaced = sorted(n for n in catalog if not skills.get(n) or not skills[n].surfaced)
    return report


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`7d`, `12h`, `30m` before now, or an ISO date/time."""
    now = now or datetime.now(UTC)
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if text[:-1].isdigit() and text[-1:] in units:
        return now - timedelta(**{units[text[-1]]: int(text[:-1])})
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_text(report: Usage) -> str:
    lines = [f"{count(report.events, 'event')}, {count(report.searches, 'search', 'searches')}"]
    if report.skills:
        header = f"{'skill':<32} {'surfaced':>8} {'loaded':>7} {'called':>7} {'failed':>7}"
        lines.append(f"{header} {'p50 ms':>8} {'p99 ms':>8}")
        for name, s in report.skills.items():
            p50 = "-" if s.p50_ms is None else f"{s.p50_ms:g}"
            p99 = "-" if s.p99_ms is None else f"{s.p99_ms:g}"
            lines.append(
                f"{name:<32} {s.surfaced:>8} {s.loaded:>7} {s.called:>7} {s.failed:>7} {p50:>8} {p99:>8}"
            )
    if report.misses:
        lines.append("searches no skill answered (no load or call followed):")
        for miss in report.misses:
            offered = ", ".join(miss.returned) or "nothing"
            lines.append(f"  {miss.count:>4}  {miss.query!r} (offered: {offered})")
    if report.never_surfaced:
        lines.append(f"never surfaced by a search: {', '.join(report.never_surfaced)}")
    return "\n".join(lines)


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
