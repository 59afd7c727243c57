"""Latency in one run: call_skill through skillgate versus a direct call to the same upstream
tool (stdio and HTTP, same protocol era), and list_skills / load_skill in process and over stdio.

Run: make bench   (or: python -m tests.benchmarks.latency [--calls N])
Writes tests/benchmarks/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from tests.benchmarks.core import RESULTS, summary, timed
from tests.conftest import EXAMPLES, NPM, REPO, faulty_http, free_port, gateway_client, write_skill
from tests.support.replica import replica

TIME = {"timezone": "Asia/Tokyo"}
TIME_CALL = {"name": "time-zones", "tool": "get_current_time", "arguments": TIME}
ECHO_CALL = {"name": "echoes", "tool": "echo", "arguments": {"message": "hi"}}


def ratio(via: dict[str, float], direct: dict[str, float]) -> float:
    return round(via["p50_ms"] / direct["p50_ms"], 3)


async def interleaved(
    direct: Client, via: Client, call: tuple[str, dict[str, Any]], through: dict[str, Any], n: int
) -> dict[str, Any]:
    """The same tool called directly and through skillgate's call_skill, turn about, after a warm-up."""
    for _ in range(20):
        await direct.call_tool(*call)
        await via.call_tool("call_skill", through)
    times: dict[str, list[float]] = {"direct": [], "via": []}
    for _ in range(n):
        for side, client, name, arguments in (("direct", direct, *call), ("via", via, "call_skill", through)):
            started = time.perf_counter()
            await client.call_tool(name, arguments)
            times[side].append((time.perf_counter() - started) * 1000)
    d, v = summary(times["direct"]), summary(times["via"])
    return {
        "protocol_era": via.protocol_version,
        "direct_call": d,
        "call_skill": v,
        "p50_ratio": round(v["p50_ms"] / d["p50_ms"], 3),
        "p99_ratio": round(v["p99_ms"] / d["p99_ms"], 3),
    }


async def era_pair(n: int, mode: str) -> dict[str, Any]:
    """Direct and through skillgate over stdio in one protocol era, calls interleaved."""
    direct_params = StdioServerParameters(command="mcp-server-time", args=["--local-timezone", "UTC"])
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "skillgate", "serve", str(EXAMPLES)], cwd=str(REPO),
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    async with Client(direct_params, mode=mode) as direct, Client(params, mode=mode) as via:
        return await interleaved(direct, via, ("get_current_time", TIME), TIME_CALL, n)


async def stdio_figures(n: int) -> dict[str, Any]:
    direct_params = StdioServerParameters(command="mcp-server-time", args=["--local-timezone", "UTC"])
    async with Client(direct_params) as client:
        direct = await timed(n, lambda: client.call_tool("get_current_time", TIME))
        era = client.protocol_version
    async with gateway_client(EXAMPLES) as (client, _):
        in_process = {
            "call_skill": await timed(n, lambda: client.call_tool("call_skill", TIME_CALL)),
            "list_skills": await timed(
                n, lambda: client.call_tool("list_skills", {"query": "time in Tokyo"})
            ),
            "load_skill": await timed(n, lambda: client.call_tool("load_skill", {"name": "time-zones"})),
        }
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "skillgate", "serve", str(EXAMPLES)], cwd=str(REPO),
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    async with Client(params) as client:
        over_stdio = {
            "call_skill": await timed(n, lambda: client.call_tool("call_skill", TIME_CALL)),
            "list_skills": await timed(
                n, lambda: client.call_tool("list_skills", {"query": "time in Tokyo"})
            ),
            "load_skill": await timed(n, lambda: client.call_tool("load_skill", {"name": "time-zones"})),
        }
        era_via = client.protocol_version
    return {
        "interleaved": {mode: await era_pair(n, mode) for mode in ("auto", "legacy")},
        "protocol_era": {"direct": era, "through_skillgate": era_via},
        "direct_call": direct,
        "in_process": in_process,
        "over_stdio": over_stdio,
        "call_ratio_in_process": ratio(in_process["call_skill"], direct),
        "call_ratio_over_stdio": ratio(over_stdio["call_skill"], direct),
    }


