"""Core figures: startup context tokens vs the upstreams' own tool lists, and meta-tool latency.

Run: make bench   (or: python -m tests.benchmarks.core [--calls N])
Prints a table and writes tests/benchmarks/results/core.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from skillgate.skills.catalog import Catalog
from skillgate.tools.startup import startup_tokens, tools_tokens
from skillgate.upstream.pool import UpstreamPool
from tests.conftest import EXAMPLES, REPO, gateway_client

RESULTS = Path(__file__).parent / "results"
TIME_CALL = {"name": "time-zones", "tool": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}


async def upstream_tokens() -> dict[str, int]:
    """Tokens of each example upstream's full tools/list, as a directly connected agent's model reads it."""
    catalog = Catalog.load(EXAMPLES)
    counts: dict[str, int] = {}
    async with UpstreamPool(os.environ) as pool:
        seen: set[str] = set()
        for skill in catalog:
            for binding in skill.bindings:
                upstream = pool.get(binding)
                if upstream.key in seen:
                    continue
                seen.add(upstream.key)
                counts[binding.name] = tools_tokens(await upstream.tools())
    return counts


async def timed(n: int, action: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    for _ in range(5):  # warm-up: upstream started, caches filled
        await action()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - start) * 1000)
    return summary(samples)


def summary(samples: list[float]) -> dict[str, float]:
    """p50 and p99 (ms) of timings in ms."""
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 3),
    }


async def latency(client: Client, n: int) -> dict[str, dict[str, float]]:
    return {
        "list_skills": await timed(n, lambda: client.call_tool("list_skills", {"query": "time in Tokyo"})),
        "load_skill": await timed(n, lambda: client.call_tool("load_skill", {"name": "time-zones"})),
        "call_skill": await timed(n, lambda: client.call_tool("call_skill", TIME_CALL)),
    }


async def direct_time_call(n: int) -> dict[str, float]:
    params = StdioServerParameters(command="mcp-server-time", args=["--local-timezone", "UTC"])
    async with Client(params) as client:
        return await timed(n, lambda: client.call_tool("get_current_time", {"timezone": "Asia/Tokyo"}))


async def main(n: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"calls_per_figure": n}
    async with gateway_client(EXAMPLES) as (client, _):
        tools = (await client.list_tools()).tools
        figures["startup_tokens"] = startup_tokens(tools, client.instructions or "")
        figures["in_process"] = await latency(client, n)
    figures["upstream_tools_tokens"] = await upstream_tokens()
    figures["upstream_tools_tokens_total"] = sum(figures["upstream_tools_tokens"].values())
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "skillgate", "serve", str(EXAMPLES)], cwd=str(REPO),
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    async with Client(params) as client:
        figures["stdio"] = await latency(client, n)
    figures["direct_time_call_stdio"] = await direct_time_call(n)
    return figures


def publish(
    name: str, figures: dict[str, Any], report: Callable[[dict[str, Any]], str] | None = None
) -> None:
    """Write a bench's figures to results/NAME.json and print its report."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    if report is not None:
        print(report(figures))


def report(figures: dict[str, Any]) -> str:
    lines = [
        f"startup context (tools/list + instructions): {figures['startup_tokens']} tokens (o200k_base)",
        f"example upstreams' full tools/list: {figures['upstream_tools_tokens_total']} tokens "
        + json.dumps(figures["upstream_tools_tokens"], sort_keys=True),
        f"{'meta-tool':<12} {'in-process p50/p99 ms':>24} {'stdio p50/p99 ms':>20}",
    ]
    for tool in ["list_skills", "load_skill", "call_skill"]:
        a, b = figures["in_process"][tool], figures["stdio"][tool]
        lines.append(f"{tool:<12} {a['p50_ms']:>12} / {a['p99_ms']:<9} {b['p50_ms']:>9} / {b['p99_ms']:<9}")
    d = figures["direct_time_call_stdio"]
    lines.append(
        f"direct get_current_time over stdio (no gateway): p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    figures = anyio.run(main, parser.parse_args().calls)
    publish("core", figures, report)
