"""The reviewer's command: `diff`, what a git change does to what the model sees."""

from __future__ import annotations

import html
import json
import re
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from skillgate.cli.app import CONFIG_OPTION, _print_json, main

# Each command imports what it uses, so `skillgate --help` or `skillgate list` never loads the
# MCP SDK, the HTTP stack, numpy or the tokenizer.
if TYPE_CHECKING:
    from skillgate.authoring.diff import Delta, LockChange, Rank, RankChange, Report, SkillDiff
    from skillgate.authoring.revisions import Side
    from skillgate.settings import Settings
    from skillgate.skills.catalog import Catalog

MAX_DIFF_LINES = 300  # per fenced diff in a PR comment
COMMENT_CHARS = 60_000  # GitHub refuses comments over 65,536 characters


@main.command()
@click.argument("base", default="HEAD")
@click.argument("head", required=False)
@click.option(
    "--dir",
    "directory",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The catalog folder in the working tree; each revision's copy of it is compared.",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text: for a terminal; json: one document; github: Markdown for a pull-request comment.",
)
@CONFIG_OPTION
def diff(base: str, head: str | None, directory: Path, output: str, config: Path | None) -> None:
    """What the change from BASE (default HEAD) to HEAD (default: the working tree) does to what
    the model sees: per changed skill the rendered-text diff, token deltas and lock changes; the
    startup context; every evals/queries.txt rank that moved. BASE and HEAD are git revisions
    (a branch, a tag, a sha, main~1). No upstream server is started. Exit 0 whatever changed.
    """
    from skillgate.settings import load_settings

    report = _compare(directory, base, head, load_settings(config))
    if output == "json":
        _print_json(report_json(report))
    else:
        click.echo("\n".join(github_comment(report) if output == "github" else text_report(report)))


def _compare(directory: Path, base: str, head: str | None, settings: Settings) -> Report:
    """Read both sides (revisions into a temporary folder), render them with one worker pool, compare."""
    import anyio

    from skillgate.authoring import revisions
    from skillgate.authoring.diff import compare
    from skillgate.serve import search_ranker

    repo = revisions.repository(directory)
    with tempfile.TemporaryDirectory(prefix="skillgate-diff-") as tmp:
        old = revisions.export(repo, base, Path(tmp) / "base")
        new = revisions.export(repo, head, Path(tmp) / "head") if head else revisions.working_tree(directory)
        catalogs = (_side_catalog(old), _side_catalog(new))
        place = repo.top / repo.prefix  # names the search caches of both sides: stable across runs
        renderer = settings.render.workers_pool()
        renderer.prestart_in_background()  # a worker starts while the catalogs are indexed
        try:
            return anyio.run(
                compare,
                *catalogs,
                renderer,
                search_ranker(settings),
                (old.label, new.label),
                (Path(f"{place}#diff-base"), Path(f"{place}#diff-head")),
            )
        finally:
            renderer.close()


def _side_catalog(side: Side) -> Catalog:
    """The side's catalog, its paths shown as `REVISION:folder/...`; its errors to stderr."""
    import dataclasses

    from skillgate.base.diagnostics import Severity
    from skillgate.skills.catalog import Catalog, display_path

    catalog = dataclasses.replace(Catalog.load(side.folder), typed_root=side.shown)
    for d in catalog.diagnostics:
        if d.severity is Severity.ERROR:
            click.echo(str(d.shown(display_path(Path(d.path), catalog.root, side.shown))), err=True)
    return catalog


# -- json -------------------------------------------------------------------------


def report_json(report: Report) -> dict[str, Any]:
    return {
        "base": report.base,
        "head": report.head,
        "k": report.k,
        "changed": not report.empty,
        "startup": {"tokens": _delta_json(report.startup), "diff": report.startup_diff},
        "skills": [_skill_json(s) for s in report.skills],
        "ranks": [_rank_json(r) for r in report.ranks],
    }


def _delta_json(delta: Delta) -> dict[str, int | None]:
    return {"before": delta.before, "after": delta.after, "change": delta.change}


def _skill_json(skill: SkillDiff) -> dict[str, Any]:
    b, a = skill.before, skill.after
    return {
        "name": skill.name,
        "status": skill.status,
        "diff": skill.diff,
        "sections": skill.sections,
        "tokens": {name: _delta_json(d) for name, d in skill.tokens().items()},
        "catalog_line": {"before": b and b.catalog_line, "after": a and a.catalog_line},
        "render_error": {
            "before": b.text if b and b.failed else None,
            "after": a.text if a and a.failed else None,
        },
        "tools": skill.changed("tools"),
        "files": skill.changed("files"),
        "unlocked_servers": {"before": list(b.unlocked) if b else [], "after": list(a.unlocked) if a else []},
        "errors": skill.errors,
        "lock": [asdict(c) for c in skill.lock],  # server, tool, change, fields, before, after
    }


def _rank_json(change: RankChange) -> dict[str, Any]:
    """skill, query, status; before and after: {rank, line, above}, or null where the query is absent."""
    return asdict(change) | {"status": change.status}


