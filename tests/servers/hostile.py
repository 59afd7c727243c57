"""A hand-written MCP server (no SDK) whose tool calls answer with what no SDK server would send:
the answers that used to end skillgate or fail other calls. Each tool is one answer.

    surrogate        a result whose text holds a lone surrogate escape ("\\ud800")
    list_token       a progress notification whose token is a list, then a result
    two_answers      two results for one call: "first", then "second"
    listed_content   structuredContent that is a list, not an object
    input_required   an incomplete result (resultType input_required); counts its calls
    error            a JSON-RPC error with the code in arguments.code (-32000 included)
    huge_progress    a progress notification of a 400-digit progress and total, then a result
    inf_progress     a progress notification of 1e400 (no float holds it), then a result
    odd_notes        notifications of odd shapes and a line of junk, then a result
    stranger         an answer to an id never sent, then the result
    late             the result after arguments.seconds (the call may have timed out by then)
    over_limit       a result line over 64 MiB
    pid              the server's process id
    fine             "fine"

Both eras: `server/discover` is answered with --modern, else "method not found" (the client
then falls back to `initialize`). Over stdio by default; with --http PORT, streamable HTTP on
127.0.0.1:PORT/mcp, each POSTed request answered as a server-sent event stream.

Run: python -m tests.servers.hostile COUNT_FILE [--modern] [--http PORT]
(COUNT_FILE: one line per tools/call received)
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOOLS = [
    "surrogate",
    "list_token",
    "two_answers",
    "listed_content",
    "input_required",
    "error",
    "huge_progress",
    "inf_progress",
    "odd_notes",
    "stranger",
    "late",
    "over_limit",
    "pid",
    "fine",
]
MODERN = "--modern" in sys.argv
OVER_LIMIT = 64 * 1024 * 1024 + 1024

Send = Callable[[str], None]


def answer(request_id: Any, result: dict[str, Any]) -> str:
    if MODERN:  # what every 2026-era result carries
        result = {"resultType": "complete", **result}
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result})


def text(value: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": value}], "isError": False}


def progress(token: Any, raw_progress: str) -> str:
    params = '{"progressToken": ' + json.dumps(token) + ', "progress": ' + raw_progress + "}"
    return '{"jsonrpc": "2.0", "method": "notifications/progress", "params": ' + params + "}"


def respond(message: dict[str, Any], send: Send, counts: str) -> None:
    """Everything the server writes for one message (a request: its answer, and what comes first)."""
    method, request_id = message.get("method"), message.get("id")
    if request_id is None:
        return  # notifications
    if method == "initialize":
        result = {
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "hostile", "version": "1"},
        }
        send(answer(request_id, result))
    elif method == "server/discover" and MODERN:
        result = {
            "supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "hostile", "version": "1"},
        }
        send(answer(request_id, result))
    elif method == "ping":
        send(answer(request_id, {}))
    elif method == "tools/list":
        schema = {"type": "object"}
        tools = [{"name": n, "description": n, "inputSchema": schema} for n in TOOLS]
        cache = {"ttlMs": 0, "cacheScope": "private"} if MODERN else {}
        send(answer(request_id, {"tools": tools, **cache}))
    elif method == "tools/call":
        call(message["params"], request_id, send, counts)
    else:
        error = {"code": -32601, "message": "Method not found"}
        send(json.dumps({"jsonrpc": "2.0", "id": request_id, "error": error}))


def call(params: dict[str, Any], request_id: Any, send: Send, counts: str) -> None:
    name = params["name"]
    arguments = params.get("arguments") or {}
    with open(counts, "a") as log:
        log.write(name + "\n")
    token = (params.get("_meta") or {}).get("progressToken")
    if name == "surrogate":
        send(answer(request_id, text("SURROGATE")).replace("SURROGATE", "\\ud800"))
    elif name == "list_token":
        notice = {"progressToken": [token], "progress": 1}
        send(json.dumps({"jsonrpc": "2.0", "method": "notifications/progress", "params": notice}))
        send(answer(request_id, text("after the odd progress")))
    elif name == "two_answers":
        send(answer(request_id, text("first")))
        send(answer(request_id, text("second")))
    elif name == "listed_content":
        send(answer(request_id, {**text("listed"), "structuredContent": [1, 2]}))
    elif name == "input_required":
        send(answer(request_id, {"resultType": "input_required", "inputRequests": {}}))
    elif name == "error":
        error = {"code": arguments.get("code", -32000), "message": f"upstream error {arguments.get('code')}"}
        send(json.dumps({"jsonrpc": "2.0", "id": request_id, "error": error}))
    elif name == "huge_progress":
        send(progress(token, "9" * 400 + ', "total": ' + "9" * 401))
        send(answer(request_id, text("after the huge progress")))
    elif name == "inf_progress":
        send(progress(token, "1e400"))
        send(answer(request_id, text("after the infinite progress")))
    elif name == "odd_notes":
        for odd in [
            {"jsonrpc": "2.0", "method": "notifications/progress", "params": "not an object"},
            {"jsonrpc": "2.0", "method": 42},
            {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "nope", "data": [1]}},
            {"jsonrpc": "2.0", "method": "notifications/unheard_of", "params": {"x": 10**400}},
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request_id}},
        ]:
            send(json.dumps(odd))
        send("this line is not JSON")
        send(answer(request_id, text("after the odd notifications")))
    elif name == "stranger":
        send(answer(987_654_321, text("for nobody")))
        send(answer(request_id, text("after the stranger")))
    elif name == "late":
        seconds = float(arguments.get("seconds", 2))

        def late() -> None:
            send(answer(request_id, text("late")))
            with open(counts, "a") as log:
                log.write("late-sent\n")

        threading.Timer(seconds, late).start()
    elif name == "over_limit":
        send(answer(request_id, text("x" * OVER_LIMIT)))
    elif name == "pid":
        send(answer(request_id, text(str(os.getpid()))))
    else:
        send(answer(request_id, text("fine")))


def serve_stdio(counts: str) -> None:
    lock = threading.Lock()

    def send(raw: str) -> None:
        with lock:
            sys.stdout.write(raw + "\n")
            sys.stdout.flush()

    for line in sys.stdin:
        respond(json.loads(line), send, counts)


def serve_http(counts: str, port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # no stream of server-initiated messages
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_DELETE(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            message = json.loads(body)
            if message.get("id") is None:
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            done = threading.Event()

            def send(raw: str) -> None:
                if raw.startswith("{") and '"id"' in raw and '"method"' not in raw[:40]:
                    done.set()  # an answer: the stream may end after it
                try:
                    self.wfile.write(b"event: message\ndata: " + raw.encode() + b"\n\n")
                    self.wfile.flush()
                except OSError:
                    done.set()

            respond(message, send, counts)
            done.wait(30)
            time.sleep(0.05)  # a second answer to the same id (two_answers) goes out too
            self.close_connection = True

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main() -> None:
    counts = sys.argv[1]
    if "--http" in sys.argv:
        serve_http(counts, int(sys.argv[sys.argv.index("--http") + 1]))
    else:
        serve_stdio(counts)


if __name__ == "__main__":
    main()
