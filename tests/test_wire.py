"""The wire, fuzzed: generated JSON-RPC lines sent to skillgate over stdio with the fast path on
and off (off: no lane; the SDK's session answers every request).

Each example is a batch of lines written in one go — meta-tool calls with ids of every type
(duplicates, "5" beside 5, floats, null, lists), arguments with lone surrogates, huge numbers
and odd progress tokens, cancellations of calls in flight (by the same id, by its string, by
odd values), and garbage (BOM, broken JSON, batches) — then a probe call. The properties:
the server stays up and the probe is answered; every request the SDK's parser reads as a
request gets exactly one answer with its own id, unless a cancellation the SDK honours names
it; every line that is not a message gets JSON-RPC's error answer (-32700 or -32600, with its
id when it has a valid one, else null); nothing else is answered; and the two paths give the
same answers and the same audit lines. Bounded and derandomized in `make test`; `make fuzz` searches wider.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from mcp.shared.dispatcher import coerce_request_id
from pydantic import ValidationError

from tests.conftest import REPO, faulty_server, write_skill

MODERN = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "wire", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
WAIT = 30.0  # seconds for any awaited line: a failure, never a hang


class Gateway:
    """skillgate over stdio, written to and read from as raw lines."""

    def __init__(self, catalog: Path, lanes: bool, audit: Path, modern: bool) -> None:
        config = audit.with_suffix(".toml")
        config.write_text(
            f"[audit]\npath = {json.dumps(str(audit))}\n[lanes]\nenabled = {str(lanes).lower()}\n"
        )
        self.audit = audit
        self.modern = modern
        self.process = subprocess.Popen(
            [sys.executable, "-m", "skillgate", "serve", str(catalog), "--config", str(config)],
            cwd=REPO,
            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.audit_seen = 0
        self.probes = itertools.count(1)
        if modern:
            self.request(
                {"jsonrpc": "2.0", "id": "open", "method": "server/discover", "params": {"_meta": MODERN}}
            )
        else:
            init = {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "wire", "version": "1"},
            }
            self.request({"jsonrpc": "2.0", "id": "open", "method": "initialize", "params": init})
            self.send([json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})])
        self.new_audit()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def send(self, lines: list[str]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass"))
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(
                f"no line within {WAIT} s (server exit code {self.process.poll()})"
            ) from None
        message: dict[str, Any] = json.loads(line)
        return message

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        self.send([json.dumps(message)])
        while (answer := self.receive()).get("id") != message["id"]:
            pass
        return answer

    def call(self, tool: str, arguments: Any, request_id: Any, **meta: Any) -> dict[str, Any]:
        params: dict[str, Any] = {"name": tool, "arguments": arguments}
        if self.modern or meta:
            params["_meta"] = {**(MODERN if self.modern else {}), **meta}
        return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}

    def new_audit(self, cancelled: int = 0) -> list[dict[str, Any]]:
        """The audit lines written since the last look. A call's line is written before its answer;
        a cancelled call's when its cancellation has run its course: `cancelled` of those are awaited."""
        deadline = time.monotonic() + WAIT
        while True:
            text = self.audit.read_text() if self.audit.exists() else ""
            lines = text.split("\n")[:-1]  # whole lines only: the server may be writing the next one
            fresh = [json.loads(line) for line in lines[self.audit_seen :]]
            if sum(line["outcome"] == "cancelled" for line in fresh) >= cancelled:
                break
            assert time.monotonic() < deadline, "a cancelled call left no audit line"
            time.sleep(0.01)
        self.audit_seen = len(lines)
        return [{k: v for k, v in line.items() if k not in ("time", "duration_ms")} for line in fresh]

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(20)
        self._reader.join(20)
        self.process.stdout.close()


# -- what an example is made of ------------------------------------------------------------

