"""Startup figures of issue 12, each next to its target.

- a stdio server answers `initialize` (time from spawn), for the example catalog and for 1,000
  locked skills, on a first start (empty caches) and on a restart;
- `skillgate --help` and `skillgate list` wall time;
- resident memory of a stdio server of the example catalog after `initialize` and a
  `list_skills`, before any upstream starts;
- a list -> load -> call flow ("what time is it in Tokyo") with a new stdio session per tool
  call (spawn, handshake, tools/list, the call, exit), as LangChain's MCP adapter does by default.

Run: make bench   (or: python -m tests.benchmarks.startup [--runs 5])
Writes tests/benchmarks/results/startup.json.
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

from tests.benchmarks.catalogs import write_catalog
from tests.benchmarks.core import publish
from tests.conftest import EXAMPLES, REPO, initialize_request

SKILLGATE = [sys.executable, "-m", "skillgate"]
TARGETS = {"initialize_examples_s": 0.3, "initialize_1000_s": 1.0, "cli_s": 0.2, "rss_mib": 100}
INITIALIZE = initialize_request("bench")
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_skills", "arguments": {}}}


def _env(cache: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(cache)}


def initialize_once(catalog: Path, cache: Path, rss: bool = False) -> tuple[float, int | None]:
    """Seconds from spawn to the initialize answer; with `rss`, MiB after a list_skills too."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [*SKILLGATE, "serve", str(catalog)], cwd=REPO, env=_env(cache),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
        process.stdin.flush()
        answer = json.loads(process.stdout.readline())
        seconds = time.perf_counter() - started
        assert "result" in answer, answer
        mib = None
        if rss:
            notified = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            process.stdin.write((json.dumps(notified) + "\n" + json.dumps(LIST) + "\n").encode())
            process.stdin.flush()
            process.stdout.readline()
            status = Path(f"/proc/{process.pid}/status").read_text()
            mib = (
                next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")) // 1024
            )
        return seconds, mib
    finally:
        process.kill()
        process.wait()


def initialize_figures(catalog: Path, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        first, _ = initialize_once(catalog, Path(tmp))
        again = [initialize_once(catalog, Path(tmp))[0] for _ in range(runs)]
        _, rss = initialize_once(catalog, Path(tmp), rss=True)
    return {
        "first_start_s": round(first, 3),
        "restart_p50_s": round(statistics.median(again), 3),
        "rss_mib": rss,
    }


FLOW = [
    ("list_skills", {"query": "what time is it in Tokyo"}),
    ("load_skill", {"name": "time-zones"}),
    (
        "call_skill",
        {"name": "time-zones", "tool": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}},
    ),
]


async def _flow(cache: Path) -> float:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=SKILLGATE[0], args=[*SKILLGATE[1:], "serve", str(EXAMPLES)], cwd=str(REPO), env=_env(cache)
    )
    started = time.perf_counter()
    for tool, arguments in FLOW:
        async with Client(params, mode="legacy") as client:
            await client.list_tools()
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, result
    return time.perf_counter() - started


def session_per_call_s(runs: int) -> float:
    """Median seconds of the whole flow, caches warm (one flow first)."""
    import anyio

    with tempfile.TemporaryDirectory() as tmp:
        anyio.run(_flow, Path(tmp))
        return round(statistics.median(anyio.run(_flow, Path(tmp)) for _ in range(runs)), 3)


def cli_seconds(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([*SKILLGATE, *args], cwd=REPO, env={**os.environ}, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def main(runs: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"targets": TARGETS, "examples": initialize_figures(EXAMPLES, runs)}
    with tempfile.TemporaryDirectory() as tmp:
        write_catalog(Path(tmp), 1000)
        figures["locked_1000"] = initialize_figures(Path(tmp), runs)
    figures["help_s"] = cli_seconds(["--help"], runs)
    figures["list_s"] = cli_seconds(["list", str(EXAMPLES)], runs)
    figures["session_per_call_flow_s"] = session_per_call_s(min(runs, 3))
    return figures


def report(f: dict[str, Any]) -> str:
    t = f["targets"]

    def verdict(value: float, target: float) -> str:
        return "met" if value <= target else "NOT met"

    ex, big = f["examples"], f["locked_1000"]
    rows = [
        ("initialize, examples (restart p50)", ex["restart_p50_s"], t["initialize_examples_s"], "s"),
        ("initialize, 1,000 locked skills (restart p50)", big["restart_p50_s"], t["initialize_1000_s"], "s"),
        ("skillgate --help", f["help_s"], t["cli_s"], "s"),
        ("skillgate list (examples)", f["list_s"], t["cli_s"], "s"),
        ("RSS after initialize + list_skills, examples", ex["rss_mib"], t["rss_mib"], "MiB"),
    ]
    lines = [
        f"{name:<48} {value:>7} {unit:<3} target <= {target} {verdict(value, target)}"
        for name, value, target, unit in rows
    ]
    lines.append(
        f"first start (empty caches): examples {ex['first_start_s']} s, 1,000 locked {big['first_start_s']} s"
    )
    lines.append(
        f"list -> load -> call, a new stdio session per call (LangChain's default): "
        f"{f['session_per_call_flow_s']} s (10-14 s in the issue)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    figures = main(parser.parse_args().runs)
    publish("startup", figures, report)
