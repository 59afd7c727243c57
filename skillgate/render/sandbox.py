"""The sandbox a skill template renders in: Jinja's immutable sandbox with includes limited to
the skill's servable files, `*` and `**` refusing huge results, a capped `lipsum`, and
undefined names as errors that say which kind of name is missing (a variable, a bare name).
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from skillgate.base.layout import servable
from skillgate.base.limits import INCLUDE_BYTES, PATH_CHARS, RENDER_INT_DIGITS, RENDER_SEQUENCE_ITEMS
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


class Vars(dict[str, Any]):
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
            if isinstance(obj, Vars):
                exc, hint = VariableMissing, name
            elif obj is jinja2.utils.missing:
                exc, hint = NameMissing, name
        super().__init__(hint, obj, name, exc)


def environment(folder: Path) -> ImmutableSandboxedEnvironment:
    env = _Sandbox(
        loader=_SkillFolderLoader(folder),
        undefined=_Undefined,
        autoescape=False,
        keep_trailing_newline=True,
        cache_size=0,
    )
    env.globals["lipsum"] = _lipsum
    return env