# -- text ---------------------------------------------------------------------------


def text_report(report: Report) -> list[str]:
    if report.empty:
        return [f"no skill changes between {report.base} and {report.head}"]
    lines = [
        f"skillgate diff: {report.base} → {report.head}",
        f"startup context: {_delta(report.startup)} tokens",
    ]
    for skill in report.skills:
        lines += ["", f"{skill.name} ({skill.status})", *(f"  {line}" for line in _skill_lines(skill))]
        lines += [f"  {_styled(line)}" for line in skill.diff.splitlines()]
    if report.ranks:
        lines += [
            "",
            f"findability (evals/queries.txt ranks among list_skills results; top {report.k} passes):",
        ]
        lines += [
            f"  {r.skill}  {json.dumps(r.query, ensure_ascii=False)}  {_rank_move(r, report.k)}"
            for r in report.ranks
        ]
    if report.startup_diff:
        lines += [
            "",
            "startup context:",
            *(f"  {_styled(line)}" for line in report.startup_diff.splitlines()),
        ]
    return lines


def _skill_lines(skill: SkillDiff) -> list[str]:
    """The summary of one skill's change: sections, tokens, tools, files, lock, notes."""
    lines = [f"left out of the catalog: {error}" for error in skill.errors]
    lines += [f"sections {kind}: {'; '.join(heads)}" for kind, heads in skill.sections.items() if heads]
    tokens = skill.tokens()
    lines.append(f"catalog line: {_delta(tokens['catalog_line'], skill)} tokens")
    b, a = skill.before, skill.after
    if b and a and b.catalog_line != a.catalog_line:
        lines += [f"  - {b.catalog_line}", f"  + {a.catalog_line}"]
    load, text, schemas = (_delta(tokens[part], skill) for part in ("load", "instructions", "tools"))
    lines.append(f"load: {load} tokens (instructions {text}, tool schemas {schemas})")
    for part in ("tools", "files"):
        marks = {"added": "+", "removed": "-", "changed": "~"}
        found = [f"{marks[kind]} {name}" for kind, names in skill.changed(part).items() for name in names]
        if found:
            lines.append(f"{part}: {', '.join(found)}")
    return lines + _lock_lines(skill.lock) + _notes(skill)


def _notes(skill: SkillDiff) -> list[str]:
    """A side whose render fails, or whose bound servers have no lock (their tools go uncounted)."""
    lines = []
    for view, label in ((skill.before, "before"), (skill.after, "after")):
        if view is not None and view.failed:
            lines.append(f"render fails {label}: {view.text}")
        if view is not None and view.unlocked:
            lines.append(
                f"{label}: no tools.lock.json entry for {', '.join(view.unlocked)}: those tools are not "
                "shown or counted (`skillgate lock` pins them)"
            )
    return lines


def _lock_lines(changes: list[LockChange]) -> list[str]:
    """Per server: `lock git: + added, - removed, ~ changed (fields)`, then each change's JSON diff."""
    marks = {"added": "+", "removed": "-", "changed": "~"}
    lines = []
    for server in sorted({c.server for c in changes}):
        mine = [c for c in changes if c.server == server]
        tools = [
            f"{marks[c.change]} {c.tool}" + (f" ({', '.join(c.fields)})" if c.fields else "") for c in mine
        ]
        lines.append(f"lock {server}: {', '.join(tools)}")
        for change in (c for c in mine if c.fields):
            lines += [f"  {_styled(line)}" for line in _lock_diff(change).splitlines()]
    return lines


def _delta(delta: Delta, skill: SkillDiff | None = None) -> str:
    """`512 → 540 (+28)`; `—` where the skill is absent, `fails` where its render fails."""

    def amount(n: int | None, present: bool) -> str:
        return f"{n:,}" if n is not None else "fails" if present else "—"

    b = amount(delta.before, skill is None or skill.before is not None)
    a = amount(delta.after, skill is None or skill.after is not None)
    change = f"{delta.change:+,}" if delta.change else "±0"
    return f"{b} → {a} ({change})"


def _rank(rank: Rank | None) -> str:
    if rank is None:
        return "(absent)"
    return "unmatched" if rank.rank is None else f"#{rank.rank}"


def _rank_move(change: RankChange, k: int) -> str:
    """`#3 → #1`; a query that fell says what is above it now, and when it left the top k."""
    notes = [f"outside the top {k}"] if _missed(change, k) else []
    if change.after is not None and change.after.above and (_fell(change) or notes):
        notes.append(f"below {', '.join(change.after.above)}")
    return f"{_rank(change.before)} → {_rank(change.after)}" + (f" ({'; '.join(notes)})" if notes else "")


def _missed(change: RankChange, k: int) -> bool:
    return change.after is not None and (change.after.rank is None or change.after.rank > k)


def _fell(change: RankChange) -> bool:
    before, after = change.before, change.after
    if before is None or after is None or before.rank is None:
        return False
    return after.rank is None or after.rank > before.rank


