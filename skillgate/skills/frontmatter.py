"""SKILL.md: Agent Skills frontmatter (the single source of its rules) and the body.

The rules are those of the Agent Skills reference validator (`skills-ref`), exactly:
the YAML is read the way its strictyaml parser reads it (every value is text; flow
style, tags, anchors and duplicate keys are refused), a name is NFKC-normalised
lowercase letters or digits (any script) and single hyphens, and a description is
non-blank. Where skillgate would be stricter than the reference it warns instead.

Parsing never raises: it returns what it could read and the diagnostics for the
rest, each with the line of the offending key.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from skillgate.base.diagnostics import Diagnostic, Severity
from skillgate.base.wording import did_you_mean

NAME_RULE = (
    "1-64 lowercase letters or digits and single hyphens, not starting or ending with a hyphen, "
    "equal to the folder name"
)
MAX_NAME = 64
MAX_DESCRIPTION = 1024
SERVED_DESCRIPTION = 4 * MAX_DESCRIPTION  # over 1024 hosts tolerate; over this, a bound for hostile input
MAX_COMPATIBILITY = 500
ALLOWED_KEYS = ("allowed-tools", "compatibility", "description", "license", "metadata", "name")


class SkillFrontmatter(BaseModel):
    """The frontmatter of a SKILL.md, once it passed `check_fields`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    description: str
    license: str | None = None
    compatibility: str | None = None
    metadata: dict[str, str] | None = None
    allowed_tools: str | None = Field(default=None, alias="allowed-tools")

    def summary(self) -> str:
        """The first line of the description, for one-line catalog entries."""
        lines = self.description.strip().splitlines()
        return lines[0].strip() if lines else ""


@dataclass
class ParsedSkillFile:
    frontmatter: SkillFrontmatter | None
    body: str
    body_line: int  # 1-based line of SKILL.md on which the body starts
    diagnostics: list[Diagnostic] = field(default_factory=list)


_FENCE = re.compile(r"^---[ \t]*$")


def parse_skill_file(text: str, path: Path) -> ParsedSkillFile:
    """Split SKILL.md into frontmatter and body and validate the frontmatter."""
    lines = text.splitlines(keepends=True)
    if not lines or not _FENCE.match(lines[0].rstrip("\r\n")):
        return ParsedSkillFile(None, text, 1, [_no_frontmatter(path)])
    end = next((i for i in range(1, len(lines)) if _FENCE.match(lines[i].rstrip("\r\n"))), None)
    if end is None:
        return ParsedSkillFile(None, text, 1, [_no_frontmatter(path)])
    body = "".join(lines[end + 1 :])
    body_line = end + 2
    from skillgate.skills.yaml_text import load_yaml  # PyYAML loads only when a SKILL.md is parsed

    data, key_lines, problem = load_yaml("".join(lines[1:end]), path)
    if problem is not None:
        return ParsedSkillFile(None, body, body_line, [problem])
    if not isinstance(data, dict):
        problem = Diagnostic.at(path, "SG102", "frontmatter must be a mapping of keys to values", 2)
        return ParsedSkillFile(None, body, body_line, [problem])
    frontmatter, diagnostics = check_fields(data, path, key_lines)
    return ParsedSkillFile(frontmatter, body, body_line, diagnostics)


def _no_frontmatter(path: Path) -> Diagnostic:
    return Diagnostic.at(
        path,
        "SG101",
        "SKILL.md must start with YAML frontmatter between '---' lines, "
        "with at least 'name' and 'description'",
    )


def normalize_name(name: str) -> str:
    return unicodedata.normalize("NFKC", name.strip())


