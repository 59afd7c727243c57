"""The names in a skill folder: the files that configure a skill, and which files it may serve
(to agents, to `{% include %}`)."""

from __future__ import annotations

import mimetypes

# Files that configure a skill rather than being part of what it serves (example queries are
# for `skillgate eval`, not for agents).
EVAL_QUERIES = "evals/queries.txt"
SKILL_FILES = ("SKILL.md", "skill.md")  # the reference accepts the lowercase name too; SKILL.md wins
CONFIG_FILES = frozenset({*SKILL_FILES, "mcp.json", "tools.lock.json", ".env", EVAL_QUERIES})


def servable(relative: str) -> bool:
    """Whether a path relative to a skill folder may be served: not hidden, not configuration."""
    return relative not in CONFIG_FILES and not any(part.startswith(".") for part in relative.split("/"))


def mime_of(path: str, data: bytes | None = None) -> str:
    """The media type of a skill file, one rule for every answer that serves one: Markdown as
    `text/markdown`, else by extension; an unknown extension is `text/plain` when the bytes are
    UTF-8 text, else `application/octet-stream`."""
    if path.endswith(".md"):
        return "text/markdown"
    guessed = mimetypes.guess_type(path)[0]
    if guessed is not None:
        return guessed
    if data is not None and text_of(data) is not None:
        return "text/plain"
    return "application/octet-stream"


def text_of(data: bytes) -> str | None:
    """The file's text if it is UTF-8, else None (it is served as base64)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