IDS = st.one_of(
    st.integers(-3, 40),
    st.integers(-3, 40).map(str),  # "5" beside 5: one id to the SDK's dispatcher
    st.sampled_from(["a", "", " 7 ", "07"]),
    st.sampled_from([1.5, 2.0, True, None, [1], {"id": 1}]),  # not ids: the SDK reads notifications
)
ODD_TEXT = st.text(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=3)  # lone surrogates
ARGUMENT_VALUES = st.one_of(
    st.text(max_size=8),
    ODD_TEXT,
    st.integers(),
    st.just(10**400),
    st.floats(allow_nan=False),
    st.none(),
    st.lists(st.integers(), max_size=3),
)
TOKENS = st.one_of(st.integers(0, 5), st.text(max_size=3), st.sampled_from([1.5, None, True, [1], {"t": 1}]))


@st.composite
def calls(draw: st.DrawFn, gateway_modern: bool) -> tuple[str, Any, dict[str, Any], dict[str, Any]]:
    """(tool, arguments, _meta extras, raw params overrides) of one meta-tool call."""
    tool = draw(st.sampled_from(["call_skill", "list_skills", "load_skill", "call_skill"]))
    if tool == "call_skill":
        arguments: Any = {
            "name": draw(st.sampled_from(["faults", "fault", "notes"])),
            "tool": draw(st.sampled_from(["echo", "echo", "nope"])),
            "arguments": {"text": draw(ARGUMENT_VALUES), "times": draw(st.sampled_from([1, 2, "x"]))},
        }
    elif tool == "list_skills":
        arguments = draw(
            st.fixed_dictionaries({}, optional={"query": ARGUMENT_VALUES, "limit": ARGUMENT_VALUES})
        )
    else:
        arguments = {"name": draw(st.one_of(st.sampled_from(["faults", "notes", "nope"]), ODD_TEXT))}
    arguments = draw(st.one_of(st.just(arguments), st.sampled_from([[1], "x", None])))
    meta = draw(st.fixed_dictionaries({}, optional={"progressToken": TOKENS}))
    return tool, arguments, meta, {}


GARBAGE = st.sampled_from(
    [
        "\ufeff" + json.dumps({"jsonrpc": "2.0", "id": 900, "method": "ping"}),
        '{"jsonrpc": "2.0", "id": 901, "method": "tools/call", "params": {"name": "call_skill"',
        json.dumps([{"jsonrpc": "2.0", "id": 902, "method": "ping"}]),
        "[" * 5000,
        '{"jsonrpc": "2.0", "id": 903, "method": "ping", "params": {"x": 1e400}}',
        '{"jsonrpc": "2.0", "id": 904, "method": "ping", "params": {"x": ' + "9" * 400 + "}}",
        "not json at all",
        "",
    ]
)


@st.composite
def batches(draw: st.DrawFn) -> list[Any]:
    """A batch of actions: ("call", id, call), ("cancel", requestId), ("wait", id) or ("raw", line)."""
    actions: list[Any] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["call", "call", "cancel", "raw"]))
        if kind == "call":
            actions.append(("call", draw(IDS), draw(calls(False))))
        elif kind == "cancel":  # of nothing in flight: odd values, ids of no call
            actions.append(("cancel", draw(st.sampled_from([[1], {"id": 1}, 1.5, True, None, 999, "999"]))))
        else:
            actions.append(("raw", draw(GARBAGE)))
    if draw(st.booleans()):  # a call that only a cancellation ends, cancelled by its id or its string
        wait_id = draw(st.integers(700, 703))
        actions.insert(draw(st.integers(0, len(actions))), ("wait", wait_id))
        actions.append(("cancel", draw(st.sampled_from([wait_id, str(wait_id)]))))
    return actions


# -- running an example ---------------------------------------------------------------------


def lines_of(gateway: Gateway, actions: list[Any], marker: Path) -> list[str]:
    lines = []
    for action in actions:
        if action[0] == "call":
            _, request_id, (tool, arguments, meta, _) = action
            lines.append(json.dumps(gateway.call(tool, arguments, request_id, **meta)))
        elif action[0] == "wait":
            arguments = {"name": "faults", "tool": "wait_for_cancel", "arguments": {"marker": str(marker)}}
            lines.append(json.dumps(gateway.call("call_skill", arguments, action[1])))
        elif action[0] == "cancel":
            params: dict[str, Any] = {"requestId": action[1]}
            if gateway.modern:
                params["_meta"] = MODERN
            lines.append(
                json.dumps({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params})
            )
        else:
            lines.append(action[1])
    return lines


