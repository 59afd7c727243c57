"""Findability tests: the requests that must find a skill, checked like tests.

A skill may list example requests in `evals/queries.txt` beside its SKILL.md, one per line
(blank lines and lines starting with `#` are skipped). Each runs through the same ranking as
`list_skills(query)`, over the whole catalog; it passes when its skill is in the top `k`.
A miss reports the skills that outranked it, so an author sees what to tell apart.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # this module is imported by the command line for DEFAULT_K: it stays light
    from skillgate.search.hybrid import HybridIndex
    from skillgate.skills.bundle import Skill
    from skillgate.skills.catalog import Catalog

DEFAULT_K = 5
MAX_QUERIES = 200  # per skill
MAX_QUERY_CHARS = 1000


@dataclass(frozen=True)
class QueryResult:
    skill: str
    query: str
    line: int  # in evals/queries.txt
    rank: int | None  # 1-based place among the skills the query matched; None: not matched
    outranked_by: list[str] = field(default_factory=list)  # the skills above it, at most k

    def passed(self, k: int) -> bool:
        return self.rank is not None and self.rank <= k


def read_queries(skill: Skill) -> list[tuple[int, str]]:
    """(line, query) pairs of the skill's evals/queries.txt; none when it has no such file, or
    when that is not a regular file inside the skill folder (a FIFO, a device, a link out)."""
    from skillgate.base.layout import EVAL_QUERIES

    path = skill.dir / EVAL_QUERIES
    try:
        target = path.resolve(strict=True)
        if not target.is_relative_to(skill.dir.resolve()) or not stat.S_ISREG(target.stat().st_mode):
            return []
        with target.open(encoding="utf-8", errors="replace") as handle:
            text = handle.read(MAX_QUERIES * (MAX_QUERY_CHARS + 1))
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop on older Pythons
        return []
    queries = []
    for number, line in enumerate(text.splitlines(), start=1):
        query = line.strip()
        if query and not query.startswith("#"):
            queries.append((number, query[:MAX_QUERY_CHARS]))
    return queries[:MAX_QUERIES]


def run_queries(catalog: Catalog, index: HybridIndex, k: int = DEFAULT_K) -> list[QueryResult]:
    """Every example query of every skill, in skill then line order."""
    return [result for skill in catalog for result in run_skill_queries(skill, index, k)]


def run_skill_queries(skill: Skill, index: HybridIndex, k: int = DEFAULT_K) -> list[QueryResult]:
    results = []
    for line, query in read_queries(skill):
        rank, above = rank_of(skill.name, query, index, k)
        missed = rank is None or rank > k
        results.append(QueryResult(skill.name, query, line, rank, above if missed else []))
    return results


def rank_of(name: str, query: str, index: HybridIndex, k: int) -> tuple[int | None, list[str]]:
    """Where skill `name` ranks for `query` over the whole index (None: not matched), and the
    first `k` skills above it."""
    names = [hit.name for hit in index.top(query)[0]]
    rank = names.index(name) + 1 if name in names else None
    return rank, names[: (rank - 1 if rank is not None else len(names))][:k]


def skills_without_queries(catalog: Catalog, results: list[QueryResult]) -> list[str]:
    tested = {result.skill for result in results}
    return [skill.name for skill in catalog if skill.name not in tested]
