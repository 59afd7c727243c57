"""Skills with errors, for the preview: which skill folders failed to load, and where each
diagnostic belongs (its skill folder, the SKILL.md line it names).

A diagnostic is matched to a folder by the absolute path of its file, never by how its path
is shown (shown paths are relative to where the command runs, or to the catalog folder).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from skillgate.base.diagnostics import Diagnostic, Severity
from skillgate.base.layout import SKILL_FILES
from skillgate.skills.catalog import Catalog


def diagnostics_for(folder: Path, diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The diagnostics of `folder` and the files in it."""
    return [d for d in diagnostics if d.within(folder)]


def broken_folders(catalog: Catalog) -> dict[str, Path]:
    """The skill folders that did not load, by folder name (the name of their page): each has an
    error in one of its files. One whose name a valid skill in another folder took is left out
    (that name's page is the valid skill's); one a live reload kept the last good version of is in."""
    errors = [d for d in catalog.diagnostics if d.severity is Severity.ERROR]
    found: dict[str, Path] = {}
    for relative in sorted(catalog.parsed):  # every skill folder the load found
        folder = catalog.root / relative
        skill = catalog.skills.get(folder.name)
        if folder.name in found or (skill is not None and skill.dir != folder):
            continue
        if diagnostics_for(folder, errors):
            found[folder.name] = folder
    return found


def skill_file(folder: Path) -> Path:
    """The folder's SKILL.md (or skill.md, the name the reference also accepts)."""
    return next((folder / name for name in SKILL_FILES if (folder / name).exists()), folder / SKILL_FILES[0])


def inline(diagnostics: Iterable[Diagnostic], skill_md: Path) -> list[dict[str, Any]]:
    """The diagnostics that name a line of `skill_md`, for showing under that line."""
    fields = {"line", "col", "code", "severity", "message"}
    return [d.model_dump(mode="json", include=fields) for d in diagnostics if d.within(skill_md)]


def annotated(source: str, notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The source's lines (numbered as the diagnostics number them), each with the `notes` (from
    `inline`) that name it; a note past the last line goes under the last line."""
    lines = [line.removesuffix("\r") for line in source.split("\n")]
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    by_line: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for note in notes:
        by_line[min(max(note["line"], 1), len(lines))].append(note)
    return [{"number": n, "text": text, "notes": by_line[n]} for n, text in enumerate(lines, 1)]
