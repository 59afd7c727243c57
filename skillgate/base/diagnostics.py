"""Diagnostics: problems found in a catalog, each with a place and a stable code.

Loading never stops at the first problem: it collects `Diagnostic`s and keeps every
skill that is still usable. The codes are stable; their meaning is listed in `CODES`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


CODES: dict[str, str] = {
    "SG100": "SKILL.md could not be read",
    "SG101": "SKILL.md has no YAML frontmatter",
    "SG102": "frontmatter is not valid YAML",
    "SG103": "frontmatter field breaks the Agent Skills specification",
    "SG104": "frontmatter has a key the Agent Skills specification does not allow",
    "SG105": "skill name differs from its folder name",
    "SG106": "two skills have the same name",
    "SG201": "mcp.json is not valid JSON",
    "SG202": "mcp.json entry is invalid",
    "SG203": "mcp.json entry has neither command nor url, and no shared server of that name",
    "SG204": "two bound servers expose the same tool name",
    "SG205": "a stdio server's command is not on PATH or not executable",
    "SG301": "template syntax error, or a filter or test the sandbox does not have",
    "SG302": "an {% include %} names a file that is not in the skill folder",
    "SG303": "a relative link points to a file that does not exist",
    "SG304": "a file in the skill folder cannot be served (odd name, link, type or size)",
    "SG305": "the skill fails to render with its defaults (an undefined name, a variable with no default)",
    "SG306": "the skill folder has more files than are served (1,000 per skill)",
    "SG401": "tools.lock.json cannot be read",
    "SG402": "tools.lock.json does not match the skill's mcp.json",
    "SG501": "the body is longer than the guidance (5,000 tokens or 500 lines)",
    "SG601": "an example query in evals/queries.txt does not find its skill in the top k",
}


TOLERATED = (
    " (served anyway: other hosts load such skills; `skillgate validate` fails on it, as the reference "
    "validator does)"
)  # what `Diagnostic.tolerated` adds to a message, and `strict` takes off again


class Diagnostic(BaseModel):
    """One problem, printed as `path:line:col: CODE message`."""

    model_config = ConfigDict(frozen=True)

    path: str
    line: int = 1
    col: int = 1
    code: str
    message: str
    severity: Severity = Severity.ERROR
    file: str | None = Field(default=None, exclude=True)  # the absolute path `path` shows
    # An error by the Agent Skills specification that serving tolerates (hosts load such skills):
    # a warning in the catalog, an error for `validate` (`strict`), as the reference validator says.
    lenient: bool = Field(default=False, exclude=True)

    @field_validator("path", "message")
    @classmethod
    def _printable(cls, text: str) -> str:
        """File names that are not UTF-8 are shown with replacement characters, never as surrogates."""
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

    def tolerated(self) -> Diagnostic:
        """This error as serving reports it: a warning; the skill is served."""
        return self.model_copy(
            update={
                "severity": Severity.WARNING,
                "lenient": True,
                "message": self.message + TOLERATED,
            }
        )

    def strict(self) -> Diagnostic:
        """A tolerated error as `validate` reports it: an error again."""
        if not self.lenient:
            return self
        message = self.message.removesuffix(TOLERATED)
        return self.model_copy(
            update={
                "severity": Severity.ERROR,
                "lenient": False,
                "message": f"{message} (the specification's limit; `serve` tolerates it with a warning, "
                "other hosts' validators refuse it)",
            }
        )

    def shown(self, path: str) -> Diagnostic:
        """This diagnostic with `path` as people see it (the absolute file is kept in `file`)."""
        return self.model_copy(update={"path": path, "file": self.file or self.path})

    def within(self, folder: Path) -> bool:
        """Whether the file this diagnostic names is `folder` or inside it."""
        return Path(self.file or self.path).absolute().is_relative_to(folder.absolute())

    def __str__(self) -> str:
        level = "" if self.severity is Severity.ERROR else "warning: "
        return f"{self.path}:{self.line}:{self.col}: {self.code} {level}{self.message}"

    @classmethod
    def at(
        cls,
        path: Path | str,
        code: str,
        message: str,
        line: int = 1,
        col: int = 1,
        severity: Severity = Severity.ERROR,
    ) -> Diagnostic:
        assert code in CODES, code
        return cls(path=str(path), line=line, col=col, code=code, message=message, severity=severity)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.path, d.line, d.col, d.code)
