"""Sections of rendered Markdown: the headings, and one heading's part of the text."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt


@dataclass(frozen=True)
class MarkdownSection:
    heading: str
    level: int
    start: int  # first line (0-based)
    end: int  # line after the section, subsections included


@lru_cache(maxsize=1)
def blocks() -> MarkdownIt:
    """A CommonMark block parser (headings' raw text is enough), built on first use."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").disable("inline")


def find_sections(text: str) -> list[MarkdownSection]:
    tokens = blocks().parse(text)
    found: list[tuple[str, int, int]] = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            found.append((tokens[i + 1].content.strip(), int(token.tag[1:]), token.map[0]))
    ends = [len(text.splitlines())] * len(found)
    open_: list[int] = []  # sections still open, their levels rising: one pass, linear
    for i, (_, level, start) in enumerate(found):
        while open_ and found[open_[-1]][1] >= level:
            ends[open_.pop()] = start
        open_.append(i)
    return [MarkdownSection(h, level, start, end) for (h, level, start), end in zip(found, ends, strict=True)]


def extract_section(text: str, heading: str) -> str | None:
    """The section whose heading matches (case-insensitively), with its subsections."""
    wanted = heading.strip().lstrip("#").strip().casefold()
    for section in find_sections(text):
        if section.heading.casefold() == wanted:
            lines = text.splitlines(keepends=True)
            return "".join(lines[section.start : section.end])
    return None


@dataclass(frozen=True)
class Chunk:
    """A heading and its own text up to the next heading of any level (the preface has no heading)."""

    heading: str | None
    text: str


def chunks(text: str) -> list[Chunk]:
    lines = text.splitlines(keepends=True)
    sections = find_sections(text)
    starts = [s.start for s in sections]
    headings = {s.start: s.heading for s in sections}
    bounds = [0, *starts, len(lines)]
    out = []
    for begin, end in itertools.pairwise(bounds):
        if end > begin:
            out.append(Chunk(headings.get(begin), "".join(lines[begin:end])))
    return out


def section_texts(text: str, sections: list[MarkdownSection]) -> list[str]:
    """Each section's text (the text is split into lines once, not once per section)."""
    lines = text.splitlines(keepends=True)
    return ["".join(lines[section.start : section.end]) for section in sections]


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def tidy(text: str) -> str:
    """Rendered Markdown without the blank lines template tags leave: whitespace-only lines are
    emptied and runs of blank lines become one, except inside fenced code blocks."""
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opened = _FENCE.match(line)
        if fence is not None:
            out.append(line)
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
        if not line.strip():
            if out and out[-1] == "":
                continue
            line = ""
        out.append(line)
    return "\n".join(out)
