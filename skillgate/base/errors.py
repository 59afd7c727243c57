"""The one error tree of skillgate.

Every error a user can cause or meet is a `SkillgateError`. The edges map them in
one place each: the CLI to exit codes (`exit_code`), the MCP server to tool errors.

    SkillgateError                      exit 1
    ├── UsageError                      exit 2: bad flags, unreadable catalog or settings
    ├── SkillNotFound                   unknown skill name (carries close matches)
    ├── FileNotInSkill                  `file=` outside the skill folder or missing
    ├── SectionNotFound                 `section=` names no heading
    ├── RenderError                     the template failed (carries the template line)
    ├── ToolNotAllowed                  tool outside the skill's allowlist (carries the allowed ones)
    ├── ToolDrifted                     live tool definition differs from tools.lock.json
    ├── ArgumentsInvalid                arguments fail the tool's input schema
    ├── EnvVarMissing                   `${VAR}` with no value and no default
    ├── EmbedderUnavailable             the search embedder failed (search falls back to BM25)
    └── UpstreamError                   an upstream server could not answer
        ├── UpstreamUnavailable         down, starting failed, or in back-off
        └── UpstreamTimeout             a call took longer than its timeout

Each class carries its two labels: `kind`, its fixed name in metrics, and `outcome`, what the
audit log records for a request that failed with it (a denial, a timeout, an upstream down,
or a plain tool error). Messages name the thing, the rule and the fix. They never contain the values of
environment variables expanded into a binding. Errors speak in two voices: `message` is
for a model (MCP tool errors: "call list_skills"), `for_people` for a person at the command
line ("run `skillgate list`"), when the fix differs.
"""

from __future__ import annotations

from collections.abc import Sequence


class SkillgateError(Exception):
    """Base of every error skillgate reports to a user. `kind` is its fixed name in metrics,
    `outcome` the audit log's word for a request that failed with it."""

    exit_code = 1
    kind = "tool_error"
    outcome = "tool_error"

    def __init__(self, message: str, for_people: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.for_people = for_people or message

    def __str__(self) -> str:
        return self.message


class UsageError(SkillgateError):
    """Bad command-line usage or configuration."""

    exit_code = 2


class SkillNotFound(SkillgateError):
    """`denied` is true when the skill exists but is outside the caller's profile (for the audit log)."""

    kind = "not_found"

    def __init__(self, name: str, suggestions: Sequence[str], denied: bool = False) -> None:
        close = f" Did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(
            f"No skill named {name!r}.{close or ' Call list_skills to see the catalog.'}",
            f"no skill named {name!r} in the catalog.{close} `skillgate list DIR` shows the catalog; a "
            "skill with errors is not loaded (`skillgate validate DIR` shows why)",
        )
        self.name = name
        self.suggestions = list(suggestions)
        self.denied = denied
        self.outcome = "denied" if denied else "tool_error"  # outside the caller's profile: a denial


class FileNotInSkill(SkillgateError):
    pass


class SectionNotFound(SkillgateError):
    pass


class RenderError(SkillgateError):
    """A template that failed: `detail` in the model's words, `people` in a person's (the command
    line's `--var`, not load_skill's `variables`), with the place in SKILL.md when known."""

    def __init__(
        self, message: str, line: int | None = None, col: int | None = None, people: str | None = None
    ) -> None:
        super().__init__(message if line is None else f"line {line}: {message}", people or message)
        self.line = line
        self.col = col
        self.detail = message
        self.people = people or message

    def at(self, path: str) -> RenderError:
        """The same error, told to people as `path:line:col: message`."""
        place = path if self.line is None else f"{path}:{self.line}:{self.col or 1}"
        self.for_people = f"{place}: {self.people}"
        return self


class ToolNotAllowed(SkillgateError):
    kind = "not_allowed"
    outcome = "denied"


class ToolDrifted(SkillgateError):
    kind = "drift_blocked"
    outcome = "denied"


class ArgumentsInvalid(SkillgateError):
    kind = "bad_arguments"


class EnvVarMissing(SkillgateError):
    pass


class UpstreamError(SkillgateError):
    pass


class UpstreamUnavailable(UpstreamError):
    kind = "upstream_failed"
    outcome = "upstream_down"


class UpstreamTimeout(UpstreamError):
    kind = "timeout"
    outcome = "timeout"


class EmbedderUnavailable(SkillgateError):
    """The search embedder could not embed: its package is missing or its server did not answer."""
