"""The preview page, for fixing skills: the catalog with search, each skill rendered to HTML
beside its source, a form for its template variables that re-renders as you type, token
counts, tools, and its diagnostics inline in the source, with live reload when a file changes.

A skill with errors is not served, but it has a page: its source with each diagnostic under
the line it names and, when a live reload kept it, its last good render. The pages are
rendered here only: a page updates in place by fetching itself again (see base.html). Every
page has a JSON twin (`/index.json`, `/skills/<name>.json`, `/usage.json`) with the same
data, for tests and scripts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import jinja2
from anyio.streams.memory import MemoryObjectSendStream
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from skillgate.authoring.broken import annotated, broken_folders, diagnostics_for, inline, skill_file
from skillgate.authoring.checks import check_catalog
from skillgate.authoring.evals import DEFAULT_K, run_skill_queries
from skillgate.base.diagnostics import Diagnostic, Severity
from skillgate.base.errors import SkillgateError, SkillNotFound
from skillgate.base.limits import SKILL_MD_BYTES
from skillgate.base.reading import Unreadable, read_text
from skillgate.base.tokens import token_counts
from skillgate.base.wording import suggest
from skillgate.render.html import markdown_to_html
from skillgate.render.template import template_variables
from skillgate.search.hybrid import Ranker
from skillgate.server.http import HostGuard, allowed_hosts
from skillgate.server.reload import Reloader
from skillgate.skills.bundle import Skill
from skillgate.skills.catalog import Catalog
from skillgate.tools.gateway import Gateway
from skillgate.tools.models import dump
from skillgate.upstream.pool import UpstreamPool

VAR_PREFIX = "v."
TOOLS_TIMEOUT = 15.0

_PAGES = jinja2.Environment(
    loader=jinja2.PackageLoader("skillgate.authoring", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
# Schemas as people read JSON: indented, quotes and non-ASCII as written (autoescape makes it safe).
_PAGES.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
    'fill="#2557d6"/><path d="M4 8.5 6.8 11 12 5" stroke="#fff" stroke-width="2" fill="none"/></svg>'
)
_PAGES.globals["favicon"] = "data:image/svg+xml," + quote(FAVICON)  # no /favicon.ico request


class Broadcast:
    """Server-sent events to every open page."""

    def __init__(self) -> None:
        self._streams: set[MemoryObjectSendStream[str]] = set()

    async def publish(self, event: str, data: dict[str, Any]) -> None:
        message = f"event: {event}\ndata: {json.dumps(data)}\n\n"
        for stream in list(self._streams):
            try:
                stream.send_nowait(message)
            except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._streams.discard(stream)

    async def listen(self) -> AsyncIterator[str]:
        send, receive = anyio.create_memory_object_stream[str](32)
        self._streams.add(send)
        try:
            yield ": connected\n\n"
            async with receive:
                while True:
                    with anyio.move_on_after(15):
                        yield await receive.receive()
                        continue
                    yield ": keep-alive\n\n"
        finally:
            self._streams.discard(send)
            send.close()


class Preview:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.broadcast = Broadcast()
        self.reloader = Reloader(gateway, [self._changed])
        self._diagnostics: tuple[Catalog, list[Diagnostic]] | None = None
        self._findability: tuple[Catalog, dict[str, list[dict[str, Any]]]] | None = None

    async def _changed(self) -> None:
        await self.broadcast.publish("reload", {"generation": self.gateway.generation})

    async def diagnostics(self, catalog: Catalog) -> list[Diagnostic]:
        """What `validate` reports for the catalog (each skill rendered with its defaults in the
        render workers), computed once per catalog: any change under the folder loads a new one."""
        if self._diagnostics is None or self._diagnostics[0] is not catalog:
            found = await anyio.to_thread.run_sync(check_catalog, catalog, self.gateway.renderer)
            self._diagnostics = (catalog, found)
        return self._diagnostics[1]

    def findability(self, catalog: Catalog, skill: Skill) -> list[dict[str, Any]]:
        """The skill's example queries, ranked once per catalog (not per keystroke in the form);
        any change under the catalog folder loads a new catalog, so they follow the files."""
        if self._findability is None or self._findability[0] is not catalog:
            self._findability = (catalog, {})
        results = self._findability[1]
        if skill.name not in results:
            ranked = run_skill_queries(skill, self.gateway.index(catalog), DEFAULT_K)
            results[skill.name] = [asdict(r) | {"passed": r.passed(DEFAULT_K)} for r in ranked]
        return results[skill.name]

    # -- the twins ---------------------------------------------------------------

    async def index_data(self, query: str) -> dict[str, Any]:
        catalog = self.gateway.catalog
        page = self.gateway.list_skills(query=query or None, limit=100)
        broken = broken_folders(catalog)
        diagnostics = await self.diagnostics(catalog)
        return {
            "query": query,
            "generation": self.gateway.generation,
            "total": page.total,
            "skills": [dump(s) | {"broken": s.name in broken} for s in page.skills],
            "broken": [
                {
                    "name": name,
                    "folder": catalog.show(folder),
                    "errors": sum(d.severity is Severity.ERROR for d in diagnostics_for(folder, diagnostics)),
                    "last_good": name in catalog.skills,
                }
                for name, folder in broken.items()
                if query.strip().lower() in name.lower()
            ],
            "diagnostics": [str(d) for d in diagnostics],
        }

    async def skill_data(self, name: str, variables: dict[str, str]) -> dict[str, Any]:
        """A skill's page: a valid one, or one with errors (`broken`); `SkillNotFound` for neither."""
        catalog = self.gateway.catalog
        folder = broken_folders(catalog).get(name)
        if folder is not None:
            return await self._broken_data(catalog, folder, variables)
        skill = self.gateway.skill(name, catalog=catalog)
        data: dict[str, Any] = {
            "name": skill.name,
            "broken": False,
            "description": skill.frontmatter.description,
            "generation": self.gateway.generation,
            "variables": template_variables(skill.body, skill.dir),
            "vars": variables,
            **await self._source_data(catalog, skill.dir, skill.skill_md),
            "files": [{"path": f.path, "size": f.size} for f in skill.files],
            "findability": self.findability(catalog, skill),
            "findability_k": DEFAULT_K,
        }
        return data | await self._rendered(skill, variables)

    async def _broken_data(self, catalog: Catalog, folder: Path, variables: dict[str, str]) -> dict[str, Any]:
        """A skill whose files have errors: its source and diagnostics, and the last good render
        when a live reload kept its previous version (what a running server still serves)."""
        skill_md = skill_file(folder)
        kept = catalog.skills.get(folder.name)
        last_good = None
        if kept is not None:
            last_good = {"description": kept.frontmatter.description} | await self._rendered(kept, variables)
        return {
            "name": folder.name,
            "broken": True,
            "generation": self.gateway.generation,
            "vars": variables,
            **await self._source_data(catalog, folder, skill_md),
            "last_good": last_good,
        }

    async def _source_data(self, catalog: Catalog, folder: Path, skill_md: Path) -> dict[str, Any]:
        """SKILL.md as written, the diagnostics of the skill's folder, and those that name a line
        of SKILL.md (`inline`: the page shows them under that line)."""
        diagnostics = diagnostics_for(folder, await self.diagnostics(catalog))
        return {
            "folder": catalog.show(folder),
            "skill_md": catalog.show(skill_md),
            "source": _source(skill_md),
            "diagnostics": [str(d) for d in diagnostics],
            "inline": inline(diagnostics, skill_md),
        }

    async def _rendered(self, skill: Skill, variables: dict[str, str]) -> dict[str, Any]:
        """The skill's tools and its instructions rendered with `variables`, or why they are not."""
        data: dict[str, Any] = {"error": None, "tools_error": None}
        tools = []
        try:
            with anyio.fail_after(TOOLS_TIMEOUT):
                tools = await self.gateway.tools_of(skill)
        except (SkillgateError, TimeoutError) as exc:
            data["tools_error"] = str(exc) or f"the upstream did not answer within {TOOLS_TIMEOUT:g} s"
        data["tools"] = [dump(t) for t in tools]
        try:
            instructions = await self.gateway.render(skill, variables, tools=tools)
        except SkillgateError as exc:
            return data | {"error": str(exc), "instructions": "", "html": "", "tokens": None}
        data["instructions"] = instructions
        data["html"] = markdown_to_html(instructions)
        data["tokens"] = token_counts(instructions, data["tools"])
        return data

    def missing_data(self, name: str) -> dict[str, Any]:
        """A name that is neither a skill nor a skill folder with errors, in people's words."""
        catalog = self.gateway.catalog
        close = suggest(name, sorted({*catalog.skills, *broken_folders(catalog)}))
        folder = catalog.show(catalog.root)
        hint = f"; did you mean {' or '.join(repr(s) for s in close)}?" if close else "."
        return {
            "error": f"No skill named {name!r} in {folder}{hint}",
            "name": name,
            "folder": folder,
            "suggestions": close,
        }

    def pages(self) -> set[str]:
        """The names that have a page: valid skills and skill folders with errors."""
        catalog = self.gateway.catalog
        return {*catalog.skills, *broken_folders(catalog)}


