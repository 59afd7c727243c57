"""The `skillgate` command line: the edge that reads the environment, prints and exits.

Exit codes: 0 success, 1 a failed check or run, 2 bad usage or configuration.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from skillgate import __version__
from skillgate.authoring.evals import DEFAULT_K
from skillgate.base.errors import SkillgateError, UsageError
from skillgate.base.wording import count

# Each command imports what it uses, so `skillgate --help` or `skillgate list` never loads the
# MCP SDK, the HTTP stack, numpy or the tokenizer.
if TYPE_CHECKING:
    import mcp_types as types

    from skillgate.authoring.evals import QueryResult
    from skillgate.base.diagnostics import Diagnostic
    from skillgate.search.hybrid import Ranker
    from skillgate.settings import Settings
    from skillgate.skills.binding import DriftPolicy
    from skillgate.skills.bundle import Skill
    from skillgate.skills.catalog import Catalog
    from skillgate.skills.lock import LockFile
    from skillgate.tools.gateway import Gateway

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SkillgateError as exc:
            click.echo(f"error: {exc.for_people}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="skillgate")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="How much skillgate logs to stderr.",
)
@click.option("--verbose", "-v", is_flag=True, help="Same as --log-level info: upstream servers' stderr too.")
def main(log_level: str, verbose: bool) -> None:
    """skillgate: one MCP server in front of many, serving skills on demand."""
    level = "info" if verbose and log_level == "warning" else log_level
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="skillgate %(levelname)s %(message)s")


def _split(args: Sequence[str], required: int, usage: str) -> tuple[Path, list[str]]:
    """`[DIR] A B...`: the optional catalog folder before `required` arguments."""
    if len(args) == required:
        return Path("."), list(args)
    if len(args) == required + 1:
        return Path(args[0]), list(args[1:])
    raise click.UsageError(f"expected {usage}")


def _load(path: Path, settings: Settings | None = None) -> Catalog:
    """The catalog at `path`, its parses cached in the settings' cache folder; diagnostics to stderr."""
    from skillgate.base.disk_cache import DiskCache
    from skillgate.settings import Settings
    from skillgate.skills.catalog import Catalog

    folder = (settings or Settings()).cache_folder(os.environ)
    catalog = Catalog.load(path, DiskCache(folder, "catalog"))
    for diagnostic in catalog.diagnostics:
        click.echo(str(diagnostic), err=True)
    return catalog


def _with_gateway(
    catalog: Catalog,
    work: Callable[[Gateway], Awaitable[T]],
    drift: DriftPolicy = "block",
    ranker: Ranker | None = None,
) -> T:
    import anyio

    from skillgate.tools.gateway import Gateway
    from skillgate.upstream.pool import UpstreamPool

    async def run() -> T:
        async with UpstreamPool(os.environ) as pool:
            gateway = Gateway(catalog, pool, drift, ranker)
            try:
                return await work(gateway)
            finally:
                gateway.renderer.close()

    return anyio.run(run)


CONFIG_OPTION = click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SKILLGATE_CONFIG",
    help="Settings file (skillgate.toml); also $SKILLGATE_CONFIG.",
)


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


DRIFT_OPTION = click.option(
    "--drift",
    type=click.Choice(["block", "warn", "off"]),
    default="block",
    show_default=True,
    help="What to do with a call to a tool whose live definition differs from tools.lock.json, "
    "unless the server's mcp.json entry sets 'drift'.",
)


