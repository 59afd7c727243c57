"""skillgate (or any command that announces its URL on stderr) as a subprocess for tests."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import REPO

ANNOUNCED = re.compile(rb" at (http://\S+?)/?\s*$")


@contextmanager
def serving(argv: Sequence[str], cwd: Path = REPO) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run `argv`; yield the process and the URL it announces on stderr; stop it afterwards."""
    process = subprocess.Popen(list(argv), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    stderr = process.stderr
    try:
        for line in stderr:
            match = ANNOUNCED.search(line)
            if match:
                threading.Thread(target=stderr.read, daemon=True).start()  # keep the pipe from filling
                yield process, match.group(1).decode()
                return
        raise AssertionError(f"{argv} did not announce its URL")
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(20)
        stderr.close()


@contextmanager
def replica(catalog: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`skillgate serve CATALOG --http --port 0 EXTRA...`; yields the process and its /mcp URL."""
    with serving(
        [sys.executable, "-m", "skillgate", "serve", str(catalog), "--http", "--port", "0", *extra]
    ) as found:
        yield found
