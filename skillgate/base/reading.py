"""Reading files an author controls: regular files only, never more than a limit.

A FIFO named SKILL.md would block a plain `read_text` forever, and a symbolic link to
/dev/zero would fill memory; both are refused here with a message that says why.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from skillgate.base.errors import SkillgateError
from skillgate.base.limits import JSON_DEPTH


class Unreadable(SkillgateError):
    """A file that is not a regular file, is too large, or cannot be read or decoded."""


def read_bytes(path: Path, limit: int) -> bytes:
    try:
        # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except (OSError, ValueError) as exc:
        raise Unreadable(_reason(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable("it is not a regular file (a FIFO, device or socket); replace it with a file")
        if info.st_size > limit:
            raise Unreadable(f"it is {info.st_size:,} bytes; the limit is {limit:,}")
        chunks, size = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise Unreadable(f"it is over {limit:,} bytes; the limit is {limit:,}")
        return b"".join(chunks)
    except OSError as exc:
        raise Unreadable(_reason(exc)) from None
    finally:
        os.close(fd)


def read_text(path: Path, limit: int) -> str:
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"it is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ValueError):  # e.g. an embedded NUL byte
        return f"the path is not valid ({exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)


def load_json(path: Path, limit: int, depth: int = JSON_DEPTH) -> Any:
    """A JSON file's value; `json.JSONDecodeError` (with its line) or `Unreadable` for the rest."""
    return parse_json(read_text(path, limit), depth)


def parse_json(text: str, depth: int = JSON_DEPTH) -> Any:
    """`json.loads`, bounded: too deep or too large a number is `Unreadable`, not a crash."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise Unreadable(f"it is nested too deeply; the limit is {depth} levels") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise Unreadable(f"it holds a value JSON cannot hold here ({exc})") from None
    if too_deep(value, depth):
        raise Unreadable(f"it is nested more than {depth} levels deep; flatten it")
    return value


def too_deep(value: Any, limit: int) -> bool:
    """Whether lists/objects nest more than `limit` levels (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack += [(child, depth + 1) for child in children]
    return False
