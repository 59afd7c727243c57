"""UpstreamPool: one shared `Upstream` per distinct upstream server.

Skills that bind the same server (same command, arguments, environment and folder,
or the same URL and headers) share one connection, whatever their allowlists.
Connections start on first need; leaving the pool stops them all, so no upstream
process outlives the gateway.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup

from skillgate.skills.binding import ServerBinding

if TYPE_CHECKING:
    from skillgate.upstream.connection import Upstream


class UpstreamPool:
    def __init__(
        self, environ: Mapping[str, str], *, call_timeout: float = 60.0, start_timeout: float = 30.0
    ):
        self._environ = environ
        self._call_timeout = call_timeout
        self._start_timeout = start_timeout
        self._upstreams: dict[str, Upstream] = {}
        self._tg: TaskGroup | None = None

    async def __aenter__(self) -> UpstreamPool:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._tg is not None
        self._tg.cancel_scope.cancel()
        try:
            # The upstreams' tasks end quietly when cancelled; an error of the body
            # propagates as itself rather than wrapped in an exception group.
            await self._tg.__aexit__(None, None, None)
        finally:
            self._tg = None
            self._upstreams.clear()

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every upstream now and wait (bounded) until their processes are gone.

        For callers that must stop from another task than the one inside `async with`,
        such as a signal handler while that task is blocked reading stdin.
        """
        if self._tg is not None:
            self._tg.cancel_scope.cancel()
        with anyio.move_on_after(timeout):
            for upstream in self.upstreams:
                await upstream.stopped.wait()

    def key(self, binding: ServerBinding) -> str:
        return binding.key

    def get(self, binding: ServerBinding) -> Upstream:
        """The upstream for `binding`, started on first need, never started twice."""
        key = self.key(binding)
        upstream = self._upstreams.get(key)
        if upstream is None:
            if self._tg is None:
                raise RuntimeError("UpstreamPool used outside `async with`")
            from skillgate.upstream.connection import Upstream  # the MCP client loads with the first upstream

            upstream = Upstream(
                binding, self._environ, call_timeout=self._call_timeout, start_timeout=self._start_timeout
            )
            self._upstreams[key] = upstream
            self._tg.start_soon(upstream.run, name=f"upstream {binding.name}")
        return upstream

    def retain(self, keys: set[str]) -> list[str]:
        """Stop the upstreams whose connection key is not in `keys` (bindings that changed or went away)."""
        stopped = []
        for key in sorted(set(self._upstreams) - keys):
            upstream = self._upstreams.pop(key)
            upstream.stop()
            stopped.append(upstream.name)
        return stopped

    def tools_version(self) -> int:
        """Changes whenever an upstream's tool list changes (or one starts or stops)."""
        return sum(u.tools_version for u in self._upstreams.values()) + 1000003 * len(self._upstreams)

    def known(self, binding: ServerBinding) -> Upstream | None:
        """The upstream for `binding` if it was already started, without starting it."""
        return self._upstreams.get(self.key(binding))

    @property
    def upstreams(self) -> list[Upstream]:
        return [self._upstreams[k] for k in sorted(self._upstreams)]
