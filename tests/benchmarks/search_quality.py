"""Search quality: Recall@1, Recall@5, Complete@5 and MRR of three rankers over the same text:
plain rank-bm25 (the baseline), skillgate's BM25 alone (`embedder = "none"`) and the hybrid
(BM25 + the builtin embedder, with multi-need splitting), which `list_skills` uses by default.

- MetaTool (../shared/bench-data/metatool): one skill per tool (name from the tool, description
  from plugin_des.json); 20,614 single-tool queries and 497 two-tool queries.
- voice: the team's own set, fixtures/voice_queries.json: spoken-style requests over one skill
  per tool of the 15 recorded real servers (name <server>-<tool>, description the tool's).
- multi_need: fixtures/multi_need_queries.json, 113 long task descriptions written before any
  tuning (never edited to fit), each needing one to three of 15 skills: one locked skill per
  recorded server (its package description, all its tools).

Complete@5: the share of queries whose needed skills are all in the top 5.

Run: make bench   (or: python -m tests.benchmarks.search_quality)
Writes tests/benchmarks/results/search_quality.json.
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rank_bm25 import BM25Okapi

from skillgate.search.embedder import BuiltinEmbedder
from skillgate.search.hybrid import HybridIndex
from skillgate.search.hybrid import Ranker as SkillRanker
from skillgate.search.lexical import SearchDocument
from tests.benchmarks.catalogs import recorded_servers
from tests.benchmarks.core import publish
from tests.conftest import REPO

# The MetaTool data lives in the team's shared folder beside the checkout; SKILLGATE_BENCH_DATA overrides.
BENCH_DATA = Path(os.environ.get("SKILLGATE_BENCH_DATA", REPO.parent / "shared" / "bench-data"))
METATOOL = BENCH_DATA / "metatool"
VOICE = Path(__file__).parent / "fixtures" / "voice_queries.json"
MULTI_NEED = Path(__file__).parent / "fixtures" / "multi_need_queries.json"
SERVER_DESCRIPTIONS = Path(__file__).parent / "fixtures" / "server_descriptions.json"
Ranker = Callable[[str], list[str]]


def kebab(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()).strip("-")


def bm25_ranker(docs: Sequence[SearchDocument]) -> Ranker:
    """skillgate's lexical half alone (`embedder = "none"`)."""
    index = HybridIndex(docs, None, None)
    return lambda query: [hit.name for hit in index.search(query, limit=5)]


def hybrid_ranker(docs: Sequence[SearchDocument]) -> Ranker:
    """What list_skills ranks with by default: BM25 + the builtin embedder (vectors in memory)."""
    index = SkillRanker(BuiltinEmbedder()).index(docs, Path("/benchmark"))
    assert index.hybrid
    return lambda query: [hit.name for hit in index.search(query, limit=5)]


def baseline_ranker(docs: Sequence[SearchDocument]) -> Ranker:
    """Plain rank-bm25: BM25Okapi over lower-cased word tokens of name + description."""

    def words(text: str) -> list[str]:
        return re.findall(r"\w+", text.lower())

    names = [d.name for d in docs]
    bm25 = BM25Okapi([words(f"{d.name.replace('-', ' ')} {d.description} {' '.join(d.tools)}") for d in docs])

    def rank(query: str) -> list[str]:
        scores = bm25.get_scores(words(query))
        order = sorted(range(len(names)), key=lambda i: (-scores[i], names[i]))
        return [names[i] for i in order[:5] if scores[i] > 0]

    return rank


def evaluate(rank: Ranker, cases: Sequence[tuple[str, set[str]]]) -> dict[str, float]:
    r1 = r5 = c5 = rr = 0.0
    started = time.perf_counter()
    for query, gold in cases:
        top = rank(query)
        r1 += len(gold & set(top[:1])) / min(len(gold), 1)
        r5 += len(gold & set(top[:5])) / len(gold)
        c5 += gold <= set(top[:5])
        rr += next((1 / (i + 1) for i, name in enumerate(top) if name in gold), 0.0)
    n = len(cases)
    return {
        "recall@1": round(r1 / n, 4),
        "recall@5": round(r5 / n, 4),
        "complete@5": round(c5 / n, 4),
        "mrr@5": round(rr / n, 4),
        "queries": n,
        "ms_per_query": round((time.perf_counter() - started) * 1000 / n, 3),
    }


