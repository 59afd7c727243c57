"""Context budget: what an agent reads from skillgate versus from the upstream servers directly.

- startup context: skillgate's `tools/list` + `instructions`, for the example catalog and for
  synthetic catalogs of 100, 1,000 and 10,000 skills built from 15 real servers' recorded tools;
- direct: the full `tools/list` of those same servers (recorded in fixtures/servers);
- tokens to the first successful call: startup + the `list_skills` answer + the `load_skill`
  answer an agent reads before a correct `call_skill` for a typical task.

Tools are counted as a model reads them (`skillgate.tools.startup.model_view`): without output
schemas, on both sides, since hosts give those to typed clients, not to models.

Run: make bench   (or: python -m tests.benchmarks.context)
Writes tests/benchmarks/results/context.json. Tokens are o200k_base (bpe-openai, offline).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types

from skillgate.base.tokens import count_tokens
from skillgate.tools.startup import STARTUP_BUDGET, startup_tokens, tools_tokens
from tests.benchmarks.catalogs import recorded_servers, write_catalog
from tests.benchmarks.core import publish
from tests.conftest import EXAMPLES, gateway_client

SIZES = [100, 1000, 10000]
TASK = "what time is it in Tokyo"


def text(result: types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))


async def measure(root: Path) -> dict[str, Any]:
    async with gateway_client(root) as (client, _):
        tools = (await client.list_tools()).tools
        startup = startup_tokens(tools, client.instructions or "")
        found = await client.call_tool("list_skills", {"query": TASK})
        assert found.structured_content is not None
        top = found.structured_content["skills"][0]["name"]
        loaded = await client.call_tool("load_skill", {"name": top})
        called = await client.call_tool(
            "call_skill", {"name": top, "tool": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}
        )
        listed, load = count_tokens(text(found)), count_tokens(text(loaded))
        return {
            "startup_tokens": startup,
            "first_call": {
                "skill": top,
                "list_skills_answer": listed,
                "load_skill_answer": load,
                "total": startup + listed + load,
                "call_ok": not called.is_error,
            },
        }


async def main() -> dict[str, Any]:
    servers = recorded_servers()
    direct = {
        name: tools_tokens([types.Tool.model_validate(t) for t in tools]) for name, tools in servers.items()
    }
    figures: dict[str, Any] = {
        "budget": STARTUP_BUDGET,
        "servers": len(servers),
        "tools": sum(len(t) for t in servers.values()),
        "direct_tools_list_tokens": direct,
        "direct_total": sum(direct.values()),
        "examples": await measure(EXAMPLES),
    }
    for size in SIZES:
        with tempfile.TemporaryDirectory() as tmp:
            write_catalog(Path(tmp), size)
            figures[f"catalog_{size}"] = await measure(Path(tmp))
    return figures


def report(f: dict[str, Any]) -> str:
    lines = [
        f"direct: {f['servers']} real servers, {f['tools']} tools: tools/list = {f['direct_total']} tokens",
        f"{'catalog':<14} {'startup':>8} {'target':>7} {'list ans':>9} {'load ans':>9} {'to 1st call':>12}",
    ]
    for key in ["examples", *(f"catalog_{s}" for s in SIZES)]:
        row, first = f[key], f[key]["first_call"]
        target = "<" + str(f["budget"])
        lines.append(
            f"{key:<14} {row['startup_tokens']:>8} {target:>7} {first['list_skills_answer']:>9} "
            f"{first['load_skill_answer']:>9} {first['total']:>12}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    figures = anyio.run(main)
    publish("context", figures, report)
