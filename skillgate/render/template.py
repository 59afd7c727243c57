"""Rendering a skill's body: a Jinja2 template in a sandbox.

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
import math
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from skillgate.base.errors import RenderError
from skillgate.base.layout import servable
from skillgate.base.limits import (
    INCLUDE_BYTES,
    PATH_CHARS,
    RENDER_INT_DIGITS,
    RENDER_OUTPUT_CHARS,
    RENDER_SEQUENCE_ITEMS,
)
from skillgate.base.reading import Unreadable, read_text
from skillgate.render.nesting import too_nested
from skillgate.render.problems import (
    Problem,
    column,
    name_missing,
    parse_unknown,
    unknown_filter_or_test,
    variable_missing,
)

LIPSUM_MAX = 20


class _SkillFolderLoader(jinja2.BaseLoader):
    """Loads included templates from the skill's servable files only (no `..`, no links out,
    no configuration such as mcp.json or .env, not SKILL.md itself)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        name = posixpath.normpath(template[:PATH_CHARS])
        if name == ".." or name.startswith(("../", "/")):
            raise jinja2.TemplateNotFound(
                f"{name} (includes must name a file inside the skill folder, relative to it)"
            )
        if not servable(name):
            raise jinja2.TemplateNotFound(
                f"{name} (configuration, hidden files and SKILL.md itself cannot be included)"
            )
        try:
            target = (self.folder / name).resolve(strict=True)
            inside = target.is_relative_to(self.folder)
            if not inside or not servable(target.relative_to(self.folder).as_posix()):
                raise Unreadable("it is outside the skill's servable files")
            text = read_text(target, INCLUDE_BYTES)
        except (OSError, ValueError, RuntimeError, Unreadable):
            raise jinja2.TemplateNotFound(
                f"{name} (includes must name a file inside the skill folder, relative to it)"
            ) from None
        return text, str(target), lambda: False


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with `*` and `**` refusing results too large to build."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if _too_large(operator, left, right):
            raise SecurityError(
                f"{operator!r} would build a number over {RENDER_INT_DIGITS} digits or a string or list "
                f"over {RENDER_SEQUENCE_ITEMS:,} items"
            )
        return super().call_binop(context, operator, left, right)


def _too_large(operator: str, left: Any, right: Any) -> bool:
    """Whether `left operator right` would build a huge number, string or list (checked before)."""
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**":
        return ints and abs(left) > 1 and right > 0 and _digits(left) * right > RENDER_INT_DIGITS
    if ints:
        return _digits(left) + _digits(right) > RENDER_INT_DIGITS
    sized, times = (left, right) if isinstance(right, int) else (right, left)
    return (
        isinstance(sized, str | list | tuple)
        and isinstance(times, int)
        and len(sized) * times > RENDER_SEQUENCE_ITEMS
    )


def _digits(n: int) -> int:
    return max(1, math.ceil(abs(n).bit_length() * math.log10(2)))


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """Jinja's `lipsum`, capped (its own signature, so `min`/`max` shadow the builtins here)."""
    from jinja2.utils import generate_lorem_ipsum

    def cap(value: int, limit: int) -> int:
        return value if value < limit else limit

    return str(generate_lorem_ipsum(n=cap(n, LIPSUM_MAX), html=html, min=cap(min, 100), max=cap(max, 100)))


class _Vars(dict[str, Any]):
    """The caller's variables: a dict the undefined-name errors can tell apart from others."""


class VariableMissing(jinja2.UndefinedError):
    """`vars.NAME` was used with no value and no default; the message is NAME."""


class NameMissing(jinja2.UndefinedError):
    """A bare name the context does not hold; the message is the name."""


class _Undefined(jinja2.StrictUndefined):
    """StrictUndefined that says which kind of name is missing. `_undefined_obj` and
    `_undefined_name` are the attributes Jinja documents for Undefined subclasses."""

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = jinja2.utils.missing,
        name: str | None = None,
        exc: type[jinja2.TemplateRuntimeError] = jinja2.UndefinedError,
    ) -> None:
        if hint is None and exc is jinja2.UndefinedError and isinstance(name, str):
            if isinstance(obj, _Vars):
                exc, hint = VariableMissing, name
            elif obj is jinja2.utils.missing:
                exc, hint = NameMissing, name
        super().__init__(hint, obj, name, exc)


