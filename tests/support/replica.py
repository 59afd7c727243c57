"""skillgate (or any command that announces its URL on stderr) as a subprocess for tests."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tests.conftest import REPO

ANNOUNCED = re.compile(rb" at (http://\S+?)/?\s*$")


@contextmanager
def serving(
    argv: Sequence[str], cwd: Path = REPO, log: list[bytes] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run `argv`; yield the process and the URL it announces on stderr; stop it afterwards.
    The stderr lines after the announcement are added to `log`, if given."""
    process = subprocess.Popen(list(argv), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    stderr = process.stderr
    try:
        for line in stderr:
            match = ANNOUNCED.search(line)
            if match:
                threading.Thread(target=_drain, args=(stderr, log), daemon=True).start()
                yield process, match.group(1).decode()
                return
        raise AssertionError(f"{argv} did not announce its URL")
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(20)
        stderr.close()


def _drain(stderr: IO[bytes], log: list[bytes] | None) -> None:
    """Read the rest of stderr (so the pipe never fills), keeping the lines in `log`."""
    for line in stderr:
        if log is not None:
            log.append(line)


@contextmanager
def replica(catalog: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`skillgate serve CATALOG --http --port 0 EXTRA...`; yields the process and its /mcp URL."""
    with serving(
        [sys.executable, "-m", "skillgate", "serve", str(catalog), "--http", "--port", "0", *extra]
    ) as found:
        yield found
