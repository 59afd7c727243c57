"""Gateway: what the three meta-tools do, independent of any transport.

It joins the catalog (what skills exist), the search index, rendering and the
upstream pool. The MCP server and the CLI are thin edges over it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import mimetypes
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skillgate.binding import DriftPolicy, ServerBinding
from skillgate.catalog import Catalog
from skillgate.errors import (
    ArgumentsInvalid,
    SectionNotFound,
    SkillgateError,
    SkillNotFound,
    ToolDrifted,
    ToolNotAllowed,
    UpstreamError,
    UsageError,
)
from skillgate.limits import ARGUMENT_BYTES
from skillgate.lockfile import Change, LockedTool, server_changes, tool_changes
from skillgate.models import FileInfo, LoadedFile, LoadedSkill, Section, SkillPage, SkillSummary, ToolSpec
from skillgate.pool import UpstreamPool
from skillgate.profile import EVERYTHING, Profile
from skillgate.ranking import HybridIndex, Ranker
from skillgate.render_worker import RenderWorkers
from skillgate.search import SearchDocument
from skillgate.sections import chunks, extract_section, find_sections, section_text, tidy
from skillgate.skill import Skill
from skillgate.tokens import CountCache
from skillgate.wording import suggest

if TYPE_CHECKING:
    import jsonschema
    import mcp_types as types
    from jsonschema.exceptions import ValidationError as SchemaError

    from skillgate.upstream import ProgressFn

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 20  # browsing the catalog
DEFAULT_SEARCH_LIMIT = 5  # a ranked search: the first few are what an agent needs
MAX_LIMIT = 100
RENDER_CACHE_SIZE = 1024
REVIEW = "a person must review the diff with `skillgate lock --check`, then run `skillgate lock` to accept it"


class Gateway:
    def __init__(
        self,
        catalog: Catalog,
        pool: UpstreamPool,
        drift: DriftPolicy = "block",
        ranker: Ranker | None = None,
        renderer: RenderWorkers | None = None,
        counts: CountCache | None = None,
    ) -> None:
        self._catalog = catalog
        self.counts = counts or CountCache()
        self.ranker = ranker or Ranker(None)
        self.renderer = renderer or RenderWorkers()
        self._render_cache: dict[str, tuple[Skill, Rendered]] = {}
        self.pool = pool
        self.drift = drift
        self.generation = 1  # counts catalog (re)loads
        self._index: HybridIndex | None = None
        self._index_lock = threading.Lock()
        self._index_version = 0
        self._index_catalog: Catalog | None = None
        self._validators: dict[tuple[str, str], tuple[object, jsonschema.protocols.Validator]] = {}
        self._drift: dict[tuple[int, int], tuple[LockedTool, types.Tool, list[Change]]] = {}
        self._variables: dict[int, tuple[Skill, dict[str, str | None]]] = {}

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @catalog.setter
    def catalog(self, catalog: Catalog) -> None:
        """Swap in a reloaded catalog (one assignment: requests see the old one or the new one)."""
        self._catalog = catalog
        self._render_cache = {}

    def warm_up(self, everything: bool = False) -> list[str]:
        """Start the upstreams marked `"warm": true` (or all, with `everything`) now, not on first call."""
        started = []
        for skill in self.catalog:
            for binding in skill.bindings:
                if (everything or binding.entry.warm) and self.pool.known(binding) is None:
                    started.append(self.pool.get(binding).name)
        return started

    # -- list_skills ------------------------------------------------------------

    def list_skills(
        self,
        query: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        view: Profile = EVERYTHING,
    ) -> SkillPage:
        catalog = self.catalog  # one snapshot per request: a reload never mixes two catalogs
        searching = bool(query and query.strip())
        limit = min(max(1, limit or (DEFAULT_SEARCH_LIMIT if searching else DEFAULT_LIMIT)), MAX_LIMIT)
        offset = _decode_cursor(cursor)
        ranked: list[tuple[Skill, float | None]]
        if searching:
            assert query is not None
            hits, total = self.index(catalog).top(query, offset + limit, view.admits)
            ranked = [(catalog.skills[h.name], h.score) for h in hits]
        else:
            ranked = [(skill, None) for skill in catalog if view.admits(skill.name)]
            total = len(ranked)
        page = ranked[offset : offset + limit]
        more = offset + limit < total
        return SkillPage(
            skills=[self._summary(skill, score, view) for skill, score in page],
            total=total,
            next_cursor=_encode_cursor(offset + limit) if more else None,
        )

    def _summary(self, skill: Skill, score: float | None, view: Profile) -> SkillSummary:
        return SkillSummary(
            name=skill.name,
            description=skill.frontmatter.summary(),
            tools=[t for t in self.known_tool_names(skill) if not view.denies(t)],
            score=score,
        )

    def _known_tools(self, skill: Skill, binding: ServerBinding) -> list[tuple[str, str]] | None:
        """(name, description) of the binding's allowed tools from its lock, else from its running
        upstream, without starting it; None when neither knows them."""
        locked = skill.locked(binding.name)
        if locked is not None:
            return locked
        upstream = self.pool.known(binding)
        live = upstream.cached_tools() if upstream is not None else None
        return (
            None if live is None else [(t.name, t.description or "") for t in live if binding.allows(t.name)]
        )

    def known_tool_names(self, skill: Skill) -> tuple[str, ...]:
        """The skill's tool names where known (lock or running upstream), else its allowlists as written."""
        names: list[str] = []
        for binding in skill.bindings:
            known = self._known_tools(skill, binding)
            names += [name for name, _ in known] if known is not None else binding.entry.allowed_tools or []
        return tuple(sorted(dict.fromkeys(names)))

    def index(self, catalog: Catalog) -> HybridIndex:
        """The search index of `catalog`, rebuilt when it or a running upstream's tool list changes
        (or, built while the embedder was down, once the embedder may be back)."""
        with self._index_lock:  # searches may run in worker threads (a remote embedder)
            version = self.pool.tools_version()
            index = self._index
            if (
                index is None
                or self._index_catalog is not catalog
                or version != self._index_version
                or self.ranker.wants_rebuild(index)
            ):
                index = self.ranker.index(self.documents(catalog), catalog.root)
                self._index, self._index_version, self._index_catalog = index, version, catalog
            return index

    def documents(self, catalog: Catalog) -> list[SearchDocument]:
        """What search knows of each skill: name, description, headings, tool names and descriptions."""
        return [
            SearchDocument(
                name=skill.name,
                description=skill.frontmatter.description,
                headings=[h.text for h in skill.headings],
                tools=self._tool_text(skill),
            )
            for skill in catalog
        ]

    def _tool_text(self, skill: Skill) -> tuple[str, ...]:
        texts: list[str] = []
        for binding in skill.bindings:
            known = self._known_tools(skill, binding)
            if known is None:
                texts += binding.entry.allowed_tools or []
                continue
            texts += [f"{name} {description}" for name, description in known]
        return tuple(texts)

    # -- load_skill -------------------------------------------------------------

    def skill(self, name: str, view: Profile = EVERYTHING, catalog: Catalog | None = None) -> Skill:
        """The skill `name` as `view` sees it: outside the view it does not exist."""
        catalog = catalog or self.catalog
        skill = catalog.skills.get(name)
        if skill is None or not view.admits(name):
            visible = [n for n in catalog.skills if view.admits(n)]
            raise SkillNotFound(name, suggest(name, visible), denied=skill is not None)
        return skill

    async def tools_of(self, skill: Skill, view: Profile = EVERYTHING) -> list[ToolSpec]:
        """The skill's allowed tools with full schemas: from its lock, else from its upstreams."""
        specs: dict[str, ToolSpec] = {}
        for binding in skill.bindings:
            locked = skill.lock.servers.get(binding.name) if skill.lock is not None else None
            tools = [t.as_tool() for t in locked.tools] if locked else await self.pool.get(binding).tools()
            for tool in tools:
                if binding.allows(tool.name) and not view.denies(tool.name) and tool.name not in specs:
                    specs[tool.name] = ToolSpec(
                        name=tool.name, description=tool.description, input_schema=tool.input_schema
                    )
        return [specs[name] for name in sorted(specs)]

    async def render(
        self,
        skill: Skill,
        variables: Mapping[str, Any] | None = None,
        client: Mapping[str, Any] | None = None,
        tools: list[ToolSpec] | None = None,
        view: Profile = EVERYTHING,
    ) -> str:
        if tools is None:
            tools = await self.tools_of(skill, view)
        return tidy(
            await self.renderer.render(
                skill.name,
                skill.body,
                skill.dir,
                skill=skill.frontmatter.model_dump(by_alias=True, exclude_none=True),
                tools=[t.model_dump(by_alias=True, exclude_none=True) for t in tools],
                variables=variables or {},
                client=client or {"name": None, "version": None},
                line_offset=skill.body_line - 1,
            )
        )

    async def load_skill(
        self,
        name: str,
        variables: Mapping[str, Any] | None = None,
        section: str | None = None,
        client: Mapping[str, Any] | None = None,
        view: Profile = EVERYTHING,
        max_tokens: int | None = None,
    ) -> LoadedSkill:
        skill = self.skill(name, view)
        unavailable: list[str] = []
        try:
            tools = await self.tools_of(skill, view)
        except UpstreamError as exc:  # the instructions are still worth reading
            tools = []
            unavailable.append(f"its tools are unavailable now: {exc}")
        rendered = await self._rendered(skill, variables or {}, client, tools)
        text = rendered.text
        if section is not None:
            found = extract_section(text, section)
            if found is None:
                headings = ", ".join(repr(s.heading) for s in rendered.sections) or "none"
                raise SectionNotFound(
                    f"skill {name!r} has no section {section!r}; its sections are: {headings}"
                )
            text = found
        omitted: list[str] = []
        if max_tokens is not None:
            text, omitted = _fit(text, max_tokens, self.counts)
        return LoadedSkill(
            name=skill.name,
            description=skill.frontmatter.description,
            instructions=text,
            sections=rendered.sections,
            tools=tools,
            files=[FileInfo(path=f.path, size=f.size) for f in skill.files],
            variables=self.variables_of(skill) or None,
            warnings=[*unavailable, *self.drift_warnings(skill)] or None,
            omitted=omitted or None,
        )

    async def _rendered(
        self,
        skill: Skill,
        variables: Mapping[str, Any],
        client: Mapping[str, Any] | None,
        tools: list[ToolSpec],
    ) -> Rendered:
        """The rendered body and its sections, cached per skill, variables, client and tools."""
        key = json.dumps(
            [skill.name, variables, client, [t.model_dump(by_alias=True) for t in tools]],
            sort_keys=True,
            default=str,
        )
        cached = self._render_cache.get(key)
        if cached is not None and cached[0] is skill:
            return cached[1]
        text = await self.render(skill, variables, client, tools)
        sections = [
            Section(heading=s.heading, level=s.level, tokens=self.counts.count(section_text(text, s)))
            for s in find_sections(text)
        ]
        self.counts.save()
        rendered = Rendered(text, sections)
        if len(self._render_cache) >= RENDER_CACHE_SIZE:
            self._render_cache.clear()
        self._render_cache[key] = (skill, rendered)
        return rendered

    def variables_of(self, skill: Skill) -> dict[str, str | None]:
        """The template variables `skill` reads and their written defaults, remembered per skill."""
        found = self._variables.get(id(skill))
        if found is None or found[0] is not skill:
            from skillgate.render import template_variables

            if len(self._variables) > 10_000:
                self._variables.clear()
            found = self._variables[id(skill)] = (skill, template_variables(skill.body, skill.dir))
        return found[1]

    def drift_warnings(self, skill: Skill) -> list[str]:
        """Differences between the skill's lock and its running upstreams (none started for this)."""
        if skill.lock is None:
            return []
        warnings = []
        for binding in skill.bindings:
            locked = skill.lock.servers.get(binding.name)
            upstream = self.pool.known(binding)
            live = upstream.cached_tools() if upstream is not None else None
            if locked is None or live is None or self._policy(binding) == "off":
                continue
            verb = "blocked" if self._policy(binding) == "block" else "allowed, with a warning"
            for change in server_changes(locked, binding, live):
                warnings.append(f"{change.summary()} (calls to it are {verb}; {REVIEW})")
        return warnings

    def _policy(self, binding: ServerBinding) -> DriftPolicy:
        return binding.entry.drift or self.drift

    def load_file(self, name: str, path: str, view: Profile = EVERYTHING) -> LoadedFile:
        skill = self.skill(name, view)
        data = skill.read_file(path)
        mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
        try:
            text: str | None = data.decode("utf-8")
            blob = None
            if mime == "application/octet-stream":
                mime = "text/plain"
        except UnicodeDecodeError:
            text, blob = None, base64.b64encode(data).decode("ascii")
        return LoadedFile(name=skill.name, path=path, size=len(data), mime_type=mime, text=text, blob=blob)

    # -- call_skill -------------------------------------------------------------

    async def call_skill(
        self,
        name: str,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        progress: ProgressFn | None = None,
        view: Profile = EVERYTHING,
    ) -> types.CallToolResult:
        skill = self.skill(name, view)
        arguments = dict(arguments or {})
        binding = None if view.denies(tool) else skill.binding_for(tool)
        if binding is None:
            raise ToolNotAllowed(await self._not_allowed(skill, tool, view))
        upstream = self.pool.get(binding)
        live = await upstream.tool(tool, binding.timeout)
        if live is None:
            raise ToolNotAllowed(
                await self._not_allowed(skill, tool, view, f"server {binding.name!r} has no such tool")
            )
        self._check_lock(skill, binding, live)
        self._validate_arguments(upstream.key, live, arguments)
        return await upstream.call(tool, arguments, timeout=binding.timeout, progress=progress)

    def _check_lock(self, skill: Skill, binding: ServerBinding, live: types.Tool) -> None:
        """Refuse (or warn about) a tool whose live definition differs from the pinned one."""
        locked_server = skill.lock.servers.get(binding.name) if skill.lock is not None else None
        if locked_server is None:
            return
        policy = self._policy(binding)
        locked = next((t for t in locked_server.tools if t.name == live.name), None)
        if locked is None:  # a new tool upstream never widens a locked allowlist
            raise ToolNotAllowed(
                f"skill {skill.name!r} cannot call {live.name!r}: it is not in the skill's tools.lock.json. "
                f"Its tools are: {', '.join(t.name for t in locked_server.tools) or 'none'}"
            )
        changes = self._changes(locked, live)
        if not changes or policy == "off":
            return
        summary = "; ".join(c.summary() for c in changes)
        if policy == "block":
            raise ToolDrifted(
                f"{live.name!r} of skill {skill.name!r} changed upstream since it was locked ({summary}); "
                f"the call was not made. {REVIEW}"
            )
        logger.warning(
            "tool %s of skill %s drifted from its lock: %s; %s", live.name, skill.name, summary, REVIEW
        )

    def _changes(self, locked: LockedTool, live: types.Tool) -> list[Change]:
        """`tool_changes`, remembered per (pinned, live) pair: the live Tool object is replaced only
        when the upstream's tool list is, so its digest is computed once, not on every call."""
        key = (id(locked), id(live))
        found = self._drift.get(key)
        if found is None or found[0] is not locked or found[1] is not live:
            if len(self._drift) > 10_000:
                self._drift.clear()
            found = self._drift[key] = (locked, live, tool_changes(locked, live))
        return found[2]

    async def _not_allowed(
        self, skill: Skill, tool: str, view: Profile, why: str = "it is not in the skill's allowlist"
    ) -> str:
        if not skill.bindings:
            return (
                f"skill {skill.name!r} has no tools (it is instructions only); load it with load_skill "
                "and follow its instructions"
            )
        try:
            allowed = ", ".join(t.name for t in await self.tools_of(skill, view)) or "none"
        except SkillgateError:
            known = [t for t in self.known_tool_names(skill) if not view.denies(t)]
            allowed = ", ".join(known) or "unknown (its server is down)"
        return f"skill {skill.name!r} cannot call {tool!r}: {why}. Its tools are: {allowed}"

    def _validate_arguments(self, key: str, tool: types.Tool, arguments: dict[str, Any]) -> None:
        size = len(json.dumps(arguments, default=str))
        if size > ARGUMENT_BYTES:
            raise ArgumentsInvalid(
                f"arguments for {tool.name!r} are {size} bytes; the limit is {ARGUMENT_BYTES}. "
                "Send less data, or put it in a file the tool can read"
            )
        schema = tool.input_schema or {"type": "object"}
        cached = self._validators.get((key, tool.name))
        if cached is None or cached[0] is not tool:  # a new tool list: build the validator again
            import jsonschema  # loaded with the first call_skill

            cls = jsonschema.validators.validator_for(schema)
            try:
                cls.check_schema(schema)
            except jsonschema.SchemaError:
                return  # the upstream's own schema is broken: let the upstream judge
            cached = (tool, cls(schema))
            self._validators[(key, tool.name)] = cached
        errors = sorted(cached[1].iter_errors(arguments), key=lambda e: (list(e.path), e.message))
        if errors:
            raise ArgumentsInvalid(
                f"arguments for {tool.name!r} do not match its input schema: "
                + "; ".join(_describe_schema_error(e) for e in errors[:5])
                + ". Fix them and call again (load_skill shows the schema)",
                f"arguments for {tool.name!r} do not match its input schema: "
                + "; ".join(_describe_schema_error(e) for e in errors[:5])
                + " (`skillgate render DIR SKILL` shows the schema)",
            )


@dataclass(frozen=True)
class Rendered:
    text: str
    sections: list[Section]


def _fit(text: str, max_tokens: int, counts: CountCache) -> tuple[str, list[str]]:
    """The leading sections of `text` that fit in `max_tokens`, cut at a heading, and what was left out."""
    kept: list[str] = []
    omitted: list[str] = []
    used = 0
    for chunk in chunks(text):
        cost = counts.count(chunk.text)
        if omitted or (kept and used + cost > max_tokens):
            omitted.append(f"{chunk.heading or '(preface)'} ({cost} tokens)")
            continue
        kept.append(chunk.text)
        used += cost
    if omitted:
        kept.append(
            f"\n[Left out to stay within {max_tokens} tokens: {'; '.join(omitted)}. "
            "Load one with load_skill(name, section=HEADING).]\n"
        )
    return "".join(kept), omitted


def _describe_schema_error(error: SchemaError) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor.encode()))["o"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise UsageError("the cursor is not one list_skills returned; call again without a cursor") from None
    if not isinstance(offset, int) or offset < 0:
        raise UsageError("the cursor is not one list_skills returned; call again without a cursor")
    return offset
