"""The client snippets in the README and the MCP Registry server.json, parsed and run."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from skillgate import __version__
from tests.conftest import EXAMPLES, REPO

pytestmark = pytest.mark.anyio

README = (REPO / "README.md").read_text()
SECTION = README.split("## Connecting clients", 1)[1].split("\n## ", 1)[0]
SNIPPETS = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", SECTION, re.DOTALL)]
SKILLGATE = shutil.which("skillgate", path=str(REPO / ".venv" / "bin")) or "skillgate"


def _stdio_entries() -> list[dict[str, Any]]:
    entries = []
    for snippet in SNIPPETS:
        for entry in [*snippet.get("mcpServers", {}).values(), *snippet.get("servers", {}).values()]:
            if "command" in entry:
                entries.append(entry)
    return entries


def test_every_client_snippet_is_a_known_shape() -> None:
    assert len(SNIPPETS) == 3
    for snippet in SNIPPETS:
        (key,) = snippet  # "mcpServers" (Claude Desktop, Cursor, most clients) or "servers" (VS Code)
        assert key in ("mcpServers", "servers")
        for entry in snippet[key].values():
            if key == "servers":
                assert entry["type"] in ("stdio", "http")
            assert ("command" in entry and isinstance(entry["args"], list)) or entry["url"].endswith("/mcp")


@pytest.mark.parametrize("entry", _stdio_entries(), ids=lambda e: " ".join(e["args"]))
async def test_every_stdio_snippet_starts_a_serving_skillgate(entry: dict[str, Any]) -> None:
    assert entry["command"] == "skillgate"
    args = [str(EXAMPLES) if a == "/path/to/skills" else a for a in entry["args"]]
    async with Client(StdioServerParameters(command=SKILLGATE, args=args, cwd=str(REPO))) as client:
        names = [t.name for t in (await client.list_tools()).tools]
    assert names == ["list_skills", "load_skill", "call_skill"]


SERVER_JSON = json.loads((REPO / "server.json").read_text())
NAME = re.compile(r"^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$")  # reverse-DNS namespace / server name
RANGE = re.compile(r"[\^~<>=*x]|^latest$")


def test_server_json_meets_the_registry_rules() -> None:
    s = SERVER_JSON
    assert s["$schema"].startswith("https://static.modelcontextprotocol.io/schemas/")
    assert NAME.match(s["name"]) and s["name"].count("/") == 1 and 3 <= len(s["name"]) <= 200
    assert 1 <= len(s["description"]) <= 100
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert s["version"] == project["version"] == __version__ and not RANGE.search(s["version"])
    (package,) = s["packages"]
    assert {"registryType", "identifier", "version", "transport"} <= set(package)
    assert package["registryType"] == "pypi" and package["identifier"] == project["name"]
    assert package["version"] == s["version"] and package["transport"] == {"type": "stdio"}
    for argument in package["packageArguments"]:
        assert argument["type"] == "positional" and ("value" in argument or "valueHint" in argument)
    # PyPI ownership: the package's README carries the server name
    assert f"mcp-name: {s['name']}" in README


async def test_server_json_arguments_are_the_serve_command() -> None:
    (package,) = SERVER_JSON["packages"]
    args = [a.get("value", str(EXAMPLES)) for a in package["packageArguments"]]
    assert args[0] == "serve"
    async with Client(StdioServerParameters(command=SKILLGATE, args=args, cwd=str(REPO))) as client:
        assert len((await client.list_tools()).tools) == 3
