"""The cost of observability: call_skill p50 with Prometheus metrics on and off (interleaved),
then with OpenTelemetry tracing on too (exporting to an OTLP/HTTP receiver on this machine).

Run: make bench   (or: python -m tests.benchmarks.observability [--calls 500])
Writes tests/benchmarks/results/observability.json. Target (issue 14): metrics on within 3%.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import anyio
from mcp import Client

from skillgate.catalog import Catalog
from skillgate.gateway import Gateway
from skillgate.metrics import Metrics
from skillgate.pool import UpstreamPool
from skillgate.server import SkillgateServer
from tests.benchmarks.core import RESULTS
from tests.conftest import EXAMPLES

TIME_CALL = {"name": "time-zones", "tool": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}


async def traced(n: int) -> float:
    """call_skill p50 with tracing on, exporting to an OTLP/HTTP receiver on this machine."""
    from skillgate import tracing
    from tests.test_tracing import Receiver

    receiver = Receiver()
    tracing.configure(True, receiver.url, False, os.environ)
    try:
        async with UpstreamPool(os.environ) as pool:
            gateway = Gateway(Catalog.load(EXAMPLES), pool)
            async with Client(SkillgateServer(gateway, metrics=Metrics(gateway)).server) as client:  # type: ignore[arg-type]
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
        counted = SkillgateServer(gateway, metrics=Metrics(gateway))
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
    p50["traced"] = await traced(n)
    return {
        "calls": n,
        "p50_ms": p50,
        "metrics_overhead": round(p50["on"] / p50["off"] - 1, 4),
        "tracing_overhead": round(p50["traced"] / p50["off"] - 1, 4),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    figures = anyio.run(measure, parser.parse_args().calls)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "observability.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    p50 = figures["p50_ms"]
    print(
        f"call_skill p50 in process: metrics off {p50['off']} ms, on {p50['on']} ms "
        f"({figures['metrics_overhead']:+.1%}; target within 3%); metrics and tracing on {p50['traced']} ms "
        f"({figures['tracing_overhead']:+.1%}; target within 10%)"
    )
