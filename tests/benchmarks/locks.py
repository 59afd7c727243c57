"""Lock-file figures: load_skill with a lock and no running upstream vs unlocked on a cold
upstream, and startup time and memory of a catalog of 1,000 locked skills.

Run: make bench   (or: python -m tests.benchmarks.locks [--calls N] [--skills N])
Prints a table and writes tests/benchmarks/results/locks.json.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from tests.benchmarks.core import publish, timed
from tests.benchmarks.scale import measure_startup
from tests.conftest import EXAMPLES, gateway_client

SKILL = EXAMPLES / "time-zones"


async def locked_load(n: int) -> dict[str, float]:
    async with gateway_client(EXAMPLES) as (client, pool):
        figures = await timed(n, lambda: client.call_tool("load_skill", {"name": "time-zones"}))
        assert pool.upstreams == [], "a locked load must not start the upstream"
    return figures


async def cold_unlocked_load(root: Path, n: int) -> dict[str, float]:
    samples = []
    for _ in range(n):
        async with gateway_client(root) as (client, _):
            start = time.perf_counter()
            result = await client.call_tool("load_skill", {"name": "time-zones"})
            samples.append((time.perf_counter() - start) * 1000)
            assert not result.is_error
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 3), "p99_ms": round(samples[-1], 3)}


def write_catalog(root: Path, size: int) -> None:
    lock = (SKILL / "tools.lock.json").read_text()
    mcp = (SKILL / "mcp.json").read_text()
    body = (SKILL / "SKILL.md").read_text().split("---", 2)[2]
    for i in range(size):
        name = f"time-zones-{i:05d}"
        folder = root / name
        folder.mkdir(parents=True)
        description = f"Time zone task {i} - tell the current time in a city and convert times between zones."
        (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: {description}\n---{body}")
        (folder / "mcp.json").write_text(mcp)
        (folder / "tools.lock.json").write_text(lock)


async def startup(catalog: Path) -> dict[str, Any]:
    """Process start to the first list_skills answer, peak RSS; then a load of a locked skill."""
    return await measure_startup(catalog, ["time in Tokyo"], then_load="time-zones-00999")


async def main(n: int, size: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"calls_per_figure": n}
    figures["load_skill_locked_no_upstream"] = await locked_load(n)
    with tempfile.TemporaryDirectory() as tmp:
        unlocked = Path(tmp) / "unlocked"
        shutil.copytree(SKILL, unlocked / "time-zones", ignore=shutil.ignore_patterns("tools.lock.json"))
        figures["load_skill_unlocked_cold_upstream"] = await cold_unlocked_load(unlocked, max(5, n // 10))
        big = Path(tmp) / "big"
        write_catalog(big, size)
        figures[f"catalog_{size}_locked"] = await startup(big)
    return figures


def report(figures: dict[str, Any]) -> str:
    a = figures["load_skill_locked_no_upstream"]
    b = figures["load_skill_unlocked_cold_upstream"]
    lines = [
        f"load_skill, locked, upstream not running: p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms",
        f"load_skill, unlocked, cold upstream:     p50 {b['p50_ms']} ms, max {b['p99_ms']} ms",
    ]
    for key, value in figures.items():
        if key.startswith("catalog_"):
            lines.append(
                f"{key}: ready in {value['ready_s']} s (process start to first list_skills answer), "
                f"peak RSS {value['peak_rss_mib']} MiB, {value['skills']} skills"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--skills", type=int, default=1000)
    options = parser.parse_args()
    figures = anyio.run(main, options.calls, options.skills)
    publish("locks", figures, report)
