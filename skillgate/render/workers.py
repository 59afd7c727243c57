"""Rendering in worker processes: a hostile template can take neither time nor memory from the server.

The server sends each render to a worker process (`python -m skillgate.render.worker`) as one
JSON line and reads one JSON line back. The worker runs under an address-space limit
(`RLIMIT_AS`); the server waits at most the render timeout (default 2 s), then kills the
worker and answers with an error naming the skill and the limit. The event loop only
waits: it never runs a template. Workers are started on first need and reused; a killed
or crashed one is replaced on the next render. A worker exits when its stdin closes, so
none outlives the server.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio

from skillgate.base.errors import RenderError
from skillgate.base.limits import RENDER_MEMORY_MB, RENDER_OUTPUT_CHARS, RENDER_SECONDS
from skillgate.render.worker import EXITING, READY

MAX_REPLY_BYTES = 16 * RENDER_OUTPUT_CHARS  # JSON-escaped output, with room to spare
START_SECONDS = 30.0
_ENVIRONMENT = ("PATH", "PYTHONPATH", "PYTHONHOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR")


class _Worker:
    """One worker process, used by one render at a time (its methods block: they run in a thread)."""

    def __init__(self, memory_mb: int) -> None:
        environ = {k: v for k, v in os.environ.items() if k in _ENVIRONMENT}  # no secrets in the worker
        self.process = subprocess.Popen(
            [sys.executable, "-m", "skillgate.render.worker", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=environ,
        )
        _LIVE.add(self)

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        if self.process.stdout.readline() != READY:
            self.kill()
            raise RenderError("the render worker did not start; check that skillgate is installed intact")

    def ask(self, request: bytes) -> bytes:
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(request)
            self.process.stdin.flush()
            return self.process.stdout.readline(MAX_REPLY_BYTES)
        except (BrokenPipeError, OSError, ValueError):
            return b""

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        _LIVE.discard(self)


_LIVE: set[_Worker] = set()


@atexit.register
def _kill_all() -> None:
    for worker in list(_LIVE):
        worker.kill()


class RenderWorkers:
    """A small pool of render worker processes, with a wall-clock and a memory limit per render."""

    def __init__(
        self, timeout: float = RENDER_SECONDS, memory_mb: int = RENDER_MEMORY_MB, workers: int = 2
    ) -> None:
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._slots = threading.BoundedSemaphore(workers)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._starter: threading.Thread | None = None

    async def render(
        self,
        name: str,
        body: str,
        folder: Path,
        *,
        skill: Mapping[str, Any],
        tools: Sequence[Mapping[str, Any]],
        variables: Mapping[str, Any],
        client: Mapping[str, Any],
        line_offset: int = 0,
    ) -> str:
        request = _request(body, folder, skill, tools, variables, client, line_offset)
        await anyio.to_thread.run_sync(self._slots.acquire)
        try:
            for _ in range(2):  # a worker that died between renders is replaced once
                reply, timed_out = await self._ask(request)
                if reply or timed_out:
                    break
        finally:
            self._slots.release()
        return self._answer(name, reply, timed_out)

    def render_blocking(
        self,
        name: str,
        body: str,
        folder: Path,
        *,
        skill: Mapping[str, Any],
        tools: Sequence[Mapping[str, Any]],
        variables: Mapping[str, Any],
        client: Mapping[str, Any],
        line_offset: int = 0,
    ) -> str:
        """`render` for a caller with no event loop (the command line: no loop to start for it)."""
        request = _request(body, folder, skill, tools, variables, client, line_offset)
        with self._slots:
            for _ in range(2):
                reply, timed_out = self._ask_blocking(request)
                if reply or timed_out:
                    break
        return self._answer(name, reply, timed_out)

    def _answer(self, name: str, reply: bytes, timed_out: bool) -> str:
        """The rendered text from a worker's reply, or the error that says what went wrong."""
        if timed_out:
            raise RenderError(
                f"rendering skill {name!r} took longer than {self.timeout:g} s, the limit; the template does "
                "too much work (a large loop, a huge number or string). Simplify it"
            )
        if not reply.endswith(b"\n"):
            raise RenderError(
                f"rendering skill {name!r} stopped its render worker (over the {self.memory_mb} MB memory "
                f"limit, or over {MAX_REPLY_BYTES:,} bytes of output); build less text"
            )
        answer = json.loads(reply)
        if "error" in answer:
            raise RenderError(answer["error"], answer.get("line"), answer.get("col"), answer.get("people"))
        return str(answer["text"])

    def _ask_blocking(self, request: bytes) -> tuple[bytes, bool]:
        """`_ask` without a loop: the worker is asked in a thread, killed if it passes the limit."""
        worker = self._take()
        replies: list[bytes] = []
        asking = threading.Thread(target=lambda: replies.append(worker.ask(request)), daemon=True)
        asking.start()
        asking.join(self.timeout)
        timed_out = asking.is_alive()
        reply = replies[0] if replies else b""
        self._give_back(worker, reply)
        asking.join()  # returns at once: a killed worker's pipe is closed
        return reply, timed_out

    def _give_back(self, worker: _Worker, reply: bytes) -> None:
        """A worker that answered goes back to the idle ones; one that timed out, died or is exiting
        is killed."""
        if reply.endswith(b"\n") and not reply.startswith(EXITING):
            with self._lock:
                self._idle.append(worker)
        else:
            worker.kill()

    async def _ask(self, request: bytes) -> tuple[bytes, bool]:
        """(reply, timed out) from one worker; a worker that timed out, died or is exiting is killed."""
        worker = await anyio.to_thread.run_sync(self._take)
        reply = b""
        with anyio.move_on_after(self.timeout) as scope:
            try:
                reply = await anyio.to_thread.run_sync(worker.ask, request, abandon_on_cancel=True)
            finally:
                self._give_back(worker, reply)
        return reply, scope.cancelled_caught

    def prestart(self) -> None:
        """Start one worker now (blocking; run it in a thread), so the first render does not wait for it."""
        with self._lock:
            if self._idle:
                return
        worker = _Worker(self.memory_mb)
        worker.wait_ready()
        with self._lock:
            self._idle.append(worker)

    def prestart_in_background(self) -> None:
        """Start one worker in a thread now, while the caller does other work (`close` waits for it)."""

        def start() -> None:
            with contextlib.suppress(RenderError):  # the first render starts one again and says why
                self.prestart()

        self._starter = threading.Thread(target=start, name="render-prestart", daemon=True)
        self._starter.start()

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.process.poll() is None:
                    return worker
                worker.kill()
        worker = _Worker(self.memory_mb)
        worker.wait_ready()
        return worker

    def close(self) -> None:
        if self._starter is not None:
            self._starter.join()
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


def _request(
    body: str,
    folder: Path,
    skill: Mapping[str, Any],
    tools: Sequence[Mapping[str, Any]],
    variables: Mapping[str, Any],
    client: Mapping[str, Any],
    line_offset: int,
) -> bytes:
    """One render as the JSON line a worker reads."""
    job = {
        "body": body,
        "folder": str(folder),
        "skill": skill,
        "tools": list(tools),
        "vars": dict(variables),
        "client": dict(client),
        "line_offset": line_offset,
    }
    return json.dumps(job, default=str).encode() + b"\n"
