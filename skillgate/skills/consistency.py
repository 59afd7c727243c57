"""What the parts of one skill must agree on: tool names unique across its servers, its lock
matching its bindings, and the files its Markdown links to and includes existing."""

from __future__ import annotations

import re
from pathlib import Path

from skillgate.base.diagnostics import Diagnostic, Severity
from skillgate.base.limits import PATH_CHARS
from skillgate.skills.binding import ServerBinding
from skillgate.skills.lock import LockFile


def collisions(bindings: list[ServerBinding], mcp_json: Path) -> list[Diagnostic]:
    """Tool names that two bound servers' allowlists both name exactly.

    Globs and absent allowlists are checked when the servers' tool lists are known;
    at run time the first server in name order wins a name both expose.
    """
    owners: dict[str, str] = {}
    found = []
    for binding in bindings:
        for tool in binding.entry.allowed_tools or []:
            if any(ch in tool for ch in "*?["):
                continue
            if tool in owners and owners[tool] != binding.name:
                found.append(
                    Diagnostic.at(
                        mcp_json,
                        "SG204",
                        f"tool {tool!r} is allowed from both {owners[tool]!r} and {binding.name!r}; "
                        "a skill's tool names must be unique, remove it from one allowlist",
                    )
                )
            owners.setdefault(tool, binding.name)
    return found


def lock_mismatches(lock: LockFile, bindings: list[ServerBinding], path: Path) -> list[Diagnostic]:
    """Where the lock and the bindings disagree: the fix is always to run `skillgate lock` again."""
    fix = "run `skillgate lock` to update it"
    found = []
    bound = {b.name: b for b in bindings}
    for server in sorted(set(lock.servers) - set(bound)):
        found.append(
            Diagnostic.at(
                path, "SG402", f"the lock pins server {server!r}, which mcp.json no longer binds; {fix}"
            )
        )
    for name, binding in sorted(bound.items()):
        locked = lock.servers.get(name)
        if locked is None:
            found.append(Diagnostic.at(path, "SG402", f"server {name!r} is bound but not in the lock; {fix}"))
            continue
        names = {t.name for t in locked.tools}
        for tool in sorted(t for t in names if not binding.allows(t)):
            found.append(
                Diagnostic.at(
                    path, "SG402", f"{name}: {tool!r} is locked but the allowlist no longer allows it; {fix}"
                )
            )
        for tool in sorted(set(binding.named_tools()) - names):
            found.append(
                Diagnostic.at(
                    path,
                    "SG402",
                    f"{name}: allowed tool {tool!r} has no lock entry; {fix} (it fails, naming the "
                    "server's tools, when the server has no such tool: then fix allowedTools in mcp.json)",
                )
            )
    return found


_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def missing_files(
    body: str,
    body_line: int,
    skill_dir: Path,
    skill_md: Path,
    includes: list[tuple[str, int]],
    looked_for: list[str],
) -> list[Diagnostic]:
    """Includes (errors) and relative links (warnings) that name files the skill does not have.
    Every path looked at is added to `looked_for`: the result depends on it."""
    found = []
    root = skill_dir
    for name, line in includes:
        looked_for.append(name)
        if not _include_ok(root, name):
            found.append(
                Diagnostic.at(
                    skill_md,
                    "SG302",
                    f"include {name!r} is not a file in the skill folder; create it, or fix the path "
                    "(relative to the folder that holds SKILL.md)",
                    line + body_line - 1,
                )
            )
    for number, text in enumerate(body.splitlines(), start=body_line):
        for match in _LINK.finditer(text):
            href = match.group(1).split("#")[0].split("?")[0]
            if (
                not href
                or "://" in href
                or href.startswith(("/", "mailto:", "{{"))
                or ":" in href.split("/")[0]
            ):
                continue
            looked_for.append(href)
            if len(href) > PATH_CHARS or not _exists(root, href):
                found.append(
                    Diagnostic.at(
                        skill_md,
                        "SG303",
                        f"link target {href!r} does not exist in the skill folder",
                        number,
                        match.start() + 1,
                        Severity.WARNING,
                    )
                )
    return found


def _exists(root: Path, relative: str) -> bool:
    """Whether a link target exists; a NUL, an over-long name or a link loop is "no"."""
    try:
        return (root / relative).resolve().exists()
    except (OSError, ValueError, RuntimeError):
        return False


def _include_ok(root: Path, name: str) -> bool:
    try:
        target = (root / name).resolve()
        return target.is_relative_to(root) and target.is_file()
    except (OSError, ValueError, RuntimeError):
        return False
