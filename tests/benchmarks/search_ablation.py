"""Does every part of the ranking earn its place? Each component of today's search switched off in
turn (issue 21), measured on every dev set: the hybrid's R@1 / R@5 / Complete@5.

Components: the everyday-synonym table, prefix widening, typo (fuzzy) matching, field weights
(name x3, description x2), request parts (multi-need splitting), the lexical half and the dense
half of the fusion, and the dense reach rules (a skill counts only when BM25 reaches it, it is
among the nearest, or its cosine passes DENSE_MATCH), the share of a skill's lexical score from
words matched across its parts (COVERAGE), and the dense correction for chance (EXTREME).

Sets: long and wide (locked; search_dev), multi_need and voice (search_quality), MetaTool's
two-tool queries, and every tenth of its single-tool queries.

Run: python -m tests.benchmarks.search_ablation
Writes tests/benchmarks/results/search_ablation.json.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import skillgate.search.dense as dense
import skillgate.search.hybrid as hybrid
import skillgate.search.lexical as lexical
from skillgate.search.lexical import SearchDocument
from tests.benchmarks import search_dev, search_quality
from tests.benchmarks.core import publish

Patch = Callable[[], contextlib.AbstractContextManager[None]]


@contextlib.contextmanager
def setting(module: Any, **values: Any) -> Iterator[None]:
    old = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            setattr(module, name, value)


@contextlib.contextmanager
def no_synonyms() -> Iterator[None]:
    saved = dict(lexical.SYNONYMS)
    lexical.SYNONYMS.clear()
    try:
        yield
    finally:
        lexical.SYNONYMS.update(saved)


@contextlib.contextmanager
def no_fuzzy() -> Iterator[None]:
    near = lexical.SearchIndex._near
    lexical.SearchIndex._near = lambda self, word, budget: set()  # type: ignore[method-assign]
    try:
        yield
    finally:
        lexical.SearchIndex._near = near  # type: ignore[method-assign]


@contextlib.contextmanager
def flat_fields() -> Iterator[None]:
    saved = dict(lexical.FIELD_WEIGHTS)
    lexical.FIELD_WEIGHTS.update(dict.fromkeys(saved, 1))
    try:
        yield
    finally:
        lexical.FIELD_WEIGHTS.update(saved)


CONFIGS: dict[str, Patch] = {
    "today": contextlib.nullcontext,
    "- synonyms": no_synonyms,
    "- prefix": lambda: setting(lexical, MAX_PREFIX_EXPANSIONS=-1),
    "- fuzzy": no_fuzzy,
    "- field weights": flat_fields,
    "- request parts": lambda: setting(hybrid, MAX_PARTS=0),
    "- lexical half": lambda: setting(hybrid, LEXICAL_WEIGHT=0.0, DENSE_WEIGHT=1.0),
    "- dense half": lambda: setting(hybrid, LEXICAL_WEIGHT=1.0, DENSE_WEIGHT=0.0),
    "- reach rules": lambda: setting(hybrid, DENSE_MATCH=-1.0),
    "- cross-part words": lambda: setting(lexical, COVERAGE=0.0),
    "- chance correction": lambda: setting(dense, EXTREME=0.0),
}


def sets() -> dict[str, tuple[list[SearchDocument], list[search_dev.Case]]]:
    def needs(cases: Sequence[tuple[str, set[str]]]) -> list[search_dev.Case]:
        return [(query, [{skill} for skill in gold]) for query, gold in cases]

    meta_docs, single, multi = search_quality.metatool()
    need_docs, need_cases = search_quality.multi_need()
    voice_docs, voice_cases = search_quality.voice()
    return {
        "long": (search_dev.catalog(True), search_dev.long_requests()),
        "wide": (search_dev.catalog(True, wide=True), search_dev.long_requests("wide_requests.json")),
        "multi_need": (need_docs, needs(need_cases)),
        "voice": (voice_docs, needs(voice_cases)),
        "metatool_multi": (meta_docs, needs(multi)),
        "metatool_single/10": (meta_docs, needs(single[::10])),
    }


def main() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    data = sets()
    for config, patch in CONFIGS.items():
        with patch():
            figures[config] = {
                label: search_dev.evaluate(search_quality.hybrid_ranker(docs), cases)
                for label, (docs, cases) in data.items()
            }
        print(config, {k: (v["R@1"], v["R@5"], v["C@5"]) for k, v in figures[config].items()}, flush=True)
    return figures


def report(figures: dict[str, Any]) -> str:
    labels = list(next(iter(figures.values())))
    lines = [f"{'config':<16} " + " ".join(f"{label:>20}" for label in labels), "R@1 / R@5 / C@5"]
    for config, by_set in figures.items():
        cells = [f"{m['R@1']:.2f}/{m['R@5']:.2f}/{m['C@5']:.2f}" for m in by_set.values()]
        lines.append(f"{config:<16} " + " ".join(f"{cell:>20}" for cell in cells))
    return "\n".join(lines)


if __name__ == "__main__":
    publish("search_ablation", main(), report)