def metatool() -> tuple[list[SearchDocument], list[tuple[str, set[str]]], list[tuple[str, set[str]]]]:
    if not (METATOOL / "plugin_des.json").is_file():
        raise SystemExit(
            f"MetaTool data not found in {METATOOL}: it is in shared/bench-data beside the checkout; "
            "set SKILLGATE_BENCH_DATA to the bench-data folder"
        )
    descriptions: dict[str, str] = json.loads((METATOOL / "plugin_des.json").read_text())
    docs = [SearchDocument(kebab(tool), text) for tool, text in sorted(descriptions.items())]
    with (METATOOL / "all_clean_data.csv").open(newline="") as handle:
        single = [(row["Query"], {kebab(row["Tool"])}) for row in csv.DictReader(handle)]
    golden = json.loads((METATOOL / "multi_tool_query_golden.json").read_text())
    multi = [(entry["query"], {kebab(t) for t in entry["tool"]}) for entry in golden]
    return docs, single, multi


def voice() -> tuple[list[SearchDocument], list[tuple[str, set[str]]]]:
    docs = [
        SearchDocument(f"{server}-{kebab(tool['name'])}", tool.get("description", ""), tools=[tool["name"]])
        for server, tools in recorded_servers().items()
        for tool in tools
    ]
    cases = [(c["query"], set(c["skills"])) for c in json.loads(VOICE.read_text())]
    names = {d.name for d in docs}
    unknown = {s for _, gold in cases for s in gold} - names
    assert not unknown, f"voice queries name unknown skills: {sorted(unknown)}"
    return docs, cases


def multi_need() -> tuple[list[SearchDocument], list[tuple[str, set[str]]]]:
    descriptions: dict[str, str] = json.loads(SERVER_DESCRIPTIONS.read_text())
    docs = [
        SearchDocument(
            server, descriptions[server], tools=[f"{t['name']} {t.get('description', '')}" for t in tools]
        )
        for server, tools in recorded_servers().items()
    ]
    cases = [(c["query"], set(c["skills"])) for c in json.loads(MULTI_NEED.read_text())]
    unknown = {s for _, gold in cases for s in gold} - {d.name for d in docs}
    assert not unknown, f"multi-need queries name unknown skills: {sorted(unknown)}"
    return docs, cases


RANKERS = {"baseline_bm25": baseline_ranker, "skillgate_bm25": bm25_ranker, "hybrid": hybrid_ranker}


def main() -> dict[str, Any]:
    docs, single, multi = metatool()
    voice_docs, voice_cases = voice()
    need_docs, need_cases = multi_need()
    figures: dict[str, Any] = {}
    for label, documents, cases in [
        ("metatool_single", docs, single),
        ("metatool_multi", docs, multi),
        ("voice", voice_docs, voice_cases),
        ("multi_need", need_docs, need_cases),
    ]:
        figures[label] = {name: evaluate(build(documents), cases) for name, build in RANKERS.items()}
    return figures


def report(f: dict[str, Any]) -> str:
    lines = [
        f"{'set':<16} {'ranker':<15} {'R@1':>7} {'R@5':>7} {'C@5':>7} {'MRR':>7} {'queries':>8} {'ms/q':>7}"
    ]
    for label, rankers in f.items():
        for ranker, m in rankers.items():
            lines.append(
                f"{label:<16} {ranker:<15} {m['recall@1']:>7} {m['recall@5']:>7} {m['complete@5']:>7} "
                f"{m['mrr@5']:>7} {m['queries']:>8} {m['ms_per_query']:>7}"
            )
        gain = rankers["hybrid"]["recall@5"] - rankers["baseline_bm25"]["recall@5"]
        lines.append(f"{'':<16} hybrid R@5 - baseline: {gain:+.3f} (bar: +0.10)")
    return "\n".join(lines)


if __name__ == "__main__":
    figures = main()
    publish("search_quality", figures, report)
