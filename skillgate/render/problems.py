"""A template's failures in skillgate's words: what went wrong, where (line and column), "did
you mean", once for a model (load_skill's `variables`) and once for a person (`--var`).

Jinja says `No filter named 'defualt'.` and `'dict object' has no attribute 'city'`; an author
needs `unknown filter 'defualt' (did you mean 'default'?)` and `variable 'city' has no value
and no default`, at SKILL.md line 12, column 9.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

CONTEXT_NAMES = ("skill", "tools", "vars", "client")  # what a skill template reads


@dataclass(frozen=True)
class Problem:
    """One failure: the model's words, the person's words, and the word to point the column at."""

    model: str
    people: str
    needle: str | None = None  # a regular expression for where it is on its line (group "at", if any)

    @classmethod
    def same(cls, text: str, needle: str | None = None) -> Problem:
        return cls(text, text, needle)


def _close(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(set(choices) - {name}), n=2, cutoff=0.7)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def unknown_filter_or_test(kind: str, name: str, known: Iterable[str]) -> Problem:
    """`kind` is "filter" or "test"; `known` the sandbox's names of that kind."""
    where = "filters" if kind == "filter" else "tests"
    text = f"unknown {kind} {name!r}{_close(name, known)}; a skill template can use Jinja's builtin {where}"
    word = rf"(?P<at>{re.escape(name)})\b"
    pattern = rf"\|\s*{word}" if kind == "filter" else rf"\bis\s+(not\s+)?{word}"
    return Problem.same(text, pattern)


def variable_missing(name: str, others: Iterable[str]) -> Problem:
    """A `vars.NAME` read with no value passed and no default written."""
    close = _close(name, others)
    default = f'{{{{ vars.{name} | default("...") }}}}'
    return Problem(
        f"variable {name!r} has no value and no default{close}; pass it in load_skill's variables "
        f'({{"{name}": ...}}), or give it a default in the template: {default}',
        f"variable {name!r} has no value and no default{close}; pass it with --var {name}=VALUE, or give "
        f"it a default in SKILL.md: {default}",
        rf"\bvars\s*(\.\s*{re.escape(name)}\b|\[\s*[\"']{re.escape(name)}[\"'])",
    )


def name_missing(name: str, template_names: Iterable[str]) -> Problem:
    """A bare name that is neither in the context nor set by the template."""
    close = _close(name, [*CONTEXT_NAMES, *template_names])
    return Problem.same(
        f"{name!r} is not defined{close}; a skill template reads skill, tools, vars and client, "
        "and the names it sets itself ({% set %}, {% for %}, macros)",
        rf"\b{re.escape(name)}\b",
    )


def column(line: str, needle: str | None) -> int:
    """The 1-based column where `needle` first matches `line` (1 when it does not)."""
    if needle is None:
        return 1
    found = re.search(needle, line)
    if found is None:
        return 1
    return (found.start("at") if "at" in found.re.groupindex else found.start()) + 1


FILTER_OR_TEST = re.compile(r"No (filter|test) named '([^']*)'")


def parse_unknown(message: str) -> tuple[str, str] | None:
    """("filter", name) or ("test", name) from Jinja's "No filter named 'x'." message."""
    found = FILTER_OR_TEST.search(message)
    return (found.group(1), found.group(2)) if found else None
