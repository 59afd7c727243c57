"""Words for people: counts with the right grammatical number, and "did you mean"."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def count(n: int, singular: str, plural: str | None = None) -> str:
    """`1 skill`, `2 skills`, `0 queries` (with `plural` for irregular words)."""
    return f"{n:,} {singular if n == 1 else plural or singular + 's'}"


def suggest(name: str, names: Sequence[str]) -> list[str]:
    """Up to three of `names` close to `name` (or containing it), for "did you mean" lists."""
    close = difflib.get_close_matches(name, list(names), n=3, cutoff=0.5)
    contains = [n for n in names if name and (name in n or n in name) and n not in close]
    return (close + contains)[:3]


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """` (did you mean 'description'?)` when a choice is close to `word`, else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
