"""The author's commands on the example catalog, as a person runs them: `validate`, `list` and
`render` (an unbound skill, a locked one), each a fresh process, wall-clock median of N runs
(target: 0.5 s). With --before DIR, the other checkout is measured interleaved, run for run.

Run: python -m tests.benchmarks.authoring [--runs N] [--before DIR]
Writes tests/benchmarks/results/authoring.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.core import publish
from tests.conftest import EXAMPLES, REPO

COMMANDS = {
    "validate": ["validate", str(EXAMPLES)],
    "list": ["list", str(EXAMPLES)],
    "render (unbound)": ["render", str(EXAMPLES), "commit-messages"],
    "render (locked)": ["render", str(EXAMPLES), "git-status"],
}
TARGET_S = 0.5


def once(checkout: Path, argv: list[str]) -> float:
    cache = Path(tempfile.gettempdir()) / "skillgate-authoring-bench" / checkout.name
    env = {**os.environ, "PYTHONPATH": str(checkout), "XDG_CACHE_HOME": str(cache)}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "skillgate", *argv], env=env, cwd=checkout, capture_output=True, check=True
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--before", type=Path)
    options = parser.parse_args()
    checkouts = {"now": REPO, **({"before": options.before.resolve()} if options.before else {})}
    samples: dict[str, dict[str, list[float]]] = {c: {k: [] for k in COMMANDS} for c in checkouts}
    for checkout in checkouts.values():  # a first run of each fills its caches
        for argv in COMMANDS.values():
            once(checkout, argv)
    for _ in range(options.runs):
        for command, argv in COMMANDS.items():
            for label, checkout in checkouts.items():
                samples[label][command].append(once(checkout, argv))
    figures = {
        label: {command: round(statistics.median(times), 3) for command, times in by_command.items()}
        for label, by_command in samples.items()
    }
    publish("authoring", {"runs": options.runs, "target_s": TARGET_S, "median_s": figures}, report)


def report(figures: dict[str, object]) -> str:
    medians = figures["median_s"]
    assert isinstance(medians, dict)
    lines = [f"author's commands on the example catalog, median of {figures['runs']} fresh processes:"]
    for command in COMMANDS:
        now = medians["now"][command]
        before = f"   (before: {medians['before'][command]:.2f} s)" if "before" in medians else ""
        mark = "ok" if now <= TARGET_S else "OVER"
        lines.append(f"  {command:<18} {now:.2f} s  [{mark} <= {TARGET_S} s]{before}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
