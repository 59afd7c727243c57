"""Authoring checks beyond what serving needs: guidance a skill author wants from
`skillgate validate` and the preview page, such as the body-size guidance."""

from __future__ import annotations

from skillgate.base.diagnostics import Diagnostic, Severity, sort_key
from skillgate.base.tokens import count_tokens
from skillgate.skills.bundle import Skill
from skillgate.skills.catalog import Catalog

MAX_BODY_TOKENS = 5000
MAX_BODY_LINES = 500


def size_diagnostics(skill: Skill, catalog: Catalog) -> list[Diagnostic]:
    """A warning when the body passes 5,000 tokens or 500 lines (Agent Skills guidance)."""
    lines = len(skill.body.splitlines())
    tokens = count_tokens(skill.body)
    if lines <= MAX_BODY_LINES and tokens <= MAX_BODY_TOKENS:
        return []
    path = skill.skill_md.relative_to(catalog.root.parent).as_posix()
    return [
        Diagnostic.at(
            path,
            "SG501",
            f"the body is {tokens} tokens and {lines} lines; keep it under {MAX_BODY_TOKENS} tokens and "
            f"{MAX_BODY_LINES} lines, and move detail into files under references/ to load on need",
            skill.body_line,
            severity=Severity.WARNING,
        )
    ]


def authoring_diagnostics(catalog: Catalog) -> list[Diagnostic]:
    """The catalog's own diagnostics plus the authoring guidance, sorted."""
    found = list(catalog.diagnostics)
    for skill in catalog:
        found += size_diagnostics(skill, catalog)
    return sorted(found, key=sort_key)
