"""JSON-RPC pieces the direct upstream lanes share (stdio pipe, HTTP post): the session's
stamp, answer errors and progress parameters read defensively, and the lane's request ids."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

import mcp_types as types
from mcp.shared.dispatcher import CallOptions

Stamp = Callable[[dict[str, Any], CallOptions], None]  # the SDK session's envelope for a request

_ids = itertools.count(1)


def lanes_enabled(environ: Mapping[str, str]) -> bool:
    """The direct lanes (client side and upstream side) are on unless `SKILLGATE_CALL_LANE` says
    off: then every request and upstream call takes the SDK's own path, for comparison or diagnosis."""
    return environ.get("SKILLGATE_CALL_LANE", "on").strip().lower() not in ("off", "0", "false", "no")


def lane_id() -> str:
    """A request id of the direct lanes: a string `sg-N`, never one of the SDK's integers."""
    return f"sg-{next(_ids)}"


def is_lane_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith("sg-")


def message_of(data: bytes | str) -> dict[str, Any] | None:
    """A JSON-RPC message read off the wire: the JSON object, or None for anything else (not JSON,
    not an object, nested past Python's recursion limit, a number past its digit limit)."""
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return message if isinstance(message, dict) else None


def error_of(error: Any) -> types.ErrorData:
    """The error of an answer; a malformed one becomes an internal error naming what came."""
    try:
        return types.ErrorData.model_validate(error)
    except ValueError:
        return types.ErrorData(code=types.INTERNAL_ERROR, message=f"malformed answer: {str(error)[:200]}")


def progress_of(params: Any, token: str | None = None) -> tuple[float, float | None, str | None] | None:
    """(progress, total, message) of a `notifications/progress` (for `token`, if given), or None
    if it has no number or is another request's."""
    if not isinstance(params, dict) or not isinstance(params.get("progress"), int | float):
        return None
    if token is not None and params.get("progressToken") != token:
        return None
    total, message = params.get("total"), params.get("message")
    return (
        float(params["progress"]),
        float(total) if isinstance(total, int | float) else None,
        message if isinstance(message, str) else None,
    )


class Lines:
    """Bytes in, complete lines out (without the newline), never copying a long line again for
    each chunk. A line longer than `limit` is dropped and given as None, so the reader can say so."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._skipping = False

    def feed(self, chunk: bytes) -> list[bytes | None]:
        *complete, rest = chunk.split(b"\n")
        lines: list[bytes | None] = []
        for piece in complete:
            if self._skipping:
                lines.append(None)
                self._skipping = False
            else:
                line = b"".join([*self._parts, piece]) if self._parts else piece
                lines.append(line if len(line) <= self.limit else None)
            self._parts, self._size = [], 0
        if rest and not self._skipping:
            self._parts.append(rest)
            self._size += len(rest)
            if self._size > self.limit:
                self._parts, self._size, self._skipping = [], 0, True
        return lines
