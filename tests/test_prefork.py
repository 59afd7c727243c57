"""The fork server the suite starts its Python MCP servers through (tests/servers/prefork.py) must
be invisible to the gateway: a server of its own with the launcher's environment, its pipes, its
exit, and no life after its launcher's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import IO, Any

from tests.conftest import PREFORK_VARIABLE, REPO, initialize_request, pid_alive, server_command

INITIALIZE = initialize_request("t")


def start(*options: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        server_command("tests.servers.faulty", *options),
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def ask(process: subprocess.Popen[bytes], message: dict[str, Any]) -> dict[str, Any]:
    stdin: IO[bytes] | None = process.stdin
    assert stdin is not None and process.stdout is not None
    stdin.write(json.dumps(message).encode() + b"\n")
    stdin.flush()
    answer: dict[str, Any] = json.loads(process.stdout.readline())
    return answer


def call(process: subprocess.Popen[bytes], tool: str, **arguments: Any) -> str:
    answer = ask(
        process,
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": arguments}},
    )
    return str(answer["result"]["content"][0]["text"])


def initialized(process: subprocess.Popen[bytes]) -> int:
    """Initialize the server; return its pid."""
    assert ask(process, INITIALIZE)["result"]["serverInfo"]["name"] == "faulty"
    assert process.stdin is not None
    process.stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
    return int(call(process, "pid"))


def gone(pid: int, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def finish(process: subprocess.Popen[bytes]) -> int:
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    return process.wait(20)


def test_a_forked_server_has_the_launchers_environment_and_ends_with_its_stdin() -> None:
    assert PREFORK_VARIABLE in os.environ
    process = start("--echo-description", "changed", env={**os.environ, "FAULTY_SECRET": "mine"})
    pid = initialized(process)
    assert pid != process.pid  # a fork, not the launcher exec'd
    assert call(process, "getenv", name="FAULTY_SECRET") == "mine"
    tools = ask(process, {"jsonrpc": "2.0", "id": 3, "method": "tools/list"})["result"]["tools"]
    assert {t["name"]: t["description"] for t in tools}["echo"] == "changed"  # its own argv
    assert finish(process) == 0
    assert gone(pid)


def test_a_server_that_exits_makes_its_launcher_exit_with_its_code() -> None:
    process = start()
    initialized(process)
    assert process.stdin is not None
    process.stdin.write(
        b'{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "crash", "arguments": {}}}\n'
    )
    process.stdin.flush()
    assert process.wait(20) == 3
    finish(process)


def test_sigterm_to_the_launcher_reaches_the_server() -> None:
    process = start("--sigterm-exit", "42")
    pid = initialized(process)
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 42  # the server's handler ran: the launcher did not just die of it
    assert gone(pid)
    finish(process)


def test_a_server_killed_by_a_signal_makes_its_launcher_end_by_that_signal() -> None:
    for number in (signal.SIGTERM, signal.SIGKILL):
        process = start()
        os.kill(initialized(process), number)
        assert process.wait(20) == -number
        finish(process)


def test_a_killed_launcher_takes_its_server_along() -> None:
    process = start()
    pid = initialized(process)
    process.kill()
    process.wait(20)
    assert gone(pid)
    finish(process)


def test_without_a_fork_server_the_launcher_starts_the_server_itself(monkeypatch: Any) -> None:
    monkeypatch.setenv(PREFORK_VARIABLE, str(REPO / "no-such-socket"))
    process = start()
    assert initialized(process) == process.pid  # exec'd in place
    assert finish(process) == 0
