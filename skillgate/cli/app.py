"""The `skillgate` command group and what its commands share.

Exit codes: 0 success, 1 a failed check or run, 2 bad usage or configuration.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from skillgate import __version__
from skillgate.base.errors import SkillgateError, UsageError

# Each command imports what it uses, so `skillgate --help` or `skillgate list` never loads the
# MCP SDK, the HTTP stack, numpy or the tokenizer.
if TYPE_CHECKING:
    from skillgate.base.tokens import CountCache
    from skillgate.render.workers import RenderWorkers
    from skillgate.search.hybrid import Ranker
    from skillgate.settings import Settings
    from skillgate.skills.binding import DriftPolicy
    from skillgate.skills.catalog import Catalog
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
    renderer: RenderWorkers | None = None,
    counts: CountCache | None = None,
) -> T:
    import anyio

    from skillgate.tools.gateway import Gateway
    from skillgate.upstream.pool import UpstreamPool

    async def run() -> T:
        async with UpstreamPool(os.environ) as pool:
            gateway = Gateway(catalog, pool, drift, ranker, renderer, counts)
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
