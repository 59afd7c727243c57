"""mcp.json: the `mcpServers` entries that bind a skill to upstream MCP servers.

The format is the one Claude Desktop, Cursor and VS Code use, so an existing entry
can be pasted: stdio entries have `command`, `args`, `env`, `cwd`; remote entries have
`url`, `headers` and optionally `transport`/`type` (`sse` for legacy SSE). skillgate
adds `allowedTools` (exact names or shell-style globs; absent = all) and `timeout`
(seconds per call). A skill's entry without `command`/`url` takes them from the entry
of the same name in the catalog root's mcp.json. `${VAR}` and `${VAR:-default}` are
expanded from the environment when the server is started, never before.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skillgate.base.diagnostics import Diagnostic
from skillgate.base.errors import EnvVarMissing
from skillgate.base.limits import MCP_JSON_BYTES
from skillgate.base.reading import Unreadable, parse_json, read_text

Transport = Literal["stdio", "http", "streamable-http", "streamableHttp", "sse"]
DriftPolicy = Literal["block", "warn", "off"]


class ServerEntry(BaseModel):
    """One `mcpServers` entry, as written in an mcp.json."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    transport: Transport | None = None
    type: Transport | None = None
    allowed_tools: list[str] | None = Field(default=None, alias="allowedTools")
    timeout: Annotated[float, Field(gt=0)] | None = None
    drift: DriftPolicy | None = None
    warm: bool = False