def expected_answers(lines: list[str]) -> Counter[Any]:
    """How many answers each id must get, by the SDK's own reading of the lines: one per request,
    none for a request whose id a later cancellation names while it is the newest with that id."""
    requests: list[types.JSONRPCRequest] = []
    cancelled: set[int] = set()
    refused: Counter[Any] = Counter()
    for line in lines:
        if not line:
            continue
        try:
            message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        except ValidationError as exc:
            raw = None if any(e["type"] == "json_invalid" for e in exc.errors()) else loaded(line)
            if not (isinstance(raw, dict) and "method" not in raw and ("result" in raw or "error" in raw)):
                refused[json.dumps(refused_id(line, exc))] += 1  # (a response is never answered)
            continue
        raw = loaded(line) or {}
        if isinstance(message, types.JSONRPCNotification) and "id" in raw:
            if raw["id"] is not None or not message.method.startswith("notifications/"):
                refused["null"] += 1  # an id that is no id: invalid, never a notification
            continue
        if isinstance(message, types.JSONRPCRequest):
            requests.append(message)
        elif message.method == "notifications/cancelled" and isinstance(message.params, dict):
            target = message.params.get("requestId")
            if isinstance(target, str | int) and not isinstance(target, bool):
                newest = [
                    i for i, r in enumerate(requests) if coerce_request_id(r.id) == coerce_request_id(target)
                ]
                if (
                    newest
                    and requests[newest[-1]].params
                    and "wait_for_cancel" in json.dumps(requests[newest[-1]].params)
                ):
                    cancelled.add(newest[-1])
    return Counter(json.dumps(r.id) for i, r in enumerate(requests) if i not in cancelled) + refused


def loaded(line: str) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def refused_id(line: str, exc: ValidationError) -> Any:
    """JSON-RPC's rule for the id of an error answer: the request's, when it can be read and is a
    string or an integer; else null (not JSON, a batch, no object, an id of another type)."""
    if any(e["type"] == "json_invalid" for e in exc.errors()):
        return None
    raw = loaded(line)
    key = raw.get("id") if isinstance(raw, dict) else None
    return key if isinstance(key, str) or (isinstance(key, int) and not isinstance(key, bool)) else None


def run(gateway: Gateway, lines: list[str]) -> list[dict[str, Any]]:
    """Send the batch and a probe; every answer up to the last one due (the probe's included)."""
    due = expected_answers(lines)
    probe = f"probe-{next(gateway.probes)}"
    gateway.send([*lines, json.dumps(gateway.call("list_skills", {}, probe))])
    due[json.dumps(probe)] += 1
    answers: list[dict[str, Any]] = []
    got: Counter[str] = Counter()
    while got != due:
        answer = gateway.receive()
        if "id" not in answer:
            continue  # a notification (progress)
        key = json.dumps(answer["id"])
        got[key] += 1
        assert got[key] <= due[key], f"an answer with an id not due: {answer}"
        answers.append(answer)
    return sorted(answers, key=lambda a: json.dumps(a, sort_keys=True))


