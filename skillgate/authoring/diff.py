"""What a change to a catalog does to what the model sees: the data behind `skillgate diff`.

Per skill: its catalog line (`- name: description`), its instructions rendered with their
defaults in the server's sandbox, its tool schemas from tools.lock.json (no upstream ever
starts: a binding without a lock has no tools here), its lock and served files; a skill whose
inputs are alike on both sides is not rendered. Per side: the startup context, and the rank
of every evals/queries.txt request over that side's whole catalog.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from skillgate.authoring.evals import DEFAULT_K, rank_of, read_queries
from skillgate.base.diagnostics import Severity
from skillgate.base.errors import SkillgateError
from skillgate.base.tokens import count_tokens, token_counts
from skillgate.render.sections import chunks
from skillgate.skills.lock import LOCK_NAME, TOOL_FIELDS, LockFile, read_lock
from skillgate.tools.gateway import Gateway
from skillgate.tools.models import ToolSpec, dump, meta_tools
from skillgate.tools.startup import Entry, brief, fit_startup, startup_tokens
from skillgate.upstream.pool import UpstreamPool

if TYPE_CHECKING:
    from skillgate.render.workers import RenderWorkers
    from skillgate.search.hybrid import HybridIndex, Ranker
    from skillgate.skills.bundle import Skill
    from skillgate.skills.catalog import Catalog

PREFACE = "(preface)"  # the text before a skill's first heading


@dataclass(frozen=True)
class Inputs:
    """What a skill's rendering and its tools depend on (a template reads only its own folder)."""

    tools: tuple[ToolSpec, ...]
    unlocked: tuple[str, ...]  # bound servers without a lock: their tools are unknown here
    lock: dict[str, dict[str, dict[str, Any]]]  # server -> tool -> pinned definition
    files: dict[str, str]  # served file -> sha256 of its bytes
    fingerprint: str


@dataclass(frozen=True)
class SkillView:
    """One skill as a model meets it on one side."""

    catalog_line: str
    catalog_tokens: int
    text: str  # the rendered instructions, or the render error in their place
    failed: bool
    instructions_tokens: int | None  # None when the render failed
    tools_tokens: int | None
    tools: tuple[str, ...]
    unlocked: tuple[str, ...]
    lock: dict[str, dict[str, dict[str, Any]]]
    files: dict[str, str]

    @property
    def load_tokens(self) -> int | None:
        if self.instructions_tokens is None or self.tools_tokens is None:
            return None
        return self.instructions_tokens + self.tools_tokens


@dataclass(frozen=True)
class Rank:
    line: int  # in evals/queries.txt
    rank: int | None  # 1-based; None: the query does not match the skill
    above: tuple[str, ...]  # the first skills ranked above it (at most k)


@dataclass(frozen=True)
class CatalogView:
    startup: str
    startup_tokens: int
    ranks: dict[tuple[str, str], Rank]  # (skill, query) -> its rank


@dataclass(frozen=True)
class Delta:
    before: int | None  # None: the skill is absent, or its render failed
    after: int | None

    @property
    def change(self) -> int:
        return (self.after or 0) - (self.before or 0)


