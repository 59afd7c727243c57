"""tools.lock.json: the pinned definitions of a skill's allowed upstream tools.

Written by `skillgate lock`, reviewed in git like any lockfile. For each bound
server it records where the tools came from and, for each allowed tool, its full
definition with a sha256 over a canonical form (sorted keys, no whitespace, UTF-8).
With a lock, a skill is listed, searched and loaded without starting its server;
when the server does start, live definitions are compared with the lock.

    {
      "version": 1,
      "servers": {
        "<server>": {
          "source": {"command": "...", "args": [...]} | {"url": "..."},
          "tools": [{"name", "title"?, "description"?, "inputSchema", "outputSchema"?,
                     "annotations"?, "sha256"}, ...]          (sorted by name)
        }
      }
    }
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skillgate.base.diagnostics import Diagnostic
from skillgate.base.limits import LOCK_BYTES
from skillgate.base.reading import Unreadable, load_json
from skillgate.skills.binding import ServerBinding

if TYPE_CHECKING:
    import mcp_types as types  # loaded when a tool is built, not to read a lock

LOCK_NAME = "tools.lock.json"
LOCK_VERSION = 1
TOOL_FIELDS = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")


class LockedTool(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    name: str
    title: str | None = None
    description: str | None = None
    input_schema: dict[str, Any] = Field(alias="inputSchema")
    output_schema: dict[str, Any] | None = Field(default=None, alias="outputSchema")
    annotations: dict[str, Any] | None = None
    sha256: str

    def definition(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, exclude={"sha256"})

    def as_tool(self) -> types.Tool:
        import mcp_types as types

        return types.Tool.model_validate(self.definition())


class LockedServer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: dict[str, Any]
    tools: list[LockedTool]


class LockFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = LOCK_VERSION
    servers: dict[str, LockedServer]

    def dumps(self) -> str:
        data = self.model_dump(by_alias=True, exclude_none=True)
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def tool_definition(tool: types.Tool) -> dict[str, Any]:
    """The pinned fields of a live tool, as they appear on the wire."""
    wire = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {k: wire[k] for k in TOOL_FIELDS if k in wire}


def digest(definition: dict[str, Any]) -> str:
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def lock_tool(tool: types.Tool) -> LockedTool:
    definition = tool_definition(tool)
    return LockedTool.model_validate({**definition, "sha256": digest(definition)})


def lock_server(binding: ServerBinding, tools: list[types.Tool]) -> LockedServer:
    """The allowed tools of one server, pinned, with the (unexpanded) source they came from."""
    entry = binding.entry
    source: dict[str, Any] = (
        {"command": entry.command, "args": list(entry.args)}
        if entry.command is not None
        else {"url": entry.url}
    )
    allowed = sorted((t for t in tools if binding.allows(t.name)), key=lambda t: t.name)
    return LockedServer(source=source, tools=[lock_tool(t) for t in allowed])


def read_lock(path: Path) -> tuple[LockFile | None, list[Diagnostic]]:
    try:
        raw = load_json(path, LOCK_BYTES)
    except Unreadable as exc:
        return None, [Diagnostic.at(path, "SG401", f"cannot read the lock: {exc}")]
    except json.JSONDecodeError as exc:
        return None, [
            Diagnostic.at(
                path, "SG401", f"lock is not valid JSON: {exc.msg}; run `skillgate lock`", exc.lineno
            )
        ]
    try:
        lock = LockFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return None, [
            Diagnostic.at(
                path, "SG401", f"lock is malformed at {where!r}: {first['msg']}; run `skillgate lock`"
            )
        ]
    if lock.version != LOCK_VERSION:
        return None, [
            Diagnostic.at(
                path, "SG401", f"lock version {lock.version} is not {LOCK_VERSION}; run `skillgate lock`"
            )
        ]
    return lock, []


@dataclass(frozen=True)
class Change:
    """One difference between a pinned tool and the live one."""

    tool: str
    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        """The change with both values, for people (`skillgate lock --check`)."""
        if self.field == "(tool)":
            return self.summary()
        return f"{self.tool}.{self.field}: {_short(self.old)} -> {_short(self.new)}"

    def summary(self) -> str:
        """Which tool and field changed, never the new text: what a model may read.

        An upstream's changed description is untrusted text ("ignore previous instructions...");
        it is shown to people by `skillgate lock --check`, never repeated into a model's context.
        """
        if self.field == "(tool)":
            return f"{self.tool}: {'added upstream' if self.old is None else 'removed upstream'}"
        return f"{self.tool}: {self.field} changed"


def _short(value: Any) -> str:
    text = "(absent)" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 200 else text[:197] + "..."


def tool_changes(locked: LockedTool, live: types.Tool) -> list[Change]:
    """Field-by-field differences between a pinned tool and its live definition."""
    now = tool_definition(live)
    if digest(now) == locked.sha256:
        return []
    then = locked.definition()
    return [
        Change(locked.name, field, then.get(field), now.get(field))
        for field in TOOL_FIELDS
        if then.get(field) != now.get(field)
    ]


def server_changes(locked: LockedServer, binding: ServerBinding, live: list[types.Tool]) -> list[Change]:
    """Every difference between a server's lock and its live allowed tools."""
    live_by_name = {t.name: t for t in live if binding.allows(t.name)}
    locked_by_name = {t.name: t for t in locked.tools}
    changes: list[Change] = []
    for name in sorted(set(live_by_name) | set(locked_by_name)):
        if name not in live_by_name:
            changes.append(Change(name, "(tool)", "locked", None))
        elif name not in locked_by_name:
            changes.append(Change(name, "(tool)", None, "live"))
        else:
            changes += tool_changes(locked_by_name[name], live_by_name[name])
    return changes
