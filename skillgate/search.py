"""Ranked skill search: BM25 (rank-bm25) with field weights, typo and prefix tolerance.

A skill is indexed as one document: its name (weight 3), description (2), the
headings of its body (1) and the names and descriptions of its tools (1), where
known. Query words that are not in the vocabulary are widened to the words they
start (`timez` -> `timezone`) and to words one or two edits away (`kubenetes` ->
`kubernetes`), at a discount. Ties are broken by skill name, so results are stable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rank_bm25 import BM25Plus

_WORD = re.compile(r"[A-Za-z]+|[0-9]+|[^\W\d_A-Za-z]", re.UNICODE)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "the",
        "this",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "you",
        "your",
    ]
)

EXACT, PREFIX, FUZZY = 1.0, 0.8, 0.6
FIELD_WEIGHTS = {"name": 3, "description": 2, "headings": 1, "tools": 1}


def tokenize(text: str) -> list[str]:
    """Lower-case words of `text`: snake_case, kebab-case and camelCase split, plurals folded."""
    words: list[str] = []
    for chunk in re.split(r"[\s_\-./:]+", text):
        for part in _CAMEL.split(chunk):
            for word in _WORD.findall(part.lower()):
                if word in STOPWORDS:
                    continue
                words.append(_singular(word))
    return words


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@dataclass(frozen=True)
class SearchDocument:
    name: str
    description: str
    headings: Sequence[str] = ()
    tools: Sequence[str] = ()  # tool names and descriptions

    def tokens(self) -> list[str]:
        fields = {
            "name": self.name,
            "description": self.description,
            "headings": " ".join(self.headings),
            "tools": " ".join(self.tools),
        }
        out: list[str] = []
        for field, text in fields.items():
            out += tokenize(text) * FIELD_WEIGHTS[field]
        return out or [self.name]


@dataclass(frozen=True)
class Hit:
    name: str
    score: float


class SearchIndex:
    """BM25 over a fixed set of skills. Build a new one when the catalog changes."""

    def __init__(self, documents: Iterable[SearchDocument]) -> None:
        self._docs = sorted(documents, key=lambda d: d.name)
        corpus = [d.tokens() for d in self._docs]
        self._bm25 = BM25Plus(corpus, delta=0) if corpus else None
        self._vocabulary = sorted({w for doc in corpus for w in doc})

    def search(self, query: str, limit: int | None = None) -> list[Hit]:
        if self._bm25 is None:
            return []
        scores = [0.0] * len(self._docs)
        for word in dict.fromkeys(tokenize(query)):
            best = [0.0] * len(self._docs)
            for variant, weight in self._variants(word):
                for i, value in enumerate(self._bm25.get_scores([variant])):
                    best[i] = max(best[i], weight * float(value))
            scores = [s + b for s, b in zip(scores, best, strict=True)]
        hits = [Hit(d.name, round(s, 4)) for d, s in zip(self._docs, scores, strict=True) if s > 0]
        hits.sort(key=lambda h: (-h.score, h.name))
        return hits if limit is None else hits[:limit]

    def _variants(self, word: str) -> list[tuple[str, float]]:
        variants: dict[str, float] = {}
        if word in self._bm25_idf():
            variants[word] = EXACT
        if len(word) >= 3:
            for term in self._vocabulary:
                if term != word and term.startswith(word):
                    variants.setdefault(term, PREFIX)
        if len(word) >= 4 and word not in variants:
            budget = 1 if len(word) < 8 else 2
            for term in self._vocabulary:
                near = term not in variants and abs(len(term) - len(word)) <= budget
                if near and edit_distance(word, term, budget) <= budget:
                    variants[term] = FUZZY
        return sorted(variants.items())

    def _bm25_idf(self) -> dict[str, float]:
        assert self._bm25 is not None
        idf: dict[str, float] = self._bm25.idf
        return idf


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance between `a` and `b`, or `limit + 1` once past `limit`."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]
