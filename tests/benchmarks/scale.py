"""Scale: catalogs of 1,000 and 10,000 locked skills built from 15 real servers' tools.

For each: startup to ready (process start to the first list_skills(query) answer over stdio),
peak resident memory of the gateway process, and list_skills(query) p50/p99 in process.
Targets at 10,000: ready under 3 s, under 500 MB, query p50 under 5 ms.

Run: make bench   (or: python -m tests.benchmarks.scale [--sizes 1000 10000])
Writes tests/benchmarks/results/scale.json.
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

from tests.benchmarks.catalogs import write_catalog
from tests.benchmarks.core import RESULTS, timed
from tests.benchmarks.locks import gateway_pid, rss_kib
from tests.conftest import REPO, gateway_client

QUERIES = [
    "what time is it in tokyo",
    "open a pull request",
    "search the web",
    "read a file",
    "post to slack",
]
TARGETS = {"ready_s": 3.0, "peak_rss_mib": 500, "query_p50_ms": 5.0}


async def startup(catalog: Path) -> dict[str, Any]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "skillgate", "serve", str(catalog)], cwd=str(REPO),
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    start = time.perf_counter()
    async with Client(params) as client:
        page = await client.call_tool("list_skills", {"query": QUERIES[0]})
        ready = time.perf_counter() - start
        assert page.structured_content is not None and page.structured_content["skills"]
        for query in QUERIES:  # a few more requests, so the peak includes serving
            await client.call_tool("list_skills", {"query": query})
        return {"ready_s": round(ready, 3), "peak_rss_mib": round(rss_kib(gateway_pid(catalog)) / 1024, 1)}


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
            write_catalog(Path(tmp), size)
            row = anyio.run(startup, Path(tmp))
            row["list_skills_query"] = anyio.run(queries, Path(tmp), n)
            figures[str(size)] = row
    return figures


def report(f: dict[str, Any]) -> str:
    lines = [f"{'skills':>7} {'ready s':>8} {'peak MiB':>9} {'query p50 ms':>13} {'p99 ms':>7}"]
    for key, row in f.items():
        if key.isdigit():
            q = row["list_skills_query"]
            lines.append(
                f"{key:>7} {row['ready_s']:>8} {row['peak_rss_mib']:>9} {q['p50_ms']:>13} {q['p99_ms']:>7}"
            )
    t = f["targets_at_10000"]
    ready, memory, query = t["ready_s"], t["peak_rss_mib"], t["query_p50_ms"]
    lines.append(f"targets at 10000: ready < {ready} s, < {memory} MB, query p50 < {query} ms")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--calls", type=int, default=200)
    options = parser.parse_args()
    figures = main(options.sizes, options.calls)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(report(figures))
