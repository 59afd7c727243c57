"""The stdio upstream transport's line reading (skillgate/upstream/stdio.py): however the bytes
arrive, each line is the message the SDK's parser reads; a line over the limit, or an answer the
SDK's parser cannot read, becomes the error answer to the request it names, and the lines after it
are read as before."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from typing import Any

import anyio
import mcp_types as types
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import skillgate.upstream.stdio as stdio

MESSAGES = st.lists(
    st.one_of(
        st.builds(lambda i: {"jsonrpc": "2.0", "id": i, "result": {"content": []}}, st.integers(0, 99)),
        st.builds(
            lambda t: {"jsonrpc": "2.0", "method": "notifications/message", "params": {"data": t}}, st.text()
        ),
        st.just("not json"),
        # answers the SDK cannot read: they fail the request they name at once
        st.builds(lambda i: {"jsonrpc": "2.0", "id": i, "result": 5}, st.integers(0, 99)),
        st.builds(lambda i: f'{{"jsonrpc": "2.0", "id": {i}, "result": "\\ud800"}}', st.integers(0, 99)),
        st.builds(lambda i: {"jsonrpc": "2.0", "id": i, "method": 5}, st.integers(0, 99)),
    ),
    max_size=6,
)


class Chunks(anyio.abc.ByteReceiveStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if not self.chunks:
            raise anyio.EndOfStream
        return self.chunks.pop(0)

    async def aclose(self) -> None:
        pass


def read(data: bytes, cuts: list[int]) -> list[Any]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points) if b > a]

    async def collect() -> list[Any]:
        return [m async for m in stdio.lines(Chunks(chunks))]

    return anyio.run(collect)


def shown(item: Any) -> Any:
    if isinstance(item, Exception):
        return "junk"
    message = item.message
    if isinstance(message, types.JSONRPCError) and "not valid MCP" in message.error.message:
        return ("dropped", message.id)
    return message.model_dump(by_alias=True, exclude_unset=True)


def unreadable(line: str) -> Any:
    """What a line the SDK cannot read becomes: the error answer to the request it names (an
    object with an id and no method), else junk."""
    try:
        raw = json.loads(line)  # Python's parser takes a lone surrogate; the SDK's does not
    except ValueError:
        return "junk"
    named = isinstance(raw, dict) and "method" not in raw and type(raw.get("id")) in (int, str)
    return ("dropped", raw["id"]) if named else "junk"


@settings(max_examples=60, deadline=None, derandomize=True)
@given(MESSAGES, st.lists(st.integers(0, 10_000), max_size=8))
def test_every_line_is_read_as_the_sdk_reads_it_however_the_bytes_arrive(
    messages: list[Any], cuts: list[int]
) -> None:
    lines = [m if isinstance(m, str) else json.dumps(m) for m in messages]
    data = "".join(line + "\n" for line in lines).encode()
    expected = []
    for line in lines:
        try:
            expected.append(
                types.jsonrpc_message_adapter.validate_json(line, by_name=False).model_dump(
                    by_alias=True, exclude_unset=True
                )
            )
        except ValueError:
            expected.append(unreadable(line))
    assert [shown(m) for m in read(data, cuts)] == expected


def test_a_line_over_the_limit_answers_its_request_with_the_limit_and_the_next_line_is_read(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(stdio, "MESSAGE_BYTES", 1000)
    long = json.dumps({"jsonrpc": "2.0", "result": {"id": "inner", "text": "x" * 5000}, "id": 7})
    after = json.dumps({"jsonrpc": "2.0", "id": 8, "result": {}})
    got = read((long + "\n" + after + "\n").encode(), [10, 700, 1500, 4000])
    assert len(got) == 2
    error, fine = (m.message for m in got)
    assert isinstance(error, types.JSONRPCError) and error.id == 7 and "limit" in error.error.message
    assert isinstance(fine, types.JSONRPCResponse) and fine.id == 8


def test_the_id_of_a_cut_line_is_read_at_the_top_level_only() -> None:
    assert stdio.top_level_id('{"jsonrpc": "2.0", "id": "a\\"b", "result": {') == 'a"b'
    assert stdio.top_level_id('{"result": {"id": 1, "list": [{"id": 2}]}, "id": 3, "x": "') == 3
    assert stdio.top_level_id('{"result": {"id": 1, "text": "xxxx') is None
    assert stdio.top_level_id('{"id": true, "result": 1') is None
    assert (
        stdio.top_level_id('{"jsonrpc": "2.0", "id" : 12') is None or stdio.top_level_id('{"id" : 12,') == 12
    )


def test_the_id_at_the_end_of_a_long_answer_is_found(monkeypatch: Any) -> None:
    """The TypeScript SDK writes `result` first: the id of a long answer is at its end."""
    monkeypatch.setattr(stdio, "MESSAGE_BYTES", 1000)
    monkeypatch.setattr(stdio, "HEAD_BYTES", 100)
    long = json.dumps(
        {"result": {"content": [{"type": "text", "text": "x" * 5000}]}, "jsonrpc": "2.0", "id": 9}
    )
    (error,) = (m.message for m in read((long + "\n").encode(), [50, 3000]))
    assert isinstance(error, types.JSONRPCError) and error.id == 9


def test_a_long_request_from_the_server_or_a_deep_start_is_junk_not_an_answer() -> None:
    own = b'{"jsonrpc": "2.0", "id": 4, "method": "sampling/createMessage", "params": {"x": "'
    assert isinstance(stdio.over_limit(own, b'xx"}}'), Exception)
    assert isinstance(stdio.over_limit(b'{"id": ' + b"[" * 5000, b"]"), Exception)  # no RecursionError


def test_a_refused_request_from_the_server_never_fails_a_call_of_the_same_id() -> None:
    # the server numbers its own requests: id 1 with a `method` after its params is the server's
    # request (params not an object: refused), not an answer to the gateway's request 1
    own = b'{"jsonrpc": "2.0", "id": 1, "params": 5, "method": "sampling/createMessage"}'
    assert isinstance(stdio.parse(own), Exception)
    answer = stdio.parse(b'{"jsonrpc": "2.0", "id": 1, "result": 5}')
    assert not isinstance(answer, Exception) and isinstance(answer.message, types.JSONRPCError)
    assert answer.message.id == 1 and "not valid MCP" in answer.message.error.message


def test_a_log_line_with_a_backslash_in_a_trailing_id_is_junk_not_an_ended_connection() -> None:
    # `_TRAILING_ID` takes any escape; "C:\Users\me" is no JSON string, and json.loads raised
    # out of the reader, ending the connection with every call on it
    line = b'log: {"path": "x", "id": "C:\\Users\\me"}'
    assert isinstance(stdio.parse(line), Exception)
    assert isinstance(stdio.over_limit(b'{"result": "xx', b'xx", "id": "\\q"}'), Exception)
    after = b'{"jsonrpc": "2.0", "id": 1, "result": {}}'
    read_back = [shown(m) for m in read(line + b"\n" + after + b"\n", [])]
    assert read_back[0] == "junk" and read_back[1]["id"] == 1  # and the next line is read


def test_a_server_that_ignores_its_closed_stdin_is_stopped_and_reaped_before_stop_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its process object has its exit status when `stop` returns: nothing is left running to be
    garbage-collected with a ResourceWarning (which once failed a test that happened to run then).
    The group is killed here by a stand-in for the SDK's terminate_posix_process_tree that returns
    at once, so the loop has not yet heard of the exit unless `stop` waits for it."""

    async def kill_and_return(process: anyio.abc.Process) -> None:
        os.killpg(process.pid, signal.SIGKILL)

    monkeypatch.setattr(stdio, "terminate_posix_process_tree", kill_and_return)

    async def stopped() -> int | None:
        process = await anyio.open_process(
            [sys.executable, "-c", "import time; time.sleep(60)"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        await stdio.stop(process)
        code = process.returncode
        await process.aclose()
        return code

    assert anyio.run(stopped) == -signal.SIGKILL
