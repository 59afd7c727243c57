"""Scale: catalogs of 1,000 and 10,000 locked skills built from 15 real servers' tools.

For each: startup to ready (process start to the first list_skills(query) answer over stdio),
on a first start (empty caches) and on a restart (the parsed catalog, startup text and
vectors cached), peak resident memory of the gateway process, and list_skills(query) p50/p99
in process. Targets at 10,000 (issue 12): ready in 3 s on a restart, at most 300 MB, query p50
at most 5 ms.

Run: make bench   (or: python -m tests.benchmarks.scale [--sizes 1000 10000])
Writes tests/benchmarks/results/scale.json.
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

from tests.benchmarks.catalogs import write_catalog
from tests.benchmarks.core import publish, timed
from tests.conftest import REPO, gateway_client

QUERIES = [
    "what time is it in tokyo",
    "open a pull request",
    "search the web",
    "read a file",
    "post to slack",
]
TARGETS = {"ready_s": 3.0, "peak_rss_mib": 300, "query_p50_ms": 5.0}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # peak resident set size
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def gateway_pid(catalog: Path) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(catalog).encode() in cmdline and b"skillgate" in cmdline:
                return int(entry.name)
    raise RuntimeError("gateway process not found")


async def measure_startup(
    catalog: Path, queries: list[str], then_load: str | None = None, cache: Path | None = None
) -> dict[str, Any]:
    """Wall time from spawning `skillgate serve` over stdio to its first list_skills(query) answer,
    and the gateway's peak resident memory after a few more requests."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "skillgate", "serve", str(catalog)], cwd=str(REPO),
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO),
             **({"XDG_CACHE_HOME": str(cache)} if cache else {})},
    )  # fmt: skip
    start = time.perf_counter()
    async with Client(params) as client:
        page = await client.call_tool("list_skills", {"query": queries[0]})
        ready = time.perf_counter() - start
        assert page.structured_content is not None and page.structured_content["skills"]
        for query in queries:
            await client.call_tool("list_skills", {"query": query})
        if then_load is not None:
            assert not (await client.call_tool("load_skill", {"name": then_load})).is_error
        return {
            "ready_s": round(ready, 3),
            "peak_rss_mib": round(rss_kib(gateway_pid(catalog)) / 1024, 1),
            "skills": len(list(catalog.iterdir())),
        }


async def queries(catalog: Path, n: int) -> dict[str, Any]:
    async with gateway_client(catalog) as (client, _):
        index = iter(range(10**9))
        return await timed(
            n, lambda: client.call_tool("list_skills", {"query": QUERIES[next(index) % len(QUERIES)]})
        )


def main(sizes: list[int], n: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"targets_at_10000": TARGETS}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            catalog, cache = Path(tmp) / "catalog", Path(tmp) / "cache"
            write_catalog(catalog, size)
            first = anyio.run(measure_startup, catalog, QUERIES, None, cache)
            row = anyio.run(measure_startup, catalog, QUERIES, None, cache)  # a restart: caches warm
            row["first_start_ready_s"] = first["ready_s"]
            row["first_start_peak_rss_mib"] = first["peak_rss_mib"]
            row["list_skills_query"] = anyio.run(queries, catalog, n)
            figures[str(size)] = row
    return figures


def report(f: dict[str, Any]) -> str:
    header = f"{'skills':>7} {'ready s (first start / restart)':>32} {'peak MiB':>9}"
    lines = [f"{header} {'query p50 ms':>13} {'p99 ms':>7}"]
    for key, row in f.items():
        if key.isdigit():
            q = row["list_skills_query"]
            ready = f"{row['first_start_ready_s']} / {row['ready_s']}"
            lines.append(f"{key:>7} {ready:>32} {row['peak_rss_mib']:>9} {q['p50_ms']:>13} {q['p99_ms']:>7}")
    t = f["targets_at_10000"]
    ready, memory, query = t["ready_s"], t["peak_rss_mib"], t["query_p50_ms"]
    lines.append(f"targets at 10000: ready <= {ready} s (restart), <= {memory} MB, query p50 <= {query} ms")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--calls", type=int, default=200)
    options = parser.parse_args()
    figures = main(options.sizes, options.calls)
    publish("scale", figures, report)
