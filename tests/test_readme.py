"""Every command the README and the docs pages show is run here, as a user would type it."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from skillgate.settings import load_settings
from tests.conftest import REPO

README = (REPO / "README.md").read_text()
PAGES = sorted((REPO / "docs").glob("*.md"))
DOCS = "\n".join([README, *(page.read_text() for page in PAGES)])  # the README first: its commands lead
COMMANDS = [line[2:].split("  #")[0].strip() for line in DOCS.splitlines() if line.startswith("$ ")]
ENV = {**os.environ, "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}


def test_the_readme_shows_the_two_commands_first() -> None:
    assert COMMANDS[:2] == ["make run", "make test"]


EXAMPLE_COMMANDS = [
    c for c in COMMANDS if c.startswith("skillgate ") and "my-skills" not in c and " serve " not in c
]
WALKTHROUGH = [c for c in COMMANDS if "my-skills" in c]
LONG_RUNNING = re.compile(r"^skillgate (serve|preview) ")


@pytest.mark.parametrize("command", EXAMPLE_COMMANDS)
def test_readme_command_succeeds(command: str) -> None:
    result = subprocess.run(shlex.split(command), cwd=REPO, env=ENV, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout or result.stderr


def test_make_run_serves_the_example_catalog_over_http() -> None:
    # `make test` is the command running this suite; `make run` is run here for real.
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run", "PORT=0"],
        cwd=REPO,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stderr is not None
    try:
        url = None
        for line in process.stderr:
            match = re.search(rb"serving 5 skills at (http://127\.0\.0\.1:\d+/mcp)", line)
            if match:
                url = match.group(1).decode()
                break
        assert url is not None, "make run did not announce its URL"

        async def use() -> None:
            async with Client(url) as client:
                result = await client.call_tool(
                    "call_skill",
                    {
                        "name": "time-zones",
                        "tool": "get_current_time",
                        "arguments": {"timezone": "Asia/Tokyo"},
                    },
                )
                assert result.structured_content is not None
                assert result.structured_content["timezone"] == "Asia/Tokyo"

        anyio.run(use)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        process.stderr.close()


def test_every_documented_diagnostic_code_exists() -> None:
    from skillgate.base.diagnostics import CODES

    documented = set(re.findall(r"^\| (SG\d{3}) \|", DOCS, re.MULTILINE))
    assert documented == set(CODES)


def test_readme_names_every_module() -> None:
    package = REPO / "skillgate"
    modules = {
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }
    assert modules == set(re.findall(r"^  ([\w/]+\.py) ", README, re.MULTILINE))


def test_the_readme_is_a_front_page_linking_every_docs_page() -> None:
    assert len(README.splitlines()) <= 400
    for page in PAGES:
        if page.name != "development.md":
            assert f"(docs/{page.name})" in README, page.name


def test_every_link_between_the_docs_opens() -> None:
    for page in [REPO / "README.md", *PAGES]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name}: {target}"


def test_every_settings_example_in_the_readme_is_valid(tmp_path: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOCS, re.DOTALL)
    assert len(blocks) >= 2
    for number, block in enumerate(blocks):
        (tmp_path / f"{number}.toml").write_text(block)
        load_settings(tmp_path / f"{number}.toml")


def test_readme_is_where_the_repository_says() -> None:
    assert Path(REPO / "README.md").is_file()


def test_readme_serve_command_runs_with_the_readme_settings_example(tmp_path: Path) -> None:
    (command,) = [c for c in COMMANDS if " serve " in c and "--config" in c]
    (toml,) = [block for block in re.findall(r"```toml\n(.*?)```", DOCS, re.DOTALL) if "[[tokens]]" in block]
    config = tmp_path / "skillgate.toml"
    config.write_text(toml)
    argv = [str(config) if a == "skillgate.toml" else a for a in shlex.split(command)] + ["--port", "0"]
    env = {**ENV, "SKILLGATE_TOKEN_VOICE": "voice-token-123", "SKILLGATE_TOKEN_ADMIN": "admin-token-123"}
    argv[argv.index("skills")] = str(REPO / "skills")
    argv[0] = str(REPO / ".venv" / "bin" / "skillgate")
    process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    try:
        url = None
        for line in process.stderr:
            match = re.search(rb"serving \d+ skills? at (http://\S+)", line)
            if match:
                url = match.group(1).decode()
                break
        assert url is not None

        async def use() -> None:
            headers = {"Authorization": "Bearer voice-token-123"}
            async with (
                httpx2.AsyncClient(headers=headers) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                listed = await client.call_tool("list_skills", {})
                assert listed.structured_content is not None
                names = [s["name"] for s in listed.structured_content["skills"]]
                assert names == ["git-history", "git-status", "time-zones"]

        anyio.run(use)
        assert (tmp_path / "skillgate-audit.jsonl").read_text().count("list_skills") == 1
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        process.stderr.close()


def test_the_walkthrough_goes_from_new_to_served(tmp_path: Path) -> None:
    """The README's "from scratch to served" commands, in order, in an empty folder."""
    assert [c.split()[1] for c in WALKTHROUGH] == ["new", "validate", "render", "preview", "serve"]
    for command in WALKTHROUGH:
        argv = shlex.split(command)
        argv[0] = str(REPO / ".venv" / "bin" / "skillgate")
        if LONG_RUNNING.match(command):
            url = run_until_announced([*argv, "--port", "0"], tmp_path)
            assert url.startswith("http://127.0.0.1:")
            continue
        result = subprocess.run(argv, cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        if argv[1] == "render":
            assert "Answer in a friendly way." in result.stdout and "tokens (o200k_base)" in result.stderr
    assert (tmp_path / "my-skills" / "release-notes" / "SKILL.md").is_file()


def run_until_announced(argv: list[str], cwd: Path) -> str:
    """Start a serving command, return the URL it announces, then stop it."""
    process = subprocess.Popen(argv, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    try:
        for line in process.stderr:
            match = re.search(rb" at (http://\S+)", line)
            if match:
                url: str = match.group(1).decode()
                with httpx2.Client() as http:
                    probe = "/healthz" if "/mcp" in url else "/index.json"
                    assert http.get(url.removesuffix("/mcp").rstrip("/") + probe).status_code == 200
                return url
        raise AssertionError(f"{argv} did not announce a URL")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        process.stderr.close()
