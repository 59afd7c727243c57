"""The cost of observability: call_skill p50 with Prometheus metrics on and off (interleaved),
then with OpenTelemetry tracing on too (exporting to an OTLP/HTTP receiver on this machine).

Run: make bench   (or: python -m tests.benchmarks.observability [--calls 500])
Writes tests/benchmarks/results/observability.json. Target (issue 14): metrics on within 3%.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import anyio
from mcp import Client

from skillgate.observe.metrics import Metrics
from skillgate.server.mcp_server import SkillgateServer
from skillgate.skills.catalog import Catalog
from skillgate.tools.gateway import Gateway
from skillgate.tools.models import META_TOOLS
from skillgate.upstream.pool import UpstreamPool
from tests.benchmarks.core import publish
from tests.conftest import EXAMPLES

TIME_CALL = {"name": "time-zones", "tool": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}


async def traced(n: int, on: bool = True) -> float:
    """call_skill p50 (metrics on), with tracing on (exporting to an OTLP/HTTP receiver on this
    machine) or off. The tracer provider is process-wide: each run is its own process."""
    from skillgate.observe import tracing
    from tests.test_tracing import Receiver

    receiver = Receiver()
    if on:
        tracing.configure(True, receiver.url, False, os.environ)
    try:
        async with UpstreamPool(os.environ) as pool:
            gateway = Gateway(Catalog.load(EXAMPLES), pool)
            async with Client(
                SkillgateServer(gateway, metrics=Metrics(gateway, tools=META_TOOLS)).server
            ) as client:  # type: ignore[arg-type]
                for _ in range(30):
                    await client.call_tool("call_skill", TIME_CALL)
                times = []
                for _ in range(n):
                    started = time.perf_counter()
                    await client.call_tool("call_skill", TIME_CALL)
                    times.append((time.perf_counter() - started) * 1000)
        return round(statistics.median(times), 4)
    finally:
        tracing.shutdown()
        receiver.server.shutdown()
        receiver.server.server_close()


async def measure(n: int) -> dict[str, Any]:
    async with UpstreamPool(os.environ) as pool:
        gateway = Gateway(Catalog.load(EXAMPLES), pool)
        plain = SkillgateServer(gateway)
        counted = SkillgateServer(gateway, metrics=Metrics(gateway, tools=META_TOOLS))
        async with Client(plain.server) as off, Client(counted.server) as on:  # type: ignore[arg-type]
            for _ in range(30):
                await off.call_tool("call_skill", TIME_CALL)
                await on.call_tool("call_skill", TIME_CALL)
            times: dict[str, list[float]] = {"off": [], "on": []}
            for _ in range(n):
                for label, client in (("off", off), ("on", on)):
                    started = time.perf_counter()
                    await client.call_tool("call_skill", TIME_CALL)
                    times[label].append((time.perf_counter() - started) * 1000)
    p50 = {label: round(statistics.median(values), 4) for label, values in times.items()}
    return {"calls": n, "p50_ms": p50, "metrics_overhead": round(p50["on"] / p50["off"] - 1, 4)}


def tracing_rounds(n: int, rounds: int = 3) -> dict[str, Any]:
    """Tracing off and on in alternating processes; the median of each side's p50s."""
    import subprocess
    import sys

    sides: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(rounds):
        for side in ("off", "on"):
            out = subprocess.run(
                [sys.executable, "-m", "tests.benchmarks.observability", "--calls", str(n),
                 "--tracing", side],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            sides[side].append(float(out.stdout.strip().splitlines()[-1]))
    off, on = statistics.median(sides["off"]), statistics.median(sides["on"])
    return {"p50_ms": {"off": off, "on": on}, "runs": sides, "tracing_overhead": round(on / off - 1, 4)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--tracing", choices=["off", "on"], help="(internal) one tracing run; prints its p50")
    options = parser.parse_args()
    if options.tracing:
        print(anyio.run(traced, options.calls, options.tracing == "on"))
        raise SystemExit(0)
    figures = anyio.run(measure, options.calls)
    figures["tracing"] = tracing_rounds(options.calls)
    publish("observability", figures)
    p50 = figures["p50_ms"]
    print(
        f"call_skill p50 in process: metrics off {p50['off']} ms, on {p50['on']} ms "
        f"({figures['metrics_overhead']:+.1%}; target within 3%)"
    )
    t = figures["tracing"]
    print(
        f"tracing (alternating processes, median of 3): off {t['p50_ms']['off']} ms, "
        f"on {t['p50_ms']['on']} ms "
        f"({t['tracing_overhead']:+.1%}; target within 10%)"
    )
