"""Catalog: every skill under one root folder, loaded with its diagnostics.

A folder that holds a SKILL.md is a skill (its subfolders are its files); other
folders are searched for skills at any depth. A broken skill is left out with its
diagnostics; it never stops the others from loading.

Parsing a skill (YAML, the template, Markdown headings, mcp.json, the lock) is kept, per
skill folder, with the stamps of every file it read or looked for (size, mtime, ctime,
inode): in memory for hot reloads, and on disk (`DiskCache`) for restarts. A skill whose
stamps all match is not parsed again; any change to any of those files parses it again, so
a cached skill is never stale. Its file list is read live each time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from skillgate.base.diagnostics import Diagnostic, Severity, sort_key
from skillgate.base.disk_cache import DiskCache
from skillgate.base.errors import SkillNotFound, UsageError
from skillgate.base.layout import SKILL_FILES
from skillgate.base.limits import SERVED_FILES, SKILL_MD_BYTES
from skillgate.base.reading import Unreadable, read_text
from skillgate.base.wording import suggest
from skillgate.skills.binding import ServerBinding, ServerEntry, merge_bindings, read_mcp_json
from skillgate.skills.bundle import SKIP_DIRS, Skill, SkillFile, find_headings, list_files
from skillgate.skills.consistency import collisions, lock_mismatches, missing_files
from skillgate.skills.frontmatter import normalize_name, parse_skill_file
from skillgate.skills.lock import LOCK_NAME, read_lock

logger = logging.getLogger(__name__)


Stamp = tuple[int, int, int, int] | None  # (size, mtime_ns, ctime_ns, inode) of a file; None: absent


@dataclass(frozen=True)
class Parsed:
    """One skill folder's parse: its inputs' stamps, the skill without its file list, diagnostics."""

    stamps: tuple[tuple[str, Stamp], ...]
    skill: Skill | None
    diagnostics: tuple[Diagnostic, ...]


@dataclass(frozen=True)
class Catalog:
    root: Path
    skills: dict[str, Skill]  # by name, in name order
    shared_servers: dict[str, ServerEntry]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    parsed: dict[str, Parsed] = field(default_factory=dict, repr=False, compare=False)
    typed_root: Path | None = field(default=None, compare=False)  # the root as the user named it

    def show(self, path: Path) -> str:
        """`path` as the user would type it from where the command runs (see `display_path`)."""
        return display_path(path, self.root, self.typed_root)

    @classmethod
    def load(
        cls, root: Path, cache: DiskCache | None = None, previous: Catalog | None = None, locks: bool = True
    ) -> Catalog:
        """Load the catalog; parses are reused from `previous` (a reload) or the disk cache.

        With `locks=False` every tools.lock.json is left unread (`skillgate lock` rewrites them, so a
        broken or outdated lock must not hide its skill); nothing is cached then.
        """
        if not locks:
            cache = previous = None
        typed, root = root, root.resolve()
        if not root.is_dir():
            raise UsageError(f"catalog folder {str(root)!r} does not exist; pass a folder that holds skills")
        diagnostics: list[Diagnostic] = []
        shared: dict[str, ServerEntry] = {}
        if os.path.lexists(root / "mcp.json"):
            shared, found = read_mcp_json(root / "mcp.json")
            diagnostics += found
        cache_name = hashlib.sha256(str(root).encode("utf-8", "surrogatepass")).hexdigest()[:16]
        known: dict[str, Parsed] = {}
        if previous is not None and previous.root == root:
            known = previous.parsed
        elif cache is not None:
            stored = cache.read(cache_name)
            known = stored if isinstance(stored, dict) else {}
        shared_stamp = _stamp(root / "mcp.json")
        parsed: dict[str, Parsed] = {}
        skills: dict[str, Skill] = {}
        for skill_dir, source in _skill_dirs(root):
            folder = skill_dir.relative_to(root).as_posix()
            hit = known.get(folder)
            if hit is None or not _fresh(hit, skill_dir, shared_stamp):
                hit = _parse(skill_dir, root, shared, source, shared_stamp, locks)
            parsed[folder] = hit
            diagnostics += hit.diagnostics
            if hit.skill is None:
                continue
            files, skipped = list_files(skill_dir)
            diagnostics += [
                Diagnostic.at(skill_dir / path, "SG304", f"not served: {why}", severity=Severity.WARNING)
                for path, why in skipped
            ]
            if len(files) > SERVED_FILES:
                diagnostics.append(too_many_files(skill_dir, files))
                files = files[:SERVED_FILES]
            skill = dataclasses.replace(hit.skill, files=files)
            if skill.name in skills:
                first = display_path(skills[skill.name].skill_md, root, typed)
                diagnostics.append(
                    Diagnostic.at(
                        skill.skill_md,
                        "SG106",
                        f"skill name {skill.name!r} is already used by {first}; names must be "
                        "unique across the catalog, rename one of the folders",
                        2,
                    )
                )
                continue
            skills[skill.name] = skill
        diagnostics = [d.shown(display_path(Path(d.path), root, typed)) for d in diagnostics]
        if cache is not None and parsed != known:
            cache.write(cache_name, parsed)
        return cls(
            root, dict(sorted(skills.items())), shared, sorted(diagnostics, key=sort_key), parsed, typed
        )

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    def get(self, name: str) -> Skill:
        skill = self.skills.get(name)
        if skill is None:
            raise SkillNotFound(name, suggest(name, list(self.skills)))
        return skill

    def __iter__(self) -> Iterator[Skill]:
        return iter(self.skills.values())

    def __len__(self) -> int:
        return len(self.skills)


def display_path(path: Path, root: Path, typed: Path | None = None) -> str:
    """A path as the author would type it from where the command runs: under the catalog folder
    as they named it (`my-skills/x/SKILL.md`; `x/SKILL.md` for `.`), else relative to here."""
    for candidate in (path, path.parent.resolve() / path.name):  # never resolve the file: it may loop
        try:
            return ((root if typed is None else typed) / candidate.relative_to(root)).as_posix()
        except (ValueError, OSError, RuntimeError):
            continue
    try:
        return Path(os.path.relpath(path)).as_posix()
    except (ValueError, OSError):
        return str(path)


def too_many_files(skill_dir: Path, files: tuple[SkillFile, ...]) -> Diagnostic:
    return Diagnostic.at(
        skill_dir / files[SERVED_FILES].path,
        "SG306",
        f"the skill folder has {len(files):,} files; the first {SERVED_FILES:,} in path order are served, "
        f"this one and the {len(files) - SERVED_FILES - 1:,} after it are not. Move files the skill does "
        "not need out of its folder (node_modules and __pycache__ are skipped)",
        severity=Severity.WARNING,
    )


def _skill_dirs(root: Path) -> Iterator[tuple[Path, str]]:
    """Each skill folder with the name its SKILL.md has (SKILL.md, else skill.md)."""
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        source = next((name for name in SKILL_FILES if name in files), None)
        if source is not None:
            dirs[:] = []
            yield Path(current), source


_INPUTS = ("mcp.json", LOCK_NAME)  # besides SKILL.md (or skill.md): the files a parse reads


def _stamp(path: Path | str) -> Stamp:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def _fresh(parsed: Parsed, skill_dir: Path, shared_stamp: Stamp) -> bool:
    """Whether every file the parse read or looked for is as it was."""
    folder = str(skill_dir)
    for name, stamp in parsed.stamps:
        now = shared_stamp if name == "/mcp.json" else _stamp(os.path.join(folder, name))
        if now != stamp:
            return False
    return True


def _parse(
    skill_dir: Path,
    root: Path,
    shared: dict[str, ServerEntry],
    source: str,
    shared_stamp: Stamp,
    locks: bool = True,
) -> Parsed:
    """Parse one skill folder, recording the stamps of what the result depends on.

    Stamps are taken before reading, so a file changed while it is read parses again next time.
    """
    names = [*SKILL_FILES, *_INPUTS]
    before = [(name, _stamp(skill_dir / name)) for name in names]
    looked_for: list[str] = []
    skill, diagnostics = load_skill(skill_dir, root, shared, source, looked_for, locks)
    extra = [(name, _stamp(skill_dir / name)) for name in sorted(set(looked_for) - set(names))]
    return Parsed((*before, *extra, ("/mcp.json", shared_stamp)), skill, tuple(diagnostics))


def load_skill(
    skill_dir: Path,
    root: Path,
    shared: dict[str, ServerEntry],
    source: str = "SKILL.md",
    looked_for: list[str] | None = None,
    locks: bool = True,
) -> tuple[Skill | None, list[Diagnostic]]:
    """Load one skill folder; `None` with diagnostics when it cannot be served. Its file list is
    left empty (the catalog reads it); `looked_for` collects the other files the result depends on.

    Whatever goes wrong inside is this skill's problem alone: an unexpected failure becomes
    an SG100 diagnostic on its SKILL.md, never an exception that stops the catalog.
    """
    try:
        return _load_skill(
            skill_dir, root, shared, source, looked_for if looked_for is not None else [], locks
        )
    except Exception as exc:  # the catch at this edge: one skill, whatever its files hold
        logger.debug("loading %s failed", skill_dir, exc_info=True)
        message = (
            f"skillgate could not load this skill ({type(exc).__name__}); "
            "simplify the file or report it as a skillgate bug"
        )
        return None, [Diagnostic.at(skill_dir / source, "SG100", message)]


def _load_skill(
    skill_dir: Path,
    root: Path,
    shared: dict[str, ServerEntry],
    source: str,
    looked_for: list[str],
    locks: bool = True,
) -> tuple[Skill | None, list[Diagnostic]]:
    """`skill_dir` is a resolved path: the catalog root is resolved and the walk does not follow
    symbolic links, so every folder under it is already its own real path."""
    skill_md = skill_dir / source
    try:
        text = read_text(skill_md, SKILL_MD_BYTES)
    except Unreadable as exc:
        return None, [Diagnostic.at(skill_md, "SG100", f"cannot read {source}: {exc}")]
    parsed = parse_skill_file(text, skill_md)
    diagnostics = list(parsed.diagnostics)
    if source != "SKILL.md":
        diagnostics.append(
            Diagnostic.at(
                skill_md,
                "SG100",
                f"the file is named {source!r}; rename it to 'SKILL.md', the name the specification prefers",
                severity=Severity.WARNING,
            )
        )
    if parsed.frontmatter is None:
        return None, diagnostics
    if parsed.frontmatter.name != normalize_name(skill_dir.name):
        diagnostics.append(
            Diagnostic.at(
                skill_md,
                "SG105",
                f"name {parsed.frontmatter.name!r} must equal the folder name {skill_dir.name!r}; "
                "rename the folder or the skill",
                2,
            )
        )
        return None, diagnostics
    mcp_json = skill_dir / "mcp.json"
    bindings: list[ServerBinding] = []
    if os.path.lexists(mcp_json):
        entries, found = read_mcp_json(mcp_json)
        diagnostics += found
        bindings, found = merge_bindings(entries, skill_dir, shared, root, mcp_json)
        diagnostics += found
    diagnostics += collisions(bindings, mcp_json)
    lock = None
    if locks and os.path.lexists(skill_dir / LOCK_NAME):
        lock, found = read_lock(skill_dir / LOCK_NAME)
        diagnostics += found
        if lock is not None:
            diagnostics += lock_mismatches(lock, bindings, skill_dir / LOCK_NAME)
    from skillgate.render.template import check_template  # Jinja loads only when a template is parsed

    template = check_template(parsed.body, skill_dir)
    if template.error is not None:
        line, col, message = template.error
        diagnostics.append(Diagnostic.at(skill_md, "SG301", message, line + parsed.body_line - 1, col))
    diagnostics += missing_files(
        parsed.body, parsed.body_line, skill_dir, skill_md, template.includes, looked_for
    )
    if any(d.severity is Severity.ERROR for d in diagnostics):
        return None, diagnostics
    skill = Skill(
        frontmatter=parsed.frontmatter,
        dir=skill_dir,
        body=parsed.body,
        body_line=parsed.body_line,
        bindings=tuple(bindings),
        headings=find_headings(parsed.body),
        files=(),
        lock_data=zlib.compress(lock.dumps().encode()) if lock is not None else None,
        locked_tools=tuple(
            (server, tool.name, tool.description or "")
            for server, pinned in sorted(lock.servers.items())
            for tool in pinned.tools
        )
        if lock is not None
        else (),
        source=source,
    )
    return skill, diagnostics