@dataclass(frozen=True)
class LockChange:
    server: str
    tool: str
    change: str  # added | removed | changed
    fields: tuple[str, ...] = ()  # for a changed tool: the pinned fields that differ
    before: dict[str, Any] = field(default_factory=dict)  # those fields' values
    after: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SkillDiff:
    name: str
    status: str  # added | removed | changed | broken (left out of HEAD's catalog: its errors)
    before: SkillView | None
    after: SkillView | None
    diff: str  # unified diff of the rendered text
    sections: dict[str, list[str]]  # added / changed / removed -> headings
    lock: list[LockChange]
    errors: list[str] = field(default_factory=list)  # why a broken skill is left out

    def tokens(self) -> dict[str, Delta]:
        """catalog_line, instructions, tools (schemas) and load (the two together), before → after."""
        parts = {"catalog_line": "catalog", "instructions": "instructions", "tools": "tools", "load": "load"}
        return {name: Delta(_tokens(self.before, p), _tokens(self.after, p)) for name, p in parts.items()}

    def changed(self, part: str) -> dict[str, list[str]]:
        """Added and removed names of `tools`, or added, removed and changed paths of `files`."""
        old: Any = getattr(self.before, part, None) or {}
        new: Any = getattr(self.after, part, None) or {}
        found = {"added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new))}
        if part == "files":
            found["changed"] = sorted(p for p in set(old) & set(new) if old[p] != new[p])
        return found


def _tokens(view: SkillView | None, part: str) -> int | None:
    value = getattr(view, f"{part}_tokens", None)
    return value if isinstance(value, int) else None


@dataclass(frozen=True)
class RankChange:
    skill: str
    query: str
    before: Rank | None  # None: the query is not there on that side
    after: Rank | None

    @property
    def status(self) -> str:
        return "added" if self.before is None else "removed" if self.after is None else "changed"


@dataclass(frozen=True)
class Report:
    base: str
    head: str
    k: int
    startup: Delta
    startup_diff: str
    skills: list[SkillDiff]
    ranks: list[RankChange]

    @property
    def empty(self) -> bool:
        return not (self.skills or self.ranks or self.startup_diff)


async def compare(
    base: Catalog,
    head: Catalog,
    renderer: RenderWorkers,
    ranker: Ranker,
    labels: tuple[str, str],
    places: tuple[Path, Path],
    k: int = DEFAULT_K,
) -> Report:
    """What changes from `base` to `head` (named `labels`); `places` name each side's search
    index and vector cache for the ranker: stable names, never temporary folders."""
    pool = UpstreamPool({})  # never entered: a try to start an upstream fails instead of starting one
    gateways = [Gateway(c, pool, ranker=ranker, renderer=renderer) for c in (base, head)]
    inputs = [{s.name: inputs_of(s) for s in c} for c in (base, head)]
    names = sorted(set(inputs[0]) | set(inputs[1]))
    differing = [n for n in names if inputs[0].get(n) != inputs[1].get(n)]  # alike inputs: alike views
    views = await _views(gateways, inputs, differing)
    sides = [view_catalog(g, ranker, place, k) for g, place in zip(gateways, places, strict=True)]
    skills = [d for n in differing if (d := skill_diff(n, views[0].get(n), views[1].get(n), labels))]
    skills = [_left_out(d, base, head) if d.status == "removed" else d for d in skills]
    startup_diff = unified(*(s.startup for s in sides), *(f"startup context ({x})" for x in labels))
    return Report(
        base=labels[0],
        head=labels[1],
        k=k,
        startup=Delta(sides[0].startup_tokens, sides[1].startup_tokens),
        startup_diff=startup_diff,
        skills=skills,
        ranks=rank_changes(sides[0].ranks, sides[1].ranks),
    )


def _left_out(skill: SkillDiff, base: Catalog, head: Catalog) -> SkillDiff:
    """A skill of `base` whose folder `head` still has but leaves out for its errors: "broken",
    with those errors and the lock as `head`'s files hold it."""
    folder = base.skills[skill.name].dir.relative_to(base.root).as_posix()
    parsed = head.parsed.get(folder)
    if skill.status != "removed" or parsed is None or parsed.skill is not None:
        return skill
    errors = [
        str(d.shown(head.show(Path(d.path)))) for d in parsed.diagnostics if d.severity is Severity.ERROR
    ]
    lock = _pinned(read_lock(head.root / folder / LOCK_NAME)[0])
    old = skill.before.lock if skill.before else {}
    return replace(skill, status="broken", errors=errors, lock=lock_changes(old, lock))


def _pinned(lock: LockFile | None) -> dict[str, dict[str, dict[str, Any]]]:
    servers = lock.servers if lock is not None else {}
    return {server: {t.name: t.definition() for t in locked.tools} for server, locked in servers.items()}


def inputs_of(skill: Skill) -> Inputs:
    specs: dict[str, ToolSpec] = {}
    unlocked: list[str] = []
    servers = skill.lock.servers if skill.lock is not None else {}
    for binding in skill.bindings:
        locked = servers.get(binding.name)
        if locked is None:
            unlocked.append(binding.name)
            continue
        for tool in locked.tools:
            if binding.allows(tool.name) and tool.name not in specs:
                specs[tool.name] = ToolSpec(
                    name=tool.name, description=tool.description, input_schema=tool.input_schema
                )
    tools = tuple(specs[name] for name in sorted(specs))
    lock = _pinned(skill.lock)
    files = {f.path: _file_digest(skill, f.path) for f in skill.files}
    job = {k: v for k, v in skill.render_job([dump(t) for t in tools]).items() if k != "folder"}
    everything = [job, sorted(unlocked), lock, files]
    fingerprint = hashlib.sha256(json.dumps(everything, sort_keys=True, default=str).encode()).hexdigest()
    return Inputs(tools, tuple(sorted(unlocked)), lock, files, fingerprint)


def _file_digest(skill: Skill, path: str) -> str:
    try:
        return hashlib.sha256(skill.read_file(path)).hexdigest()
    except SkillgateError:
        return "(unreadable)"


async def _views(
    gateways: list[Gateway], inputs: list[dict[str, Inputs]], names: list[str]
) -> list[dict[str, SkillView]]:
    """Each side's view of the skills `names` it has, rendered concurrently (the workers bound it)."""
    views: list[dict[str, SkillView]] = [{}, {}]

    async def view(side: int, name: str) -> None:
        gateway = gateways[side]
        views[side][name] = await view_skill(gateway, gateway.catalog.skills[name], inputs[side][name])

    async with anyio.create_task_group() as tg:
        for side, name in ((side, n) for side in (0, 1) for n in names if n in inputs[side]):
            tg.start_soon(view, side, name)
    return views


async def view_skill(gateway: Gateway, skill: Skill, inputs: Inputs) -> SkillView:
    """The skill rendered with its defaults and the locked tools, and what that costs."""
    line = f"- {skill.name}: {brief(skill.frontmatter.summary())}"  # as the startup context lists it
    try:
        text, failed = await gateway.render(skill, tools=list(inputs.tools)), False
    except SkillgateError as exc:
        text, failed = exc.for_people, True
    counts = token_counts(text, [dump(t) for t in inputs.tools])
    return SkillView(
        catalog_line=line,
        catalog_tokens=count_tokens("\n" + line),  # as the startup context counts a line
        text=text,
        failed=failed,
        instructions_tokens=None if failed else int(counts["instructions"]),
        tools_tokens=None if failed else int(counts["tools"]),
        tools=tuple(t.name for t in inputs.tools),
        unlocked=inputs.unlocked,
        lock=inputs.lock,
        files=inputs.files,
    )


def view_catalog(gateway: Gateway, ranker: Ranker, place: Path, k: int) -> CatalogView:
    catalog = gateway.catalog
    fitted = fit_startup([Entry(s.name, s.frontmatter.summary()) for s in catalog], meta_tools)
    tokens = startup_tokens(meta_tools(fitted.list_skills_description), fitted.instructions)
    text = f"[instructions]\n{fitted.instructions}\n\n[list_skills description]\n"
    text += fitted.list_skills_description
    index = ranker.index(gateway.search.documents(catalog), place)
    return CatalogView(text, tokens, ranks_of(catalog, index, k))


def ranks_of(catalog: Catalog, index: HybridIndex, k: int) -> dict[tuple[str, str], Rank]:
    """Each example query's rank for its skill over the whole catalog (the first of duplicates)."""
    ranks: dict[tuple[str, str], Rank] = {}
    for skill in catalog:
        for line, query in read_queries(skill):
            if (skill.name, query) in ranks:
                continue
            rank, above = rank_of(skill.name, query, index, k)
            ranks[skill.name, query] = Rank(line, rank, tuple(above))
    return ranks


def rank_changes(before: dict[tuple[str, str], Rank], after: dict[tuple[str, str], Rank]) -> list[RankChange]:
    """Every query whose rank moved, or that came or went (a removed skill's queries go unsaid)."""
    skills_after = {skill for skill, _ in after}
    found = []
    for key in set(before) | set(after):
        old, new = before.get(key), after.get(key)
        if new is None and key[0] not in skills_after:
            continue
        if old is None or new is None or old.rank != new.rank:
            found.append(RankChange(key[0], key[1], old, new))
    return sorted(found, key=lambda c: (c.skill, (c.after or c.before or Rank(0, None, ())).line, c.query))


def skill_diff(
    name: str, before: SkillView | None, after: SkillView | None, labels: tuple[str, str]
) -> SkillDiff | None:
    """The skill's change, or None when a model would see it alike on both sides."""
    if before == after:
        return None
    status = "added" if before is None else "removed" if after is None else "changed"
    old, new = (before.text if before else ""), (after.text if after else "")
    return SkillDiff(
        name=name,
        status=status,
        before=before,
        after=after,
        diff=unified(old, new, f"{name} ({labels[0]})", f"{name} ({labels[1]})"),
        sections=section_changes(old, new),
        lock=lock_changes(before.lock if before else {}, after.lock if after else {}),
    )


def unified(old: str, new: str, old_name: str, new_name: str) -> str:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), old_name, new_name, lineterm="")
    return "\n".join(lines)