@main.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SKILLGATE_CONFIG",
    help="Settings file (skillgate.toml); also $SKILLGATE_CONFIG.",
)
@click.option("--http", "use_http", is_flag=True, help="Serve streamable HTTP instead of stdio.")
@click.option("--host", default=None, help="Address to bind with --http.  [default: 127.0.0.1]")
@click.option("--port", default=None, type=click.IntRange(0, 65535), help="Port for --http.  [default: 8000]")
@click.option(
    "--stateless", is_flag=True, default=None, help="No sessions: any request may go to any replica."
)
@click.option(
    "--allow-unauthenticated", is_flag=True, default=None, help="Serve a non-loopback address without tokens."
)
@click.option("--profile", default="default", show_default=True, help="The profile a stdio client sees.")
@click.option("--warm", is_flag=True, default=None, help="Start every bound upstream now, not on first need.")
@click.option(
    "--dynamic", is_flag=True, default=None, help="After load_skill, also list its tools as <skill>__<tool>."
)
@click.option(
    "--drift",
    type=click.Choice(["block", "warn", "off"]),
    default=None,
    help="Lock drift policy for the catalog (overrides the settings file).  [default: block]",
)
def serve(
    directory: Path,
    config: Path | None,
    use_http: bool,
    host: str | None,
    port: int | None,
    stateless: bool | None,
    allow_unauthenticated: bool | None,
    profile: str,
    warm: bool | None,
    dynamic: bool | None,
    drift: DriftPolicy | None,
) -> None:
    """Serve the catalog in DIRECTORY over stdio (default) or streamable HTTP.

    Flags override the settings file; see the README for every setting.
    """
    import anyio

    from skillgate.serve import http_tokens, serve_http, serve_stdio
    from skillgate.settings import load_settings

    overrides = {
        "host": host,
        "port": port,
        "stateless": stateless,
        "allow_unauthenticated": allow_unauthenticated,
        "drift": drift,
        "warm": warm,
        "dynamic": dynamic,
    }
    settings = load_settings(config).model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if profile not in settings.profile_names:
        raise UsageError(
            f"--profile {profile!r} is not defined; profiles: {', '.join(settings.profile_names)}"
        )
    catalog = _load(directory, settings)
    if use_http:
        http_tokens(settings, os.environ)  # refuse bad auth settings before anything starts
        anyio.run(serve_http, catalog, settings)
    else:
        anyio.run(serve_stdio, catalog, settings, profile)
        _exit_at_once()


def _exit_at_once() -> NoReturn:
    """End a stdio server that has stopped cleanly (upstreams stopped, audit lines flushed) without
    the interpreter's teardown of every module: 0.1-0.15 s that a client starting skillgate per
    call would wait for. Exit hooks (render workers, span export) and log flushing still run.
    Under a profiler or a tracer (cProfile, coverage) the process ends normally, so they can
    write their results."""
    import atexit

    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(0)
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def format_option(text: str) -> Callable[[F], F]:
    """`--format text|github|json` for the commands that report to people and to CI."""
    return click.option(
        "--format",
        "output",
        type=click.Choice(["text", "github", "json"]),
        default="text",
        show_default=True,
        help=f"text: {text}; github: workflow annotations; json: one document.",
    )


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@format_option("path:line:col: CODE message")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def validate(paths: tuple[Path, ...], output: str, as_json: bool, strict: bool) -> None:
    """Check the catalogs at PATHS (default: .); report every problem at once; exit 1 on errors."""
    from skillgate.authoring.checks import authoring_diagnostics
    from skillgate.base.diagnostics import Severity
    from skillgate.skills.catalog import Catalog

    catalogs = [Catalog.load(p) for p in (paths or (Path("."),))]
    diagnostics = [d for c in catalogs for d in authoring_diagnostics(c)]
    errors = [d for d in diagnostics if d.severity is Severity.ERROR or strict]
    skills = sum(len(c) for c in catalogs)
    if as_json or output == "json":
        _print_json(
            {
                "ok": not errors,
                "skills": skills,
                "diagnostics": [d.model_dump(mode="json") for d in diagnostics],
            }
        )
    else:
        for diagnostic in diagnostics:
            click.echo(github_annotation(diagnostic) if output == "github" else str(diagnostic))
        warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
        click.echo(
            f"{count(skills, 'skill')} valid; {count(len(diagnostics) - warnings, 'error')}, "
            f"{count(warnings, 'warning')}",
            err=True,
        )
    if errors:
        sys.exit(1)


