"""Authoring checks beyond what serving needs: what `skillgate validate` and the preview add to
the catalog's own diagnostics, so that a catalog `validate` passes is one every load works on.

- SG305: each skill rendered with its defaults in the server's sandbox and render workers,
  undefined names as errors: an unknown name, a variable with no default, a failing include
  or filter is found here, not by an agent's `load_skill`.
- SG205: each stdio binding's command is found on PATH (or as a path) and is executable.
- SG501: the body-size guidance.
"""

from __future__ import annotations

import difflib
import os
import re
from concurrent.futures import ThreadPoolExecutor

from skillgate.base.diagnostics import Diagnostic, Severity, sort_key
from skillgate.base.errors import EnvVarMissing, RenderError
from skillgate.base.limits import PATH_CHARS
from skillgate.base.tokens import count_tokens
from skillgate.render.workers import RenderWorkers
from skillgate.skills.binding import ServerBinding, command_path, expand, find_command
from skillgate.skills.bundle import Skill
from skillgate.skills.catalog import Catalog

MAX_BODY_TOKENS = 5000
MAX_BODY_LINES = 500
RENDERS_AT_ONCE = 2  # as many as the render workers run


def size_diagnostics(skill: Skill, catalog: Catalog) -> list[Diagnostic]:
    """A warning when the body passes 5,000 tokens or 500 lines (Agent Skills guidance)."""
    lines = len(skill.body.splitlines())
    if lines <= MAX_BODY_LINES and len(skill.body.encode("utf-8", "surrogatepass")) <= MAX_BODY_TOKENS:
        return []  # a token is at least one byte: no need to load the tokenizer to know
    tokens = count_tokens(skill.body)
    if lines <= MAX_BODY_LINES and tokens <= MAX_BODY_TOKENS:
        return []
    return [
        Diagnostic.at(
            skill.skill_md,
            "SG501",
            f"the body is {tokens} tokens and {lines} lines; keep it under {MAX_BODY_TOKENS} tokens and "
            f"{MAX_BODY_LINES} lines, and move detail into files under references/ to load on need",
            skill.body_line,
            severity=Severity.WARNING,
        ).shown(catalog.show(skill.skill_md))
    ]


def needs_rendering(skill: Skill) -> bool:
    """Plain Markdown renders as itself: only a body with Jinja syntax can fail."""
    return any(mark in skill.body for mark in ("{{", "{%", "{#"))


def render_diagnostics(skill: Skill, catalog: Catalog, renderer: RenderWorkers) -> list[Diagnostic]:
    """SG305 when the skill fails to render with its defaults, as `load_skill` with no variables
    would (its tools are the ones its lock pins; no upstream is started). Blocking: the command
    line has no event loop to start for it, and the preview runs it in a thread."""
    try:
        renderer.render_blocking(skill.name, **skill.render_job(skill.pinned_tools()))
    except RenderError as exc:
        return [_render_failed(skill, catalog, exc)]
    return []


def _render_failed(skill: Skill, catalog: Catalog, exc: RenderError) -> Diagnostic:
    unknown = _servers_without_lock(skill) if _reads_tools(skill) else []
    if unknown:  # its tools come from servers validate does not start: the failure may be theirs
        return Diagnostic.at(
            skill.skill_md,
            "SG305",
            f"rendered without its tools, it fails: {exc.people}; servers {', '.join(unknown)} have no "
            "lock, so validate cannot know the tools the template reads: run `skillgate lock`",
            exc.line or skill.body_line,
            exc.col or 1,
            severity=Severity.WARNING,
        ).shown(catalog.show(skill.skill_md))
    return Diagnostic.at(
        skill.skill_md,
        "SG305",
        f"load_skill fails with the defaults: {exc.people}",
        exc.line or skill.body_line,
        exc.col or 1,
    ).shown(catalog.show(skill.skill_md))


def _reads_tools(skill: Skill) -> bool:
    return re.search(r"\btools\b", skill.body) is not None


