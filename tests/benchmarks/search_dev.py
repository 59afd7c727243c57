"""Findability dev sets of issue 21, written before tuning: long multi-need requests in plain
words over a catalog of real recorded servers where a few skills are far more verbose than the
rest, locked (real tool definitions) and unlocked (package descriptions only), and requests no
skill answers.

- long: fixtures/long_requests.json, 40 requests (36 words, 2.0 needs each); a need is met by
  any one of its skills. One skill per server of fixtures/servers and fixtures/servers-more.
- wide: fixtures/wide_requests.json, 40 requests (1 to 2 needs) over every recorded server (39,
  several with thousands of words of tool text): the small servers' needs among verbose ones.
- no_answer: fixtures/no_answer_queries.json, 40 requests none of those skills answers.

R@1: the first result meets a need. R@5: the share of needs met in the top 5. Complete@5: all
needs met in the top 5.

Run: python -m tests.benchmarks.search_dev [--before DIR]
Writes tests/benchmarks/results/search_dev.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from skillgate.search.embedder import BuiltinEmbedder
from skillgate.search.hybrid import HybridIndex
from skillgate.search.hybrid import Ranker as SkillRanker
from skillgate.search.lexical import SearchDocument
from tests.benchmarks import search_quality
from tests.benchmarks.core import publish

FIXTURES = Path(__file__).parent / "fixtures"
Ranker = Callable[[str], list[str]]
Case = tuple[str, list[set[str]]]


LONG_EXTRA = ("notion", "playwright")  # of fixtures/servers-more: what the long requests were written over


def servers(wide: bool = False) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """name -> (package description, tools) of the recorded servers the long requests were written
    over (all of fixtures/servers, and LONG_EXTRA of fixtures/servers-more), or with `wide` every
    recorded server (the wide requests')."""
    descriptions: dict[str, str] = json.loads((FIXTURES / "server_descriptions.json").read_text())
    more = FIXTURES / "servers-more"
    if (more / "descriptions.json").is_file():
        descriptions |= json.loads((more / "descriptions.json").read_text())
    found = {}
    for folder in (FIXTURES / "servers", more):
        for path in sorted(folder.glob("*.json")):
            extra = folder == more and not wide and path.stem not in LONG_EXTRA
            if path.name == "descriptions.json" or extra:
                continue
            data = json.loads(path.read_text())
            found[path.stem] = (descriptions[path.stem], data["tools"])
    return dict(sorted(found.items()))


def catalog(locked: bool, wide: bool = False) -> list[SearchDocument]:
    return [
        SearchDocument(
            name,
            description,
            tools=[f"{t['name']} {t.get('description', '')}" for t in tools] if locked else [],
        )
        for name, (description, tools) in servers(wide).items()
    ]


def long_requests(file: str = "long_requests.json") -> list[Case]:
    data = json.loads((FIXTURES / file).read_text())
    return [(c["query"], [set(need) for need in c["needs"]]) for c in data["cases"]]


def no_answer() -> list[str]:
    return list(json.loads((FIXTURES / "no_answer_queries.json").read_text())["queries"])


RANKERS = {
    "plain_bm25": search_quality.baseline_ranker,
    "skillgate_bm25": search_quality.bm25_ranker,
    "skillgate": search_quality.hybrid_ranker,
}


def evaluate(rank: Ranker, cases: Sequence[Case]) -> dict[str, float]:
    r1 = r5 = c5 = 0.0
    for query, needs in cases:
        top = rank(query)
        met = [bool(need & set(top[:5])) for need in needs]
        r1 += any(top[:1] and top[0] in need for need in needs)
        r5 += sum(met) / len(needs)
        c5 += all(met)
    n = len(cases)
    return {"R@1": round(r1 / n, 3), "R@5": round(r5 / n, 3), "C@5": round(c5 / n, 3), "queries": n}


def floor(
    docs: Sequence[SearchDocument], answerable: Sequence[str], unanswerable: Sequence[str]
) -> dict[str, Any]:
    """The relevance floor over one catalog: the share of answerable requests it calls "no match"
    (false) and of unanswerable ones (true), hybrid and BM25 alone."""
    out: dict[str, Any] = {}
    for label, index in (
        ("skillgate", SkillRanker(BuiltinEmbedder()).index(docs, Path("/benchmark"))),
        ("skillgate_bm25", HybridIndex(docs, None, None)),
    ):
        below = [not index.find(q, 5).above for q in [*answerable, *unanswerable]]
        out[label] = {
            "false_no_match": round(sum(below[: len(answerable)]) / max(len(answerable), 1), 3),
            "true_no_match": round(sum(below[len(answerable) :]) / max(len(unanswerable), 1), 3),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
        }
    return out


def floors() -> dict[str, Any]:
    """The floor on every dev catalog: its own answerable requests against the no-answer set."""
    unanswerable = no_answer()
    need_docs, need_cases = search_quality.multi_need()
    voice_docs, voice_cases = search_quality.voice()
    meta_docs, _, meta_multi = search_quality.metatool()
    catalogs: dict[str, tuple[list[SearchDocument], list[str]]] = {
        "long/unlocked": (catalog(False), [q for q, _ in long_requests()]),
        "long/locked": (catalog(True), [q for q, _ in long_requests()]),
        "wide/unlocked": (catalog(False, True), [q for q, _ in long_requests("wide_requests.json")]),
        "wide/locked": (catalog(True, True), [q for q, _ in long_requests("wide_requests.json")]),
        "multi_need": (need_docs, [q for q, _ in need_cases]),
        "voice": (voice_docs, [q for q, _ in voice_cases]),
        "metatool_multi": (meta_docs, [q for q, _ in meta_multi]),
    }
    return {label: floor(docs, asked, unanswerable) for label, (docs, asked) in catalogs.items()}


def main() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for label, file, wide in [("long", "long_requests.json", False), ("wide", "wide_requests.json", True)]:
        cases = long_requests(file)
        for variant in ("unlocked", "locked"):
            docs = catalog(variant == "locked", wide)
            figures[f"{label}/{variant}"] = {
                name: evaluate(build(docs), cases) for name, build in RANKERS.items()
            }
    figures["floor"] = floors()
    figures["catalog"] = {
        name: {
            "tools": len(tools),
            "tool_words": sum(len(str(t.get("description") or "").split()) for t in tools),
        }
        for name, (_, tools) in servers(wide=True).items()
    }
    return figures


def report(figures: dict[str, Any]) -> str:
    lines = [f"{'set':<16} {'ranker':<15} {'R@1':>6} {'R@5':>6} {'C@5':>6} {'n':>4}"]
    for label, rankers in figures.items():
        if label in ("catalog", "floor"):
            continue
        for ranker, m in rankers.items():
            scores = f"{m['R@1']:>6} {m['R@5']:>6} {m['C@5']:>6} {m['queries']:>4}"
            lines.append(f"{label:<16} {ranker:<15} {scores}")
    lines.append(f"\n{'floor: catalog':<16} {'ranker':<15} {'false no-match':>15} {'true no-match':>14}")
    for label, rankers in figures["floor"].items():
        for ranker, m in rankers.items():
            lines.append(f"{label:<16} {ranker:<15} {m['false_no_match']:>15} {m['true_no_match']:>14}")
    return "\n".join(lines)


if __name__ == "__main__":
    publish("search_dev", main(), report)
