"""The `skillgate` command line: the edge that reads the environment, prints and exits.

Exit codes: 0 success, 1 a failed check or run, 2 bad usage or configuration. Each command
imports what it uses, so `skillgate --help` or `skillgate list` never loads the MCP SDK, the
HTTP stack, numpy or the tokenizer.
"""

from skillgate.cli import authoring, locking, reviewing, serving, using  # noqa: F401  (each registers its commands)
from skillgate.cli.app import main

__all__ = ["main"]