def github_annotation(d: Diagnostic) -> str:
    """A GitHub Actions workflow command that annotates the file and line."""
    from skillgate.base.diagnostics import Severity

    def escape(text: str, property_value: bool = False) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return text.replace(":", "%3A").replace(",", "%2C") if property_value else text

    level = "error" if d.severity is Severity.ERROR else "warning"
    properties = f"file={escape(d.path, True)},line={d.line},col={d.col},title={escape(d.code, True)}"
    return f"::{level} {properties}::{escape(d.message)}"


@main.command()
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The catalog folder to create the skill in.",
)
@click.option("--description", help="The skill's description (default: a TODO placeholder that validates).")
@click.option("--server", "server_json", metavar="JSON", help="A pasted mcpServers entry (or whole block).")
@click.option("--server-name", help="Name for a pasted single entry (default: server).")
@click.option("--shared", metavar="NAME", help="Bind to the shared server NAME of the catalog's mcp.json.")
@click.option(
    "--allow", "allowed", multiple=True, metavar="TOOL", help="An allowed tool (name or glob); repeat."
)
def new(
    name: str,
    parent: Path,
    description: str | None,
    server_json: str | None,
    server_name: str | None,
    shared: str | None,
    allowed: tuple[str, ...],
) -> None:
    """Create the skill folder NAME with a SKILL.md that validates (and an mcp.json when bound)."""
    from skillgate.authoring.scaffold import create_skill, parse_server
    from skillgate.skills.catalog import Catalog

    if server_json and shared:
        raise click.UsageError("use --server or --shared, not both")
    servers = parse_server(server_json, server_name) if server_json else None
    if shared:
        root_servers = Catalog.load(parent).shared_servers
        if shared not in root_servers:
            known = ", ".join(sorted(root_servers)) or "none"
            raise UsageError(
                f"--shared {shared!r}: the catalog's mcp.json has no such server (it has: {known})"
            )
        servers = {shared: {}}
    folder = create_skill(parent, name, description=description, servers=servers, allowed_tools=list(allowed))
    click.echo(f"created {folder}/SKILL.md" + (f" and {folder}/mcp.json" if servers else ""))
    click.echo(
        f"next: edit it, then `skillgate validate {parent}` and `skillgate preview {parent}`", err=True
    )


@main.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option(
    "--audit",
    "audit",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="An audit log (repeat for rotated files) for the Usage view.",
)
def preview(directory: Path, host: str, port: int, audit: tuple[Path, ...]) -> None:
    """The browser preview of the catalog in DIRECTORY, with live reload."""
    import anyio

    from skillgate.serve import serve_preview
    from skillgate.server.http import LOOPBACK

    if host not in LOOPBACK:
        raise UsageError(f"--host {host}: the preview has no authentication; bind a loopback address")
    anyio.run(serve_preview, _load(directory), host, port, list(audit))


@main.command(name="list")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--limit", type=click.IntRange(1, 100), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the list_skills result as JSON.")
def list_command(directory: Path, limit: int, as_json: bool) -> None:
    """The catalog in DIRECTORY, in name order, as list_skills returns it."""
    _print_page(_load(directory), None, limit, as_json)


@main.command()
@click.argument("args", nargs=-1, required=True, metavar="[DIR] QUERY")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the list_skills result as JSON.")
@CONFIG_OPTION
def search(args: tuple[str, ...], limit: int, as_json: bool, config: Path | None) -> None:
    """Skills ranked for QUERY, as list_skills(query) returns them."""
    from skillgate.serve import search_ranker
    from skillgate.settings import load_settings

    directory, (query,) = _split(args, 1, "[DIR] QUERY")
    _print_page(_load(directory), query, limit, as_json, search_ranker(load_settings(config)))