def _environment(folder: Path) -> ImmutableSandboxedEnvironment:
    env = _Sandbox(
        loader=_SkillFolderLoader(folder),
        undefined=_Undefined,
        autoescape=False,
        keep_trailing_newline=True,
        cache_size=0,
    )
    env.globals["lipsum"] = _lipsum
    return env


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

    env = _environment(folder)
    try:
        nesting = too_nested(env, body)
        if nesting is not None:
            return TemplateCheck((nesting[0], 1, nesting[1]), [])
        tree = env.parse(body)
        unknown = _unknown_filter_or_test(env, tree)
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
    env: jinja2.Environment, tree: jinja2.nodes.Template
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
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        kind, known = ("filter", env.filters) if isinstance(node, nodes.Filter) else ("test", env.tests)
        if node.name not in known and node.name not in guarded:
            found.append((node.lineno, kind, node.name))
    if not found:
        return None
    lineno, kind, name = min(found)
    return unknown_filter_or_test(kind, name, known_names(env, kind)), lineno


def known_names(env: jinja2.Environment, kind: str) -> list[str]:
    return list(env.filters if kind == "filter" else env.tests)


def _syntax_problem(env: jinja2.Environment, exc: jinja2.TemplateSyntaxError) -> Problem:
    message = exc.message or "syntax error"
    unknown = parse_unknown(message)
    if unknown is None:
        return Problem.same(f"template syntax error: {message}")
    kind, name = unknown
    return unknown_filter_or_test(kind, name, known_names(env, kind))


def _column_in(body: str, lineno: int | None, problem: Problem) -> int:
    lines = body.splitlines()
    if lineno is None or not 1 <= lineno <= len(lines):
        return 1
    return column(lines[lineno - 1], problem.needle)


@functools.lru_cache(maxsize=256)
def _compiled(body: str, folder: str) -> jinja2.Template:
    """The compiled template, by its own text (so never stale); included files are read each render."""
    return _environment(Path(folder)).from_string(body)


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
    context = {"skill": dict(skill), "tools": list(tools), "vars": _Vars(variables), "client": dict(client)}
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
        return "".join(pieces)
    except RenderError:
        raise
    except jinja2.TemplateSyntaxError as exc:
        problem, lineno = _syntax_problem(_environment(folder), exc), exc.lineno
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


def _runtime_problem(exc: BaseException, body: str, folder: Path) -> Problem:
    """A failure while rendering, in skillgate's words."""
    if isinstance(exc, VariableMissing):
        return variable_missing(exc.message or "", template_variables(body, folder))
    if isinstance(exc, NameMissing):
        return name_missing(exc.message or "", _names_set(body, folder))
    if isinstance(exc, SecurityError):
        return Problem.same(
            f"the template tried something the sandbox forbids ({exc}); skills may only read "
            "skill, tools, vars and client"
        )
    if isinstance(exc, jinja2.UndefinedError):
        return Problem.same(
            f"{exc.message}; check the name, or give a default in the template: "
            '{{ vars.name | default("...") }}'
        )
    if isinstance(exc, jinja2.TemplateNotFound):
        return Problem.same(f"include not found: {exc.message}")
    if isinstance(exc, RecursionError):
        return Problem.same(
            "the template recursed too deeply (a macro that calls itself, or files that include "
            "each other); break the cycle"
        )
    unknown = parse_unknown(str(exc)) if isinstance(exc, jinja2.TemplateRuntimeError) else None
    if unknown is not None:
        env = _environment(folder)
        return unknown_filter_or_test(
            unknown[0], unknown[1], env.filters if unknown[0] == "filter" else env.tests
        )
    return Problem.same(f"the template failed: {exc}")


def _names_set(body: str, folder: Path) -> list[str]:
    """The names a template sets itself ({% set %}, loop variables, macros and their parameters)."""
    from jinja2 import nodes

    try:
        tree = _environment(folder).parse(body)
    except jinja2.TemplateSyntaxError:
        return []
    names = [n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")]
    return sorted({*names, *(m.name for m in tree.find_all(nodes.Macro)), *_environment(folder).globals})


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
