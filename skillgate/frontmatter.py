"""SKILL.md: Agent Skills frontmatter (the single source of its rules) and the body.

The frontmatter model follows the Agent Skills specification exactly: only its keys
are allowed, with its limits. Parsing never raises: it returns what it could read and
the diagnostics for the rest, each with the line of the offending key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from skillgate.diagnostics import Diagnostic

SkillName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$"),
]

NAME_RULE = "1-64 lowercase letters, digits and single hyphens, not starting or ending with a hyphen"


class SkillFrontmatter(BaseModel):
    """The frontmatter of a SKILL.md, as the Agent Skills specification defines it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: SkillName
    description: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    license: str | None = None
    compatibility: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
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
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_skill_file(text: str, path: Path) -> ParsedSkillFile:
    """Split SKILL.md into frontmatter and body and validate the frontmatter."""
    lines = text.splitlines(keepends=True)
    if not lines or not _FENCE.match(lines[0].rstrip("\r\n")):
        return ParsedSkillFile(None, text, 1, [_no_frontmatter(path)])
    end = next((i for i in range(1, len(lines)) if _FENCE.match(lines[i].rstrip("\r\n"))), None)
    if end is None:
        return ParsedSkillFile(None, text, 1, [_no_frontmatter(path)])
    yaml_text = "".join(lines[1:end])
    body = "".join(lines[end + 1 :])
    body_line = end + 2
    try:
        loader = _SafeLoader(yaml_text)
        try:  # one parse: the node tree gives the keys' lines, and the values are built from it
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2
        col = mark.column + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        return ParsedSkillFile(
            None,
            body,
            body_line,
            [
                Diagnostic.at(
                    path,
                    "SG102",
                    f"frontmatter is not valid YAML: {problem}; quote values that contain ': '",
                    line,
                    col,
                )
            ],
        )
    if not isinstance(data, dict):
        return ParsedSkillFile(
            None,
            body,
            body_line,
            [Diagnostic.at(path, "SG102", "frontmatter must be a mapping of keys to values", 2)],
        )
    key_lines = _key_lines(node)
    try:
        frontmatter = SkillFrontmatter.model_validate(data)
    except ValidationError as exc:
        diagnostics = [_field_diagnostic(path, err, key_lines) for err in exc.errors()]
        return ParsedSkillFile(None, body, body_line, diagnostics)
    return ParsedSkillFile(frontmatter, body, body_line)


def _no_frontmatter(path: Path) -> Diagnostic:
    return Diagnostic.at(
        path,
        "SG101",
        "SKILL.md must start with YAML frontmatter between '---' lines, "
        "with at least 'name' and 'description'",
    )


def _key_lines(node: yaml.Node | None) -> dict[str, int]:
    """Map each top-level frontmatter key to its line in SKILL.md (1-based)."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(key.value): key.start_mark.line + 2 for key, _ in node.value}


_ALLOWED_KEYS = sorted(f.alias or name for name, f in SkillFrontmatter.model_fields.items())


def _field_diagnostic(path: Path, err: object, key_lines: dict[str, int]) -> Diagnostic:
    assert isinstance(err, dict)
    loc = err.get("loc", ())
    key = str(loc[0]) if loc else ""
    line = key_lines.get(key, 2)
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return Diagnostic.at(
            path,
            "SG104",
            f"unknown frontmatter key {key!r}: the Agent Skills specification allows only "
            f"{', '.join(_ALLOWED_KEYS)}; put custom data under 'metadata'",
            line,
        )
    if kind == "missing":
        return Diagnostic.at(path, "SG103", f"frontmatter needs {key!r}", 2)
    if key == "name" and kind == "string_pattern_mismatch":
        return Diagnostic.at(path, "SG103", f"'name' must be {NAME_RULE}", line)
    where = ".".join(str(p) for p in loc)
    return Diagnostic.at(path, "SG103", f"{where!r}: {err.get('msg', 'invalid')}", line)
