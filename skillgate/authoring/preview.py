"""The preview page for prompt engineers: the catalog with search, each skill rendered to
HTML beside its source, a form for its template variables that re-renders as you type,
token counts, tools and diagnostics, and live reload when a file changes.

Every page has a JSON twin (`/index.json`, `/skills/<name>.json`): the pages fetch
them to update in place, and tests and scripts can use them directly.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio
import jinja2
from anyio.streams.memory import MemoryObjectSendStream
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from skillgate.authoring.checks import authoring_diagnostics
from skillgate.authoring.evals import DEFAULT_K, run_skill_queries
from skillgate.base.diagnostics import Diagnostic
from skillgate.base.errors import SkillgateError, SkillNotFound
from skillgate.base.limits import SKILL_MD_BYTES
from skillgate.base.reading import Unreadable, read_text
from skillgate.base.tokens import token_counts
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


class Preview:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.broadcast = Broadcast()
        self.reloader = Reloader(gateway, [self._changed])
        self._diagnostics: tuple[Catalog, list[Diagnostic]] | None = None
        self._findability: tuple[Catalog, dict[str, list[dict[str, Any]]]] | None = None

    async def _changed(self) -> None:
        await self.broadcast.publish("reload", {"generation": self.gateway.generation})

    def diagnostics(self, catalog: Catalog) -> list[Diagnostic]:
        """The catalog's authoring diagnostics, computed once per catalog (they tokenize every body)."""
        if self._diagnostics is None or self._diagnostics[0] is not catalog:
            self._diagnostics = (catalog, authoring_diagnostics(catalog))
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

    def index_data(self, query: str) -> dict[str, Any]:
        catalog = self.gateway.catalog
        page = self.gateway.list_skills(query=query or None, limit=100)
        return {
            "query": query,
            "generation": self.gateway.generation,
            "total": page.total,
            "skills": [dump(s) for s in page.skills],
            "diagnostics": [str(d) for d in self.diagnostics(catalog)],
        }

    async def skill_data(self, name: str, variables: dict[str, str]) -> dict[str, Any]:
        catalog = self.gateway.catalog
        skill = self.gateway.skill(name, catalog=catalog)
        folder = skill.dir.relative_to(catalog.root.parent).as_posix() + "/"
        data: dict[str, Any] = {
            "name": skill.name,
            "description": skill.frontmatter.description,
            "generation": self.gateway.generation,
            "variables": template_variables(skill.body, skill.dir),
            "vars": variables,
            "source": _source(skill),
            "files": [{"path": f.path, "size": f.size} for f in skill.files],
            "diagnostics": [str(d) for d in self.diagnostics(catalog) if d.path.startswith(folder)],
            "error": None,
            "tools_error": None,
        }
        tools = []
        try:
            with anyio.fail_after(TOOLS_TIMEOUT):
                tools = await self.gateway.tools_of(skill)
        except (SkillgateError, TimeoutError) as exc:
            data["tools_error"] = str(exc) or f"the upstream did not answer within {TOOLS_TIMEOUT:g} s"
        data["tools"] = [dump(t) for t in tools]
        data["findability"] = self.findability(catalog, skill)
        data["findability_k"] = DEFAULT_K
        try:
            instructions = await self.gateway.render(skill, variables, tools=tools)
        except SkillgateError as exc:
            data.update(error=str(exc), instructions="", html="", tokens=None)
            return data
        data["instructions"] = instructions
        data["html"] = markdown_to_html(instructions)
        data["tokens"] = token_counts(instructions, data["tools"])
        return data


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
        data = preview.index_data(request.query_params.get("q", ""))
        return HTMLResponse(_PAGES.get_template("catalog.html").render(data=data))

    async def index_json(request: Request) -> Response:
        return JSONResponse(preview.index_data(request.query_params.get("q", "")))

    async def skill_page(request: Request) -> Response:
        try:
            data = await preview.skill_data(request.path_params["name"], _variables(request))
        except SkillNotFound as exc:
            return HTMLResponse(_PAGES.get_template("missing.html").render(message=str(exc)), status_code=404)
        return HTMLResponse(_PAGES.get_template("skill.html").render(data=data))

    async def skill_json(request: Request) -> Response:
        try:
            return JSONResponse(await preview.skill_data(request.path_params["name"], _variables(request)))
        except SkillNotFound as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)

    def usage_data() -> dict[str, Any]:
        """The usage report of the audit logs given (`--audit`), over the current catalog."""
        from skillgate.observe.usage import read_events, usage

        logs = [p for p in audit or [] if p.is_file()]
        report = usage(read_events(logs), list(preview.gateway.catalog.skills)) if logs else None
        return {"logs": [str(p) for p in logs], "report": report.as_dict() if report else None}

    async def usage_page(request: Request) -> Response:
        data = await anyio.to_thread.run_sync(usage_data)
        return HTMLResponse(_PAGES.get_template("usage.html").render(data=data))

    async def usage_json(request: Request) -> Response:
        return JSONResponse(await anyio.to_thread.run_sync(usage_data))

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
        ],
        lifespan=lifespan,
    )
    app.add_middleware(HostGuard, hosts=allowed_hosts(host, []))
    app.state.preview = preview
    return app


def _source(skill: Skill) -> str:
    """SKILL.md as written (it may have changed or gone since the catalog was loaded)."""
    try:
        return read_text(skill.skill_md, SKILL_MD_BYTES)
    except Unreadable as exc:
        return f"(SKILL.md cannot be read: {exc})"
