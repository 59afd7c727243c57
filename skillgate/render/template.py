"""Rendering a skill's body: a Jinja2 template in the sandbox (`sandbox.py`).

The context holds `skill` (frontmatter), `tools` (allowed tools with schemas),
`vars` (caller-supplied variables) and `client` (name/version of the MCP client).
Undefined names are errors (defaults are written in the template with `default`),
`{% include %}` reaches only the skill's servable files (never mcp.json, .env or
SKILL.md itself), `*` and `**` refuse results beyond fixed sizes, and the output is
capped. Templates nested too deeply for Jinja and Python are refused when the catalog
loads. Rendering itself runs in a worker process (`render_worker`), under a time and
memory limit.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError

from skillgate.base.errors import RenderError
from skillgate.base.limits import RENDER_OUTPUT_CHARS
from skillgate.render.nesting import too_nested
from skillgate.render.problems import (
    Problem,
    column,
    name_missing,
    parse_unknown,
    unknown_filter_or_test,
    variable_missing,
)
from skillgate.render.sandbox import NameMissing, VariableMissing, Vars, environment


@dataclass(frozen=True)
class TemplateCheck:
    """What one parse of a template tells: its first syntax error, and its literal includes."""

    error: tuple[int, int, str] | None  # (line in body, column, message)
    includes: list[tuple[str, int]]  # (name, line in body)


def check_template(body: str, folder: Path) -> TemplateCheck:
    """Parse and compile the template: syntax errors, and filters or tests the sandbox lacks."""
    from jinja2 import nodes

    if "{{" not in body and "{%" not in body and "{#" not in body:
        return TemplateCheck(None, [])  # plain Markdown: nothing for Jinja to parse

    env = environment(folder)
    try:
        nesting = too_nested(env, body)
        if nesting is not None:
            return TemplateCheck((nesting[0], 1, nesting[1]), [])
        tree = env.parse(body)
        unknown = _unknown_filter_or_test(env, tree, body)
        if unknown is not None:
            problem, lineno = unknown
            return TemplateCheck((lineno, _column_in(body, lineno, problem), problem.people), [])
    except jinja2.TemplateSyntaxError as exc:
        problem = _syntax_problem(env, exc)
        lineno = exc.lineno or 1
        return TemplateCheck((lineno, _column_in(body, lineno, problem), problem.people), [])
    except (RecursionError, MemoryError, SyntaxError):  # a backstop behind the nesting limits
        return TemplateCheck((1, 1, "the template is too complex to parse; simplify it"), [])
    includes = [
        (str(node.template.value), node.lineno)
        for node in tree.find_all(nodes.Include)
        if isinstance(node.template, nodes.Const)
    ]
    return TemplateCheck(None, includes)


def _unknown_filter_or_test(
    env: jinja2.Environment, tree: jinja2.nodes.Template, body: str
) -> tuple[Problem, int] | None:
    """The first filter or test the sandbox lacks, in any branch (Jinja itself finds those
    outside `if` only when compiling, and those inside only when run). A name the template
    guards with `is filter` / `is test` is allowed, as Jinja allows it."""
    from jinja2 import nodes

    guarded = {
        str(test.node.value)
        for test in tree.find_all(nodes.Test)
        if test.name in ("filter", "test") and isinstance(test.node, nodes.Const)
    }
    found = []
    lines = lines_of(body)
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        kind, known = ("filter", env.filters) if isinstance(node, nodes.Filter) else ("test", env.tests)
        if node.name in known:
            continue
        if node.name in guarded:  # only Jinja knows whether the guard covers this use: let it compile
            env.compile(tree, raw=True)
            continue
        problem = unknown_filter_or_test(kind, node.name, known_names(env, kind))
        line = lines[node.lineno - 1] if 1 <= node.lineno <= len(lines) else ""
        found.append((node.lineno, column(line, problem.needle), problem))
    if not found:
        return None
    lineno, _, problem = min(found, key=lambda f: (f[0], f[1]))
    return problem, lineno


def known_names(env: jinja2.Environment, kind: str) -> list[str]:
    return list(env.filters if kind == "filter" else env.tests)


def _syntax_problem(env: jinja2.Environment, exc: jinja2.TemplateSyntaxError) -> Problem:
    message = exc.message or "syntax error"
    unknown = parse_unknown(message)
    if unknown is None:
        return Problem.same(f"template syntax error: {message}")
    kind, name = unknown
    return unknown_filter_or_test(kind, name, known_names(env, kind))


def lines_of(body: str) -> list[str]:
    """The body's lines as Jinja counts them (only \\n, \\r\\n and \\r end a line)."""
    return re.split(r"\r\n|\r|\n", body)


def _column_in(body: str, lineno: int | None, problem: Problem) -> int:
    lines = lines_of(body)
    if lineno is None or not 1 <= lineno <= len(lines):
        return 1
    return column(lines[lineno - 1], problem.needle)


