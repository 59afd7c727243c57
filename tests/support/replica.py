"""skillgate HTTP replicas as subprocesses, announced URL parsed from stderr."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import REPO


@contextmanager
def replica(catalog: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`skillgate serve CATALOG --http --port 0 EXTRA...`; yields the process and its /mcp URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "skillgate", "serve", str(catalog), "--http", "--port", "0", *extra],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    stderr = process.stderr
    try:
        for line in stderr:
            match = re.search(rb"serving \d+ skills at (http://\S+)", line)
            if match:
                threading.Thread(target=stderr.read, daemon=True).start()
                yield process, match.group(1).decode()
                return
        raise AssertionError("the replica did not announce its URL")
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(20)
        stderr.close()
