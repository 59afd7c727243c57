"""Gateway: what the three meta-tools do, independent of any transport.

It joins the catalog (what skills exist), the search index, rendering and the
upstream pool. The MCP server and the CLI are thin edges over it.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from skillgate.base.cursor import decode_cursor, encode_cursor
from skillgate.base.errors import (
    RenderError,
    SectionNotFound,
    SkillgateError,
    SkillNotFound,
    ToolNotAllowed,
    UpstreamError,
    UsageError,
)
from skillgate.base.layout import mime_of, text_of
from skillgate.base.lru import LRU
from skillgate.base.tokens import CountCache
from skillgate.base.wording import suggest
from skillgate.render.sections import chunks, extract_section, find_sections, section_texts, tidy
from skillgate.render.workers import RenderWorkers
from skillgate.search.hybrid import HybridIndex, Ranker
from skillgate.search.lexical import Hit
from skillgate.skills.binding import DriftPolicy
from skillgate.skills.bundle import Skill
from skillgate.skills.catalog import Catalog
from skillgate.skills.lock import LockedTool
from skillgate.skills.profile import EVERYTHING, Profile
from skillgate.tools.arguments import ArgumentCheck
from skillgate.tools.drift import DriftGuard
from skillgate.tools.index import SkillIndex
from skillgate.tools.models import (
    FileInfo,
    LoadedFile,
    LoadedSkill,
    Section,
    SkillPage,
    SkillSummary,
    ToolSpec,
)
from skillgate.upstream.pool import UpstreamPool

if TYPE_CHECKING:
    import mcp_types as types

    from skillgate.upstream.connection import ProgressFn

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 20  # browsing the catalog
DEFAULT_SEARCH_LIMIT = 5  # a ranked search: the first few are what an agent needs
MAX_LIMIT = 100
RENDER_CACHE_SIZE = 1024


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
        self._render_cache: LRU[str, tuple[Skill, Rendered]] = LRU(RENDER_CACHE_SIZE)
        self.pool = pool
        self.drift = drift
        self.generation = 1  # counts catalog (re)loads
        self.search = SkillIndex(pool, self.ranker)
        self.guard = DriftGuard(pool, drift)
        self.arguments = ArgumentCheck()

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @catalog.setter
    def catalog(self, catalog: Catalog) -> None:
        """Swap in a reloaded catalog (one assignment: requests see the old one or the new one)."""
        self._catalog = catalog
        self._render_cache.clear()

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
        offset = decode_cursor(cursor)
        if offset is None:
            raise UsageError("the cursor is not one list_skills returned; call again without a cursor")
        ranked: list[tuple[Skill, Hit | None]]
        above = True  # a listing matches by definition
        if searching:
            assert query is not None
            found = self.index(catalog).find(query, offset + limit, view.admits)
            ranked = [(catalog.skills[h.name], h) for h in found.hits]
            total, above = found.total, found.above
        else:
            ranked = [(skill, None) for skill in catalog if view.admits(skill.name)]
            total = len(ranked)
        page = ranked[offset : offset + limit]
        no_match = True if page and not above else None
        more = offset + limit < total
        return SkillPage(
            skills=[self._summary(skill, hit, view) for skill, hit in page],
            total=total,
            next_cursor=encode_cursor(offset + limit) if more else None,
            no_match=no_match,
        )

    def _summary(self, skill: Skill, hit: Hit | None, view: Profile) -> SkillSummary:
        return SkillSummary(
            name=skill.name,
            description=skill.frontmatter.summary(),
            tools=[t for t in self.known_tool_names(skill) if not view.denies(t)],
            score=hit.score if hit is not None else None,
            matched=hit.part if hit is not None else None,
        )

    def known_tool_names(self, skill: Skill) -> tuple[str, ...]:
        return self.search.known_tool_names(skill)

    def index(self, catalog: Catalog) -> HybridIndex:
        return self.search.index(catalog)

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
            # a pinned tool has the fields a live one has: no need to build (and import) the SDK's Tool
            tools: Sequence[LockedTool | types.Tool] = (
                locked.tools if locked else await self.pool.get(binding).tools()
            )
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
        dumped = [t.model_dump(by_alias=True, exclude_none=True) for t in tools]
        try:
            text = await self.renderer.render(skill.name, **skill.render_job(dumped, variables, client))
        except RenderError as exc:
            raise exc.at(self.catalog.show(skill.skill_md)) from None
        return tidy(text)

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
        # off the event loop: a render may hold tens of thousands of headings to parse and count
        sections = await anyio.to_thread.run_sync(self._sections, text)
        self.counts.save()
        rendered = Rendered(text, sections)
        self._render_cache.put(key, (skill, rendered))
        return rendered

    def _sections(self, text: str) -> list[Section]:
        found = find_sections(text)
        return [
            Section(heading=s.heading, level=s.level, tokens=self.counts.count(part))
            for s, part in zip(found, section_texts(text, found), strict=True)
        ]

    def variables_of(self, skill: Skill) -> dict[str, str | None]:
        """The template variables `skill` reads and their written defaults."""
        return skill.variables

    def drift_warnings(self, skill: Skill) -> list[str]:
        return self.guard.warnings(skill)

    def load_file(self, name: str, path: str, view: Profile = EVERYTHING) -> LoadedFile:
        skill = self.skill(name, view)
        data = skill.read_file(path)
        text = text_of(data)
        blob = base64.b64encode(data).decode("ascii") if text is None else None
        mime = mime_of(path, data)
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
        self.guard.check(skill, binding, live)
        self.arguments.check(upstream.key, live, arguments)
        return await upstream.call(tool, arguments, timeout=binding.timeout, progress=progress)

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
