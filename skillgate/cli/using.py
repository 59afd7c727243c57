"""Using a catalog as an agent would: `list`, `search`, `call`, and `stats` over audit logs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from skillgate.cli.app import (
    CONFIG_OPTION,
    DRIFT_OPTION,
    _load,
    _parse_vars,
    _print_json,
    _print_page,
    _split,
    _with_gateway,
    main,
)

# Each command imports what it uses, so `skillgate --help` or `skillgate list` never loads the
# MCP SDK, the HTTP stack, numpy or the tokenizer.
if TYPE_CHECKING:
    import mcp_types as types

    from skillgate.skills.binding import DriftPolicy
    from skillgate.tools.gateway import Gateway

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


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
    from skillgate.base.errors import UsageError
    from skillgate.observe.usage import format_text, not_audit_logs, parse_since, read_events, usage

    try:
        moment = parse_since(since) if since else None
    except ValueError:
        raise click.UsageError(f"--since {since!r}: write 7d, 12h, 30m or an ISO date") from None
    problems = not_audit_logs(list(logs))
    if problems:
        raise UsageError("; ".join(problems))
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
