"""HTTP load: throughput and p50/p99 of each meta-tool with 1, 10 and 50 concurrent clients,
against one skillgate and through nginx in front of two stateless replicas.

Run: make bench   (or: python -m tests.benchmarks.http_load [--seconds S])
The load generator is the SDK's own Client (one session per simulated agent), in this
process, on the same 2-core machine as the servers: its CPU use is part of every figure.
Writes tests/benchmarks/results/http_load.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from tests.benchmarks.core import publish
from tests.conftest import EXAMPLES
from tests.support.nginx import nginx
from tests.support.replica import replica

CALLS: dict[str, dict[str, Any]] = {
    "list_skills": {"query": "what time is it in Tokyo"},
    "load_skill": {"name": "time-zones"},
    "call_skill": {"name": "time-zones", "tool": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}},
}
CONCURRENCY = [1, 10, 50]


async def load(url: str, tool: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0

    async def agent() -> None:
        nonlocal errors
        async with Client(url) as client:
            await client.call_tool(tool, CALLS[tool])  # session set up and warm before timing
            await ready.wait()
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                result = await client.call_tool(tool, CALLS[tool])
                latencies.append((time.perf_counter() - start) * 1000)
                errors += bool(result.is_error)

    ready = anyio.Event()
    deadline = float("inf")
    async with anyio.create_task_group() as tg:
        for _ in range(clients):
            tg.start_soon(agent)
        await anyio.sleep(1.0 + clients * 0.02)  # let every agent connect
        deadline = time.perf_counter() + seconds
        ready.set()
    latencies.sort()
    return {
        "requests_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 2),
        "requests": len(latencies),
        "errors": errors,
    }


async def measure(url: str, seconds: float) -> dict[str, Any]:
    return {tool: {str(c): await load(url, tool, c, seconds) for c in CONCURRENCY} for tool in CALLS}


def main(seconds: float) -> dict[str, Any]:
    figures: dict[str, Any] = {"seconds_per_figure": seconds}
    with replica(EXAMPLES) as (_, url):
        figures["one_gateway"] = anyio.run(measure, url, seconds)
    with (
        tempfile.TemporaryDirectory() as tmp,
        replica(EXAMPLES, "--stateless") as (_, url1),
        replica(EXAMPLES, "--stateless") as (_, url2),
    ):
        ports = [int(u.split(":")[2].split("/")[0]) for u in (url1, url2)]
        with nginx(Path(tmp) / "nginx", ports) as base:
            figures["nginx_two_replicas"] = anyio.run(measure, base + "/mcp", seconds)
    return figures


def report(figures: dict[str, Any]) -> str:
    lines = [
        f"{'setup':<20} {'tool':<12} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
    ]
    for setup in ("one_gateway", "nginx_two_replicas"):
        for tool, rows in figures[setup].items():
            for clients, row in rows.items():
                lines.append(
                    f"{setup:<20} {tool:<12} {clients:>7} {row['requests_per_s']:>8} {row['p50_ms']:>8} "
                    f"{row['p99_ms']:>8} {row['errors']:>6}"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    figures = main(parser.parse_args().seconds)
    publish("http_load", figures, report)
