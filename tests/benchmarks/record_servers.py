"""Record the real tool lists of real MCP servers into fixture files, once.

Run: make record-servers   (installs the servers, then runs this script)
Each server is started over stdio with placeholder credentials (listing tools needs none),
and its full `tools/list` is written to tests/benchmarks/fixtures/servers/<name>.json, sorted,
exactly as a directly connected agent would receive it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "servers"
REPO = HERE.parent.parent
NPM = REPO / ".npm" / "node_modules" / "@modelcontextprotocol"
NPM_BENCH = REPO / ".npm-bench" / "node_modules" / "@modelcontextprotocol"
BIN = Path(sys.executable).parent
PLACEHOLDER = "placeholder-credential-for-listing-tools"


def node(package: Path, *args: str, **env: str) -> dict[str, Any]:
    main = json.loads((package / "package.json").read_text()).get("bin")
    script = main if isinstance(main, str) else next(iter(main.values()))
    return {"command": "node", "args": [str(package / script), *args], "env": env, "package": package.name}


SERVERS: dict[str, dict[str, Any]] = {
    "time": {"command": str(BIN / "mcp-server-time"), "args": [], "env": {}, "package": "mcp-server-time"},
    "git": {"command": str(BIN / "mcp-server-git"), "args": ["--repository", str(REPO)], "env": {},
            "package": "mcp-server-git"},
    "fetch": {"command": str(BIN / "mcp-server-fetch"), "args": [], "env": {}, "package": "mcp-server-fetch"},
    "filesystem": node(NPM / "server-filesystem", str(REPO)),
    "everything": node(NPM / "server-everything", "stdio"),
    "memory": node(NPM_BENCH / "server-memory", MEMORY_FILE_PATH="/tmp/skillgate-bench-memory.jsonl"),
    "sequential-thinking": node(NPM_BENCH / "server-sequential-thinking"),
    "github": node(NPM_BENCH / "server-github", GITHUB_PERSONAL_ACCESS_TOKEN=PLACEHOLDER),
    "gitlab": node(NPM_BENCH / "server-gitlab", GITLAB_PERSONAL_ACCESS_TOKEN=PLACEHOLDER),
    "slack": node(NPM_BENCH / "server-slack", SLACK_BOT_TOKEN=PLACEHOLDER, SLACK_TEAM_ID="T0000000"),
    "brave-search": node(NPM_BENCH / "server-brave-search", BRAVE_API_KEY=PLACEHOLDER),
    "google-maps": node(NPM_BENCH / "server-google-maps", GOOGLE_MAPS_API_KEY=PLACEHOLDER),
    "puppeteer": node(NPM_BENCH / "server-puppeteer"),
    "everart": node(NPM_BENCH / "server-everart", EVERART_API_KEY=PLACEHOLDER),
    "aws-kb-retrieval": node(NPM_BENCH / "server-aws-kb-retrieval", AWS_ACCESS_KEY_ID=PLACEHOLDER,
                             AWS_SECRET_ACCESS_KEY=PLACEHOLDER, AWS_REGION="us-east-1"),
}  # fmt: skip


async def record(name: str, spec: dict[str, Any]) -> int:
    params = StdioServerParameters(command=spec["command"], args=spec["args"], env=spec["env"] or None)
    tools: list[dict[str, Any]] = []
    with anyio.fail_after(60):
        async with Client(params) as client:
            cursor = None
            while True:
                page = await client.list_tools(cursor=cursor)
                tools += [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in page.tools]
                cursor = page.next_cursor
                if not cursor:
                    break
    tools.sort(key=lambda t: t["name"])
    document = {"server": name, "package": spec["package"], "tools": tools}
    (FIXTURES / f"{name}.json").write_text(
        json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
    return len(tools)


async def main() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, spec in SERVERS.items():
        try:
            count = await record(name, spec)
            print(f"{name}: {count} tools")
        except Exception as exc:  # a server that cannot start here is reported, the others still recorded
            print(f"{name}: FAILED {type(exc).__name__}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    anyio.run(main)
