"""Findability that more text cannot spoil: a skill is judged by its best-matching parts, so
repeating its tools, repeating their descriptions, or adding tools that match nothing never
moves it above a skill that matched better (issue 21's property), BM25 alone and hybrid.

"Match nothing" means no word in common with the request and, for the hybrid, no text closer to
it in meaning than the skill's own best (a text said ten times over is embedded from its first
4,000 characters, so it can move a little): the dense half judges a skill by its closest text, so
a tool that happens to lie closer is a match in meaning, not volume (the correction for chance in
`DenseIndex.chance` offsets those on average; docs/figures.md counts verbose skills ranked first
wrongly)."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from skillgate.search.embedder import BuiltinEmbedder
from skillgate.search.hybrid import HybridIndex, Ranker, parts_of
from skillgate.search.lexical import SearchDocument, tokenize
from tests.benchmarks import search_dev

QUERIES = [q for q, _ in search_dev.long_requests()] + [
    q for q, _ in search_dev.long_requests("wide_requests.json")
]
EMBEDDER = BuiltinEmbedder()
RANKER = Ranker(EMBEDDER)  # one vector cache: a catalog with one skill changed embeds that skill only
# Words no request reaches, not even by prefix or one typo: tools that match nothing.
FILLER = [f"zq{a}{b}x" for a in "bdfgkmpt" for b in "aeiou"]


@lru_cache(maxsize=1)
def catalog() -> tuple[SearchDocument, ...]:
    return tuple(search_dev.catalog(locked=True, wide=True))


def index_of(docs: list[SearchDocument], hybrid: bool) -> HybridIndex:
    return RANKER.index(docs, Path("/findability")) if hybrid else HybridIndex(docs, None, None)


@lru_cache(maxsize=2)
def catalog_index(hybrid: bool) -> HybridIndex:
    """The index of the catalog as it is: the same for every example, so built once."""
    return index_of(list(catalog()), hybrid)


def ranked(index: HybridIndex, query: str) -> list[str]:
    return [hit.name for hit in index.search(query)]


def closer_in_meaning(before: HybridIndex, after: HybridIndex, name: str, query: str) -> bool:
    """Whether the added tools bring skill `name` closer to the request (or a part of it) in meaning."""
    vectors = EMBEDDER.embed([query, *parts_of(query)])
    closest = []
    for index in (before, after):
        assert index.dense is not None
        closest.append(index.dense.similarities(vectors)[:, index.names.index(name)])
    return bool((closest[1] > closest[0] + 1e-6).any())


def inflate(doc: SearchDocument, how: str, query: str) -> SearchDocument:
    if how == "tools-ten-times":
        return dataclasses.replace(doc, tools=[t for t in doc.tools for _ in range(10)])
    if how == "descriptions-ten-times":
        return dataclasses.replace(doc, tools=[" ".join([t] * 10) for t in doc.tools])
    assert not {w for f in FILLER for w in tokenize(f)} & set(tokenize(query))
    unrelated = [
        f"zqtool{i} " + " ".join(FILLER[(i + j) % len(FILLER)] for j in range(60)) for i in range(20)
    ]
    return dataclasses.replace(doc, tools=[*doc.tools, *unrelated])


@pytest.mark.parametrize("hybrid", [False, True], ids=["bm25", "hybrid"])
@pytest.mark.parametrize("how", ["tools-ten-times", "descriptions-ten-times", "unrelated-tools"])
@settings(max_examples=8, deadline=None, derandomize=True)
@given(query=st.sampled_from(QUERIES), pick=st.integers(1, 4))
def test_more_text_never_lifts_a_skill_above_a_better_match(
    hybrid: bool, how: str, query: str, pick: int
) -> None:
    docs = list(catalog())
    before_index = catalog_index(hybrid)
    before = ranked(before_index, query)
    if len(before) <= pick:
        return
    lower = before[pick]
    better = before[:pick]
    after_index = index_of([inflate(d, how, query) if d.name == lower else d for d in docs], hybrid)
    if hybrid:
        assume(not closer_in_meaning(before_index, after_index, lower, query))
    after = ranked(after_index, query)
    assert lower not in after[:pick] or after.index(lower) >= pick, (before[: pick + 1], after[: pick + 1])
    for name in better:
        assert name not in after or lower not in after or after.index(name) < after.index(lower)