def section_changes(old: str, new: str) -> dict[str, list[str]]:
    """Which headings' own text (up to the next heading) was added, changed or removed."""
    before, after = _sections(old), _sections(new)
    return {
        "added": [h for h in after if h not in before],
        "changed": [h for h in after if h in before and before[h] != after[h]],
        "removed": [h for h in before if h not in after],
    }


def _sections(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in chunks(text) if text else []:
        heading = chunk.heading or PREFACE
        key, n = heading, 1
        while key in found:  # a repeated heading: its second one is "Heading (2)"
            n += 1
            key = f"{heading} ({n})"
        found[key] = chunk.text
    return found


def lock_changes(
    before: dict[str, dict[str, dict[str, Any]]], after: dict[str, dict[str, dict[str, Any]]]
) -> list[LockChange]:
    """Tools added, removed, or changed (with the pinned fields that differ), per server."""
    changes = []
    for server in sorted(set(before) | set(after)):
        old, new = before.get(server, {}), after.get(server, {})
        for tool in sorted(set(old) | set(new)):
            if tool not in new:
                changes.append(LockChange(server, tool, "removed"))
            elif tool not in old:
                changes.append(LockChange(server, tool, "added"))
            elif old[tool] != new[tool]:
                fields = tuple(
                    f for f in _field_order(old[tool], new[tool]) if old[tool].get(f) != new[tool].get(f)
                )
                was = {f: old[tool].get(f) for f in fields}
                now = {f: new[tool].get(f) for f in fields}
                changes.append(LockChange(server, tool, "changed", fields, was, now))
    return changes


def _field_order(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """A tool's fields in the lock's order (name, title, description, inputSchema...), then any other."""
    return [
        *(f for f in TOOL_FIELDS if f in old or f in new),
        *sorted((set(old) | set(new)) - set(TOOL_FIELDS)),
    ]
