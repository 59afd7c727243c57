"""A fork server for the test suite's Python MCP servers: the SDK is imported once, each start is a fork.

Importing the MCP SDK costs about a second of CPU in every process on this machine (most of it
pydantic building the protocol's types), and the suite starts the fault-injecting test server
about eighty times. Started through this fork server, each of those starts is a `fork()` of a
process that has already imported the SDK, then the test server's own module run fresh as
`__main__`, with the argv, environment, working directory and stdin/stdout/stderr of the process
the gateway started. The gateway still starts a real process (`tests/servers/launch.py`, a few
milliseconds of stdlib Python), talks to the server over real pipes, and stops it as it stops any
upstream; what it talks to is the same server code an exec'd `python -m tests.servers.faulty`
runs.

Run: python -m tests.servers.prefork SOCKET_PATH   (conftest starts one per pytest worker; it
ends when its stdin closes, i.e. when the worker ends)

Protocol, one Unix-socket connection per server start:
  launcher -> here: a JSON line {"argv": ["-m", MODULE, *args], "cwd": ..., "env": {...}}, its
                    stdin, stdout and stderr attached to the first byte (SCM_RIGHTS)
  here -> launcher: "<pid>\\n" once forked, then "<exit code>\\n" when the server has exited
                    (negative: killed by that signal, as `Popen.returncode` says)
The server kills itself if its launcher dies first (the connection closes), as the process
group the gateway kills would have taken it along.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import runpy
import selectors
import signal
import socket
import sys
import threading
import time
import traceback

# What the servers started through here import: the SDK (types of both eras, the low-level server,
# the high-level MCPServer), what streamable-HTTP mode imports when it starts, and mcp-server-time.
import anyio  # noqa: F401
import mcp.server.mcpserver  # noqa: F401
import mcp_server_time  # noqa: F401
import uvicorn  # noqa: F401

MAX_REQUEST = 4 * 1024 * 1024
_RESET = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)


def main(path: str) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(128)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: dict[int, socket.socket] = {}
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_read, selectors.EVENT_READ, "reap")
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            if key.data == "accept":
                connection, _ = listener.accept()
                inherited = (listener, selector, wake_read, wake_write, *children.values())
                _start(connection, children, inherited)
            elif key.data == "reap":
                os.read(wake_read, 4096)
                _reap(children)
            elif not os.read(sys.stdin.fileno(), 4096):  # the pytest worker is gone
                for pid in children:
                    _signal(pid, signal.SIGKILL)
                return


def _start(
    connection: socket.socket, children: dict[int, socket.socket], inherited: tuple[object, ...]
) -> None:
    """Read one start request and fork its server; a malformed request just closes the connection."""
    fds: list[int] = []
    try:
        connection.settimeout(2)  # a launcher sends at once; the others' exits wait meanwhile
        data, fds, _, _ = socket.recv_fds(connection, 65536, 3)
        while not data.endswith(b"\n") and len(data) < MAX_REQUEST:
            more = connection.recv(65536)
            if not more:
                break
            data += more
        request = json.loads(data)
        argv, cwd, env = request["argv"], request["cwd"], request["env"]
        if len(fds) != 3 or len(argv) < 2 or argv[0] != "-m":
            raise ValueError(f"expected '-m MODULE ...' and three descriptors, got {argv!r}, {len(fds)}")
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"prefork: refused a start request: {error}", file=sys.stderr, flush=True)
        for fd in fds:
            os.close(fd)
        connection.close()
        return
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            code = _child(connection, fds, argv[1], argv[2:], cwd, env, inherited)
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    with contextlib.suppress(OSError):  # the launcher is gone already: the child notices and ends itself
        connection.sendall(f"{pid}\n".encode())
    children[pid] = connection


def _reap(children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = children.pop(pid, None)
        if connection is None:
            continue
        with contextlib.suppress(OSError):
            connection.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
        connection.close()


def _signal(pid: int, number: int) -> None:
    """Signal a server and its group (it leads one, once it has started)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, number)


def _child(
    connection: socket.socket,
    fds: list[int],
    module: str,
    args: list[str],
    cwd: str,
    env: dict[str, str],
    inherited: tuple[object, ...],
) -> int:
    """Become the server the launcher asked for; return its exit code (or end by its signal)."""
    signal.set_wakeup_fd(-1)
    for number in _RESET:
        signal.signal(number, signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL)
    for thing in inherited:  # the fork server's sockets, selector and pipe: none of the server's business
        if isinstance(thing, int):
            os.close(thing)
        else:
            thing.close()  # type: ignore[attr-defined]
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.setsid()  # a group of its own: the launcher passes signals on to it, and its children with it
    try:
        os.chdir(cwd)
    except OSError as error:  # as Python says when it cannot start in a folder
        print(f"prefork: cannot start in {cwd}: {error}", file=sys.stderr, flush=True)
        return 1
    os.environ.clear()
    os.environ.update(env)
    time.tzset()  # TZ, as a process started with this environment would read it
    sys.argv = [module, *args]
    connection.settimeout(None)
    threading.Thread(target=_die_with_launcher, args=(connection,), daemon=True).start()
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        if isinstance(exit_.code, int) or exit_.code is None:
            code = exit_.code or 0
        else:  # sys.exit("message"): Python prints it and exits 1
            print(exit_.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:  # Python ends by SIGINT then
        _flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    _flush()
    return code


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def _die_with_launcher(connection: socket.socket) -> None:
    """The launcher never writes after its request: a read returns only when it is gone, and its
    server goes with it, as the process group the gateway kills would have taken it along."""
    with contextlib.suppress(OSError):
        connection.recv(1)
    os.killpg(0, signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv[1])
