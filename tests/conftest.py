"""Shared fixtures: catalogs written on disk, real upstream servers, a gateway client."""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, settings
from mcp import Client, Implementation

from skillgate.render.workers import RenderWorkers
from skillgate.search.hybrid import Ranker
from skillgate.server.mcp_server import SkillgateServer
from skillgate.skills.catalog import Catalog
from skillgate.skills.profile import EVERYTHING, Profile
from skillgate.tools.gateway import Gateway
from skillgate.upstream.pool import UpstreamPool

# Fuzzing: "ci" (make test) is bounded and derandomized; "fuzz" (make fuzz) searches wider.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
settings.register_profile(
    "ci", max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=_SLOW_OK
)
settings.register_profile("fuzz", max_examples=2000, deadline=None, suppress_health_check=_SLOW_OK)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "skills"
NPM = REPO / ".npm" / "node_modules" / "@modelcontextprotocol"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Vector caches of the CLI and servers the tests start go to a temporary folder, not ~/.cache."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


def write_skill(
    root: Path,
    name: str,
    description: str = "A skill for tests.",
    body: str = "# Title\n\nDo the thing.\n",
    servers: dict[str, Any] | None = None,
    folder: Path | None = None,
) -> Path:
    """Write a skill folder under `root` (or `root/folder`) and return it."""
    skill_dir = (folder or root) / name
    skill_dir.mkdir(parents=True, exist_ok=True)
    frontmatter = f"---\nname: {name}\ndescription: {json.dumps(description)}\n---\n"
    (skill_dir / "SKILL.md").write_text(frontmatter + textwrap.dedent(body))
    if servers is not None:
        (skill_dir / "mcp.json").write_text(json.dumps({"mcpServers": servers}, indent=2))
    return skill_dir


async def started(marker: Path, seconds: float = 20) -> None:
    """Wait until the faulty server's `wait_for_cancel(marker)` runs: the call reached it."""
    with anyio.fail_after(seconds):
        while not Path(f"{marker}.started").exists():
            await anyio.sleep(0.01)


PREFORK_VARIABLE = "SKILLGATE_TEST_PREFORK"
LAUNCH = REPO / "tests" / "servers" / "launch.py"


@pytest.fixture(scope="session", autouse=True)
def _prefork(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One fork server per pytest worker for the SDK-based test servers (tests/servers/prefork.py):
    each start of the fault-injecting server is then a fork, not a second of importing the SDK."""
    folder = Path(tempfile.mkdtemp(prefix="sg-prefork-"))  # a Unix socket path must stay short
    path = folder / "socket"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.servers.prefork", str(path)],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},  # no interpreter flags
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,  # a Ctrl-C at the terminal is the pytest worker's to handle
    )
    assert process.stdout is not None
    if process.stdout.readline() == b"ready\n":  # else the servers start as processes, slower
        os.environ[PREFORK_VARIABLE] = str(path)
    yield
    os.environ.pop(PREFORK_VARIABLE, None)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.close()  # its signal to end
    process.wait(20)
    process.stdout.close()
    shutil.rmtree(folder, ignore_errors=True)


def server_command(module: str, *options: str) -> list[str]:
    """argv that starts an SDK-based test server: through this worker's fork server when there is one."""
    socket_path = os.environ.get(PREFORK_VARIABLE)
    if socket_path is None:
        return [sys.executable, "-m", module, *options]
    return [sys.executable, "-S", str(LAUNCH), socket_path, "-m", module, *options]


def faulty_server(*options: str, **extra: Any) -> dict[str, Any]:
    """An mcp.json entry for the fault-injecting test server, started with `options`."""
    command, *args = server_command("tests.servers.faulty", *options)
    return {"command": command, "args": args, "cwd": str(REPO), **extra}


def time_server(**extra: Any) -> dict[str, Any]:
    """An mcp.json entry for mcp-server-time (from PyPI): its own code, forked like the test servers.
    The example catalog starts it by its console script."""
    command, *args = server_command("mcp_server_time", "--local-timezone", "UTC")
    return {"command": command, "args": args, **extra}


@functools.cache
def shared_renderer() -> RenderWorkers:
    """The render workers of every in-process gateway in this pytest worker: a render worker is a
    process of its own (about 0.1 s of CPU to start), and a gateway keeps its workers until the
    process ends. Tests of the workers themselves make their own. Its settings stay a Gateway's
    defaults."""
    return RenderWorkers()


@asynccontextmanager
async def gateway_client(
    root: Path,
    mode: str = "auto",
    client_info: Implementation | None = None,
    view: Profile = EVERYTHING,
    dynamic: bool = False,
    message_handler: Any = None,
    ranker: Ranker | None = None,
    **pool_options: Any,
) -> AsyncIterator[tuple[Client, UpstreamPool]]:
    """skillgate in process, driven by the SDK's Client (BM25-only search unless given a ranker)."""
    catalog = Catalog.load(root)
    async with UpstreamPool(os.environ, **pool_options) as pool:
        gateway = Gateway(catalog, pool, ranker=ranker, renderer=shared_renderer())
        app = SkillgateServer(gateway, view=view, dynamic=dynamic)
        async with Client(
            app.server,  # type: ignore[arg-type]
            mode=mode,
            client_info=client_info,
            message_handler=message_handler,
        ) as client:
            yield client, pool


def initialize_request(client: str) -> dict[str, Any]:
    """A handshake-era `initialize` request (id 1), as raw JSON-RPC, from a client named `client`."""
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": client, "version": "1"},
        },
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {seconds} s")


@contextmanager
def listening(
    argv: list[str], port: int, path: str = "", env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[str]:
    """Run a server that listens on `port`; yield `http://127.0.0.1:PORT{path}` once it does, and
    stop it afterwards."""
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        process.terminate()
        process.wait(20)


@contextmanager
def faulty_http() -> Iterator[str]:
    """The fault-injecting test server (an SDK server) over streamable HTTP; yields its /mcp URL."""
    port = free_port()
    with listening(
        server_command("tests.servers.faulty", "--http", str(port)), port, "/mcp", cwd=REPO
    ) as url:
        yield url


@pytest.fixture(scope="session")
def everything_http() -> Iterator[str]:
    """npm server-everything over streamable HTTP; yields its /mcp URL."""
    with everything_server("streamableHttp", "/mcp") as url:
        yield url


@pytest.fixture(scope="session")
def everything_sse() -> Iterator[str]:
    """npm server-everything over legacy SSE; yields its /sse URL."""
    with everything_server("sse", "/sse") as url:
        yield url


@contextmanager
def everything_server(transport: str, path: str) -> Iterator[str]:
    """npm server-everything on a free port over `transport`; yields its URL (ending in `path`)."""
    port = free_port()
    command = ["node", str(NPM / "server-everything" / "dist" / "index.js"), transport]
    with listening(command, port, path, env={**os.environ, "PORT": str(port)}) as url:
        yield url


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until_dead(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False