@main.command(name="eval")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--k",
    "k",
    type=click.IntRange(1, 100),
    default=DEFAULT_K,
    show_default=True,
    help="A query passes when its skill is among the first K results.",
)
@format_option("each skill's queries and ranks")
@CONFIG_OPTION
def eval_command(directory: Path, k: int, output: str, config: Path | None) -> None:
    """Run each skill's example requests (evals/queries.txt) through list_skills' ranking.

    Prints each query's rank and, for a miss, the skills that outranked it; exit 1 on a miss.
    """
    from skillgate.authoring.evals import run_queries, skills_without_queries
    from skillgate.serve import search_ranker
    from skillgate.settings import load_settings

    catalog = _load(directory)

    async def work(gateway: Gateway) -> list[QueryResult]:
        return run_queries(catalog, gateway.index(catalog), k)

    results = _with_gateway(catalog, work, ranker=search_ranker(load_settings(config)))
    missed = [r for r in results if not r.passed(k)]
    untested = skills_without_queries(catalog, results)
    if output == "json":
        _print_json(
            {
                "ok": not missed,
                "k": k,
                "results": [asdict(r) | {"passed": r.passed(k)} for r in results],
                "skills_without_queries": untested,
            }
        )
    elif output == "github":
        for result in missed:
            click.echo(github_annotation(_miss_diagnostic(catalog, result, k)))
    else:
        _print_eval(results, untested, k)
    click.echo(
        f"{count(len(results), 'query', 'queries')} over {count(len(catalog) - len(untested), 'skill')}: "
        f"{len(results) - len(missed)} in the top {k}, {len(missed)} missed"
        + (f"; {count(len(untested), 'skill')} without example queries" if untested else ""),
        err=True,
    )
    if missed:
        sys.exit(1)


def _print_eval(results: list[QueryResult], untested: list[str], k: int) -> None:
    skill = None
    for result in results:
        if result.skill != skill:
            skill = result.skill
            click.echo(skill)
        place = f"#{result.rank}" if result.rank is not None else "unmatched"
        status = "ok  " if result.passed(k) else "MISS"
        click.echo(f"  {status} {place:>9}  {result.query}")
        if not result.passed(k):
            click.echo(f"       outranked by: {', '.join(result.outranked_by) or 'nothing (no match)'}")
    for name in untested:
        click.echo(f"{name}\n  (no example queries: add evals/queries.txt)")


def _miss_diagnostic(catalog: Catalog, result: QueryResult, k: int) -> Diagnostic:
    from skillgate.base.diagnostics import Diagnostic
    from skillgate.base.layout import EVAL_QUERIES
    from skillgate.skills.catalog import display_path

    skill = catalog.skills[result.skill]
    place = f"ranked #{result.rank}" if result.rank is not None else "did not match"
    winners = f"; outranked by {', '.join(result.outranked_by)}" if result.outranked_by else ""
    return Diagnostic.at(
        display_path(skill.dir / EVAL_QUERIES, catalog.root),
        "SG601",
        f"{result.query!r} {place} for {result.skill} (top {k} needed){winners}; make the description "
        "or headings say what this request asks for, in its words",
        result.line,
    )


def _print_page(
    catalog: Catalog, query: str | None, limit: int, as_json: bool, ranker: Ranker | None = None
) -> None:
    from skillgate.tools.models import dump

    async def work(gateway: Gateway) -> Any:
        return gateway.list_skills(query=query, limit=limit)

    page = _with_gateway(catalog, work, ranker=ranker)
    if as_json:
        _print_json(dump(page))
        return
    for skill in page.skills:
        score = f"  {skill.score:.3f}" if skill.score is not None else ""
        click.echo(f"{skill.name}{score}  {skill.description}")


def _parse_vars(pairs: Sequence[str]) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--var {pair!r}: write --var name=value")
        try:
            variables[key] = json.loads(value)
        except json.JSONDecodeError:
            variables[key] = value
    return variables


