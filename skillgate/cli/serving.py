"""`skillgate serve` and `skillgate preview`: the long-running commands."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from skillgate.base.errors import UsageError
from skillgate.cli.app import _load, main

# Each command imports what it uses, so `skillgate --help` or `skillgate list` never loads the
# MCP SDK, the HTTP stack, numpy or the tokenizer.
if TYPE_CHECKING:
    from skillgate.skills.binding import DriftPolicy

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


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
