"""`skillgate lock`: pin a skill's allowed upstream tools into tools.lock.json, and `--check` it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from skillgate.base.errors import UsageError
from skillgate.base.wording import count
from skillgate.cli.app import _print_json, _with_gateway, main

if TYPE_CHECKING:
    from skillgate.skills.binding import ServerBinding
    from skillgate.skills.bundle import Skill
    from skillgate.skills.lock import LockFile
    from skillgate.tools.gateway import Gateway


@main.command()
@click.argument("args", nargs=-1, metavar="[DIR] [SKILL...]")
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 on any lock problem `validate` reports, or any live definition that differs.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print what was locked (or the drift, with --check) as JSON."
)
def lock(args: tuple[str, ...], check: bool, as_json: bool) -> None:
    """Pin the allowed tools of each bound skill into its tools.lock.json.

    DIR defaults to .; with SKILL names, only those skills. A tool the allowlist names that
    the server does not have fails the lock, with the server's tools. With --check, print
    every lock problem and a per-field diff (tool, field, old -> new) of every drift; exit 1
    if there is any.
    """
    from skillgate.skills.catalog import Catalog
    from skillgate.skills.lock import LOCK_NAME, LockFile, lock_server

    directory = Path(args[0]) if args and Path(args[0]).is_dir() else Path(".")
    names = list(args[1:] if args and Path(args[0]).is_dir() else args)
    # Locks unread: a broken or outdated lock must not hide the skill that `lock` repairs.
    catalog = Catalog.load(directory, locks=False)
    for diagnostic in catalog.diagnostics:
        click.echo(str(diagnostic), err=True)
    skills = [catalog.get(n) for n in names] if names else [s for s in catalog if s.bindings]
    unbound = [s.name for s in skills if not s.bindings]
    if unbound:
        raise UsageError(
            f"{', '.join(unbound)}: not bound to a server (no mcp.json), so there is nothing to lock"
        )
    if not skills:
        click.echo(f"no skill in {directory} is bound to a server: nothing to lock", err=True)
        return

    async def work(gateway: Gateway) -> tuple[dict[str, LockFile], dict[str, list[str]]]:
        locks, missing = {}, {}
        for skill in skills:
            servers, problems = {}, []
            for binding in skill.bindings:
                tools = await gateway.pool.get(binding).tools()
                problems += _absent_tools(binding, [t.name for t in tools])
                servers[binding.name] = lock_server(binding, tools)
            locks[skill.name], missing[skill.name] = LockFile(servers=servers), problems
        return locks, missing

    locks, missing = _with_gateway(catalog, work)
    if check:
        _check_locks(directory, skills, locks, missing, as_json)
        return
    report: dict[str, Any] = {}
    for skill in skills:
        path = skill.dir / LOCK_NAME
        new = locks[skill.name]
        tools = sum(len(s.tools) for s in new.servers.values())
        if missing[skill.name]:
            report[skill.name] = {
                "path": str(path),
                "tools": tools,
                "written": False,
                "errors": missing[skill.name],
            }
            for problem in missing[skill.name]:
                click.echo(f"{catalog.show(skill.dir / 'mcp.json')}: {skill.name}: {problem}", err=True)
            continue
        written = not path.is_file() or path.read_text(encoding="utf-8") != new.dumps()
        if written:
            path.write_text(new.dumps(), encoding="utf-8")
        report[skill.name] = {"path": str(path), "tools": tools, "written": written}
        if written and not as_json:
            click.echo(f"locked {skill.name}: {count(tools, 'tool')}")
    if as_json:
        _print_json({"skills": report})
    if any(missing.values()):
        sys.exit(1)


def _absent_tools(binding: ServerBinding, live: list[str]) -> list[str]:
    """An error per tool the allowlist names that the server does not have, with its tools; a
    warning (on stderr) per glob that matches none of them."""
    import fnmatch

    from skillgate.base.wording import did_you_mean

    have = ", ".join(sorted(live)) or "none"
    for pattern in sorted(set(binding.entry.allowed_tools or []) - set(binding.named_tools())):
        if not any(fnmatch.fnmatchcase(tool, pattern) for tool in live):
            click.echo(
                f"warning: server {binding.name!r}: {pattern!r} matches none of its tools: {have}", err=True
            )
    return [
        f"server {binding.name!r} has no tool {name!r}{did_you_mean(name, live)}; its tools: {have}. "
        "Fix allowedTools in mcp.json"
        for name in binding.named_tools()
        if name not in live
    ]


def _check_locks(
    directory: Path,
    skills: list[Skill],
    live: dict[str, LockFile],
    missing: dict[str, list[str]],
    as_json: bool,
) -> None:
    """`lock --check`: every lock problem `validate` reports, tools the servers lack, and drift."""
    from skillgate.skills.catalog import Catalog
    from skillgate.skills.lock import LOCK_NAME

    checked = Catalog.load(directory)  # with locks: what serving and `validate` see
    problems = [d for d in checked.diagnostics if d.code in ("SG401", "SG402")]
    report: dict[str, Any] = {}
    failed = False
    for skill in skills:
        mine = [str(d) for d in problems if d.within(skill.dir)]
        changes = mine + missing[skill.name] + _lock_drift(checked.skills.get(skill.name), live[skill.name])
        report[skill.name] = {"path": str(skill.dir / LOCK_NAME), "changes": changes}
        if not as_json:
            for change in changes:
                click.echo(f"{skill.name}: {change}")
        failed = failed or bool(changes)
    if as_json:
        _print_json({"skills": report, "drift": failed})
    click.echo(
        "locks match the live servers"
        if not failed
        else "lock problems found: review, then run `skillgate lock`",
        err=True,
    )
    if failed:
        sys.exit(1)


def _lock_drift(skill: Skill | None, live: LockFile) -> list[str]:
    """Differences between the skill's valid lock and the live tools (a broken lock is a problem
    `validate` already reported)."""
    from skillgate.skills.lock import server_changes

    if skill is None:
        return []
    if skill.lock is None:
        return ["no tools.lock.json (run `skillgate lock`)"]
    changes: list[str] = []
    for name in sorted(set(skill.lock.servers) | set(live.servers)):
        old, new = skill.lock.servers.get(name), live.servers.get(name)
        if old is None or new is None:
            changes.append(f"server {name!r} {'not locked' if old is None else 'no longer bound'}")
            continue
        binding = next(b for b in skill.bindings if b.name == name)
        changes += [str(c) for c in server_changes(old, binding, [t.as_tool() for t in new.tools])]
    return changes