def _read_vars_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"--vars-file {path}: cannot read it as JSON or YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--vars-file {path}: must hold a mapping of variable names to values")
    return {str(k): v for k, v in data.items()}


@main.command()
@click.argument("args", nargs=-1, required=True, metavar="[DIR] NAME")
@click.option("--var", "pairs", multiple=True, metavar="K=V", help="A template variable (JSON or text).")
@click.option(
    "--vars-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Variables from a JSON or YAML mapping (--var wins over it).",
)
@click.option("--section", help="Render only this heading's section.")
@click.option(
    "--format",
    "output",
    type=click.Choice(["markdown", "html"]),
    default="markdown",
    show_default=True,
    help="Print the Markdown, or the HTML a person would see (raw HTML in the skill is escaped).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the load_skill result and token counts as JSON.")
def render(
    args: tuple[str, ...],
    pairs: tuple[str, ...],
    vars_file: Path | None,
    section: str | None,
    output: str,
    as_json: bool,
) -> None:
    """Render skill NAME with --var values and show its token cost."""
    from skillgate.base.tokens import ENCODING, token_counts
    from skillgate.render.html import markdown_to_html
    from skillgate.tools.models import dump

    directory, (name,) = _split(args, 1, "[DIR] NAME")
    catalog = _load(directory)
    variables = {**_read_vars_file(vars_file), **_parse_vars(pairs)} if vars_file else _parse_vars(pairs)

    async def work(gateway: Gateway) -> Any:
        return await gateway.load_skill(name, variables, section)

    loaded = _with_gateway(catalog, work)
    tokens = token_counts(loaded.instructions, [dump(t) for t in loaded.tools])
    if as_json:
        html = {"html": markdown_to_html(loaded.instructions)} if output == "html" else {}
        _print_json({**dump(loaded), **html, "tokens": tokens})
        return
    text = markdown_to_html(loaded.instructions) if output == "html" else loaded.instructions
    click.echo(text, nl=not text.endswith("\n"))
    click.echo(
        f"tokens ({ENCODING}): instructions {tokens['instructions']}, tool schemas {tokens['tools']}, "
        f"total {tokens['total']}",
        err=True,
    )


@main.command()
@click.argument("args", nargs=-1, metavar="[DIR] [SKILL...]")
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 if any live definition differs from its lock."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print what was locked (or the drift, with --check) as JSON."
)
def lock(args: tuple[str, ...], check: bool, as_json: bool) -> None:
    """Pin the allowed tools of each bound skill into its tools.lock.json.

    DIR defaults to .; with SKILL names, only those skills. With --check, print a
    per-field diff (tool, field, old -> new) of every drift and exit 1 if there is any.
    """
    from skillgate.skills.lock import LOCK_NAME, LockFile, lock_server

    directory = Path(args[0]) if args and Path(args[0]).is_dir() else Path(".")
    names = list(args[1:] if args and Path(args[0]).is_dir() else args)
    catalog = _load(directory)
    skills = [catalog.get(n) for n in names] if names else [s for s in catalog if s.bindings]

    async def work(gateway: Gateway) -> dict[str, LockFile]:
        locks = {}
        for skill in skills:
            servers = {b.name: lock_server(b, await gateway.pool.get(b).tools()) for b in skill.bindings}
            locks[skill.name] = LockFile(servers=servers)
        return locks

    locks = _with_gateway(catalog, work)
    drifted = False
    report: dict[str, Any] = {}
    for skill in skills:
        path = skill.dir / LOCK_NAME
        new = locks[skill.name]
        if not check:
            written = not path.is_file() or path.read_text(encoding="utf-8") != new.dumps()
            if written:
                path.write_text(new.dumps(), encoding="utf-8")
            tools = sum(len(s.tools) for s in new.servers.values())
            report[skill.name] = {"path": str(path), "tools": tools, "written": written}
            if written and not as_json:
                click.echo(f"locked {skill.name}: {count(tools, 'tool')}")
            continue
        changes = _lock_drift(skill, new)
        report[skill.name] = {"path": str(path), "changes": changes}
        if not as_json:
            for change in changes:
                click.echo(f"{skill.name}: {change}")
        drifted = drifted or bool(changes)
    if as_json:
        _print_json({"skills": report, **({"drift": drifted} if check else {})})
    if check:
        click.echo(
            "locks match the live servers"
            if not drifted
            else "drift found: review, then run `skillgate lock`",
            err=True,
        )
        if drifted:
            sys.exit(1)