async def http_pair(everything: str, gateway: str, n: int) -> dict[str, Any]:
    async with Client(everything, mode="legacy") as client:  # server-everything speaks the handshake era
        direct = await timed(n, lambda: client.call_tool("echo", {"message": "hi"}))
    async with Client(gateway, mode="legacy") as client:
        via = await timed(n, lambda: client.call_tool("call_skill", ECHO_CALL))
    return {
        "protocol_era": "2025-11-25 (both)",
        "direct_call": direct,
        "through_skillgate": via,
        "call_ratio": ratio(via, direct),
    }


def http_figures(n: int) -> dict[str, Any]:
    import subprocess

    port = free_port()
    upstream = subprocess.Popen(
        ["node", str(NPM / "server-everything" / "dist" / "index.js"), "streamableHttp"],
        env={**os.environ, "PORT": str(port)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        from tests.conftest import wait_for_port

        wait_for_port(port, upstream)
        everything = f"http://127.0.0.1:{port}/mcp"
        with tempfile.TemporaryDirectory() as tmp:
            write_skill(
                Path(tmp),
                "echoes",
                "Echo.",
                servers={"everything": {"url": everything, "allowedTools": ["echo"]}},
            )
            with replica(Path(tmp), "--warm") as (_, gateway):
                return anyio.run(http_pair, everything, gateway, n)
    finally:
        upstream.terminate()
        upstream.wait(10)


async def http_era_pair(upstream: str, gateway: str, n: int, mode: str) -> dict[str, Any]:
    """Direct and through skillgate over HTTP in one protocol era, calls interleaved."""
    echo = {"name": "echoes", "tool": "echo", "arguments": {"text": "hi"}}
    async with Client(upstream, mode=mode) as direct, Client(gateway, mode=mode) as via:
        return await interleaved(direct, via, ("echo", {"text": "hi"}), echo, n)


def http_eras(n: int) -> dict[str, Any]:
    """Both eras over HTTP, with an SDK server (tests/servers/faulty.py) as the HTTP upstream."""
    with faulty_http() as url, tempfile.TemporaryDirectory() as tmp:
        write_skill(Path(tmp), "echoes", "Echo.", servers={"f": {"url": url, "allowedTools": ["echo"]}})
        with replica(Path(tmp), "--warm") as (_, gateway):
            return {mode: anyio.run(http_era_pair, url, gateway, n, mode) for mode in ("auto", "legacy")}


def main(n: int) -> dict[str, Any]:
    return {
        "calls_per_figure": n,
        "stdio": anyio.run(stdio_figures, n),
        "http": http_figures(n),
        "http_interleaved": http_eras(n),
    }


def report(f: dict[str, Any]) -> str:
    s, h = f["stdio"], f["http"]

    def fmt(m: dict[str, float]) -> str:
        return f"{m['p50_ms']} / {m['p99_ms']} ms"

    inside, piped = s["in_process"], s["over_stdio"]
    eras = [
        f"{transport}, {pair['protocol_era']}, interleaved: direct {fmt(pair['direct_call'])}, call_skill "
        f"{fmt(pair['call_skill'])}: p50 x{pair['p50_ratio']} (target <= 1.15), p99 x{pair['p99_ratio']} "
        "(target <= 1.3)"
        for transport, pairs in (("stdio", s["interleaved"]), ("HTTP", f["http_interleaved"]))
        for pair in pairs.values()
    ]
    return "\n".join(
        [
            *eras,
            f"stdio upstream (mcp-server-time, {s['protocol_era']['direct']}): "
            f"direct {fmt(s['direct_call'])}",
            f"  call_skill in process {fmt(inside['call_skill'])} (x{s['call_ratio_in_process']}), "
            f"over stdio {fmt(piped['call_skill'])} (x{s['call_ratio_over_stdio']})",
            f"  list_skills in process {fmt(inside['list_skills'])}, over stdio {fmt(piped['list_skills'])}",
            f"  load_skill in process {fmt(inside['load_skill'])}, over stdio {fmt(piped['load_skill'])}",
            f"HTTP upstream (server-everything, {h['protocol_era']}): direct {fmt(h['direct_call'])}, "
            f"call_skill over HTTP {fmt(h['through_skillgate'])} (x{h['call_ratio']})",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    figures = main(parser.parse_args().calls)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(report(figures))
