"""A hand-written stdio MCP server (no SDK) whose tool calls answer with what no SDK server would
send: the answers that used to end skillgate or fail other calls. Each tool is one answer.

    surrogate        a result whose text holds a lone surrogate escape ("\\ud800")
    list_token       a progress notification whose token is a list, then a result
    two_answers      two results for one call: "first", then "second"
    listed_content   structuredContent that is a list, not an object
    input_required   an incomplete result (resultType input_required); counts its calls
    fine             "fine"

Run: python -m tests.servers.hostile COUNT_FILE   (COUNT_FILE: one line per tools/call received)
"""

from __future__ import annotations

import json
import sys
from typing import Any

TOOLS = ["surrogate", "list_token", "two_answers", "listed_content", "input_required", "fine"]


def send(raw: str) -> None:
    sys.stdout.write(raw + "\n")
    sys.stdout.flush()


def answer(request_id: Any, result: dict[str, Any]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result})


def text(value: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": value}], "isError": False}


def main() -> None:
    counts = sys.argv[1]
    for line in sys.stdin:
        message = json.loads(line)
        method, request_id = message.get("method"), message.get("id")
        if request_id is None:
            continue  # notifications
        if method == "initialize":
            send(
                answer(
                    request_id,
                    {
                        "protocolVersion": message["params"]["protocolVersion"],
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "hostile", "version": "1"},
                    },
                )
            )
        elif method == "tools/list":
            tools = [{"name": n, "description": n, "inputSchema": {"type": "object"}} for n in TOOLS]
            send(answer(request_id, {"tools": tools}))
        elif method == "tools/call":
            name = message["params"]["name"]
            with open(counts, "a") as log:
                log.write(name + "\n")
            token = (message["params"].get("_meta") or {}).get("progressToken")
            if name == "surrogate":
                send(answer(request_id, text("SURROGATE")).replace("SURROGATE", "\\ud800"))
            elif name == "list_token":
                progress = {"progressToken": [token], "progress": 1}
                send(json.dumps({"jsonrpc": "2.0", "method": "notifications/progress", "params": progress}))
                send(answer(request_id, text("after the odd progress")))
            elif name == "two_answers":
                send(answer(request_id, text("first")))
                send(answer(request_id, text("second")))
            elif name == "listed_content":
                send(answer(request_id, {**text("listed"), "structuredContent": [1, 2]}))
            elif name == "input_required":
                send(answer(request_id, {"resultType": "input_required", "inputRequests": {}}))
            else:
                send(answer(request_id, text("fine")))
        else:
            error = {"code": -32601, "message": "Method not found"}
            send(json.dumps({"jsonrpc": "2.0", "id": request_id, "error": error}))


if __name__ == "__main__":
    main()
