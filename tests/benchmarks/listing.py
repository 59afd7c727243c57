"""skills/list of a skill with 20,000 files, and another request meanwhile (issue 22).

A catalog of two skills, one holding 20,000 files of 5 kB. One request lists the catalog
through skills/list (the SEP-2640 extension, which hashes every served file) while another
calls list_skills every 5 ms; figures: how long skills/list took, and how long the other
requests took past their due time (p50 / max) while it ran: a blocked event loop shows there.
Run against another checkout with --before DIR (its code, this harness).

Run: python -m tests.benchmarks.listing [--before DIR]
Writes tests/benchmarks/results/listing.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from tests.benchmarks.core import publish

FILES = 20_000


async def probe(root: Path) -> dict[str, float]:
    from tests.conftest import gateway_client
    from tests.test_skill_resources import skills_list

    async with gateway_client(root) as (client, _):
        await client.call_tool("list_skills", {"query": "small"})  # warm
        others: list[float] = []
        listed: list[float] = []

        async def listing() -> None:
            started = time.perf_counter()
            await skills_list(client)
            listed.append(time.perf_counter() - started)

        async def other() -> None:  # one request every 5 ms: each one's wait past its due time
            while not listed:
                due = time.perf_counter() + 0.005
                await anyio.sleep(0.005)
                await client.call_tool("list_skills", {"query": "small"})
                others.append(time.perf_counter() - due)

        async with anyio.create_task_group() as tg:
            tg.start_soon(other)
            while len(others) < 3:  # the other client is going before skills/list starts
                await anyio.sleep(0.001)
            tg.start_soon(listing)
    return {
        "skills_list_s": round(listed[0], 3),
        "other_p50_ms": round(statistics.median(others) * 1000, 2),
        "other_max_ms": round(max(others) * 1000, 2),
        "other_requests": len(others),
    }


def catalog(root: Path) -> None:
    from tests.conftest import write_skill

    big = write_skill(root, "big", "Many files.")
    (big / "data").mkdir()
    for i in range(FILES):
        (big / "data" / f"f{i:05}.txt").write_bytes(i.to_bytes(4, "big") * 1250)
    write_skill(root, "small", "A small skill.")


def main(before: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        catalog(root)
        figures = {"after": anyio.run(probe, root)}
        if before is not None:  # the old checkout's skillgate with this harness: `tests` from here
            harness = Path(folder) / "harness"
            harness.mkdir()
            (harness / "tests").symlink_to(Path(__file__).parents[1])
            code = (
                "import anyio, json; from pathlib import Path; from tests.benchmarks.listing import probe; "
            )
            code += f"print(json.dumps(anyio.run(probe, Path({str(root)!r}))))"
            env = {**os.environ, "PYTHONPATH": f"{harness}:{before}"}
            out = subprocess.run(  # cwd: not this checkout, whose skillgate `python -c` would import first
                [sys.executable, "-c", code], env=env, cwd=harness, capture_output=True, text=True, check=True
            )
            figures["before"] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def report(figures: dict[str, Any]) -> str:
    lines = [f"{'':8} {'skills/list':>12} {'other p50':>10} {'other max':>10} {'requests':>9}"]
    for label, f in figures.items():
        row = f"{f['skills_list_s']:>11}s {f['other_p50_ms']:>8}ms {f['other_max_ms']:>8}ms"
        row += f" {f['other_requests']:>9}"
        lines.append(f"{label:8} {row}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, default=None)
    args = parser.parse_args()
    publish("listing", main(args.before), report)
