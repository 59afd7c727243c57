"""The author's commands: `new`, `validate`, `eval`, `render`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from skillgate.authoring.evals import DEFAULT_K
from skillgate.base.errors import UsageError
from skillgate.base.wording import count
from skillgate.cli.app import (
    CONFIG_OPTION,
    _load,
    _parse_vars,
    _print_json,
    _read_vars_file,
    _split,
    _with_gateway,
    format_option,
    main,
)

# Each command imports what it uses, so `skillgate --help` or `skillgate list` never loads the
# MCP SDK, the HTTP stack, numpy or the tokenizer.
if TYPE_CHECKING:
    from skillgate.authoring.evals import QueryResult
    from skillgate.base.diagnostics import Diagnostic
    from skillgate.skills.catalog import Catalog
    from skillgate.tools.gateway import Gateway

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


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
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@format_option("path:line:col: CODE message")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@CONFIG_OPTION
def validate(paths: tuple[Path, ...], output: str, as_json: bool, strict: bool, config: Path | None) -> None:
    """Check the catalogs at PATHS (default: .); report every problem at once; exit 1 on errors.

    Each skill is rendered with its defaults under the render limits of the settings (--config),
    as the server renders it.
    """
    from skillgate.settings import load_settings

    settings = load_settings(config)
    renderer = settings.render.workers_pool()
    renderer.prestart_in_background()  # a worker starts while the rest imports and the catalogs load
    try:
        from skillgate.authoring.checks import check_catalog
        from skillgate.base.diagnostics import Severity
        from skillgate.base.disk_cache import DiskCache
        from skillgate.skills.catalog import Catalog

        cache = DiskCache(settings.cache_folder(os.environ), "catalog")
        catalogs = [Catalog.load(p, cache) for p in (paths or (Path("."),))]
        diagnostics = [d for c in catalogs for d in check_catalog(c, renderer)]
    finally:
        renderer.close()
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
            f"{count(skills, 'skill')} {'loaded' if errors else 'valid'}; "
            f"{count(len(diagnostics) - warnings, 'error')}, "
            f"{count(warnings, 'warning')}",
            err=True,
        )
    if errors:
        sys.exit(1)


def _html(markdown: str) -> str:
    from skillgate.render.html import markdown_to_html  # markdown-it loads only for --format html

    return markdown_to_html(markdown)


def github_annotation(d: Diagnostic) -> str:
    """A GitHub Actions workflow command that annotates the file and line."""
    from skillgate.base.diagnostics import Severity

    def escape(text: str, property_value: bool = False) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return text.replace(":", "%3A").replace(",", "%2C") if property_value else text

    level = "error" if d.severity is Severity.ERROR else "warning"
    properties = f"file={escape(d.path, True)},line={d.line},col={d.col},title={escape(d.code, True)}"
    return f"::{level} {properties}::{escape(d.message)}"


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

    skill = catalog.skills[result.skill]
    place = f"ranked #{result.rank}" if result.rank is not None else "did not match"
    winners = f"; outranked by {', '.join(result.outranked_by)}" if result.outranked_by else ""
    return Diagnostic.at(
        catalog.show(skill.dir / EVAL_QUERIES),
        "SG601",
        f"{result.query!r} {place} for {result.skill} (top {k} needed){winners}; make the description "
        "or headings say what this request asks for, in its words",
        result.line,
    )


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
    from skillgate.render.workers import RenderWorkers

    renderer = RenderWorkers()
    renderer.prestart_in_background()  # a render worker starts while the rest loads

    from skillgate.base.disk_cache import DiskCache
    from skillgate.base.tokens import ENCODING, CountCache, token_counts
    from skillgate.settings import Settings
    from skillgate.tools.models import dump

    directory, (name,) = _split(args, 1, "[DIR] NAME")
    catalog = _load(directory)
    variables = {**_read_vars_file(vars_file), **_parse_vars(pairs)} if vars_file else _parse_vars(pairs)

    async def work(gateway: Gateway) -> Any:
        return await gateway.load_skill(name, variables, section)

    # counts kept on disk by text: rendering the same text again loads no tokenizer
    counts = CountCache(DiskCache(Settings().cache_folder(os.environ), "tokens"), "render")
    loaded = _with_gateway(catalog, work, renderer=renderer, counts=counts)
    tokens = token_counts(loaded.instructions, [dump(t) for t in loaded.tools], counts.count)
    counts.save()
    html = _html(loaded.instructions) if output == "html" else None
    if as_json:
        _print_json({**dump(loaded), **({"html": html} if html is not None else {}), "tokens": tokens})
        return
    text = loaded.instructions if html is None else html
    click.echo(text, nl=not text.endswith("\n"))
    for warning in loaded.warnings or []:  # e.g. tools unavailable: the counts below lack them
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"tokens ({ENCODING}): instructions {tokens['instructions']}, tool schemas {tokens['tools']}, "
        f"total {tokens['total']}",
        err=True,
    )
