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
    TEMPLATE_EXPRESSION_DEPTH,
    TEMPLATE_NESTING,
)
from skillgate.base.reading import Unreadable, read_text

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


def _environment(folder: Path) -> ImmutableSandboxedEnvironment:
    env = _Sandbox(
        loader=_SkillFolderLoader(folder),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        cache_size=0,
    )
    env.globals["lipsum"] = _lipsum
    return env


@dataclass(frozen=True)
class TemplateCheck:
    """What one parse of a template tells: its first syntax error, and its literal includes."""

    error: tuple[int, str] | None  # (line in body, message)
    includes: list[tuple[str, int]]  # (name, line in body)


def check_template(body: str, folder: Path) -> TemplateCheck:
    from jinja2 import nodes

    if "{{" not in body and "{%" not in body and "{#" not in body:
        return TemplateCheck(None, [])  # plain Markdown: nothing for Jinja to parse

    env = _environment(folder)
    try:
        nesting = _too_nested(env, body)
        if nesting is not None:
            return TemplateCheck(nesting, [])
        tree = env.parse(body)
    except jinja2.TemplateSyntaxError as exc:
        return TemplateCheck((exc.lineno, exc.message or "syntax error"), [])
    except (RecursionError, MemoryError, SyntaxError):  # a backstop behind the nesting limits
        return TemplateCheck((1, "the template is too complex to parse; simplify it"), [])
    includes = [
        (str(node.template.value), node.lineno)
        for node in tree.find_all(nodes.Include)
        if isinstance(node.template, nodes.Const)
    ]
    return TemplateCheck(None, includes)


_OPENERS = frozenset({"for", "if", "macro", "call", "filter", "block", "with", "autoescape", "trans"})
_CHAIN = frozenset({"|", ".", "+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", "<=", ">", ">="})


def _too_nested(env: jinja2.Environment, body: str) -> tuple[int, str] | None:
    """The first place the template nests deeper than the limits Jinja and Python can compile.

    Read from the token stream, which has no recursion: blocks inside blocks (Python allows
    20 nested loops), brackets inside brackets, and operators or filters chained in one
    expression (each becomes one more level of nesting in the generated code).
    """
    blocks: list[str] = []
    brackets = chain = 0
    tag: list[str] | None = None  # the words of the block tag being read, if inside one
    for line, kind, value in env.lex(body):
        if kind in ("variable_begin", "block_begin"):
            brackets = chain = 0
            tag = [] if kind == "block_begin" else None
        elif kind == "block_end" and tag:
            word = tag[0]
            if word in _OPENERS or (word == "set" and "=" not in tag):
                blocks.append(word)
                if len(blocks) > TEMPLATE_NESTING:
                    return line, f"blocks are nested more than {TEMPLATE_NESTING} deep; split the template"
            elif word.startswith("end") and blocks:
                blocks.pop()
            tag = None
        elif kind in ("name", "operator") and tag is not None:
            tag.append(value)
        if kind == "operator":
            if value in ("(", "[", "{"):
                brackets += 1
            elif value in (")", "]", "}"):
                brackets -= 1
            elif value in _CHAIN:
                chain += 1
            if brackets > TEMPLATE_EXPRESSION_DEPTH or chain > 2 * TEMPLATE_EXPRESSION_DEPTH:
                return line, (
                    f"an expression nests brackets more than {TEMPLATE_EXPRESSION_DEPTH} deep or chains "
                    f"more than {2 * TEMPLATE_EXPRESSION_DEPTH} operators and filters; split it with "
                    "{% set %}"
                )
    return None


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
    context = {"skill": dict(skill), "tools": list(tools), "vars": dict(variables), "client": dict(client)}
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
    except RecursionError as exc:
        raise RenderError(
            "the template recursed too deeply (a macro that calls itself, or files that include "
            "each other); break the cycle",
            _template_line(exc, line_offset),
        ) from None
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
