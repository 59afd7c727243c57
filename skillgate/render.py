"""Rendering a skill's body: a Jinja2 template in a sandbox.

The context holds `skill` (frontmatter), `tools` (allowed tools with schemas),
`vars` (caller-supplied variables) and `client` (name/version of the MCP client).
Undefined names are errors (defaults are written in the template with `default`),
`{% include %}` reaches only files inside the skill folder, and the output is capped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from skillgate.errors import RenderError

MAX_OUTPUT_CHARS = 200_000


class _SkillFolderLoader(jinja2.BaseLoader):
    """Loads included templates from the skill folder only (no `..`, no symlinks out)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        target = (self.folder / template).resolve()
        if not target.is_relative_to(self.folder) or not target.is_file():
            raise jinja2.TemplateNotFound(
                f"{template} (includes must name a file inside the skill folder, relative to it)"
            )
        mtime = target.stat().st_mtime
        return target.read_text(encoding="utf-8"), str(target), lambda: target.stat().st_mtime == mtime


def _environment(folder: Path) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        loader=_SkillFolderLoader(folder),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class TemplateCheck:
    """What one parse of a template tells: its first syntax error, and its literal includes."""

    error: tuple[int, str] | None  # (line in body, message)
    includes: list[tuple[str, int]]  # (name, line in body)


def check_template(body: str, folder: Path) -> TemplateCheck:
    from jinja2 import nodes

    if "{{" not in body and "{%" not in body and "{#" not in body:
        return TemplateCheck(None, [])  # plain Markdown: nothing for Jinja to parse

    try:
        tree = _environment(folder).parse(body)
    except jinja2.TemplateSyntaxError as exc:
        return TemplateCheck((exc.lineno, exc.message or "syntax error"), [])
    includes = [
        (str(node.template.value), node.lineno)
        for node in tree.find_all(nodes.Include)
        if isinstance(node.template, nodes.Const)
    ]
    return TemplateCheck(None, includes)


def render_template(
    body: str,
    folder: Path,
    *,
    skill: Mapping[str, Any],
    tools: Sequence[Mapping[str, Any]],
    variables: Mapping[str, Any],
    client: Mapping[str, Any],
    line_offset: int = 0,
    max_chars: int = MAX_OUTPUT_CHARS,
) -> str:
    """Render `body`; errors carry the line in SKILL.md (`line_offset` + body line)."""
    env = _environment(folder)
    context = {"skill": dict(skill), "tools": list(tools), "vars": dict(variables), "client": dict(client)}
    try:
        template = env.from_string(body)
        pieces: list[str] = []
        size = 0
        for piece in template.generate(context):
            size += len(piece)
            if size > max_chars:
                raise RenderError(
                    f"the rendered skill is longer than {max_chars} characters; "
                    "shorten the template or split it into files under references/"
                )
            pieces.append(piece)
        return "".join(pieces)
    except RenderError:
        raise
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"template syntax error: {exc.message}", _line(exc.lineno, line_offset)) from None
    except SecurityError as exc:
        raise RenderError(
            f"the template tried something the sandbox forbids ({exc}); skills may only read "
            "skill, tools, vars and client",
            _template_line(exc, line_offset),
        ) from None
    except jinja2.UndefinedError as exc:
        raise RenderError(
            f"{exc.message}; pass it as a variable, or give a default in the template: "
            '{{ vars.name | default("...") }}',
            _template_line(exc, line_offset),
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"include not found: {exc.message}", _template_line(exc, line_offset)) from None
    except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError, OverflowError) as exc:
        raise RenderError(f"the template failed: {exc}", _template_line(exc, line_offset)) from None


def _line(lineno: int | None, offset: int) -> int | None:
    return None if lineno is None else lineno + offset


def _template_line(exc: BaseException, offset: int) -> int | None:
    """The template line of the innermost frame of a runtime template error."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":  # Jinja rewrote it to the template line
            line = tb.tb_lineno
        tb = tb.tb_next
    return _line(line, offset)


def template_variables(body: str, folder: Path) -> dict[str, str | None]:
    """The `vars.NAME` a template reads, each with its written default (`| default(...)`) or None.

    Read from the template's syntax tree, so it finds variables in every branch.
    """
    from jinja2 import nodes

    try:
        tree = _environment(folder).parse(body)
    except jinja2.TemplateSyntaxError:
        return {}
    found: dict[str, str | None] = {}

    def name_of(node: nodes.Node) -> str | None:
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name == "vars":
            return str(node.attr)
        if (
            isinstance(node, nodes.Getitem)
            and isinstance(node.node, nodes.Name)
            and node.node.name == "vars"
            and isinstance(node.arg, nodes.Const)
        ):
            return str(node.arg.value)
        return None

    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = name_of(node)
        if name is not None:
            found.setdefault(name, None)
    for flt in tree.find_all(nodes.Filter):
        name = name_of(flt.node) if flt.node is not None else None
        if (
            name is not None
            and flt.name in ("default", "d")
            and flt.args
            and isinstance(flt.args[0], nodes.Const)
        ):
            found[name] = str(flt.args[0].value)
    return dict(sorted(found.items()))
