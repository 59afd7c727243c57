"""tools/call to a 2026-era streamable-HTTP upstream as one plain POST.

In the 2026 era every request is a self-contained POST (no session), so a tool call needs
none of the SDK client's machinery (a transport task, memory streams, the dispatcher, result
models): the request is stamped with the session's envelope (the `_meta` fields and the
`MCP-Protocol-Version`/`Mcp-Method`/`Mcp-Name` headers, exactly as the SDK stamps it), posted
on the connection's own HTTP client (its headers and auth), and the answer read from JSON or
from the event stream (progress notifications on the way). Closing the stream is the era's
cancellation, so a timeout or a cancelled caller cancels the call upstream too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import MCPError
from mcp.shared.dispatcher import CallOptions, ProgressFnT

from skillgate.jsonrpc import Lines, Stamp, error_of, lane_id, progress_of
from skillgate.limits import MESSAGE_BYTES

ACCEPT = "application/json, text/event-stream"


async def post_call(
    http: httpx2.AsyncClient,
    url: str,
    params: dict[str, Any],
    stamp: Stamp,
    *,
    timeout: float,
    progress: ProgressFnT | None = None,
) -> dict[str, Any]:
    """The raw result of one tools/call, or `MCPError` as the SDK raises it (the server's
    error, REQUEST_TIMEOUT, CONNECTION_CLOSED)."""
    request_id = lane_id()
    data: dict[str, Any] = {"method": "tools/call", "params": params}
    opts: CallOptions = {}
    stamp(data, opts)
    if progress is not None:
        data["params"]["_meta"] = {**data["params"].get("_meta", {}), "progressToken": request_id}
    headers = {**opts.get("headers", {}), "Accept": ACCEPT, "Content-Type": "application/json"}
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, **data}, separators=(",", ":"))
    try:
        with anyio.fail_after(timeout):
            async with http.stream("POST", url, content=body, headers=headers) as response:
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind == "application/json":
                    return _answer(json.loads(await _body(response)))
                if kind == "text/event-stream":
                    async for event in _events(response):
                        message = json.loads(event)
                        if not isinstance(message, dict):
                            continue
                        if message.get("id") == request_id and "method" not in message:
                            return _answer(message)
                        if progress is not None and message.get("method") == "notifications/progress":
                            reported = progress_of(message.get("params"), request_id)
                            if reported is not None:
                                await progress(*reported)
                    raise MCPError(types.CONNECTION_CLOSED, "the event stream ended without an answer")
                raise MCPError(
                    types.INTERNAL_ERROR, f"HTTP {response.status_code} with {kind or 'no content type'}"
                )
    except TimeoutError:
        raise MCPError(types.REQUEST_TIMEOUT, "Timed out while waiting for response to tools/call") from None
    except httpx2.TransportError as exc:
        raise MCPError(types.CONNECTION_CLOSED, f"the request failed: {type(exc).__name__}: {exc}") from None
    except (ValueError, RecursionError) as exc:  # not JSON, or beyond the limits
        raise MCPError(
            types.INTERNAL_ERROR, f"malformed answer: {type(exc).__name__}: {str(exc)[:200]}"
        ) from None


def _answer(message: Any) -> dict[str, Any]:
    if isinstance(message, dict) and isinstance(message.get("result"), dict):
        result: dict[str, Any] = message["result"]
        return result
    error = error_of(message.get("error") if isinstance(message, dict) else message)
    raise MCPError(error.code, error.message, error.data)


async def _body(response: httpx2.Response) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size > MESSAGE_BYTES:
            raise ValueError(f"an answer over {MESSAGE_BYTES:,} bytes")
    return b"".join(parts)


async def _events(response: httpx2.Response) -> AsyncIterator[str]:
    """The `data` of each server-sent event (comments, ids and pings skipped)."""
    lines = Lines(MESSAGE_BYTES)
    data: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        for line in lines.feed(chunk):
            if line is None:
                raise ValueError(f"an event over {MESSAGE_BYTES:,} bytes")
            line = line.removesuffix(b"\r")
            if not line:
                if data:
                    yield b"\n".join(data).decode()
                data, size = [], 0
            elif line.startswith(b"data:"):
                data.append(line[5:].removeprefix(b" "))
                size += len(line)
                if size > MESSAGE_BYTES:
                    raise ValueError(f"an event over {MESSAGE_BYTES:,} bytes")
    if data:
        yield b"\n".join(data).decode()
