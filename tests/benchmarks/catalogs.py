"""Synthetic catalogs for benchmarks, built from the recorded tools of real MCP servers.

Skill i is bound to one recorded server and allows one to three of its tools; its lock file
holds their real definitions, so the catalog lists, searches and loads without starting any
server (the binding's command does not exist).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mcp_types as types

from skillgate.search.lexical import SearchDocument
from skillgate.skills.lock import LockedServer, LockFile, lock_tool

FIXTURES = Path(__file__).parent / "fixtures" / "servers"


def recorded_servers() -> dict[str, list[dict[str, Any]]]:
    return {path.stem: json.loads(path.read_text())["tools"] for path in sorted(FIXTURES.glob("*.json"))}


def _first_sentence(text: str) -> str:
    text = " ".join((text or "").split())
    match = re.match(r"(.{20,300}?[.!?])(\s|$)", text)
    return (match.group(1) if match else text[:300]) or "A tool."


@dataclass(frozen=True)
class Planned:
    """One synthetic skill: bound to `server`, allowing `tools` (name order), described by the first."""

    name: str
    server: str
    first: dict[str, Any]
    tools: list[dict[str, Any]]

    @property
    def description(self) -> str:
        return _first_sentence(self.first.get("description", ""))


def plan(size: int) -> list[Planned]:
    """`size` skills over the recorded servers' tools, deterministic: one to three tools each."""
    servers = recorded_servers()
    pairs = [(server, tool) for server, tools in servers.items() for tool in tools]
    planned = []
    for i in range(size):
        server, first = pairs[i % len(pairs)]
        tools = servers[server]
        index = tools.index(first)
        chosen = {t["name"]: t for t in (tools[(index + k) % len(tools)] for k in range(1 + i % 3))}
        slug = re.sub(r"[^a-z0-9]+", "-", first["name"].lower()).strip("-")
        name = f"{server}-{slug}-{i:05d}"[:64].rstrip("-")
        planned.append(Planned(name, server, first, [chosen[n] for n in sorted(chosen)]))
    return planned


def synthetic_documents(size: int) -> list[SearchDocument]:
    """What search knows of the catalog `write_catalog(root, size)` writes, without the files."""
    return [
        SearchDocument(
            name=skill.name,
            description=skill.description,
            headings=[f"{skill.first['name']} with {skill.server}", "Steps", "Reply"],
            tools=[f"{t['name']} {t.get('description', '')}" for t in skill.tools],
        )
        for skill in plan(size)
    ]


def write_catalog(root: Path, size: int) -> None:
    """`size` locked skills over the recorded servers' tools, deterministic."""
    for skill in plan(size):
        name, server, first, chosen = skill.name, skill.server, skill.first, skill.tools
        folder = root / name
        folder.mkdir(parents=True)
        description = skill.description
        body = (
            f"# {first['name']} with {server}\n\n"
            f"Use this skill to {description[0].lower() + description[1:]}\n\n"
            "## Steps\n\n1. Pick the right tool below.\n2. Call it with call_skill.\n\n"
            '## Reply\n\nAnswer in a {{ vars.tone | default("brief") }} way.\n'
        )
        (folder / "SKILL.md").write_text(
            f"---\nname: {name}\ndescription: {json.dumps(description)}\n---\n{body}"
        )
        allowed = sorted(t["name"] for t in chosen)
        binding = {"command": f"/nonexistent/{server}-server", "allowedTools": allowed}
        (folder / "mcp.json").write_text(json.dumps({"mcpServers": {server: binding}}))
        locked = [lock_tool(types.Tool.model_validate(t)) for t in chosen]
        lock = LockFile(servers={server: LockedServer(source={"command": binding["command"]}, tools=locked)})
        (folder / "tools.lock.json").write_text(lock.dumps())
