"""Skill: one loaded skill folder (SKILL.md, its bindings and its other files)."""

from __future__ import annotations

import functools
import logging
import os
import stat
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillgate.base.errors import FileNotInSkill
from skillgate.base.layout import servable
from skillgate.base.limits import PATH_CHARS, SKILL_MD_BYTES
from skillgate.base.limits import SERVED_FILE_BYTES as MAX_FILE_BYTES
from skillgate.base.reading import Unreadable, read_bytes
from skillgate.skills.binding import ServerBinding
from skillgate.skills.frontmatter import SkillFrontmatter
from skillgate.skills.lock import LockFile

logger = logging.getLogger(__name__)
SKIP_DIRS = frozenset({"node_modules", "__pycache__"})


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
    lock_data: bytes | None = None  # tools.lock.json as validated, zlib-compressed; see `lock`
    locked_tools: tuple[tuple[str, str, str], ...] = ()  # (server, tool, description) from the lock
    source: str = "SKILL.md"  # the file name SKILL.md was found under

    @functools.cached_property
    def lock(self) -> LockFile | None:
        """The skill's lock, parsed when first needed (a 10,000-skill catalog starts without parsing them)."""
        return (
            None if self.lock_data is None else LockFile.model_validate_json(zlib.decompress(self.lock_data))
        )

    @functools.cached_property
    def file_index(self) -> dict[str, SkillFile]:
        """The listed files by path: built once per skill (a catalog generation), not per read."""
        return {f.path: f for f in self.files}

    @functools.cached_property
    def root(self) -> Path:
        """The skill folder, resolved once (read_file checks each target against it)."""
        return self.dir.resolve()

    @functools.cached_property
    def digests(self) -> tuple[tuple[str, int, str], ...]:
        """(path, size, "sha256:...") of SKILL.md and each listed file, hashed once per catalog
        generation (the first listing asks; a reload makes new skills). A file that cannot be
        read now is left out, never failing the others."""
        import hashlib

        found = []
        for path in ("SKILL.md", *self.file_index):
            try:
                data = (
                    self.read_file(path) if path != "SKILL.md" else read_bytes(self.skill_md, SKILL_MD_BYTES)
                )
            except (FileNotInSkill, Unreadable) as exc:
                logger.warning("skill %s: %s is not listed: it cannot be read now (%s)", self.name, path, exc)
                continue
            found.append((path, len(data), "sha256:" + hashlib.sha256(data).hexdigest()))
        return tuple(found)

    @functools.cached_property
    def variables(self) -> dict[str, str | None]:
        """The template variables the body reads and their written defaults (read once per skill)."""
        from skillgate.render.template import template_variables  # Jinja loads only when needed

        return template_variables(self.body, self.dir)

    def render_job(
        self,
        tools: list[dict[str, Any]],
        variables: Mapping[str, Any] | None = None,
        client: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The renderer's arguments for this skill: body, folder and the template's context."""
        return {
            "body": self.body,
            "folder": self.dir,
            "skill": self.frontmatter.model_dump(by_alias=True, exclude_none=True),
            "tools": tools,
            "variables": dict(variables or {}),
            "client": dict(client or {"name": None, "version": None}),
            "line_offset": self.body_line - 1,
        }

    def pinned_tools(self) -> list[dict[str, Any]]:
        """The allowed tools its lock pins, as a template sees them (`tools`), without any upstream;
        a binding without a lock contributes none."""
        found: dict[str, dict[str, Any]] = {}
        locked = self.lock.servers if self.lock is not None else {}
        for binding in self.bindings:
            for tool in locked[binding.name].tools if binding.name in locked else []:
                if binding.allows(tool.name) and tool.name not in found:
                    found[tool.name] = tool.model_dump(
                        by_alias=True, exclude_none=True, include={"name", "description", "input_schema"}
                    )
        return [found[name] for name in sorted(found)]

    def locked(self, server: str) -> list[tuple[str, str]] | None:
        """(name, description) of the tools the lock pins for `server`, or None when it pins none."""
        if self.lock_data is None:
            return None
        found = [(name, description) for bound, name, description in self.locked_tools if bound == server]
        return found if found or self.lock is None or server in self.lock.servers else None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("lock", None)  # cached: parsed again after unpickling, when needed
        for cached in ("variables", "file_index", "root", "digests"):
            state.pop(cached, None)
        return state

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
        listed = self.file_index
        wanted = relative.removeprefix("./")
        if wanted not in listed:
            available = ", ".join(list(listed)[:50]) or "none"
            if len(listed) > 50:
                available += f" and {len(listed) - 50} more"
            raise FileNotInSkill(
                f"{relative[:PATH_CHARS]!r} is not a file of skill {self.name!r}; paths are relative to "
                f"the skill folder and must be one of: {available}"
            )
        root = self.root
        try:
            target = (root / wanted).resolve(strict=True)
            if not target.is_relative_to(root):
                raise Unreadable("it now points outside the skill folder")
            return read_bytes(target, MAX_FILE_BYTES)
        except (OSError, RuntimeError, Unreadable) as exc:
            raise FileNotInSkill(f"{wanted!r} of skill {self.name!r} cannot be read: {exc}") from None


def find_headings(body: str) -> tuple[Heading, ...]:
    from skillgate.render.sections import blocks  # block parsing only: a heading's text is its raw content

    tokens = blocks().parse(body)
    headings = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            text = tokens[i + 1].content if i + 1 < len(tokens) else ""
            headings.append(Heading(int(token.tag[1:]), text.strip(), token.map[0] + 1))
    return tuple(headings)


def list_files(skill_dir: Path) -> tuple[tuple[SkillFile, ...], list[tuple[str, str]]]:
    """The skill's servable files, sorted, and what was skipped: (relative path, why).

    A file is listed only if reading it will work: a regular file (or a link to one) inside
    the skill folder, whose name is UTF-8 and whose link target is itself servable. Read with
    one `scandir` per folder and one `stat` per file (links are resolved, others need not be).
    """
    root = os.path.realpath(skill_dir)
    files: list[SkillFile] = []
    skipped: list[tuple[str, str]] = []
    pending = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            relative = prefix + entry.name
            if not servable(relative):
                continue
            try:
                relative.encode("utf-8")
            except UnicodeEncodeError:
                skipped.append((relative, "its name is not UTF-8; rename it"))
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIP_DIRS:
                        pending.append((relative + "/", entry.path))
                    continue
                if entry.is_symlink():
                    target = os.path.realpath(entry.path, strict=True)
                    inside = target.startswith(root + os.sep)
                    if not inside or not servable(target[len(root) + 1 :].replace(os.sep, "/")):
                        skipped.append((relative, "it links outside the skill's servable files"))
                        continue
                info = entry.stat()
            except (OSError, RuntimeError, ValueError):
                skipped.append((relative, "a broken link or a link loop"))
                continue
            if not stat.S_ISREG(info.st_mode):
                skipped.append((relative, "not a regular file"))
            elif info.st_size > MAX_FILE_BYTES:
                skipped.append((relative, f"{info.st_size:,} bytes, over the {MAX_FILE_BYTES:,} limit"))
            else:
                files.append(SkillFile(relative, info.st_size))
    return tuple(sorted(files, key=lambda f: f.path)), sorted(skipped)
