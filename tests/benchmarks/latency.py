"""Latency in one run: call_skill through skillgate versus a direct call to the same upstream
tool (stdio and HTTP, same protocol era), and list_skills / load_skill in process and over stdio.

Run: make bench   (or: python -m tests.benchmarks.latency [--calls N])
Writes tests/benchmarks/results/latency.json.
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

from tests.benchmarks.core import publish, summary, timed
from tests.conftest import EXAMPLES, REPO, everything_server, faulty_http, gateway_client, write_skill
from tests.support.replica import replica

TIME = {"timezone": "Asia/Tokyo"}
TIME_CALL = {"name": "time-zones", "tool": "get_current_time", "arguments": TIME}
ECHO_CALL = {"name": "echoes", "tool": "echo", "arguments": {"message": "hi"}}


def ratio(via: dict[str, float], direct: dict[str, float]) -> float:
    return round(via["p50_ms"] / direct["p50_ms"], 3)


async def interleaved(
    direct: Client, call: tuple[str, dict[str, Any]], through: dict[str, Any], n: int, **via: Client
) -> dict[str, Any]:
    """The same tool called directly and through each of `via`, turn about, after a warm-up;
    ratios are to the direct call. A `via` client named `bare_relay` makes the direct call
    (through a relay process); the others call it with call_skill(`through`)."""

    def send(name: str, client: Client) -> Any:
        if name in ("direct", "bare_relay"):
            return client.call_tool(*call)
        return client.call_tool("call_skill", through)

    clients = {"direct": direct, **via}
    for _ in range(20):
        for name, client in clients.items():
            await send(name, client)
    times: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(n):
        for name, client in clients.items():
            started = time.perf_counter()
            await send(name, client)
            times[name].append((time.perf_counter() - started) * 1000)
    d = summary(times["direct"])
    figures: dict[str, Any] = {"protocol_era": direct.protocol_version, "direct_call": d}
    for name in via:
        v = summary(times[name])
        figures[name] = {
            **v,
            "p50_ratio": round(v["p50_ms"] / d["p50_ms"], 3),
            "p99_ratio": round(v["p99_ms"] / d["p99_ms"], 3),
        }
    return figures


def gateway_params(catalog: Path, lanes: bool = True) -> StdioServerParameters:
    lane = "on" if lanes else "off"
    return StdioServerParameters(
        command=sys.executable, args=["-m", "skillgate", "serve", str(catalog)], cwd=str(REPO),
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "SKILLGATE_CALL_LANE": lane},
    )  # fmt: skip


async def era_pair(n: int, mode: str) -> dict[str, Any]:
    """Over stdio in one protocol era: direct, through skillgate (fast lanes on and off) and
    through a bare Python relay, calls interleaved."""
    server = ["mcp-server-time", "--local-timezone", "UTC"]
    relay = StdioServerParameters(
        command=sys.executable, args=["-m", "tests.benchmarks.relay", *server], cwd=str(REPO)
    )
    async with (
        Client(StdioServerParameters(command=server[0], args=server[1:]), mode=mode) as direct,
        Client(gateway_params(EXAMPLES), mode=mode) as lanes,
        Client(gateway_params(EXAMPLES, lanes=False), mode=mode) as sdk,
        Client(relay, mode=mode) as bare,
    ):
        return await interleaved(
            direct,
            ("get_current_time", TIME),
            TIME_CALL,
            n,
            call_skill=lanes,
            call_skill_sdk_path=sdk,
            bare_relay=bare,
        )


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
    async with Client(gateway_params(EXAMPLES)) as client:
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
    with everything_server("streamableHttp", "/mcp") as everything, tempfile.TemporaryDirectory() as tmp:
        write_skill(
            Path(tmp),
            "echoes",
            "Echo.",
            servers={"everything": {"url": everything, "allowedTools": ["echo"]}},
        )
        with replica(Path(tmp), "--warm") as (_, gateway):
            return anyio.run(http_pair, everything, gateway, n)


async def http_era_pair(upstream: str, gateways: tuple[str, str], n: int, mode: str) -> dict[str, Any]:
    """Over HTTP in one protocol era: direct, and through skillgate with its fast lanes on and
    off, calls interleaved."""
    echo = {"name": "echoes", "tool": "echo", "arguments": {"text": "hi"}}
    async with (
        Client(upstream, mode=mode) as direct,
        Client(gateways[0], mode=mode) as lanes,
        Client(gateways[1], mode=mode) as sdk,
    ):
        return await interleaved(
            direct, ("echo", {"text": "hi"}), echo, n, call_skill=lanes, call_skill_sdk_path=sdk
        )


def http_eras(n: int) -> dict[str, Any]:
    """Both eras over HTTP, with an SDK server (tests/servers/faulty.py) as the HTTP upstream."""
    with faulty_http() as url, tempfile.TemporaryDirectory() as tmp:
        write_skill(Path(tmp), "echoes", "Echo.", servers={"f": {"url": url, "allowedTools": ["echo"]}})
        with replica(Path(tmp), "--warm") as (_, lanes):
            os.environ["SKILLGATE_CALL_LANE"] = "off"
            try:
                with replica(Path(tmp), "--warm") as (_, sdk):
                    return {
                        mode: anyio.run(http_era_pair, url, (lanes, sdk), n, mode)
                        for mode in ("auto", "legacy")
                    }
            finally:
                del os.environ["SKILLGATE_CALL_LANE"]


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

    def ratios(m: dict[str, float]) -> str:
        return f"{fmt(m)} (p50 x{m['p50_ratio']}, p99 x{m['p99_ratio']})"

    eras = [
        f"{transport}, {pair['protocol_era']}, interleaved: direct {fmt(pair['direct_call'])}; call_skill "
        f"{ratios(pair['call_skill'])} [targets x1.15, x1.3]; with the fast lanes off "
        f"{ratios(pair['call_skill_sdk_path'])}"
        + (f"; a bare Python relay {ratios(pair['bare_relay'])}" if "bare_relay" in pair else "")
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
    publish("latency", figures, report)