class McpConfig(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    mcp_servers: dict[str, ServerEntry] = Field(default_factory=dict, alias="mcpServers")


class ServerBinding(BaseModel):
    """A skill's binding to one upstream server, merged over the shared entry.

    `base_dir` is the folder of the mcp.json that defined `command`/`url`: the
    default `cwd`, and what a relative `cwd` is resolved against.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    entry: ServerEntry
    base_dir: Path

    @property
    def kind(self) -> Literal["stdio", "http", "sse"]:
        declared = self.entry.transport or self.entry.type
        if self.entry.command is not None and declared in (None, "stdio"):
            return "stdio"
        if declared == "sse" or (declared is None and (self.entry.url or "").rstrip("/").endswith("/sse")):
            return "sse"
        return "http"

    @property
    def timeout(self) -> float | None:
        return self.entry.timeout

    def allows(self, tool: str) -> bool:
        patterns = self.entry.allowed_tools
        return patterns is None or any(fnmatch.fnmatchcase(tool, p) for p in patterns)

    def named_tools(self) -> list[str]:
        """The tools the allowlist names exactly (not by a glob), sorted."""
        return sorted(t for t in self.entry.allowed_tools or [] if not any(ch in t for ch in "*?["))

    def connection_key(self) -> str:
        return self.key

    @functools.cached_property
    def key(self) -> str:
        """Identity of the upstream process or endpoint, shared by every skill using it (hashed
        once per binding).

        Built from the unexpanded entry (so no secret is hashed into logs) without the
        per-skill keys `allowedTools` and `timeout`.
        """
        fields = self.entry.model_dump(
            exclude={"allowed_tools", "timeout", "drift", "warm"}, exclude_none=True
        )
        fields["kind"] = self.kind
        fields["cwd"] = str(self.resolved_cwd()) if self.kind == "stdio" else None
        fields.pop("transport", None)
        fields.pop("type", None)
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]
        return f"{self.name}-{digest}"

    def resolved_cwd(self) -> Path:
        if self.entry.cwd is None:
            return self.base_dir
        return (self.base_dir / expand(self.entry.cwd, os.environ, self.name)).resolve()


def command_path() -> list[str]:
    """Where a bare command is looked for: skillgate's own bin folder first, then PATH. Servers
    installed in the same virtualenv as skillgate are found even when it is not activated."""
    return [os.path.dirname(sys.executable), *os.environ.get("PATH", "").split(os.pathsep)]


def find_command(command: str) -> str:
    """A bare command resolved on `command_path()`; a path is left as it is."""
    if os.sep in command:
        return command
    return shutil.which(command, path=os.pathsep.join(command_path())) or command


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand(value: str, environ: Mapping[str, str], server: str) -> str:
    """Expand `${VAR}` and `${VAR:-default}`; a missing VAR without a default is an error."""

    def substitute(match: re.Match[str]) -> str:
        var, default = match.group(1), match.group(2)
        found = environ.get(var)
        if found not in (None, "") or (found == "" and default is None):
            return found or ""
        if default is not None:
            return default
        raise EnvVarMissing(
            f"environment variable {var} is not set, and server {server!r} needs it; "
            f"set it, or write ${{{var}:-default}} in mcp.json"
        )

    return _VAR.sub(substitute, value)


def secret_values(binding: ServerBinding, environ: Mapping[str, str]) -> list[str]:
    """Values that `${VAR}` expansion put into this binding: never to be shown."""
    texts = [*binding.entry.args, *binding.entry.env.values(), *binding.entry.headers.values()]
    texts += [binding.entry.url or "", binding.entry.command or "", binding.entry.cwd or ""]
    values = set()
    for text in texts:
        for match in _VAR.finditer(text):
            value = environ.get(match.group(1))
            if value and len(value) >= 4:
                values.add(value)
    return sorted(values, key=len, reverse=True)


def read_mcp_json(path: Path) -> tuple[dict[str, ServerEntry], list[Diagnostic]]:
    """Read an mcp.json; return its valid entries and diagnostics for the others."""
    try:
        text = read_text(path, MCP_JSON_BYTES)
        raw: Any = parse_json(text)
    except Unreadable as exc:
        return {}, [Diagnostic.at(path, "SG201", f"cannot read mcp.json: {exc}")]
    except json.JSONDecodeError as exc:
        return {}, [
            Diagnostic.at(path, "SG201", f"mcp.json is not valid JSON: {exc.msg}", exc.lineno, exc.colno)
        ]
    servers = raw.get("mcpServers") if isinstance(raw, dict) else None
    if not isinstance(servers, dict):
        return {}, [
            Diagnostic.at(path, "SG202", 'mcp.json must be an object with "mcpServers": {name: entry}')
        ]
    entries: dict[str, ServerEntry] = {}
    diagnostics: list[Diagnostic] = []
    for name in sorted(servers):
        try:
            entries[name] = ServerEntry.model_validate(servers[name])
        except ValidationError as exc:
            for err in exc.errors():
                message = entry_problem(name, err)
                diagnostics.append(Diagnostic.at(path, "SG202", message, _line_of_key(text, name)))
    return entries, diagnostics


ENTRY_KEYS = (
    *("command", "args", "env", "cwd", "url", "headers", "transport", "type"),
    *("allowedTools", "timeout", "drift", "warm"),
)


def entry_problem(name: str, err: Mapping[str, Any]) -> str:
    """One pydantic error of an mcpServers entry in people's words, with "did you mean"."""
    from skillgate.base.wording import did_you_mean

    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return (
            f"server {name!r}: unknown key {where!r}{did_you_mean(where, ENTRY_KEYS)}; allowed keys are "
            f"{', '.join(ENTRY_KEYS)}"
        )
    return f"server {name!r}: {where or 'entry'}: {err['msg']}"


def _text_or_empty(path: Path) -> str:
    try:
        return read_text(path, MCP_JSON_BYTES)
    except Unreadable:
        return ""


def _line_of_key(text: str, key: str) -> int:
    needle = json.dumps(key) + ":"
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line.replace('" :', '":'):
            return number
    return 1


def merge_bindings(
    skill_entries: Mapping[str, ServerEntry],
    skill_dir: Path,
    shared: Mapping[str, ServerEntry],
    root: Path,
    mcp_json: Path,
) -> tuple[list[ServerBinding], list[Diagnostic]]:
    """Merge a skill's entries over the same-named shared entries."""
    bindings: list[ServerBinding] = []
    diagnostics: list[Diagnostic] = []
    for name in sorted(skill_entries):
        entry = skill_entries[name]
        if entry.command is not None or entry.url is not None:
            bindings.append(ServerBinding(name=name, entry=entry, base_dir=skill_dir))
            continue
        base = shared.get(name)
        if base is None:
            known = ", ".join(sorted(shared)) or "none"
            diagnostics.append(
                Diagnostic.at(
                    mcp_json,
                    "SG203",
                    f"server {name!r} has no 'command' or 'url', and the catalog's mcp.json has no shared "
                    f"server of that name (shared servers: {known}); add one of them",
                    _line_of_key(_text_or_empty(mcp_json), name),
                )
            )
            continue
        overrides = {k: getattr(entry, k) for k in entry.model_fields_set}
        merged = base.model_copy(update=overrides)
        bindings.append(ServerBinding(name=name, entry=merged, base_dir=root))
    return bindings, diagnostics
