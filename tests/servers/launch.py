"""Start an SDK-based test server through the fork server (tests/servers/prefork.py).

Run: python -S tests/servers/launch.py SOCKET_PATH -m MODULE [ARGS...]

The process the gateway starts and stops. It hands its stdin, stdout and stderr to a server
forked from the fork server at SOCKET_PATH, then stands in for it: SIGTERM, SIGINT and SIGHUP are
passed on, and it exits as the server did (with its code, or by its signal). Only the server holds
the pipes, so the gateway sees their ends as it would a server of its own. Without a fork server
(the socket is gone), it becomes `python -m MODULE ARGS...` itself. Standard library only, and
`-S`: it starts in milliseconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys


def main() -> None:
    path, argv = sys.argv[1], sys.argv[2:]
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
        request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode() + b"\n"
        socket.send_fds(connection, [request[:1]], [0, 1, 2])
        connection.sendall(request[1:])
        answers = connection.makefile("rb")
        pid = int(answers.readline())
    except (OSError, ValueError):  # no fork server, or it refused: start the server the slow way
        connection.close()
        os.execv(sys.executable, [sys.executable, *argv])

    def pass_on(received: int, _: object) -> None:
        with contextlib.suppress(ProcessLookupError):  # it has just exited: its exit code is on the way
            os.kill(pid, received)
        with contextlib.suppress(ProcessLookupError, PermissionError):  # and its own children
            os.killpg(pid, received)

    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, pass_on)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # the server holds the pipes alone: their ends are its own
        os.dup2(devnull, fd)
    line = answers.readline()
    if not line:  # the fork server died before its server (which ends with this launcher anyway)
        os._exit(70)
    code = int(line)
    if code < 0:  # killed by signal -code: end by it too
        with contextlib.suppress(OSError):  # SIGKILL and SIGSTOP keep their default action anyway
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
