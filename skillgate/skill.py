"""Skill: one loaded skill folder (SKILL.md, its bindings and its other files)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from skillgate.binding import ServerBinding
from skillgate.errors import FileNotInSkill
from skillgate.frontmatter import SkillFrontmatter
from skillgate.lockfile import LockFile

# Files that configure a skill rather than being part of what it serves (example queries are
# for `skillgate eval`, not for agents).
EVAL_QUERIES = "evals/queries.txt"
CONFIG_FILES = frozenset({"SKILL.md", "mcp.json", "tools.lock.json", EVAL_QUERIES})
MAX_FILE_BYTES = 1_000_000


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

    @property
    def name(self) -> str:
        return self.frontmatter.name

    @property
    def skill_md(self) -> Path:
        return self.dir / "SKILL.md"

    def binding_for(self, tool: str) -> ServerBinding | None:
        """The first binding (in name order) whose allowlist admits `tool`."""
        return next((b for b in self.bindings if b.allows(tool)), None)

    def read_file(self, relative: str) -> bytes:
        """One of the skill's own files; never anything outside the skill folder."""
        root = self.dir.resolve()
        target = (root / relative).resolve()
        listed = {f.path for f in self.files}
        if not target.is_relative_to(root) or target.relative_to(root).as_posix() not in listed:
            available = ", ".join(sorted(listed)) or "none"
            raise FileNotInSkill(
                f"{relative!r} is not a file of skill {self.name!r}; paths are relative to the skill "
                f"folder and must be one of: {available}"
            )
        return target.read_bytes()


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


def list_files(skill_dir: Path) -> tuple[SkillFile, ...]:
    """The skill's files other than its configuration, sorted, skipping hidden ones."""
    root = skill_dir
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if relative.as_posix() in CONFIG_FILES or not path.resolve().is_relative_to(root):
            continue
        files.append(SkillFile(relative.as_posix(), path.stat().st_size))
    return tuple(files)
