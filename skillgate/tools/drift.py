"""The drift policy: what happens when a tool's live definition differs from the one its skill
pinned in tools.lock.json — refused (`block`), allowed with a warning (`warn`), or not checked
(`off`), per binding or for the whole catalog."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from skillgate.base.errors import ToolDrifted, ToolNotAllowed
from skillgate.base.lru import LRU
from skillgate.skills.binding import DriftPolicy, ServerBinding
from skillgate.skills.bundle import Skill
from skillgate.skills.lock import Change, LockedTool, server_changes, tool_changes
from skillgate.upstream.pool import UpstreamPool

if TYPE_CHECKING:
    import mcp_types as types

logger = logging.getLogger(__name__)

REVIEW = "a person must review the diff with `skillgate lock --check`, then run `skillgate lock` to accept it"


class DriftGuard:
    def __init__(self, pool: UpstreamPool, default: DriftPolicy = "block") -> None:
        self.pool = pool
        self.default = default
        # Changes per (pinned, live) pair: a live Tool object is replaced only when the upstream's
        # tool list is, so its digest is computed once, not on every call.
        self._changes: LRU[tuple[int, int], tuple[LockedTool, types.Tool, list[Change]]] = LRU(1024)

    def policy(self, binding: ServerBinding) -> DriftPolicy:
        return binding.entry.drift or self.default

    def warnings(self, skill: Skill) -> list[str]:
        """Differences between the skill's lock and its running upstreams (none started for this)."""
        if skill.lock is None:
            return []
        warnings = []
        for binding in skill.bindings:
            locked = skill.lock.servers.get(binding.name)
            upstream = self.pool.known(binding)
            live = upstream.cached_tools() if upstream is not None else None
            if locked is None or live is None or self.policy(binding) == "off":
                continue
            verb = "blocked" if self.policy(binding) == "block" else "allowed, with a warning"
            for change in server_changes(locked, binding, live):
                warnings.append(f"{change.summary()} (calls to it are {verb}; {REVIEW})")
        return warnings

    def check(self, skill: Skill, binding: ServerBinding, live: types.Tool) -> None:
        """Refuse (or warn about) a tool whose live definition differs from the pinned one."""
        locked_server = skill.lock.servers.get(binding.name) if skill.lock is not None else None
        if locked_server is None:
            return
        policy = self.policy(binding)
        locked = next((t for t in locked_server.tools if t.name == live.name), None)
        if locked is None:  # a new tool upstream never widens a locked allowlist
            raise ToolNotAllowed(
                f"skill {skill.name!r} cannot call {live.name!r}: it is not in the skill's tools.lock.json. "
                f"Its tools are: {', '.join(t.name for t in locked_server.tools) or 'none'}"
            )
        changes = self.changes(locked, live)
        if not changes or policy == "off":
            return
        summary = "; ".join(c.summary() for c in changes)
        if policy == "block":
            raise ToolDrifted(
                f"{live.name!r} of skill {skill.name!r} changed upstream since it was locked ({summary}); "
                f"the call was not made. {REVIEW}"
            )
        logger.warning(
            "tool %s of skill %s drifted from its lock: %s; %s", live.name, skill.name, summary, REVIEW
        )

    def changes(self, locked: LockedTool, live: types.Tool) -> list[Change]:
        key = (id(locked), id(live))
        found = self._changes.get(key)
        if found is None or found[0] is not locked or found[1] is not live:  # ids are reused: check
            found = self._changes.put(key, (locked, live, tool_changes(locked, live)))
        return found[2]