def _variables(request: Request) -> dict[str, str]:
    return {
        k[len(VAR_PREFIX) :]: v
        for k, v in request.query_params.items()
        if k.startswith(VAR_PREFIX) and v != ""
    }


def build_preview(
    catalog: Catalog,
    environ: Mapping[str, str],
    *,
    watch: bool = True,
    ranker: Ranker | None = None,
    host: str = "127.0.0.1",
    audit: list[Path] | None = None,
) -> Starlette:
    """The preview app; it runs its own upstream pool (for tool schemas) and catalog watcher.

    It shows skill sources: only loopback and the bound host may ask (against DNS rebinding).
    """
    pool = UpstreamPool(environ)
    preview = Preview(Gateway(catalog, pool, ranker=ranker))

    async def index(request: Request) -> Response:
        data = await preview.index_data(request.query_params.get("q", ""))
        return HTMLResponse(_PAGES.get_template("catalog.html").render(data=data))

    async def index_json(request: Request) -> Response:
        return JSONResponse(await preview.index_data(request.query_params.get("q", "")))

    async def skill_page(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            data = await preview.skill_data(name, _variables(request))
        except SkillNotFound:
            page = _PAGES.get_template("missing.html").render(data=preview.missing_data(name))
            return HTMLResponse(page, status_code=404)
        template = _PAGES.get_template("broken.html" if data["broken"] else "skill.html")
        return HTMLResponse(template.render(data=data, lines=annotated(data["source"], data["inline"])))

    async def skill_json(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            return JSONResponse(await preview.skill_data(name, _variables(request)))
        except SkillNotFound:
            return JSONResponse(preview.missing_data(name), status_code=404)

    def usage_data() -> dict[str, Any]:
        """The usage report of the audit logs given (`--audit`), over the current catalog; `pages`:
        the names in it that have a page (a log can name skills the catalog no longer has)."""
        from skillgate.observe.usage import read_events, usage

        logs = [p for p in audit or [] if p.is_file()]
        report = usage(read_events(logs), list(preview.gateway.catalog.skills)) if logs else None
        named = set(report.skills) if report else set()
        return {
            "logs": [str(p) for p in logs],
            "report": report.as_dict() if report else None,
            "pages": sorted(named & preview.pages()),
        }

    async def usage_page(request: Request) -> Response:
        data = await anyio.to_thread.run_sync(usage_data)
        return HTMLResponse(_PAGES.get_template("usage.html").render(data=data))

    async def usage_json(request: Request) -> Response:
        return JSONResponse(await anyio.to_thread.run_sync(usage_data))

    async def favicon(request: Request) -> Response:  # for the JSON twins opened in a browser
        return Response(FAVICON, media_type="image/svg+xml")

    async def events(request: Request) -> Response:
        return StreamingResponse(
            preview.broadcast.listen(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = anyio.Event()
        async with pool, anyio.create_task_group() as tg:
            if watch:
                tg.start_soon(preview.reloader.watch, stop)
            yield
            stop.set()
            tg.cancel_scope.cancel()

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/index.json", index_json),
            Route("/skills/{name}.json", skill_json),
            Route("/skills/{name}", skill_page),
            Route("/events", events),
            Route("/usage", usage_page),
            Route("/usage.json", usage_json),
            Route("/favicon.ico", favicon),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(HostGuard, hosts=allowed_hosts(host, []))
    app.state.preview = preview
    return app


def _source(skill_md: Path) -> str:
    """SKILL.md as written (it may have changed or gone since the catalog was loaded)."""
    try:
        return read_text(skill_md, SKILL_MD_BYTES)
    except Unreadable as exc:
        return f"(SKILL.md cannot be read: {exc})"
