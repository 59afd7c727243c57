"""Settings: the one configuration file (skillgate.toml), modelled so every setting has a
type, a default and a description. A bad file fails at startup with the setting's name.

```toml
host = "127.0.0.1"          # where --http binds
port = 8000
stateless = false           # any request may go to any replica (no sessions)
allow_unauthenticated = false  # required to serve a non-loopback address without tokens
drift = "block"             # catalog-wide lock drift policy
cache_dir = "~/.cache/skillgate"   # caches kept between runs (default: $XDG_CACHE_HOME/skillgate)

[[tokens]]                  # bearer tokens: the value lives in the environment, never here
env = "SKILLGATE_TOKEN_OPS"
profile = "ops"             # this token sees only the "ops" view (omit: every profile)

[profiles.ops]              # a named view of the catalog, also served at /mcp/ops
include = ["git-*"]         # skill-name globs (default: all)
exclude = ["git-admin"]
deny_tools = ["git_commit"] # tool-name globs, denied in every skill of the view

[audit]
path = "audit.jsonl"        # omit to disable the audit log
raw_arguments = false       # true: log arguments too (secret-looking keys redacted)
max_bytes = 10_000_000      # rotate past this size
backups = 5                 # rotated files kept (audit.jsonl.1 ... .5)

[reload]
enabled = true              # watch the catalog folder and apply changes without a restart

[search]
embedder = "builtin"        # "builtin" (offline, shipped model) | "none" (BM25 only) | "http"
url = "http://127.0.0.1:11434/v1"   # http only: an OpenAI-style /v1/embeddings server
model = "nomic-embed-text"  # http only: the model name it serves
timeout = 5.0               # http only: seconds per request before falling back to BM25
cache_dir = "~/.cache/skillgate"   # where skill vectors are kept (default: the top-level cache_dir)

[metrics]
enabled = true              # Prometheus metrics at /metrics of the --http server, behind its tokens
port = 9464                 # or: on this port of 127.0.0.1 only, without auth (omit for the above)

[tracing]
enabled = false             # OpenTelemetry traces over OTLP/HTTP (or OTEL_TRACES_EXPORTER=otlp)
endpoint = "http://127.0.0.1:4318"   # default: the OTEL_EXPORTER_OTLP_* variables
arguments = false           # true: argument values in spans (secret-looking keys redacted)

[lanes]
enabled = true              # the stdio fast path for meta-tool calls; false: the SDK's own path end to end

[render]
timeout = 2.0               # seconds a template may take to render (then: a tool error)
memory_mb = 512             # address space of each render worker process
workers = 2                 # render worker processes
```
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from skillgate.base.errors import UsageError
from skillgate.base.limits import JSON_DEPTH, RENDER_MEMORY_MB, RENDER_SECONDS, SETTINGS_BYTES
from skillgate.base.reading import Unreadable, read_text, too_deep
from skillgate.render.workers import RenderWorkers
from skillgate.skills.binding import DriftPolicy
from skillgate.skills.profile import DEFAULT_PROFILE, EVERYTHING, Profile

PROFILE_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokenSetting(_Settings):
    env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = Field(
        description="Name of the environment variable that holds the token."
    )
    profile: str | None = Field(default=None, description="The only profile this token may use (none: any).")


class AuditSettings(_Settings):
    path: Path | None = Field(default=None, description="JSONL file to append events to; none disables it.")
    raw_arguments: bool = Field(
        default=False, description="Log raw arguments (secret-looking keys redacted)."
    )
    max_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=10_000_000, description="Rotate past this size."
    )
    backups: Annotated[int, Field(ge=1, le=1000)] = Field(default=5, description="Rotated files kept.")


class ReloadSettings(_Settings):
    enabled: bool = Field(default=True, description="Apply changes to the catalog folder without a restart.")


class SearchSettings(_Settings):
    embedder: Literal["builtin", "none", "http"] = Field(
        default="builtin",
        description="Dense half of search: the shipped offline model, none (BM25 only), or an http server.",
    )
    url: str | None = Field(default=None, description="http embedder: base URL of a /v1/embeddings API.")
    model: str | None = Field(default=None, description="http embedder: the model name to ask for.")
    timeout: Annotated[float, Field(gt=0, le=120)] = Field(
        default=5.0, description="http embedder: seconds per request before search falls back to BM25."
    )
    cache_dir: Path | None = Field(
        default=None, description="Folder for cached skill vectors (default: the user cache folder)."
    )

    @model_validator(mode="after")
    def _http_needs_server(self) -> SearchSettings:
        if self.embedder == "http" and not (self.url and self.model):
            raise ValueError('embedder = "http" needs url and model, e.g. url = "http://127.0.0.1:11434/v1"')
        return self


class RenderSettings(_Settings):
    timeout: Annotated[float, Field(gt=0, le=60)] = Field(
        default=RENDER_SECONDS, description="Seconds a template may take to render before it is stopped."
    )
    memory_mb: Annotated[int, Field(ge=64, le=65536)] = Field(
        default=RENDER_MEMORY_MB, description="Address space (MB) of each render worker process."
    )
    workers: Annotated[int, Field(ge=1, le=64)] = Field(
        default=2, description="Render worker processes (renders beyond this many wait for one)."
    )

    def workers_pool(self) -> RenderWorkers:
        return RenderWorkers(self.timeout, self.memory_mb, self.workers)


class LanesSettings(_Settings):
    enabled: bool = Field(
        default=True,
        description="Answer meta-tool calls over stdio on the fast path (the SDK's kernel without its "
        "session layer); false serves everything through the SDK's own stdio transport and session. "
        "SKILLGATE_CALL_LANE=on|off in the environment overrides it.",
    )

    def on(self, environ: Mapping[str, str]) -> bool:
        """The setting, unless `SKILLGATE_CALL_LANE` in the environment says otherwise."""
        override = environ.get("SKILLGATE_CALL_LANE", "").strip().lower()
        if override in ("off", "0", "false", "no"):
            return False
        if override in ("on", "1", "true", "yes"):
            return True
        return self.enabled


class MetricsSettings(_Settings):
    enabled: bool = Field(default=True, description="Serve Prometheus metrics at /metrics (with --http).")
    port: Annotated[int, Field(ge=0, le=65535)] | None = Field(
        default=None,
        description="Serve /metrics on this port of 127.0.0.1 without auth, instead of on the main server "
        "behind its tokens.",
    )


class TracingSettings(_Settings):
    enabled: bool = Field(
        default=False,
        description="Export OpenTelemetry traces over OTLP/HTTP (also: OTEL_TRACES_EXPORTER=otlp).",
    )
    endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP base URL, e.g. http://127.0.0.1:4318 (default: OTEL_EXPORTER_OTLP_*).",
    )
    arguments: bool = Field(
        default=False, description="Record argument values in spans (secret-looking keys redacted)."
    )


class Settings(_Settings):
    host: str = Field(default="127.0.0.1", description="Address --http binds.")
    port: Annotated[int, Field(ge=0, le=65535)] = Field(default=8000, description="Port --http binds.")
    stateless: bool = Field(default=False, description="Serve without sessions, for replicas.")
    allow_unauthenticated: bool = Field(
        default=False, description="Allow serving a non-loopback address with no tokens configured."
    )
    drift: DriftPolicy = Field(default="block", description="Lock drift policy for the whole catalog.")
    warm: bool = Field(default=False, description="Start every bound upstream at startup, not on first need.")
    dynamic: bool = Field(
        default=False,
        description="After load_skill, also list the skill's tools as <skill>__<tool> to that session.",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Folder for caches kept between runs: parsed catalog, startup text, skill vectors "
        "(default: $XDG_CACHE_HOME/skillgate or ~/.cache/skillgate).",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Extra Host values accepted against DNS rebinding, e.g. 'skills.example.com:*'",
    )
    tokens: list[TokenSetting] = Field(
        default_factory=list, description="Bearer tokens, by environment variable."
    )
    profiles: dict[str, Profile] = Field(default_factory=dict, description="Named views of the catalog.")
    audit: AuditSettings = Field(default_factory=AuditSettings)
    reload: ReloadSettings = Field(default_factory=ReloadSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    render: RenderSettings = Field(default_factory=RenderSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    lanes: LanesSettings = Field(default_factory=LanesSettings)

    @field_validator("profiles")
    @classmethod
    def _profile_names(cls, profiles: dict[str, Profile]) -> dict[str, Profile]:
        for name in profiles:
            if not PROFILE_NAME.match(name):
                raise ValueError(
                    f"profile name {name!r} must be lowercase letters, digits and single hyphens"
                )
        return profiles

    def cache_folder(self, environ: Mapping[str, str]) -> Path:
        """`cache_dir`, else $XDG_CACHE_HOME/skillgate, else ~/.cache/skillgate."""
        if self.cache_dir is not None:
            return self.cache_dir.expanduser()
        base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "skillgate"

    def profile(self, name: str) -> Profile:
        if name == DEFAULT_PROFILE and name not in self.profiles:
            return EVERYTHING
        return self.profiles[name]

    @property
    def profile_names(self) -> list[str]:
        return sorted({DEFAULT_PROFILE, *self.profiles})

    def token_values(self, environ: Mapping[str, str]) -> dict[str, str | None]:
        """Token value -> the profile it is limited to (None: any). Missing variables are errors."""
        values: dict[str, str | None] = {}
        for token in self.tokens:
            value = environ.get(token.env)
            if not value:
                raise UsageError(
                    f"token setting env={token.env!r}: the environment variable {token.env} is not set; "
                    "export it, or remove that [[tokens]] entry"
                )
            if (
                token.profile is not None
                and token.profile != DEFAULT_PROFILE
                and token.profile not in self.profiles
            ):
                raise UsageError(
                    f"token setting env={token.env!r}: profile {token.profile!r} is not defined; "
                    f"define [profiles.{token.profile}] or use one of: {', '.join(self.profile_names)}"
                )
            values[value] = token.profile
        return values


def load_settings(path: Path | None) -> Settings:
    """Read skillgate.toml; no path means all defaults."""
    if path is None:
        return Settings()
    try:
        data = tomllib.loads(read_text(path, SETTINGS_BYTES))
    except Unreadable as exc:
        raise UsageError(f"cannot read the settings file {str(path)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        data = None
    if data is None or too_deep(data, JSON_DEPTH):
        raise UsageError(f"{path}: values are nested more than {JSON_DEPTH} levels deep; flatten them")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(f"{where}: unknown setting; see the settings table in the README")
            else:
                problems.append(f"{where}: {err['msg']}")
        raise UsageError(f"{path}: " + "; ".join(problems)) from None