def _lock_drift(skill: Skill, live: LockFile) -> list[str]:
    from skillgate.skills.lock import server_changes

    if skill.lock is None:
        return ["no tools.lock.json (run `skillgate lock`)"]
    changes: list[str] = []
    for name in sorted(set(skill.lock.servers) | set(live.servers)):
        old, new = skill.lock.servers.get(name), live.servers.get(name)
        if old is None or new is None:
            changes.append(f"server {name!r} {'not locked' if old is None else 'no longer bound'}")
            continue
        binding = next(b for b in skill.bindings if b.name == name)
        changes += [str(c) for c in server_changes(old, binding, [t.as_tool() for t in new.tools])]
    return changes


@main.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--since", help="Only events after this: 7d, 12h, 30m, or an ISO date.")
@click.option(
    "--catalog",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also list its skills no search surfaced.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def stats(logs: tuple[Path, ...], since: str | None, catalog: Path | None, as_json: bool) -> None:
    """What agents did with the skills, from audit logs (LOGS: the file and its rotated .1, .2...).

    Per skill: surfaced by search, loaded, called, failed, p50/p99 latency; the searches no
    skill answered; with --catalog, the skills no search surfaced.
    """
    from skillgate.observe.usage import format_text, parse_since, read_events, usage

    try:
        moment = parse_since(since) if since else None
    except ValueError:
        raise click.UsageError(f"--since {since!r}: write 7d, 12h, 30m or an ISO date") from None
    names = list(_load(catalog).skills) if catalog is not None else None
    report = usage(read_events(list(logs), moment), names)
    if as_json:
        _print_json(report.as_dict())
    else:
        click.echo(format_text(report))


@main.command()
@click.argument("args", nargs=-1, required=True, metavar="[DIR] SKILL TOOL")
@click.option("--args", "raw", default=None, metavar="JSON", help="The tool's arguments as one JSON object.")
@click.option("--arg", "pairs", multiple=True, metavar="K=V", help="One argument (JSON or text).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole CallToolResult as JSON.")
@DRIFT_OPTION
def call(
    args: tuple[str, ...], raw: str | None, pairs: tuple[str, ...], as_json: bool, drift: DriftPolicy
) -> None:
    """Call TOOL of SKILL through the gateway, to debug a binding."""
    import mcp_types as types

    from skillgate.tools.models import dump

    directory, (skill, tool) = _split(args, 2, "[DIR] SKILL TOOL")
    arguments: dict[str, Any] = {}
    if raw is not None:
        try:
            arguments = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise click.UsageError(f"--args is not valid JSON: {exc.msg}") from None
        if not isinstance(arguments, dict):
            raise click.UsageError("--args must be a JSON object")
    arguments.update(_parse_vars(pairs))
    catalog = _load(directory)

    async def work(gateway: Gateway) -> types.CallToolResult:
        return await gateway.call_skill(skill, tool, arguments)

    result = _with_gateway(catalog, work, drift)
    if as_json:
        _print_json(result.model_dump(mode="json", by_alias=True, exclude_none=True))
    else:
        for block in result.content:
            click.echo(block.text if isinstance(block, types.TextContent) else json.dumps(dump(block)))
    if result.is_error:
        sys.exit(1)