@functools.lru_cache(maxsize=256)
def _compiled(body: str, folder: str) -> jinja2.Template:
    """The compiled template, by its own text (so never stale); included files are read each render."""
    return environment(Path(folder)).from_string(body)


def render_template(
    body: str,
    folder: Path,
    *,
    skill: Mapping[str, Any],
    tools: Sequence[Mapping[str, Any]],
    variables: Mapping[str, Any],
    client: Mapping[str, Any],
    line_offset: int = 0,
    max_chars: int = RENDER_OUTPUT_CHARS,
) -> str:
    """Render `body`; errors carry the line in SKILL.md (`line_offset` + body line)."""
    context = {"skill": dict(skill), "tools": list(tools), "vars": Vars(variables), "client": dict(client)}
    lineno: int | None
    try:
        template = _compiled(body, str(folder))
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
        text = "".join(pieces)
        if not carriable(text):
            raise RenderError(
                "the rendered text holds a lone surrogate (an escape between \\ud800 and \\udfff), which "
                "is not Unicode text and no client can receive; remove it from the template or the variables"
            )
        return text
    except RenderError:
        raise
    except jinja2.TemplateSyntaxError as exc:
        problem, lineno = _syntax_problem(environment(folder), exc), exc.lineno
        included = _included_name(exc, folder)
        if included is not None:  # the error is in a file the body includes: name it, point at the include
            problem = Problem(
                f"{included}, line {exc.lineno}: {problem.model}",
                f"{included}:{exc.lineno}: {problem.people}",
            )
            lineno = _body_line(exc)
    except (
        RecursionError,
        jinja2.TemplateError,
        ArithmeticError,
        TypeError,
        ValueError,
        OverflowError,
    ) as exc:
        problem, lineno = _runtime_problem(exc, body, folder), _body_line(exc)
    line = None if lineno is None else lineno + line_offset
    raise RenderError(problem.model, line, _column_in(body, lineno, problem), problem.people)


def _included_name(exc: jinja2.TemplateSyntaxError, folder: Path) -> str | None:
    """The skill-relative name of the included file a syntax error is in, if it is not the body."""
    if not exc.filename or exc.filename == "<template>":
        return None
    try:
        return Path(exc.filename).relative_to(folder.resolve()).as_posix()
    except ValueError:
        return exc.name or "an included file"


def carriable(text: str) -> bool:
    """Whether UTF-8 can carry `text` (a lone surrogate cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _runtime_problem(exc: BaseException, body: str, folder: Path) -> Problem:
    """A failure while rendering, in skillgate's words."""
    if isinstance(exc, VariableMissing):
        return variable_missing(exc.message or "", template_variables(body, folder))
    if isinstance(exc, NameMissing):
        return name_missing(exc.message or "", _names_set(body, folder))
    if isinstance(exc, SecurityError):
        what = str(exc).replace("'_Vars' object", "vars")
        return Problem.same(
            f"the template tried something the sandbox forbids ({what}); skills may only read "
            "skill, tools, vars and client"
        )
    if isinstance(exc, jinja2.UndefinedError):
        what = (exc.message or "").replace("'dict object'", "the mapping").replace("list object", "the list")
        return Problem.same(f"{what}; check the name (`| default(...)` gives a missing value a default)")
    if isinstance(exc, OverflowError) and "Range too big" in str(exc):
        return Problem.same("range() in a skill template is limited to 100,000 items; loop over fewer")
    if isinstance(exc, jinja2.TemplateNotFound):
        return Problem.same(f"include not found: {exc.message}")
    if isinstance(exc, RecursionError):
        return Problem.same(
            "the template recursed too deeply (a macro that calls itself, or files that include "
            "each other); break the cycle"
        )
    unknown = parse_unknown(str(exc)) if isinstance(exc, jinja2.TemplateRuntimeError) else None
    if unknown is not None:
        env = environment(folder)
        return unknown_filter_or_test(
            unknown[0], unknown[1], env.filters if unknown[0] == "filter" else env.tests
        )
    return Problem.same(f"the template failed: {exc}")


def _names_set(body: str, folder: Path) -> list[str]:
    """The names a template sets itself ({% set %}, loop variables, macros and their parameters)."""
    from jinja2 import nodes

    try:
        tree = environment(folder).parse(body)
    except jinja2.TemplateSyntaxError:
        return []
    names = [n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")]
    return sorted({*names, *(m.name for m in tree.find_all(nodes.Macro)), *environment(folder).globals})


def _body_line(exc: BaseException) -> int | None:
    """The template line of the innermost frame of a runtime template error."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":  # Jinja rewrote it to the template line
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def template_variables(body: str, folder: Path) -> dict[str, str | None]:
    """The `vars.NAME` a template reads, each with its written default (`| default(...)`) or None.

    Read from the template's syntax tree, so it finds variables in every branch.
    """
    from jinja2 import nodes

    try:
        tree = environment(folder).parse(body)
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
