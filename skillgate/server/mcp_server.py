"""The MCP server: the three meta-tools over the SDK's low-level `Server`.

Errors a model can fix (every `SkillgateError`, and arguments that do not fit a
meta-tool) come back as tool errors whose text names the problem and the fix.
Anything else is logged and reported as an internal error, without a traceback.
What a result says is `results`; what a request leaves behind, `observe.requests`;
what is kept per client, `sessions`; the SDK server itself, `lowlevel`.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ToolsListChanged,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ValidationError

from skillgate import __version__
from skillgate.base.disk_cache import DiskCache
from skillgate.base.errors import SkillgateError
from skillgate.base.text import NOT_UNICODE, unicode_text
from skillgate.observe import tracing
from skillgate.observe.audit import MAX_RESULTS, AuditLog, Outcome
from skillgate.observe.requests import Request, RequestLog, outcome_of
from skillgate.server.lowlevel import LowLevelServer
from skillgate.server.resources import SkillResources, SkillsGetParams, SkillsListParams
from skillgate.server.results import (
    describe_validation,
    error_result,
    file_result,
    first_text,
    page_result,
    passthrough,
    skill_result,
)
from skillgate.server.sessions import Sessions, client_of, session_tag_of
from skillgate.skills.profile import DEFAULT_PROFILE, EVERYTHING, Profile
from skillgate.tools.gateway import Gateway
from skillgate.tools.models import CallSkillArgs, ListSkillsArgs, LoadSkillArgs, meta_tools
from skillgate.tools.startup import Entry, cached_fit_startup

if TYPE_CHECKING:
    from skillgate.observe.metrics import Metrics

logger = logging.getLogger(__name__)

__all__ = ["SkillgateServer", "meta_tools"]


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
        self.dynamic = dynamic
        # stdio serves one client: its state is the process's, whatever the protocol era.
        self.one_client = one_client
        self.cache = cache
        self.requests = RequestLog(profile, audit, metrics, self._upstream_name)
        self.sessions = Sessions(one_client)
        self.bus = InMemorySubscriptionBus()
        self.server: Server[Any] = LowLevelServer(
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
        self.tools: list[types.Tool] = []
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
        await self.sessions.notify_changed()

    def record_refused(self, size: int) -> None:
        """Audit an HTTP request refused unread because its body is over the limit."""
        self.requests.refused(size)

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
        return await anyio.to_thread.run_sync(self.resources.read_resource, str(params.uri))

    # Reading files and hashing them (once per catalog generation) happen in a thread: a skill of
    # many large files never holds up another client's request.
    async def _skills_list(self, ctx: ServerRequestContext[Any], params: SkillsListParams) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(self.resources.list_skills, params.cursor)

    async def _skills_get(self, ctx: ServerRequestContext[Any], params: SkillsGetParams) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(self.resources.get_skill, params.uri)

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        self.sessions.remember(ctx)
        return types.ListToolsResult(tools=[*self.tools, *self.sessions.dynamic_tools(ctx)])

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        """One meta-tool call (from the SDK's session or the fast path, both through the SDK's
        kernel): the result, or a tool error naming the problem, and what the request leaves
        behind (audit line, span outcome, metrics)."""
        self.sessions.remember(ctx)
        tool, arguments = params.name, params.arguments or {}
        request = Request(
            client_of(ctx), session_tag_of(ctx, self.one_client), tool, arguments, time.perf_counter()
        )
        outcome: Outcome = "ok"
        message: str | None = None
        returned: list[str] | None = None
        error: BaseException | None = None
        span = tracing.request_span(tool, arguments)
        if not unicode_text(arguments):  # e.g. a lone surrogate "\ud800": no upstream or answer can carry it
            message = f"bad arguments for {tool}: {NOT_UNICODE}"
            self.requests.record(request, "tool_error", message, None, None, span)
            return error_result(message)
        try:
            result = await self._dispatch(ctx, tool, arguments)
            if result.is_error:
                outcome, message = "tool_error", first_text(result)
            elif tool == "list_skills" and isinstance(result.structured_content, dict):
                returned = [s["name"] for s in result.structured_content.get("skills", [])][:MAX_RESULTS]
            return result
        except anyio.get_cancelled_exc_class():
            outcome, message = "cancelled", "the client cancelled the request"
            raise
        except ValidationError as exc:
            error = exc
            outcome, message = "tool_error", describe_validation(tool, exc)
            return error_result(message)
        except SkillgateError as exc:
            error = exc
            outcome, message = outcome_of(exc), str(exc)
            return error_result(message)
        except Exception as exc:  # the last line of defence: logged in full, reported without a traceback
            error = exc
            logger.exception("internal error in %s", tool)
            outcome = "internal_error"
            message = f"skillgate had an internal error in {tool}; it is logged. Try again"
            return error_result(message)
        finally:
            self.requests.record(request, outcome, message, returned, error, span)

    async def _dispatch(
        self, ctx: ServerRequestContext[Any], tool: str, arguments: dict[str, Any]
    ) -> types.CallToolResult:
        view = self.view
        if tool == "list_skills":
            search = functools.partial(
                self.gateway.list_skills, **_args(ListSkillsArgs, arguments), view=view
            )
            if self.gateway.ranker.remote:  # a query may wait on the embedding server: not on the loop
                return page_result(await anyio.to_thread.run_sync(search))
            return page_result(search())
        if tool == "load_skill":
            load = LoadSkillArgs.model_validate(arguments)
            if load.file is not None:
                return file_result(self.gateway.load_file(load.name, load.file, view))
            loaded = await self.gateway.load_skill(
                load.name, load.variables, load.section, client_of(ctx), view, load.max_tokens
            )
            if self.dynamic and self.sessions.add_dynamic_tools(ctx, loaded):
                await self._tools_changed(ctx)
            return skill_result(loaded, load.section)
        if tool == "call_skill":
            call = CallSkillArgs.model_validate(arguments)
            result = await self.gateway.call_skill(call.name, call.tool, call.arguments, _progress(ctx), view)
            return passthrough(result)
        dynamic = self.sessions.dynamic_tool(ctx, tool)
        if dynamic is not None:
            return passthrough(await self.gateway.call_skill(*dynamic, arguments, view=view))
        return error_result(
            f"unknown tool {tool!r}; skillgate's tools are list_skills, load_skill and call_skill"
        )

    async def _tools_changed(self, ctx: ServerRequestContext[Any]) -> None:
        """Tell this session its tool list changed (it loaded a skill in dynamic mode)."""
        if ctx.session.protocol_version in MODERN_PROTOCOL_VERSIONS:
            await self.bus.publish(ToolsListChanged())
        else:
            await ctx.session.send_tool_list_changed()

    def _upstream_name(self, arguments: dict[str, Any]) -> str | None:
        """The bound server a call_skill went to, if the skill and tool are known (for metrics)."""
        skill = self.gateway.catalog.skills.get(str(arguments.get("name")))
        binding = skill.binding_for(str(arguments.get("tool"))) if skill is not None else None
        return binding.name if binding is not None else None


def _progress(ctx: ServerRequestContext[Any]) -> Any:
    async def progress(progress: float, total: float | None, message: str | None) -> None:
        await ctx.session.report_progress(progress, total, message)

    return progress


def _args(model: type[BaseModel], arguments: dict[str, Any]) -> dict[str, Any]:
    return dict(model.model_validate(arguments))
