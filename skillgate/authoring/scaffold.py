"""Scaffold: a new skill folder that validates as written (`skillgate new NAME`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from skillgate.base.errors import UsageError
from skillgate.skills.binding import ServerEntry, entry_problem
from skillgate.skills.frontmatter import MAX_DESCRIPTION, NAME_RULE, name_problems, normalize_name

SKILL_TEMPLATE = """---
name: {name}
description: {description}
---
# {title}

What this skill is for, in one or two sentences: the kind of task, and when to use it.
{{% set tone = vars.tone | default("brief") %}}

## Steps

1. The first thing to do.{tools_hint}
2. The next thing to do.

## How to reply

Answer in a {{{{ tone }}}} way.
"""


def parse_server(text: str, name: str | None) -> dict[str, Any]:
    """An `mcpServers` block from pasted JSON: a whole `{"mcpServers": ...}`, or one entry."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--server is not valid JSON: {exc.msg}; paste an mcpServers entry") from None
    if isinstance(data, dict) and isinstance(data.get("mcpServers"), dict):
        servers: dict[str, Any] = data["mcpServers"]
    elif isinstance(data, dict):
        servers = {name or "server": data}
    else:
        raise UsageError('--server must be a JSON object: {"command": ...} or {"mcpServers": {...}}')
    for server, entry in servers.items():
        try:
            ServerEntry.model_validate(entry)
        except ValidationError as exc:
            raise UsageError(f"--server: {entry_problem(server, exc.errors()[0])}") from None
    return servers


def slugify(text: str) -> str:
    """A name the specification allows, made from `text`: `Release Notes!` → `release-notes`."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64].rstrip("-")


def create_skill(
    parent: Path,
    name: str,
    *,
    description: str | None = None,
    servers: dict[str, Any] | None = None,
    allowed_tools: list[str] | None = None,
) -> Path:
    """Write `parent/name/SKILL.md` (and mcp.json when bound); refuse to overwrite anything."""
    description = description or f"TODO: say what {name} does and when an agent should use it."
    problems = name_problems(name)
    if problems or name != normalize_name(name):
        slug = slugify(name)
        close = f"; did you mean {slug!r}?" if slug and not name_problems(slug) else ""
        raise UsageError(f"name {name!r} is not valid: {NAME_RULE}{close}")
    if not description.strip() or len(description) > MAX_DESCRIPTION:
        raise UsageError(f"description is not valid: 1-{MAX_DESCRIPTION} characters, not blank")
    folder = parent / name
    if folder.exists():
        raise UsageError(f"{folder} already exists; choose another name or remove it first")
    if allowed_tools and servers:
        for entry in servers.values():
            entry["allowedTools"] = allowed_tools
    hint = " Use the tools listed below with call_skill." if servers else ""
    title = name.replace("-", " ").capitalize()
    folder.mkdir(parents=True)
    text = SKILL_TEMPLATE.format(name=name, description=json.dumps(description), title=title, tools_hint=hint)
    (folder / "SKILL.md").write_text(text, encoding="utf-8")
    if servers:
        (folder / "mcp.json").write_text(
            json.dumps({"mcpServers": servers}, indent=2) + "\n", encoding="utf-8"
        )
    return folder
