"""This checkout against another one (e.g. the commit before a change), measured interleaved in
one run, so both see the same machine load: call_skill p50/p99 as a ratio to a direct call
(stdio and HTTP, both protocol eras), initialize, list_skills/load_skill over stdio, and
load_skill requests per second over HTTP.

Run: python -m tests.benchmarks.versus --before DIR [--calls N]
     (DIR: a checkout of the other version, e.g. `git worktree add /tmp/before HEAD~3`)
Writes tests/benchmarks/results/versus.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from tests.benchmarks.core import publish, summary
from tests.benchmarks.latency import TIME, TIME_CALL, interleaved
from tests.conftest import EXAMPLES, REPO, faulty_http, write_skill
from tests.support.replica import serving

ECHO = {"name": "echoes", "tool": "echo", "arguments": {"text": "hi"}}


def cache_home(checkout: Path) -> str:
    """Each version's own cache folder: their cache files would replace each other's."""
    return str(Path(tempfile.gettempdir()) / "skillgate-versus" / checkout.name)


def stdio_gateway(checkout: Path, catalog: Path, lanes: bool = True) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "skillgate", "serve", str(catalog)], cwd=str(checkout),
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(checkout), "XDG_CACHE_HOME": cache_home(checkout),
             "SKILLGATE_CALL_LANE": "on" if lanes else "off"},
    )  # fmt: skip


async def stdio_calls(before: Path, n: int, mode: str) -> dict[str, Any]:
    server = ["mcp-server-time", "--local-timezone", "UTC"]
    async with (
        Client(StdioServerParameters(command=server[0], args=server[1:]), mode=mode) as direct,
        Client(stdio_gateway(before, EXAMPLES), mode=mode) as old,
        Client(stdio_gateway(REPO, EXAMPLES), mode=mode) as new,
        Client(stdio_gateway(REPO, EXAMPLES, lanes=False), mode=mode) as sdk,
    ):
        return await interleaved(
            direct, ("get_current_time", TIME), TIME_CALL, n, before=old, after=new, after_lanes_off=sdk
        )


async def stdio_meta(before: Path, n: int) -> dict[str, Any]:
    """initialize (start + handshake + first tools/list), list_skills and load_skill over stdio."""
    figures: dict[str, Any] = {}
    starts: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(max(3, n // 30)):
        for name, checkout in (("before", before), ("after", REPO)):
            started = time.perf_counter()
            async with Client(stdio_gateway(checkout, EXAMPLES)) as client:
                await client.list_tools()
                starts[name].append((time.perf_counter() - started) * 1000)
    figures["initialize"] = {name: summary(times) for name, times in starts.items()}
    async with (
        Client(stdio_gateway(before, EXAMPLES)) as old,
        Client(stdio_gateway(REPO, EXAMPLES)) as new,
    ):
        for tool, arguments in (
            ("list_skills", {"query": "time in Tokyo"}),
            ("load_skill", {"name": "time-zones"}),
        ):
            times: dict[str, list[float]] = {"before": [], "after": []}
            for i in range(n + 10):
                for name, client in (("before", old), ("after", new)):
                    started = time.perf_counter()
                    await client.call_tool(tool, arguments)
                    if i >= 10:
                        times[name].append((time.perf_counter() - started) * 1000)
            figures[tool] = {name: summary(t) for name, t in times.items()}
    return figures


async def http_calls(upstream: str, urls: dict[str, str], n: int, mode: str) -> dict[str, Any]:
    async with (
        Client(upstream, mode=mode) as direct,
        Client(urls["before"], mode=mode) as old,
        Client(urls["after"], mode=mode) as new,
    ):
        return await interleaved(direct, ("echo", {"text": "hi"}), ECHO, n, before=old, after=new)


async def http_rate(urls: dict[str, str], clients: int, calls: int, rounds: int) -> dict[str, Any]:
    """load_skill requests per second with `clients` concurrent clients, rounds alternating."""
    rates: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(rounds):
        for name, url in urls.items():

            async def one(url: str = url) -> None:
                async with Client(url) as client:
                    for _ in range(calls):
                        await client.call_tool("load_skill", {"name": "echoes"})

            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for _ in range(clients):
                    tg.start_soon(one)
            rates[name].append(clients * calls / (time.perf_counter() - started))
    return {name: round(sorted(r)[len(r) // 2], 1) for name, r in rates.items()}


def http_figures(before: Path, n: int) -> dict[str, Any]:
    with faulty_http() as upstream, tempfile.TemporaryDirectory() as tmp:
        write_skill(Path(tmp), "echoes", "Echo.", servers={"f": {"url": upstream, "allowedTools": ["echo"]}})
        argv = [sys.executable, "-m", "skillgate", "serve", tmp, "--http", "--port", "0", "--warm"]

        def env(checkout: Path) -> list[str]:
            return ["env", f"XDG_CACHE_HOME={cache_home(checkout)}"]

        with (
            serving([*env(before), *argv], cwd=before) as (_, old),
            serving([*env(REPO), *argv], cwd=REPO) as (_, new),
        ):
            urls = {"before": old, "after": new}
            eras = ("auto", "legacy")
            return {
                "calls": {mode: anyio.run(http_calls, upstream, urls, n, mode) for mode in eras},
                "load_skill_req_per_s": anyio.run(http_rate, urls, 8, max(10, n // 10), 3),
            }


def report(f: dict[str, Any]) -> str:
    def pair(p: dict[str, Any], name: str) -> str:
        m = p[name]
        return f"{name} x{m['p50_ratio']} / x{m['p99_ratio']}"

    lines = []
    for transport, pairs in (("stdio", f["stdio"]), ("HTTP", f["http"]["calls"])):
        for p in pairs.values():
            names = [k for k in ("before", "after", "after_lanes_off") if k in p]
            lines.append(
                f"call_skill {transport} {p['protocol_era']} (p50 / p99 ratio to direct "
                f"{p['direct_call']['p50_ms']} ms): " + ", ".join(pair(p, k) for k in names)
            )
    meta = f["stdio_meta"]
    for key in ("initialize", "list_skills", "load_skill"):
        b, a = meta[key]["before"], meta[key]["after"]
        lines.append(
            f"{key} over stdio p50/p99: before {b['p50_ms']}/{b['p99_ms']} ms, "
            f"after {a['p50_ms']}/{a['p99_ms']} ms"
        )
    rate = f["http"]["load_skill_req_per_s"]
    lines.append(f"HTTP load_skill, 8 clients: before {rate['before']} req/s, after {rate['after']} req/s")
    return "\n".join(lines)  # fmt: skip


def main(before: Path, n: int) -> dict[str, Any]:
    return {
        "before": str(before),
        "calls_per_figure": n,
        "stdio": {mode: anyio.run(stdio_calls, before, n, mode) for mode in ("auto", "legacy")},
        "stdio_meta": anyio.run(stdio_meta, before, n),
        "http": http_figures(before, n),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the other version")
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    publish("versus", main(args.before.resolve(), args.calls), report)
