"""The startup context: what every agent reads before its first call.

That is the three meta-tools' definitions as a model reads them (output schemas go to
typed clients, not to models, and are not counted) plus the server `instructions`, which
carry a concise catalog: names and one-line descriptions of as many skills as fit,
then how many more there are and how to search them. The whole stays within a fixed
token budget whatever the catalog size; `list_skills`'s description carries the
skill names too, for clients that ignore `instructions`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mcp_types as types

from skillgate.base.disk_cache import DiskCache
from skillgate.base.tokens import count_tokens

STARTUP_BUDGET = 1000
MAX_LINE_CHARS = 240  # a whole description of usual length, trigger phrases included
MIN_CUT_CHARS = 60  # a cut shorter than this says too little: cut at a word instead
NAMES_SHARE = 0.25  # of the room left after the fixed text, for names in list_skills' description

INSTRUCTIONS_HEAD = (
    "Skills are instructions for a task plus the tools it needs: find one with list_skills(query), "
    "read it with load_skill(name), call its tools with call_skill(name, tool, arguments)."
)
LIST_SKILLS_HEAD = "Find skills by what you need (ranked, typo-tolerant), or list them all."


@dataclass(frozen=True)
class Entry:
    name: str
    summary: str


@dataclass(frozen=True)
class StartupText:
    instructions: str
    list_skills_description: str


def model_view(tools: Sequence[types.Tool]) -> list[dict[str, Any]]:
    """Tools as a model reads them: a `tools/list` answer's tools without their output schemas,
    which hosts do not show to models (typed clients build their result types from them)."""
    return [
        t.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"output_schema"}) for t in tools
    ]


def tools_tokens(tools: Sequence[types.Tool]) -> int:
    """Tokens of a `tools/list` answer's tools, as a model reads them (`model_view`)."""
    return count_tokens(json.dumps(model_view(tools), separators=(",", ":")))


def startup_tokens(tools: Sequence[types.Tool], instructions: str) -> int:
    return tools_tokens(tools) + count_tokens(instructions)


def cached_fit_startup(
    entries: Sequence[Entry],
    build_tools: Callable[[str], list[types.Tool]],
    cache: DiskCache | None,
    budget: int = STARTUP_BUDGET,
    place: str = "",
) -> StartupText:
    """`fit_startup`, from the cache when the same catalog text and tools were fitted before.

    Fitting counts tokens, and the tokenizer takes a third of a second and 140 MiB to load:
    a restart of an unchanged catalog skips it. The key holds every input of the fit.
    """
    seen = model_view(build_tools(""))
    inputs = [budget, INSTRUCTIONS_HEAD, LIST_SKILLS_HEAD, seen, [(e.name, e.summary) for e in entries]]
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode("utf-8", "surrogatepass")).hexdigest()
    name = hashlib.sha256(place.encode("utf-8", "surrogatepass")).hexdigest()[:24]  # one file per place
    if cache is not None:
        found = cache.read_keyed(name, key)
        if isinstance(found, StartupText):
            return found
    fitted = fit_startup(entries, build_tools, budget)
    if cache is not None:
        cache.write_keyed(name, key, fitted)
    return fitted


def fit_startup(
    entries: Sequence[Entry],
    build_tools: Callable[[str], list[types.Tool]],
    budget: int = STARTUP_BUDGET,
) -> StartupText:
    """Choose the catalog text so that tools (built with the given description) + instructions fit."""
    fixed = startup_tokens(build_tools(LIST_SKILLS_HEAD), INSTRUCTIONS_HEAD)
    room = max(0, budget - fixed - 16)  # 16: the joins and the "more" lines, counted again below
    description = LIST_SKILLS_HEAD + _fit_names(entries, int(room * NAMES_SHARE))
    room -= count_tokens(description) - count_tokens(LIST_SKILLS_HEAD)
    instructions = INSTRUCTIONS_HEAD + _fit_lines(entries, room)
    while startup_tokens(build_tools(description), instructions) > budget and "\n- " in instructions:
        instructions = _fit_lines(entries, room := room - 20, prefix=INSTRUCTIONS_HEAD)
    return StartupText(instructions=instructions, list_skills_description=description)


_SENTENCE_END = re.compile(r"[.!?](?=\s)|[;:](?=\s)")
_DASHES = "-\u2013\u2014"
_CLAUSE_END = re.compile(rf"(?=\s[{_DASHES}(])|,(?=\s)|\)(?=\s)")


def brief(summary: str, limit: int = MAX_LINE_CHARS) -> str:
    """`summary` whole when it fits in `limit` characters, else cut at the last sentence end
    within the limit, else at the last clause end (marked "…"), never mid-word."""
    summary = " ".join(summary.split())
    if len(summary) <= limit:
        return summary
    head = summary[: limit - 1]
    for boundary in (_SENTENCE_END, _CLAUSE_END):
        ends = [m.end() for m in boundary.finditer(head) if m.end() >= MIN_CUT_CHARS]
        if ends:
            cut = head[: ends[-1]]
            return cut if cut.endswith((".", "!", "?")) else cut.rstrip(f" ,;:{_DASHES}(") + "…"
    cut = head.rsplit(" ", 1)[0] if " " in head[MIN_CUT_CHARS:] else head
    return cut.rstrip(f" ,;:{_DASHES}(") + "…"


def _fit_names(entries: Sequence[Entry], room: int) -> str:
    if not entries:
        return " The catalog is empty."
    names: list[str] = []
    for entry in entries:
        candidate = ", ".join([*names, entry.name])
        if count_tokens(f" Skills: {candidate} (+{len(entries)} more).") > room:
            break
        names.append(entry.name)
    rest = len(entries) - len(names)
    if not names:
        return f" {len(entries)} skills."
    return f" Skills: {', '.join(names)}" + (f" (+{rest} more)." if rest else ".")


def _fit_lines(entries: Sequence[Entry], room: int, prefix: str = "") -> str:
    text = prefix
    if not entries:
        return text + "\nThe catalog is empty."
    header = f"\nSkills ({len(entries)}):"
    used = count_tokens(header) + 24  # 24: the closing "more" line
    lines: list[str] = []
    for entry in entries:
        line = f"\n- {entry.name}: {brief(entry.summary)}"
        cost = count_tokens(line)
        if used + cost > room:
            break
        used += cost
        lines.append(line)
    rest = len(entries) - len(lines)
    more = f"\n…and {rest} more: search them with list_skills(query)." if rest else ""
    return text + header + "".join(lines) + more