@pytest.fixture(scope="module", params=[True, False], ids=["2026", "handshake"])
def gateways(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("wire")
    catalog = tmp / "catalog"
    allowed = ["echo", "wait_for_cancel"]
    write_skill(catalog, "faults", servers={"f": {**faulty_server(), "timeout": 20, "allowedTools": allowed}})
    write_skill(catalog, "notes", "Instructions only.")
    modern = request.param
    on = Gateway(catalog, True, tmp / "on.jsonl", modern)
    off = Gateway(catalog, False, tmp / "off.jsonl", modern)
    yield on, off, tmp
    on.close()
    off.close()


@settings(max_examples=40 if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci" else 1000)
@given(batches())
@example(
    [("call", 5, ("call_skill", {"name": "faults", "tool": "echo", "arguments": {"text": "\ud800"}}, {}, {}))]
)
@example([("call", 1, ("list_skills", {}, {}, {})), ("call", "1", ("list_skills", {}, {}, {}))])
@example([("wait", 700), ("cancel", "700")])
@example([("call", 3, ("list_skills", {}, {}, {})), ("cancel", [3]), ("cancel", {"a": 1})])
@example([("call", 4, ("list_skills", {}, {"progressToken": 1.5}, {}))])
@example([("raw", "\ufeff" + json.dumps({"jsonrpc": "2.0", "id": 900, "method": "ping"}))])
def test_no_line_ends_the_server_and_the_fast_path_answers_as_the_sdk_does(
    gateways: Any, actions: list[Any]
) -> None:
    both(gateways, actions)


def both(gateways: Any, actions: list[Any]) -> list[dict[str, Any]]:
    """The batch through the fast path and through the SDK: the same answers and audit lines,
    both servers up; the answers."""
    on, off, tmp = gateways
    marker = tmp / "cancelled.txt"
    through = {}
    for name, gateway in (("on", on), ("off", off)):
        lines = lines_of(gateway, actions, marker)
        cancelled = sum(action[0] == "wait" for action in actions)
        through[name] = (run(gateway, lines), gateway.new_audit(cancelled))
        assert gateway.process.poll() is None, f"the server ({name}) exited"
    assert through["on"][0] == through["off"][0]
    assert sorted(map(json.dumps, through["on"][1])) == sorted(map(json.dumps, through["off"][1]))
    return through["on"][0]


# -- the inputs that ended the server before (issue 19), one by one ----------------------------

ECHO = ("call_skill", {"name": "faults", "tool": "echo", "arguments": {"text": "hi"}}, {}, {})


def test_a_lone_surrogate_in_call_arguments_never_reaches_the_upstream_and_the_server_stays_up(
    gateways: Any,
) -> None:
    surrogate = ("call_skill", {"name": "faults", "tool": "echo", "arguments": {"text": "\ud800"}}, {}, {})
    answers = both(gateways, [("call", 1, surrogate), ("call", 2, ECHO)])
    called = {json.dumps(a["id"]): a for a in answers if not str(a["id"]).startswith("probe")}
    assert sorted(called) == ["2", "null"]  # the first line is not JSON the parser takes: no request
    assert called["null"]["error"]["code"] == types.PARSE_ERROR and "result" in called["2"]


def test_two_requests_with_one_id_in_one_read_are_each_answered_once(gateways: Any) -> None:
    answers = both(gateways, [("call", 7, ECHO), ("call", 7, ECHO), ("call", "7", ECHO)])
    assert sorted(json.dumps(a["id"]) for a in answers if not str(a["id"]).startswith("probe")) == [
        '"7"',
        "7",
        "7",
    ]


def test_a_cancellation_in_the_same_read_as_its_request_cancels_it(gateways: Any) -> None:
    for target in (700, "700"):  # by the id, or by its string ("5" and 5 are one id to the SDK)
        answers = both(gateways, [("wait", 700), ("cancel", target)])
        assert all(a["id"] != 700 for a in answers)


def test_a_cancellation_naming_a_list_or_object_changes_nothing(gateways: Any) -> None:
    answers = both(gateways, [("call", 3, ECHO), ("cancel", [3]), ("cancel", {"id": 3}), ("cancel", 3.0)])
    assert any(a["id"] == 3 and a["result"]["content"][0]["text"] == "hi" for a in answers)


@pytest.mark.parametrize(
    "meta",
    [{"progressToken": 1.5}, {"progressToken": None}, {"progressToken": {"t": 1}}, {"progressToken": [1]}],
    ids=["float", "null", "object", "list"],
)
def test_an_odd_progress_token_gets_the_sdks_answer(gateways: Any, meta: dict[str, Any]) -> None:
    odd = ("call_skill", ECHO[1], meta, {})
    answers = both(gateways, [("call", 4, odd)])
    assert any(a["id"] == 4 for a in answers)


def test_a_bom_line_and_a_non_object_client_info_get_the_sdks_answers(gateways: Any) -> None:
    on = gateways[0]
    client_info = {**MODERN, "io.modelcontextprotocol/clientInfo": "not an object"}
    call = on.call("call_skill", ECHO[1], 5)
    call["params"]["_meta"] = client_info  # an envelope: refused on a handshake connection, too
    both(
        gateways,
        [("raw", "\ufeff" + json.dumps(on.call("call_skill", ECHO[1], 6))), ("raw", json.dumps(call))],
    )


# -- answers from upstream that no SDK server sends (tests/servers/hostile.py) -----------------


@pytest.fixture(scope="module", params=[True, False], ids=["2026", "handshake"])
def hostile(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("hostile")
    counts = tmp / "calls.txt"
    server = {
        "command": sys.executable,
        "args": ["-m", "tests.servers.hostile", str(counts)],
        "cwd": str(REPO),
        "timeout": 2,  # an answer the SDK cannot read fails its call at once (before, at its timeout)
    }
    write_skill(tmp / "catalog", "hostile", servers={"h": server})
    on = Gateway(tmp / "catalog", True, tmp / "on.jsonl", request.param)
    off = Gateway(tmp / "catalog", False, tmp / "off.jsonl", request.param)
    yield on, off, counts
    on.close()
    off.close()


def hostile_call(gateway: Gateway, tool: str, request_id: int) -> dict[str, Any]:
    arguments = {"name": "hostile", "tool": tool, "arguments": {}}
    answer = gateway.request(gateway.call("call_skill", arguments, request_id, progressToken=request_id))
    assert gateway.process.poll() is None, "the server exited"
    fine = gateway.request(gateway.call("call_skill", {**arguments, "tool": "fine"}, request_id + 1))
    assert fine["result"]["content"][0]["text"] == "fine"  # the connection survived: the next call works
    return answer


@pytest.mark.parametrize(
    "tool", ["surrogate", "list_token", "two_answers", "listed_content", "input_required"]
)
def test_an_upstream_answer_no_sdk_server_sends_is_that_calls_problem_alone(hostile: Any, tool: str) -> None:
    on, off, counts = hostile
    answers = [hostile_call(gateway, tool, 10 * n) for n, gateway in enumerate((on, off), start=1)]
    for answer in answers:
        answer.pop("id")
    assert answers[0] == answers[1]  # the fast path and the SDK's path say the same
    result = answers[0].get("result", {})
    if tool == "two_answers":
        assert result["content"][0]["text"] == "first"  # the first answer wins, as in the SDK
    elif tool == "list_token":
        assert result["content"][0]["text"] == "after the odd progress"
    else:
        assert result.get("isError") or "error" in answers[0], answers[0]  # refused, as one call's error
    if tool == "surrogate":  # not waited out: the answer is read as that call's error
        assert "not valid MCP" in json.dumps(answers[0]) and "did not answer" not in json.dumps(answers[0])
    assert counts.read_text().splitlines().count(tool) == 2  # one call upstream per request, never twice


def test_a_call_still_running_when_the_client_closes_stdin_gets_the_sdks_closing_answer(
    gateways: Any,
) -> None:
    """Fast path on and off alike: a call in flight when stdin ends is answered `Connection closed`."""
    _, _, tmp = gateways
    catalog = tmp / "catalog"
    answers = []
    for lanes in (True, False):
        gateway = Gateway(catalog, lanes, tmp / f"closing-{lanes}.jsonl", modern=True)
        arguments = {"name": "faults", "tool": "wait_for_cancel", "arguments": {"marker": str(tmp / "m")}}
        assert gateway.request(gateway.call("list_skills", {}, "warm"))["result"]  # the session is up
        gateway.send([json.dumps(gateway.call("call_skill", arguments, 1))])
        assert gateway.process.stdin is not None and gateway.process.stdout is not None
        gateway.process.stdin.close()
        gateway.process.wait(20)
        gateway._reader.join(20)
        gateway.process.stdout.close()
        lines = []
        while not gateway.lines.empty():
            lines.append(json.loads(gateway.lines.get()))
        answers.append([line for line in lines if line.get("id") == 1])
    assert answers[0] == answers[1]


# -- lines that are not messages get JSON-RPC's answers (issue 22) ---------------------------


@pytest.mark.parametrize(
    ("line", "code", "key"),
    [
        ("not json at all", types.PARSE_ERROR, None),
        ('{"jsonrpc": "2.0", "id": 9, "method": "ping"', types.PARSE_ERROR, None),
        ('{"jsonrpc": "2.0", "id": 9, "method": "ping", "params": {"x": "\\ud800"}}', -32700, None),
        ("\udcff\udcfe", types.PARSE_ERROR, None),  # bytes that are not UTF-8
        (json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]), types.INVALID_REQUEST, None),
        ("[]", types.INVALID_REQUEST, None),
        ('"a string"', types.INVALID_REQUEST, None),
        ('{"jsonrpc": "2.0", "id": true, "method": "ping"}', types.INVALID_REQUEST, None),
        ('{"jsonrpc": "2.0", "id": null, "method": "ping"}', types.INVALID_REQUEST, None),
        ('{"jsonrpc": "2.0", "id": {}, "method": "ping"}', types.INVALID_REQUEST, None),
        ('{"jsonrpc": "2.0", "id": 1.5, "method": "ping"}', types.INVALID_REQUEST, None),
        ('{"jsonrpc": "1.0", "id": 7, "method": "ping"}', types.INVALID_REQUEST, 7),
        ('{"jsonrpc": "2.0", "id": "eight"}', types.INVALID_REQUEST, "eight"),
    ],
    ids=[
        "not-json", "cut-short", "lone-surrogate", "not-utf8", "batch", "empty-batch", "not-an-object",
        "id-true", "id-null", "id-object", "id-float", "jsonrpc-1.0", "no-method",
    ],
)  # fmt: skip
def test_a_line_that_is_not_a_message_gets_json_rpcs_error_answer_and_the_next_call_works(
    gateways: Any, line: str, code: int, key: Any
) -> None:
    for gateway in gateways[:2]:  # the fast path on, and off
        gateway.send([line])
        answer = gateway.receive()
        assert answer["id"] == key and answer["error"]["code"] == code, answer
        message = answer["error"]["message"]
        assert answer["jsonrpc"] == "2.0" and message.startswith(("parse error", "invalid"))
        probe = gateway.request(gateway.call("list_skills", {}, "after"))
        assert "result" in probe


def test_a_line_over_the_message_limit_is_refused_with_the_limit_named_and_the_next_call_works(
    gateways: Any,
) -> None:
    for gateway in gateways[:2]:
        gateway.send(["x" * (64 * 1024 * 1024 + 100)])
        answer = gateway.receive()
        assert answer["id"] is None and answer["error"]["code"] == types.INVALID_REQUEST
        assert "at most 64 MiB" in answer["error"]["message"]
        probe = gateway.request(gateway.call("list_skills", {}, "after-long"))
        assert "result" in probe


@pytest.mark.parametrize(
    "line",
    [
        '{"jsonrpc": "2.0", "id": 3, "result": null}',
        '{"jsonrpc": "2.0", "id": 3, "error": {"code": -1}}',
        '{"jsonrpc": "2.0", "method": "notifications/initialized", "id": null}',
    ],
    ids=["response-null-result", "error-without-message", "notification-id-null"],
)
def test_a_malformed_response_or_a_null_id_notification_is_never_answered(gateways: Any, line: str) -> None:
    for gateway in gateways[:2]:
        gateway.send([line])
        probe = gateway.request(gateway.call("list_skills", {}, "quiet-after"))  # the first answer
        assert "result" in probe
