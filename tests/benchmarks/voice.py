"""Voice-agent figures: each meta-tool as the LiveKit client and the SDK client see it over HTTP
(warm upstreams), the first call of a conversation with and without --warm, and the token
size of a full load versus a section load for the example skills.

Run: make bench   (or: python -m tests.benchmarks.voice [--calls N])
Writes tests/benchmarks/results/voice.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import anyio
import httpx2
from livekit.agents.llm.tool_context import get_raw_function_info
from mcp import Client

from skillgate.base.tokens import count_tokens
from skillgate.skills.catalog import Catalog
from tests.benchmarks.core import publish, timed
from tests.conftest import EXAMPLES, gateway_client
from tests.livekit_agent import skillgate_http
from tests.support.replica import replica

CALLS: dict[str, dict[str, Any]] = {
    "list_skills": {"query": "what time is it in Tokyo"},
    "load_skill": {"name": "time-zones"},
    "call_skill": {"name": "time-zones", "tool": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}},
}


async def livekit(url: str, n: int) -> dict[str, Any]:
    server = skillgate_http(url)
    await server.initialize()
    try:
        tools = {get_raw_function_info(t).name: t for t in await server.list_tools()}
        return {
            name: await timed(n, lambda name=name: tools[name](raw_arguments=CALLS[name])) for name in CALLS
        }
    finally:
        await server.aclose()


async def sdk(url: str, n: int) -> dict[str, Any]:
    async with Client(url) as client:
        return {name: await timed(n, lambda name=name: client.call_tool(name, CALLS[name])) for name in CALLS}


async def first_call(url: str, warm: bool) -> float:
    if warm:  # the conversation starts once the gateway is ready, its upstreams already started
        with anyio.fail_after(30):
            while True:
                upstreams = httpx2.get(url.removesuffix("/mcp") + "/readyz").json()["upstreams"]
                if upstreams and all(u["state"] == "ready" for u in upstreams):
                    break
                await anyio.sleep(0.05)
    async with Client(url) as client:
        start = time.perf_counter()
        result = await client.call_tool("call_skill", CALLS["call_skill"])
        assert not result.is_error
        return round((time.perf_counter() - start) * 1000, 1)  # one sample: the first call


async def section_tokens() -> dict[str, Any]:
    sizes: dict[str, Any] = {}
    async with gateway_client(EXAMPLES) as (client, _):
        for skill in Catalog.load(EXAMPLES):
            full = await client.call_tool("load_skill", {"name": skill.name})
            assert full.structured_content is not None
            sections = full.structured_content["sections"]
            leaves = [s for s in sections if s["level"] == max(x["level"] for x in sections)]
            smallest = min(leaves, key=lambda s: s["tokens"])
            part = await client.call_tool("load_skill", {"name": skill.name, "section": smallest["heading"]})
            assert part.structured_content is not None
            sizes[skill.name] = {
                "full_instructions": count_tokens(full.structured_content["instructions"]),
                "section": smallest["heading"],
                "section_instructions": count_tokens(part.structured_content["instructions"]),
            }
    return sizes


def main(n: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"calls_per_figure": n}
    with replica(EXAMPLES, "--warm") as (_, url):
        figures["livekit_http_warm"] = anyio.run(livekit, url, n)
        figures["sdk_http_warm"] = anyio.run(sdk, url, n)
    cold, warm = [], []
    for _ in range(5):
        with replica(EXAMPLES) as (_, url):
            cold.append(anyio.run(first_call, url, False))
        with replica(EXAMPLES, "--warm") as (_, url):
            warm.append(anyio.run(first_call, url, True))
    figures["first_call_ms"] = {"without_warm": cold, "with_warm": warm}
    figures["load_tokens"] = anyio.run(section_tokens)
    return figures


def report(f: dict[str, Any]) -> str:
    lines = [f"{'meta-tool':<12} {'LiveKit p50/p99 ms':>20} {'SDK p50/p99 ms':>18}"]
    for name in CALLS:
        a, b = f["livekit_http_warm"][name], f["sdk_http_warm"][name]
        lines.append(f"{name:<12} {a['p50_ms']:>9} / {a['p99_ms']:<8} {b['p50_ms']:>7} / {b['p99_ms']:<8}")
    cold, warm = f["first_call_ms"]["without_warm"], f["first_call_ms"]["with_warm"]
    cold_ms, warm_ms = statistics.median(cold), statistics.median(warm)
    lines.append(f"first call_skill: without --warm {cold_ms} ms, with --warm {warm_ms} ms")
    for name, s in f["load_tokens"].items():
        full, part = s["full_instructions"], s["section_instructions"]
        lines.append(f"{name}: full {full} tokens, section {s['section']!r} {part}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    figures = main(parser.parse_args().calls)
    publish("voice", figures, report)
