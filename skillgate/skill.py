"""Skill: one loaded skill folder (SKILL.md, its bindings and its other files)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from skillgate.binding import ServerBinding
from skillgate.errors import FileNotInSkill
from skillgate.frontmatter import SkillFrontmatter
from skillgate.limits import PATH_CHARS
from skillgate.limits import SERVED_FILE_BYTES as MAX_FILE_BYTES
from skillgate.lockfile import LockFile
from skillgate.reading import Unreadable, read_bytes

SKIP_DIRS = frozenset({"node_modules", "__pycache__"})

# Files that configure a skill rather than being part of what it serves (example queries are
# for `skillgate eval`, not for agents).
EVAL_QUERIES = "evals/queries.txt"
SKILL_FILES = ("SKILL.md", "skill.md")  # the reference accepts the lowercase name too; SKILL.md wins
CONFIG_FILES = frozenset({*SKILL_FILES, "mcp.json", "tools.lock.json", ".env", EVAL_QUERIES})


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    line: int  # line in the body (1-based)


@dataclass(frozen=True)
class SkillFile:
    path: str  # POSIX path relative to the skill folder
    size: int


@dataclass(frozen=True)
class Skill:
    frontmatter: SkillFrontmatter
    dir: Path
    body: str
    body_line: int  # line of SKILL.md where the body starts
    bindings: tuple[ServerBinding, ...]
    headings: tuple[Heading, ...]
    files: tuple[SkillFile, ...]
    lock: LockFile | None = None
    source: str = "SKILL.md"  # the file name SKILL.md was found under

    @property
    def name(self) -> str:
        return self.frontmatter.name

    @property
    def skill_md(self) -> Path:
        return self.dir / self.source

    def binding_for(self, tool: str) -> ServerBinding | None:
        """The first binding (in name order) whose allowlist admits `tool`."""
        return next((b for b in self.bindings if b.allows(tool)), None)

    def read_file(self, relative: str) -> bytes:
        """One of the skill's listed files; never anything else, never outside the skill folder.

        The path is looked up among the listed files before the file system is touched, so a
        NUL byte, a `..` or a link loop in it is just "not a file of this skill".
        """
        listed = {f.path for f in self.files}
        wanted = relative.removeprefix("./")
        if wanted not in listed:
            available = ", ".join(sorted(listed)) or "none"
            raise FileNotInSkill(
                f"{relative[:PATH_CHARS]!r} is not a file of skill {self.name!r}; paths are relative to "
                f"the skill folder and must be one of: {available}"
            )
        root = self.dir.resolve()
        try:
            target = (root / wanted).resolve(strict=True)
            if not target.is_relative_to(root):
                raise Unreadable("it now points outside the skill folder")
            return read_bytes(target, MAX_FILE_BYTES)
        except (OSError, RuntimeError, Unreadable) as exc:
            raise FileNotInSkill(f"{wanted!r} of skill {self.name!r} cannot be read: {exc}") from None


# Block parsing only: a heading's text is the raw content of its inline token.
_BLOCKS = MarkdownIt("commonmark").disable("inline")


def find_headings(body: str) -> tuple[Heading, ...]:
    tokens = _BLOCKS.parse(body)
    headings = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            text = tokens[i + 1].content if i + 1 < len(tokens) else ""
            headings.append(Heading(int(token.tag[1:]), text.strip(), token.map[0] + 1))
    return tuple(headings)


def servable(relative: str) -> bool:
    """Whether a path relative to a skill folder may be served: not hidden, not configuration."""
    return relative not in CONFIG_FILES and not any(part.startswith(".") for part in relative.split("/"))


def list_files(skill_dir: Path) -> tuple[tuple[SkillFile, ...], list[tuple[str, str]]]:
    """The skill's servable files, sorted, and what was skipped: (relative path, why).

    A file is listed only if reading it will work: a regular file (or a link to one) inside
    the skill folder, whose name is UTF-8 and whose link target is itself servable.
    """
    root = skill_dir.resolve()
    files: list[SkillFile] = []
    skipped: list[tuple[str, str]] = []
    for current, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(names):
            path = Path(current) / name
            relative = path.relative_to(root).as_posix()
            if not servable(relative):
                continue
            try:
                relative.encode("utf-8")
            except UnicodeEncodeError:
                skipped.append((relative, "its name is not UTF-8; rename it"))
                continue
            try:
                target = path.resolve(strict=True)
                inside = target.is_relative_to(root) and servable(target.relative_to(root).as_posix())
                info = target.stat()
            except (OSError, RuntimeError):
                skipped.append((relative, "a broken link or a link loop"))
                continue
            if not inside:
                skipped.append((relative, "it links outside the skill's servable files"))
            elif not stat.S_ISREG(info.st_mode):
                skipped.append((relative, "not a regular file"))
            elif info.st_size > MAX_FILE_BYTES:
                skipped.append((relative, f"{info.st_size:,} bytes, over the {MAX_FILE_BYTES:,} limit"))
            else:
                files.append(SkillFile(relative, info.st_size))
    return tuple(sorted(files, key=lambda f: f.path)), skipped