def name_problems(name: str) -> list[str]:
    """What is wrong with a skill name, by the reference validator's rules (empty: nothing)."""
    if not name.strip():
        return ["'name' must be a non-empty string"]
    name = normalize_name(name)
    problems = []
    if len(name) > MAX_NAME:
        problems.append(f"'name' is {len(name)} characters; the limit is {MAX_NAME}")
    if name != name.lower():
        problems.append("'name' must be lowercase")
    if name.startswith("-") or name.endswith("-"):
        problems.append("'name' cannot start or end with a hyphen")
    if "--" in name:
        problems.append("'name' cannot contain consecutive hyphens")
    if not all(c.isalnum() or c == "-" for c in name):
        problems.append("'name' may hold only letters, digits and hyphens")
    return problems


def check_fields(
    data: dict[Any, Any], path: Path, key_lines: dict[str, int]
) -> tuple[SkillFrontmatter | None, list[Diagnostic]]:
    """Validate frontmatter data by the reference's rules; warnings where skillgate would be stricter."""
    found: list[Diagnostic] = []

    def error(key: str, message: str) -> None:
        found.append(Diagnostic.at(path, "SG103", message, key_lines.get(key, 2)))

    def warn(key: str, message: str) -> None:
        found.append(Diagnostic.at(path, "SG103", message, key_lines.get(key, 2), severity=Severity.WARNING))

    def tolerate(key: str, message: str) -> None:
        """Over a limit of the specification that hosts tolerate: served, with a warning."""
        found.append(Diagnostic.at(path, "SG103", message, key_lines.get(key, 2)).tolerated())

    extra = sorted(str(k) for k in data if k not in ALLOWED_KEYS)
    for key in extra:
        found.append(
            Diagnostic.at(
                path,
                "SG104",
                f"unknown frontmatter key {key!r}{did_you_mean(key, ALLOWED_KEYS)}: the Agent Skills "
                "specification allows only "
                f"{', '.join(ALLOWED_KEYS)}; put custom data under 'metadata'",
                key_lines.get(key, 2),
            )
        )
    fields: dict[str, Any] = {}
    for key in ("name", "description"):
        if key not in data:
            found.append(Diagnostic.at(path, "SG103", f"frontmatter needs {key!r}", 2))
        elif not isinstance(data[key], str) or not data[key].strip():
            error(key, f"{key!r} must be a non-empty string")
        else:
            fields[key] = data[key]
    if "name" in fields:
        for problem in name_problems(fields["name"]):
            error("name", f"{problem} ({NAME_RULE})")
        fields["name"] = normalize_name(fields["name"])
        if not fields["name"].isascii():
            warn("name", "a non-ASCII name is valid, but some MCP clients accept only ASCII names")
    length = len(fields.get("description", ""))
    if length > SERVED_DESCRIPTION:
        error("description", f"'description' is {length} characters; the limit is 1024 (served: up to 4096)")
    elif length > MAX_DESCRIPTION:
        tolerate("description", f"'description' is {length} characters; the limit is 1024")
    compatibility = data.get("compatibility")
    if compatibility is not None:
        if not isinstance(compatibility, str):
            error("compatibility", "'compatibility' must be a string")
        elif len(compatibility) > 4 * MAX_COMPATIBILITY:
            error("compatibility", f"'compatibility' is {len(compatibility)} characters; the limit is 500")
        else:
            if len(compatibility) > MAX_COMPATIBILITY:
                tolerate(
                    "compatibility", f"'compatibility' is {len(compatibility)} characters; the limit is 500"
                )
            fields["compatibility"] = compatibility
    for key in ("license", "allowed-tools"):
        value = data.get(key)
        if isinstance(value, str):
            fields[key] = value
        elif value is not None:
            warn(key, f"{key!r} should be a string; it is ignored")
    metadata = data.get("metadata")
    if isinstance(metadata, dict):
        if any(not isinstance(v, str) for v in metadata.values()):
            warn("metadata", "'metadata' values should be strings; nested values are kept as their text")
        fields["metadata"] = {str(k): str(v) for k, v in metadata.items()}
    elif metadata is not None and metadata != "":
        warn("metadata", "'metadata' should be a mapping of keys to strings; it is ignored")
    if any(d.severity is Severity.ERROR for d in found):
        return None, found
    return SkillFrontmatter.model_validate(fields), found
