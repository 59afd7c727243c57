"""Reloader: applies changes to the catalog folder while serving.

A reload loads the whole catalog again (in a worker thread) and swaps it in with
one assignment, so a request sees the old catalog or the new one, never a mix. A
skill that became invalid keeps its last valid version; its diagnostics are kept
for /readyz and logged. Upstreams whose binding changed or went away are stopped
(a changed one restarts on next need); the others keep their connections.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import anyio
import watchfiles

from skillgate.base.diagnostics import Severity
from skillgate.skills.catalog import Catalog
from skillgate.tools.gateway import Gateway

logger = logging.getLogger(__name__)

RESTART_DELAY = 0.5


def keep_last_valid(old: Catalog, new: Catalog) -> Catalog:
    """`new`, plus the old version of each skill that is now broken (not deleted)."""
    errors = [d for d in new.diagnostics if d.severity is Severity.ERROR]
    skills = dict(new.skills)
    for name, skill in old.skills.items():
        if name in skills or not skill.skill_md.exists():
            continue
        if any(d.within(skill.dir) for d in errors) or _root_broken(new):
            skills[name] = skill
    return Catalog(
        new.root,
        dict(sorted(skills.items())),
        new.shared_servers,
        new.diagnostics,
        new.parsed,
        new.typed_root,
    )


def _root_broken(catalog: Catalog) -> bool:
    """The shared mcp.json is broken: skills that lean on it keep their last version."""
    shared = catalog.root / "mcp.json"
    return any(d.within(shared) and d.severity is Severity.ERROR for d in catalog.diagnostics)


class Reloader:
    def __init__(self, gateway: Gateway, on_change: Sequence[Callable[[], Awaitable[None]]] = ()) -> None:
        self.gateway = gateway
        self.on_change = list(on_change)

    async def reload(self) -> Catalog:
        old = self.gateway.catalog
        loaded = await anyio.to_thread.run_sync(Catalog.load, old.typed_root or old.root, None, old)
        catalog = keep_last_valid(old, loaded)
        self.gateway.catalog = catalog
        self.gateway.generation += 1
        in_use = {b.connection_key() for skill in catalog for b in skill.bindings}
        stopped = self.gateway.pool.retain(in_use)
        for diagnostic in catalog.diagnostics:
            logger.warning("%s", diagnostic)
        logger.info(
            "catalog reloaded: %d skills; stopped upstreams: %s", len(catalog), ", ".join(stopped) or "none"
        )
        for callback in self.on_change:
            await callback()
        return catalog

    async def watch(self, stop: anyio.Event | None = None) -> None:
        """Reload on every batch of changes under the catalog folder, until cancelled or stopped.

        The watcher itself may fail (watchfiles cannot report a file name that is not UTF-8):
        then the catalog is reloaded anyway, and watching starts again. Nothing here ever
        reaches the server's task group.
        """
        root: Path = self.gateway.catalog.root
        while stop is None or not stop.is_set():
            try:
                async for _ in watchfiles.awatch(
                    root, stop_event=stop, debounce=200, step=50, recursive=True
                ):
                    await self._reload_logged()
                return
            except Exception as exc:  # the watcher broke, not the catalog: watch again
                logger.warning("catalog watcher stopped (%s); watching again", _first_line(exc))
                await self._reload_logged()
                await anyio.sleep(RESTART_DELAY)

    async def _reload_logged(self) -> None:
        try:
            await self.reload()
        except Exception:  # a reload must never take the server down; the old catalog stays
            logger.exception("catalog reload failed; still serving the previous catalog")


def _first_line(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).encode("utf-8", "replace").decode("utf-8")
    return (text.splitlines() or [type(exc).__name__])[0]
