"""AuditLog: an append-only JSONL record of every list, load and call.

One event per meta-tool call, written and flushed before the result is returned.
Lines never interleave (one lock, one write per line) and rotation by size keeps
every event: the full file is renamed to `.1` (older ones shift up) before the
next line is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict

from skillgate.base.text import printable

Outcome = Literal[
    "ok", "tool_error", "denied", "timeout", "upstream_down", "cancelled", "too_large", "internal_error"
]

SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[-_]?key|auth|credential|private[-_]?key|cookie|session", re.I
)
REDACTED = "***"
logger = logging.getLogger(__name__)


class AuditEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    time: str
    profile: str
    client: dict[str, str | None]
    method: str  # list_skills, load_skill or call_skill; "(request)" for an HTTP body refused unread
    session: str | None = None  # a short tag of the client connection (groups one agent's calls)
    skill: str | None = None
    tool: str | None = None
    query: str | None = None  # list_skills: the search, token-like strings masked, cut at 200 chars
    results: list[str] | None = None  # list_skills: the skill names it returned, in order (at most 20)
    arguments_sha256: str
    arguments: Any = None
    outcome: Outcome
    duration_ms: float
    message: str | None = None


def canonical_digest(arguments: Any) -> str:
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()  # any str digests


def redact(value: Any) -> Any:
    """`value` with the values of secret-looking keys replaced, at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


MAX_QUERY_CHARS = 200
MAX_RESULTS = 20
# Strings that look like credentials: long runs mixing letters and digits, and well-known key prefixes.
_TOKEN_LIKE = re.compile(
    r"\b(?:sk|pk|ghp|gho|ghs|xox[abp]|glpat|AKIA)[-_A-Za-z0-9]{8,}"
    r"|\b(?=[A-Za-z0-9_\-+/=]*\d)(?=[A-Za-z0-9_\-+/=]*[A-Za-z])[A-Za-z0-9_\-+/=]{24,}"
)


def scrub(text: str) -> str:
    """A search as it may be kept: credential-looking strings masked, at most 200 characters."""
    return _TOKEN_LIKE.sub(REDACTED, text[: 2 * MAX_QUERY_CHARS])[:MAX_QUERY_CHARS]  # cut first: bounded work


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog:
    def __init__(
        self, path: Path, *, max_bytes: int = 10_000_000, backups: int = 5, raw_arguments: bool = False
    ):
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.raw_arguments = raw_arguments
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")
        self._size = path.stat().st_size
        self.written = 0
        self.dropped = 0  # events that could not be written (a full disk): counted, logged, never raised

    def record(self, event: AuditEvent) -> None:
        try:
            line = event.model_dump_json(exclude_none=True) + "\n"
        except ValueError:  # a string UTF-8 cannot carry (a lone surrogate): recorded as "?"
            data = json.dumps(
                event.model_dump(mode="json", exclude_none=True), ensure_ascii=False, separators=(",", ":")
            )
            line = printable(data) + "\n"
        size = len(line.encode("utf-8"))
        with self._lock:
            try:
                if self._size and self._size + size > self.max_bytes:
                    self._rotate()
                self._file.write(line)
                self._file.flush()
            except OSError as exc:
                self.dropped += 1
                logger.error("audit event not written to %s: %s", self.path, exc.strerror or exc)
                return
            self._size += size
            self.written += 1

    def _rotate(self) -> None:
        self._file.close()
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._file = self.path.open("a", encoding="utf-8")
        self._size = 0

    def close(self) -> None:
        with self._lock:
            self._file.close()
