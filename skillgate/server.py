"""The MCP server: the three meta-tools over the SDK's low-level `Server`.

Errors a model can fix (every `SkillgateError`, and arguments that do not fit a
meta-tool) come back as tool errors whose text names the problem and the fix.
Anything else is logged and reported as an internal error, without a traceback.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp import MCPError
from mcp.server import NotificationOptions, Server, ServerRequestContext
from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ToolsListChanged,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ValidationError

from skillgate import __version__, tracing
from skillgate.audit import MAX_RESULTS, AuditEvent, AuditLog, Outcome, canonical_digest, redact, scrub
from skillgate.audit import now as audit_now
from skillgate.disk_cache import DiskCache
from skillgate.errors import (
    SkillgateError,
    SkillNotFound,
)
from skillgate.gateway import Gateway
from skillgate.models import (
    UPSTREAM_RESULT_SCHEMA,
    CallSkillArgs,
    ListSkillsArgs,
    LoadedFile,
    LoadedSkill,
    LoadSkillArgs,
    SkillPage,
    compact_schema,
    dump,
    output_schema,
    signature,
)
from skillgate.profile import DEFAULT_PROFILE, EVERYTHING, Profile
from skillgate.sdk_compat import connection_of
from skillgate.skill_resources import EXTENSION, SkillResources, SkillsGetParams, SkillsListParams
from skillgate.startup import Entry, cached_fit_startup

if TYPE_CHECKING:
    from skillgate.metrics import Metrics
    from skillgate.upstream import ProgressFn

logger = logging.getLogger(__name__)

MAX_TRACKED_SESSIONS = 10_000
SECTIONS_LISTED_FROM = 500  # tokens: a shorter skill is read whole, its sections are not listed
DYNAMIC_SEPARATOR = "__"

LOAD_SKILL_DESCRIPTION = "A skill's instructions, its tools with their arguments, and its files."
CALL_SKILL_DESCRIPTION = (
    "Call a skill's tool; arguments are checked against its schema. The result is the tool's."
)


def meta_tools(list_description: str) -> list[types.Tool]:
    return [
        types.Tool(
            name="list_skills",
            description=list_description,
            input_schema=compact_schema(ListSkillsArgs),
            output_schema=output_schema(SkillPage),
            annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
        ),
        types.Tool(
            name="load_skill",
            description=LOAD_SKILL_DESCRIPTION,
            input_schema=compact_schema(LoadSkillArgs),
            output_schema=output_schema(LoadedSkill, LoadedFile),
            annotations=types.ToolAnnotations(read_only_hint=True),
        ),
        types.Tool(
            name="call_skill",
            description=CALL_SKILL_DESCRIPTION,
            input_schema=compact_schema(CallSkillArgs),
            output_schema=UPSTREAM_RESULT_SCHEMA,
        ),
    ]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a meta-tool call: the client's name and version and its audit session tag,
    and where the call's progress goes (None: the client asked for none)."""

    client: dict[str, Any]
    session: str
    progress: ProgressFn | None = None