def _servers_without_lock(skill: Skill) -> list[str]:
    locked = skill.lock.servers if skill.lock is not None else {}
    return sorted(b.name for b in skill.bindings if b.name not in locked)


def unchecked_tools(skill: Skill, catalog: Catalog) -> list[Diagnostic]:
    """A warning when the template reads `tools` that validate cannot know (no lock)."""
    unknown = _servers_without_lock(skill) if needs_rendering(skill) and _reads_tools(skill) else []
    if not unknown:
        return []
    return [
        Diagnostic.at(
            skill.skill_md,
            "SG305",
            f"the template reads `tools`, and servers {', '.join(unknown)} have no lock: validate renders it "
            "without them, so it cannot tell whether a load with the real tools works; run `skillgate lock`",
            skill.body_line,
            severity=Severity.WARNING,
        ).shown(catalog.show(skill.skill_md))
    ]


def command_diagnostics(skill: Skill, catalog: Catalog) -> list[Diagnostic]:
    """SG205 for each stdio binding whose command cannot be started from here."""
    found = []
    for binding in skill.bindings:
        problem = command_problem(binding)
        if problem is not None:
            mcp_json = skill.dir / "mcp.json"
            found.append(Diagnostic.at(mcp_json, "SG205", problem).shown(catalog.show(mcp_json)))
    return found


def command_problem(binding: ServerBinding) -> str | None:
    """Why the binding's command cannot run on this machine, with the fix; None when it can."""
    if binding.kind != "stdio" or binding.entry.command is None:
        return None
    try:
        command = expand(binding.entry.command, os.environ, binding.name)
    except EnvVarMissing:
        return None  # its value comes from the serving environment, not this one
    server = f"server {binding.name!r}: command {command[:PATH_CHARS]!r}"
    try:
        if os.sep in command:
            path = binding.resolved_cwd() / command
            if not path.is_file():
                return f"{server} does not exist (relative paths start from the server's cwd); fix the path"
            if not os.access(path, os.X_OK):
                return f"{server} is not executable; run `chmod +x {path}`"
            return None
        if find_command(command) != command:
            return None
    except EnvVarMissing:
        return None  # its cwd comes from the serving environment
    except (OSError, ValueError) as exc:  # a NUL, a name too long: no such file can exist
        return f"{server} cannot name a file here ({type(exc).__name__}); fix the command or cwd"
    close = difflib.get_close_matches(command, sorted(_commands()), n=1, cutoff=0.8)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"{server} is not on PATH{hint}; install the package that provides it where skillgate runs "
        f"(`pip install {command}` into skillgate's environment for a Python server, `npm install -g` "
        "for a Node one, or run it with `uvx`/`npx`), or write its full path in mcp.json"
    )


def _commands() -> set[str]:
    """The executables on the command path (for "did you mean")."""
    names: set[str] = set()
    for folder in command_path():
        try:
            names.update(entry.name for entry in os.scandir(folder or ".") if entry.name[:1] != ".")
        except OSError:
            continue
    return names


def authoring_diagnostics(catalog: Catalog) -> list[Diagnostic]:
    """The catalog's own diagnostics (what serving tolerates an error again) plus the checks that
    need no rendering, sorted."""
    found = [d.strict() for d in catalog.diagnostics]
    for skill in catalog:
        found += size_diagnostics(skill, catalog) + command_diagnostics(skill, catalog)
        found += unchecked_tools(skill, catalog)
    return sorted(found, key=sort_key)


def check_catalog(catalog: Catalog, renderer: RenderWorkers) -> list[Diagnostic]:
    """Everything `validate` reports for the catalog, sorted: `authoring_diagnostics` and each
    skill rendered with its defaults (as many at once as the render workers run)."""
    with ThreadPoolExecutor(RENDERS_AT_ONCE) as pool:
        skills = [skill for skill in catalog if needs_rendering(skill)]
        rendered = pool.map(lambda skill: render_diagnostics(skill, catalog, renderer), skills)
        return sorted(authoring_diagnostics(catalog) + [d for r in rendered for d in r], key=sort_key)