def _styled(line: str) -> str:
    """A diff line coloured for a terminal (click drops the colour when output is not one)."""
    if line.startswith(("+++", "---")):
        return click.style(line, bold=True)
    colour = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1])
    return click.style(line, fg=colour) if colour else line


# -- github -------------------------------------------------------------------------


def github_comment(report: Report) -> list[str]:
    """Markdown for a pull-request comment: tables first, then each diff folded in <details>."""
    title = f"### skillgate diff: `{report.base}` → `{report.head}`"
    if report.empty:
        return [title, "", f"no skill changes between {report.base} and {report.head}"]
    lines = [title, "", f"Startup context: {_delta(report.startup)} tokens", ""]
    if report.skills:
        lines += [
            "| skill | change | catalog line | load | instructions | tool schemas |",
            "|---|---|---|---|---|---|",
        ]
        for skill in report.skills:
            t = skill.tokens()
            cells = [_delta(t[part], skill) for part in ("catalog_line", "load", "instructions", "tools")]
            lines.append(f"| `{skill.name}` | {_change_cell(skill)} | {' | '.join(cells)} |")
    broken = [(s.name, e) for s in report.skills for e in s.errors]
    if broken:
        lines += ["", f"**Left out of the catalog** at `{report.head}` (errors: `skillgate validate`)", ""]
        lines += [f"- `{name}`: {_cell(error)}" for name, error in broken]
    locks = [(s.name, c) for s in report.skills for c in s.lock]
    if locks:
        lines += ["", "**Lock changes**", ""]
        for name, c in locks:
            fields = f" ({', '.join(f'`{f}`' for f in c.fields)})" if c.fields else ""
            lines.append(f"- `{name}` · `{c.server}`: `{c.tool}` {c.change}{fields}")
    if report.ranks:
        lines += ["", f"**Findability** (rank of each evals/queries.txt request; top {report.k} passes)", ""]
        lines += ["| skill | request | before | after |", "|---|---|---|---|"]
        for r in report.ranks:
            lines.append(
                f"| `{r.skill}` | {_cell(r.query)} | {_rank(r.before)} | {_rank_move_after(r, report.k)} |"
            )
    return lines + _details(report, sum(len(line) + 1 for line in lines))


def _change_cell(skill: SkillDiff) -> str:
    return skill.status if skill.status != "changed" else f"changed: {', '.join(_parts(skill))}"


def _parts(skill: SkillDiff) -> list[str]:
    """What differs in a changed skill, in words."""
    b, a = skill.before, skill.after
    assert b is not None and a is not None
    sections = [h for heads in skill.sections.values() for h in heads]
    found = [
        ("description", b.catalog_line != a.catalog_line),
        ("render fails" if a.failed else "rendered text", b.text != a.text and not sections),
        (f"section {', '.join(_cell(h) for h in sections)}", bool(sections) and not a.failed),
        ("tools", b.tools != a.tools or b.tools_tokens != a.tools_tokens),
        ("lock", bool(skill.lock)),
        ("files", b.files != a.files),
    ]
    return [name for name, differs in found if differs] or ["other"]


def _rank_move_after(change: RankChange, k: int) -> str:
    after = _rank(change.after)
    if change.after is not None and change.after.above and _fell(change):
        after += f" (below {', '.join(f'`{name}`' for name in change.after.above)})"
    return f"**{after}** ⚠️" if _missed(change, k) else after


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("`", "&#96;").replace("\n", " ")


def _details(report: Report, used: int) -> list[str]:
    """The diffs, each folded, while the comment (`used` characters so far) stays under the limit."""
    blocks = [(f"<code>{s.name}</code>: rendered diff", s.diff) for s in report.skills if s.diff]
    blocks += [
        (f"<code>{s.name}</code>: lock <code>{c.server}</code> · <code>{c.tool}</code>", _lock_diff(c))
        for s in report.skills
        for c in s.lock
        if c.fields
    ]
    if report.startup_diff:
        blocks.append(("startup context (server instructions, list_skills description)", report.startup_diff))
    lines: list[str] = []
    for summary, text in blocks:
        block = _fold(summary, text)
        used += sum(len(line) + 1 for line in block)
        if used > COMMENT_CHARS:
            lines += ["", "(more diffs left out to fit a comment: run `skillgate diff` locally)"]
            break
        lines += block
    return lines


def _lock_diff(change: LockChange) -> str:
    from skillgate.authoring.diff import unified

    def dumped(values: dict[str, Any]) -> str:
        return json.dumps(values, indent=2, sort_keys=True, ensure_ascii=False)

    tool = f"{change.server}/{change.tool}"
    return unified(dumped(change.before), dumped(change.after), f"{tool} (before)", f"{tool} (after)")


def _fold(summary: str, text: str) -> list[str]:
    body = text.splitlines()
    if len(body) > MAX_DIFF_LINES:
        body = [*body[:MAX_DIFF_LINES], f"... {len(body) - MAX_DIFF_LINES} more lines: run `skillgate diff`"]
    runs = [len(m) for m in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)  # longer than any backtick run in the diff
    return ["", f"<details><summary>{summary}</summary>", "", f"{fence}diff", *body, fence, "", "</details>"]