class SkillgateServer:
    """Builds the low-level MCP `Server` over a `Gateway`, for one profile (view) of the catalog."""

    def __init__(
        self,
        gateway: Gateway,
        *,
        profile: str = DEFAULT_PROFILE,
        view: Profile = EVERYTHING,
        audit: AuditLog | None = None,
        dynamic: bool = False,
        one_client: bool = False,
        cache: DiskCache | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.gateway = gateway
        self.profile = profile
        self.view = view
        self.audit = audit
        self.dynamic = dynamic
        # stdio serves one client: its state is the process's, whatever the protocol era.
        self.one_client = one_client
        self.cache = cache
        self.metrics = metrics
        # Dynamic mode: per connection, the tools of the skills it loaded, as "<skill>__<tool>".
        self._loaded_tools: weakref.WeakKeyDictionary[object, dict[str, tuple[str, types.Tool]]] = (
            weakref.WeakKeyDictionary()
        )
        self._only_client = _OnlyClient()  # stdio: the one client, whatever its connections
        self.bus = InMemorySubscriptionBus()
        self.server: Server[Any] = _Server(
            "skillgate",
            version=__version__,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_subscriptions_listen=ListenHandler(self.bus),
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_resource_templates,
            on_read_resource=self._read_resource,
            # The input schema of a meta-tool for the SDK's 2026-era HTTP header checks, which
            # otherwise list every tool on every call to find it.
            get_tool_input_schema=self._input_schema,
        )
        self.resources = SkillResources(gateway, view)
        self.server.add_request_handler("skills/list", SkillsListParams, self._skills_list)
        self.server.add_request_handler("skills/get", SkillsGetParams, self._skills_get)
        self.server.extensions[EXTENSION] = {}
        if not tracing.active():  # no tracer: the SDK's span middleware would make no-op spans per request
            self.server.middleware = [m for m in self.server.middleware if not _is_span_middleware(m)]
        self.server.middleware.append(_declare_extensions_on_initialize)
        self.tools: list[types.Tool] = []
        # Handshake-era connections that may hear tools/list_changed (held weakly: a closed
        # connection drops out by itself).
        self._listeners: weakref.WeakKeyDictionary[Connection, None] = weakref.WeakKeyDictionary()
        self._only_listener: Connection | None = None  # stdio
        self.refresh()

    def _input_schema(self, name: str) -> dict[str, Any] | None:
        """A meta-tool's input schema (None for others: the SDK then skips its header check,
        as it does for a tool the listing does not advertise)."""
        return next((tool.input_schema for tool in self.tools if tool.name == name), None)

    def refresh(self) -> None:
        """Recompute the startup context from the gateway's current catalog (after a reload)."""
        entries = [
            Entry(s.name, s.frontmatter.summary()) for s in self.gateway.catalog if self.view.admits(s.name)
        ]
        place = f"{self.gateway.catalog.root}\0{self.profile}"
        startup = cached_fit_startup(entries, meta_tools, self.cache, place=place)
        self.tools = meta_tools(startup.list_skills_description)
        self.server.instructions = startup.instructions

    async def catalog_changed(self) -> None:
        self.refresh()
        await self.notify_tools_changed()

    async def notify_tools_changed(self) -> None:
        """Tell every session that can hear it that the tool list (its descriptions) changed."""
        for event in (ToolsListChanged(), PromptsListChanged(), ResourcesListChanged()):
            await self.bus.publish(event)
        listeners = [self._only_listener] if self._only_listener is not None else list(self._listeners)
        for connection in listeners:
            try:
                await connection.send_tool_list_changed()
                await connection.send_prompt_list_changed()
                await connection.send_resource_list_changed()
            except Exception:  # a connection that went away is forgotten
                self._listeners.pop(connection, None)
                if connection is self._only_listener:
                    self._only_listener = None

    def _remember(self, ctx: ServerRequestContext[Any]) -> None:
        if ctx.session.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return  # 2026-era clients hear changes on subscriptions/listen
        connection = connection_of(ctx.session)
        if connection is None:
            return
        if self.one_client:
            self._only_listener = self._only_listener or connection
        elif len(self._listeners) < MAX_TRACKED_SESSIONS:
            self._listeners[connection] = None

    def _client_key(self, ctx: ServerRequestContext[Any]) -> object:
        """Whose dynamic tools these are: the connection's (handshake era), or the only client's (stdio)."""
        return self._only_client if self.one_client else connection_of(ctx.session) or self._only_client

    async def _list_prompts(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return self.resources.list_prompts(params.cursor if params else None)

    async def _get_prompt(
        self, ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        try:
            return await self.resources.get_prompt(params.name, params.arguments)
        except SkillgateError as exc:  # prompts are chosen by people: a protocol error, not a tool error
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None

    async def _list_resources(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return self.resources.list_resources(params.cursor if params else None)

    async def _list_resource_templates(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        """None: every skill file is a concrete resource (resources/list), not a template."""
        return types.ListResourceTemplatesResult(resource_templates=[])

    async def _read_resource(
        self, ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        return self.resources.read_resource(str(params.uri))

    async def _skills_list(self, ctx: ServerRequestContext[Any], params: SkillsListParams) -> dict[str, Any]:
        return self.resources.list_skills(params.cursor)

    async def _skills_get(self, ctx: ServerRequestContext[Any], params: SkillsGetParams) -> dict[str, Any]:
        return self.resources.get_skill(params.uri)

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        self._remember(ctx)
        loaded = self._loaded_tools.get(self._client_key(ctx), {})
        return types.ListToolsResult(tools=[*self.tools, *(loaded[name][1] for name in sorted(loaded))])

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        self._remember(ctx)

        async def progress(progress: float, total: float | None, message: str | None) -> None:
            await ctx.session.report_progress(progress, total, message)

        caller = Caller(_client(ctx), _session_tag(ctx, self.one_client), progress)
        return await self.answer(caller, params.name, params.arguments or {}, ctx)

    async def answer(
        self,
        caller: Caller,
        tool: str,
        arguments: dict[str, Any],
        ctx: ServerRequestContext[Any] | None = None,
    ) -> types.CallToolResult:
        """One meta-tool call, from the SDK or from the stdio call lane (which passes no `ctx`
        and only call_skill): the result, or a tool error naming the problem, and what the
        request leaves behind (audit line, span outcome, metrics)."""
        started = time.perf_counter()
        outcome: Outcome = "ok"
        message: str | None = None
        returned: list[str] | None = None
        error: BaseException | None = None
        span = tracing.request_span(tool, arguments)
        if not unicode_text(arguments):  # e.g. a lone surrogate "\ud800": no upstream or log can carry it
            arguments = replace_surrogates(arguments)
            outcome, message = "tool_error", NOT_UNICODE.format(tool=tool)
            self._observe(caller, tool, arguments, outcome, message, started, None, None, span)
            return _error(message)
        try:
            result = await self._dispatch(caller, tool, arguments, ctx)
            if result.is_error:
                outcome, message = "tool_error", _first_text(result)
            elif tool == "list_skills" and isinstance(result.structured_content, dict):
                returned = [s["name"] for s in result.structured_content.get("skills", [])][:MAX_RESULTS]
            return result
        except anyio.get_cancelled_exc_class():
            outcome, message = "cancelled", "the client cancelled the request"
            raise
        except ValidationError as exc:
            error = exc
            outcome, message = "tool_error", _describe_validation(tool, exc)
            return _error(message)
        except SkillgateError as exc:
            error = exc
            outcome, message = _outcome(exc), str(exc)
            return _error(message)
        except Exception as exc:  # the last line of defence: logged in full, reported without a traceback
            error = exc
            logger.exception("internal error in %s", tool)
            outcome = "internal_error"
            message = f"skillgate had an internal error in {tool}; it is logged. Try again"
            return _error(message)
        finally:
            self._observe(caller, tool, arguments, outcome, message, started, returned, error, span)

    def _observe(
        self,
        caller: Caller,
        tool: str,
        arguments: dict[str, Any],
        outcome: Outcome,
        message: str | None,
        started: float,
        returned: list[str] | None,
        error: BaseException | None,
        span: Any,
    ) -> None:
        """What one request leaves behind: its audit line, its span's outcome, its metrics."""
        if self.audit is not None:
            self._record(caller, tool, arguments, outcome, message, started, returned)
        tracing.set_outcome(span, outcome)
        if self.metrics is not None:
            from skillgate.metrics import error_kind

            kind = "cancelled" if outcome == "cancelled" else error_kind(error, outcome == "tool_error")
            upstream = self._upstream_name(arguments) if tool == "call_skill" else None
            self.metrics.observe(tool, arguments.get("name"), upstream, kind, time.perf_counter() - started)

    async def _dispatch(
        self, caller: Caller, tool: str, arguments: dict[str, Any], ctx: ServerRequestContext[Any] | None
    ) -> types.CallToolResult:
        view = self.view
        if tool == "list_skills":
            search = functools.partial(
                self.gateway.list_skills, **_args(ListSkillsArgs, arguments), view=view
            )
            if self.gateway.ranker.remote:  # a query may wait on the embedding server: not on the loop
                return _page_result(await anyio.to_thread.run_sync(search))
            return _page_result(search())
        if tool == "load_skill":
            load = LoadSkillArgs.model_validate(arguments)
            if load.file is not None:
                return _file_result(self.gateway.load_file(load.name, load.file, view))
            loaded = await self.gateway.load_skill(
                load.name, load.variables, load.section, caller.client, view, load.max_tokens
            )
            if self.dynamic and ctx is not None:
                await self._add_dynamic_tools(ctx, loaded)
            return _skill_result(loaded, load.section)
        if tool == "call_skill":
            call = CallSkillArgs.model_validate(arguments)
            result = await self.gateway.call_skill(
                call.name, call.tool, call.arguments, caller.progress, view
            )
            return _passthrough(result)
        dynamic = self._loaded_tools.get(self._client_key(ctx), {}).get(tool) if ctx is not None else None
        if dynamic is not None:
            skill, upstream_tool = dynamic[0], tool.split(DYNAMIC_SEPARATOR, 1)[1]
            return _passthrough(await self.gateway.call_skill(skill, upstream_tool, arguments, view=view))
        return _error(f"unknown tool {tool!r}; skillgate's tools are list_skills, load_skill and call_skill")

    async def _add_dynamic_tools(self, ctx: ServerRequestContext[Any], loaded: LoadedSkill) -> None:
        """List the loaded skill's tools to this session, and tell it the tool list changed."""
        key = self._client_key(ctx)
        if key not in self._loaded_tools and len(self._loaded_tools) >= MAX_TRACKED_SESSIONS:
            del self._loaded_tools[next(iter(self._loaded_tools))]  # forget the oldest session
        tools = self._loaded_tools.setdefault(key, {})
        added = False
        for spec in loaded.tools:
            name = f"{loaded.name}{DYNAMIC_SEPARATOR}{spec.name}"
            if name not in tools:
                description = f"[{loaded.name}] {spec.description or ''}".strip()
                tools[name] = (
                    loaded.name,
                    types.Tool(name=name, description=description, input_schema=spec.input_schema),
                )
                added = True
        if not added:
            return
        if ctx.session.protocol_version in MODERN_PROTOCOL_VERSIONS:
            await self.bus.publish(ToolsListChanged())
        else:
            await ctx.session.send_tool_list_changed()

    def _upstream_name(self, arguments: dict[str, Any]) -> str | None:
        """The bound server a call_skill went to, if the skill and tool are known (for metrics)."""
        skill = self.gateway.catalog.skills.get(str(arguments.get("name")))
        binding = skill.binding_for(str(arguments.get("tool"))) if skill is not None else None
        return binding.name if binding is not None else None

    def record_refused(self, size: int) -> None:
        """Audit an HTTP request refused unread because its body is over the limit."""
        if self.audit is None:
            return
        self.audit.record(
            AuditEvent(
                time=audit_now(),
                profile=self.profile,
                client={"name": None, "version": None},
                method="(request)",
                arguments_sha256=canonical_digest({}),
                outcome="too_large",
                duration_ms=0.0,
                message=f"a request body of {size:,} bytes was refused unread",
            )
        )

    def _record(
        self,
        caller: Caller,
        method: str,
        arguments: dict[str, Any],
        outcome: Outcome,
        message: str | None,
        started: float,
        returned: list[str] | None = None,
    ) -> None:
        assert self.audit is not None
        skill = arguments.get("name") if method in ("load_skill", "call_skill") else None
        tool = arguments.get("tool") if method == "call_skill" else None
        query = arguments.get("query") if method == "list_skills" else None
        self.audit.record(
            AuditEvent(
                time=audit_now(),
                profile=self.profile,
                client=caller.client,
                method=method,
                session=caller.session,
                skill=skill if isinstance(skill, str) else None,
                tool=tool if isinstance(tool, str) else None,
                query=scrub(query) if isinstance(query, str) and query.strip() else None,
                results=returned if query else None,
                arguments_sha256=canonical_digest(arguments),
                arguments=redact(arguments) if self.audit.raw_arguments else None,
                outcome=outcome,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                message=message,
            )
        )


class _Server(Server[Any]):
    """The low-level server, advertising tools/list_changed to handshake-era clients.

    The streamable-HTTP manager calls `create_initialization_options()` without
    arguments, so the flag is set here rather than passed in.
    """

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options
            or NotificationOptions(tools_changed=True, prompts_changed=True, resources_changed=True),
            # The handshake-era schema has no `extensions`: the skills extension is declared there too.
            experimental_capabilities if experimental_capabilities is not None else dict(self.extensions),
            extensions,
        )


def _is_span_middleware(middleware: Any) -> bool:
    """The SDK's OpenTelemetry middleware, known by its public class name (its module is private)."""
    return type(middleware).__name__ == "OpenTelemetryMiddleware"


async def _declare_extensions_on_initialize(
    ctx: ServerRequestContext[Any, Any], call_next: CallNext
) -> HandlerResult:
    """Handshake-era `initialize` results lose `capabilities.extensions` (not in the 2025-11-25 schema);
    clients such as MCP Inspector still look there for the skills extension, so it is put back."""
    result = await call_next(ctx)
    if ctx.method == "initialize" and isinstance(result, dict):
        capabilities = result.setdefault("capabilities", {})
        capabilities.setdefault("extensions", {EXTENSION: {}})
    return result


class _OnlyClient:
    """The key of the one client a stdio server serves (its state outlives any one connection)."""


_connection_numbers = itertools.count(1)


def _session_tag(ctx: ServerRequestContext[Any], one_client: bool) -> str:
    """A short tag grouping one agent's calls in the audit log: the stdio client, its connection
    (handshake era over HTTP), or — in the sessionless 2026 era over HTTP, where every request
    stands alone — its client name and version."""
    if one_client:
        return session_tag("0")
    if ctx.session.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return session_tag(repr(sorted(_client(ctx).items())))
    connection = connection_of(ctx.session)
    if connection is None:
        return session_tag("?")
    number = connection.state.setdefault("skillgate.connection", next(_connection_numbers))
    return session_tag(str(number))


def session_tag(basis: str) -> str:
    return hashlib.sha256(basis.encode()).hexdigest()[:8]


_OUTCOMES: dict[str, Outcome] = {
    "not_allowed": "denied",
    "drift_blocked": "denied",
    "timeout": "timeout",
    "upstream_failed": "upstream_down",
}


def _outcome(exc: SkillgateError) -> Outcome:
    """The audit outcome of an error, from its kind (a skill outside the profile is a denial)."""
    if isinstance(exc, SkillNotFound) and exc.denied:
        return "denied"
    return _OUTCOMES.get(exc.kind, "tool_error")


NOT_UNICODE = (
    "bad arguments for {tool}: they hold a lone surrogate (an escape between \\ud800 and \\udfff), "
    "which is not Unicode text. Send the text as valid UTF-8"
)


def unicode_text(value: Any) -> bool:
    """Whether every string in `value` is Unicode text (no lone surrogates): what UTF-8 can carry."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except (TypeError, ValueError, RecursionError):
        return True  # not JSON data at all: the argument models refuse it
    return True


def replace_surrogates(value: Any) -> Any:
    """`value` with each lone surrogate replaced by "?", for the audit line of a refused call."""
    text = json.dumps(value, ensure_ascii=False).encode("utf-8", "replace").decode("utf-8")
    return json.loads(text)


def _first_text(result: types.CallToolResult) -> str | None:
    texts = [b.text for b in result.content if isinstance(b, types.TextContent)]
    return texts[0][:500] if texts else None


def _args(model: type[BaseModel], arguments: dict[str, Any]) -> dict[str, Any]:
    return dict(model.model_validate(arguments))


def _client(ctx: ServerRequestContext[Any]) -> dict[str, Any]:
    client_params = ctx.session.client_params
    info = client_params.client_info if client_params is not None else None
    return {"name": info.name if info else None, "version": info.version if info else None}


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def _describe_validation(tool: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        if err["type"] == "missing":
            problems.append(f"{where!r} is required")
        elif err["type"] == "extra_forbidden":
            problems.append(f"{where!r} is not an argument of {tool}")
        else:
            problems.append(f"{where!r}: {err['msg']}")
    return f"bad arguments for {tool}: {'; '.join(problems)}. See the tool's input schema"


def _text(text: str) -> list[types.ContentBlock]:
    return [types.TextContent(type="text", text=text)]


def _page_result(page: SkillPage) -> types.CallToolResult:
    lines = []
    for s in page.skills:  # scores stay in structuredContent: the order already says it
        tools = f" [tools: {', '.join(s.tools)}]" if s.tools else ""
        lines.append(f"- {s.name}: {s.description}{tools}")
    if not lines:
        lines.append("No skill matches. Try other words, or list_skills() without a query.")
    if page.next_cursor:
        lines.append(f"{page.total} in all; more with cursor={page.next_cursor!r}")
    return types.CallToolResult(content=_text("\n".join(lines)), structured_content=dump(page))


def _skill_result(loaded: LoadedSkill, section: str | None = None) -> types.CallToolResult:
    """The text a model reads: instructions, then the tools with lean input schemas.

    A section load shows full schemas only for the tools its text names (the others by
    name); the section listing appears only for skills long enough to load in parts.
    """
    parts = [loaded.instructions.rstrip()]
    if loaded.variables:
        listing = ", ".join(
            f"{name} (default {default!r})" if default is not None else f"{name} (no default)"
            for name, default in loaded.variables.items()
        )
        parts.append(f"Variables (load_skill with variables={{...}}): {listing}")
    tools = loaded.tools
    if section is not None:
        tools = [t for t in loaded.tools if t.name in loaded.instructions]
        others = [t.name for t in loaded.tools if t not in tools]
        if others:
            parts.append(f"Other tools (schemas: load_skill without section): {', '.join(others)}")
    if tools:
        parts.append("## Tools (call them with call_skill)")
        for tool in tools:
            head, _, arguments = signature(tool.name, tool.input_schema).partition("\n")
            description = " ".join((tool.description or "").split())
            parts.append(
                f"- {head}"
                + (f": {description}" if description else "")
                + (f"\n{arguments}" if arguments else "")
            )
    top = min((s.level for s in loaded.sections), default=0)  # once: a skill may have thousands of headings
    whole = sum(s.tokens for s in loaded.sections if s.level == top)
    if len(loaded.sections) > 1 and whole > SECTIONS_LISTED_FROM:
        listing = ", ".join(f"{s.heading} ({s.tokens})" for s in loaded.sections)
        parts.append(f"Sections (tokens), for section=HEADING: {listing}")
    if loaded.warnings:
        parts.append("Warnings:\n" + "\n".join(f"- {w}" for w in loaded.warnings))
    if loaded.files:
        listing = ", ".join(f"{f.path} ({f.size} B)" for f in loaded.files)
        parts.append(f"Files (load_skill with file=PATH): {listing}")
    return types.CallToolResult(content=_text("\n\n".join(parts)), structured_content=dump(loaded))


def _file_result(loaded: LoadedFile) -> types.CallToolResult:
    text = loaded.text if loaded.text is not None else f"(binary file, {loaded.size} bytes, base64 in blob)"
    return types.CallToolResult(content=_text(text), structured_content=dump(loaded))


SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"


def _passthrough(result: types.CallToolResult) -> types.CallToolResult:
    """The upstream result unchanged, except: `structuredContent` mirrors the content when it had
    none, and the upstream's own server identity in `_meta` is dropped (the client talks to
    skillgate, which adds its own)."""
    update: dict[str, Any] = {}
    if result.meta and SERVER_INFO_META in result.meta:
        update["meta"] = {k: v for k, v in result.meta.items() if k != SERVER_INFO_META} or None
    if result.structured_content is None and not result.is_error:
        blocks = [b.model_dump(mode="json", by_alias=True, exclude_none=True) for b in result.content]
        update["structured_content"] = {"content": blocks}
    return result.model_copy(update=update) if update else result
