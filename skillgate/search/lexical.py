"""Ranked skill search: BM25 (rank-bm25) with field weights, typo and prefix tolerance.

A skill is indexed as one document: its name (weight 3), description (2), the headings of
its body (1) and the names and descriptions of its tools (1), where known. Words are split
on snake_case, kebab-case and camelCase, CJK characters stand alone, and a light stemmer
folds plurals and -ing/-ed forms. Query words that are not in the vocabulary are widened to
the words they start (`timez` -> `timezone`) and to words one edit away (two for words of 8
or more letters: `kubenetes` -> `kubernetes`), at a discount.

rank-bm25 supplies the statistics (idf, document lengths); scoring walks an inverted index,
so a query costs what its words' postings cost, not the catalog's size. Ties are broken by
skill name, so results are stable.
"""

from __future__ import annotations

import bisect
import heapq
import re
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+", re.UNICODE)
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
        "could",
        "do",
        "does",
        "for",
        "from",
        "get",
        "give",
        "how",
        "i",
        "i'd",
        "id",
        "in",
        "is",
        "it",
        "its",
        "let",
        "me",
        "my",
        "need",
        "of",
        "on",
        "or",
        "our",
        "please",
        "should",
        "show",
        "some",
        "tell",
        "that",
        "the",
        "there",
        "this",
        "to",
        "uh",
        "um",
        "up",
        "us",
        "want",
        "what",
        "whats",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)

EXACT, PREFIX, SYNONYM, FUZZY = 1.0, 0.8, 0.7, 0.6

# Everyday words for the same thing in tool-using tasks, in both directions. General vocabulary,
# not fitted to any benchmark query: each group is a set of words people use interchangeably.
SYNONYM_GROUPS = [
    "folder directory dir",
    "picture image photo",
    "remember memory note knowledge",
    "website site webpage url link page",
    "download fetch retrieve",
    "drive route direction walk",
    "close update edit change modify",
    "remove delete erase forget",
    "find search look locate",
    "show list display view",
    "make create new add",
    "repo repository project",
    "message chat post",
    "stage add",
    "pr pull",
    "distance far",
    "address location place",
    "coordinate geocode latitude longitude",
    "screenshot capture",
    "type fill enter",
    "pick select choose",
    "javascript script",
    "draw generate",
    "repeat echo",
    "sum add plus total",
]
SYNONYMS: dict[str, tuple[str, ...]] = {}
FIELD_WEIGHTS = {"name": 3, "description": 2, "headings": 1, "tools": 1}
MAX_PREFIX_EXPANSIONS = 25
K1, B = 1.2, 0.75


def tokenize(text: str) -> list[str]:
    """Lower-case, stemmed words of `text`, without stopwords and single letters."""
    if len(text) > MAX_REMEMBERED_CHARS:
        return list(_tokenize(text))
    return list(_remembered(text))


MAX_REMEMBERED_CHARS = 4000


@lru_cache(maxsize=16384)
def _remembered(text: str) -> tuple[str, ...]:
    """Texts recur: skills bound to one server share its tool descriptions, queries repeat."""
    return _tokenize(text)


def _tokenize(text: str) -> tuple[str, ...]:
    words: list[str] = []
    for chunk in re.split(r"[\s_\-./:']+", text):
        for part in _CAMEL.split(chunk):
            for word in _WORD.findall(part.lower()):
                if word in STOPWORDS or (len(word) == 1 and word.isascii()):
                    continue
                words.append(stem(word))
    return tuple(words)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light stemmer: plurals, -ing and -ed (enough to match "commits"/"commit", "staged"/"stage")."""
    if not word.isascii() or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("ing") and len(word) > 5:
        return _undouble(word[:-3])
    if word.endswith("ed") and len(word) > 4:
        return _undouble(word[:-2]) if not word.endswith("eed") else word[:-1]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _synonym_table() -> dict[str, tuple[str, ...]]:
    """Stemmed word -> the stemmed words of its groups."""
    table: dict[str, set[str]] = defaultdict(set)
    for group in SYNONYM_GROUPS:
        words = [stem(w) for w in group.split()]
        for word in words:
            table[word].update(w for w in words if w != word)
    return {word: tuple(sorted(others)) for word, others in sorted(table.items())}


def _undouble(word: str) -> str:
    if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "lsz":
        return word[:-1]
    return word + "e" if word.endswith(("at", "bl", "iz", "ag", "ad", "ov", "rg")) else word


SYNONYMS.update(_synonym_table())


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
        ordered = sorted(documents, key=lambda d: d.name)
        self.names = [d.name for d in ordered]
        corpus = [d.tokens() for d in ordered]
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._idf: dict[str, float] = {}
        if corpus:
            from rank_bm25 import BM25Plus  # numpy: loaded with the first search, not at startup

            bm25 = BM25Plus(corpus, k1=K1, b=B, delta=0)  # idf = log((N + 1) / df): never negative
            self._idf = dict(bm25.idf)
            for index, frequencies in enumerate(bm25.doc_freqs):
                norm = K1 * (1 - B + B * bm25.doc_len[index] / bm25.avgdl)
                for term, tf in frequencies.items():
                    postings[term].append((index, tf * (K1 + 1) / (tf + norm)))
        # Compact: two typed arrays per term instead of a tuple per (skill, term): about a tenth
        # of the memory at 10,000 skills.
        self._postings: dict[str, tuple[array[int], array[float]]] = {
            term: (array("I", (i for i, _ in pairs)), array("d", (p for _, p in pairs)))
            for term, pairs in postings.items()
        }
        self._vocabulary = sorted(self._idf)
        self._deletes: dict[str, list[str]] = defaultdict(list)
        for term in self._vocabulary:
            if len(term) >= 4:
                for variant in _deletions(term):
                    self._deletes[variant].append(term)
        self._variants: dict[str, list[tuple[str, float]]] = {}

    def search(self, query: str, limit: int | None = None) -> list[Hit]:
        return self.top(query, limit)[0]

    def top(
        self, query: str, count: int | None = None, keep: Callable[[str], bool] | None = None
    ) -> tuple[list[Hit], int]:
        """The best `count` hits (all if None) among skills `keep` admits, and how many matched."""
        scores = self.scores(query)
        matched = [
            (-s, self.names[i]) for i, s in scores.items() if s > 0 and (keep is None or keep(self.names[i]))
        ]
        best = sorted(matched) if count is None else heapq.nsmallest(count, matched)
        return [Hit(name, round(-negative, 4)) for negative, name in best], len(matched)

    def scores(self, query: str) -> dict[int, float]:
        scores: dict[int, float] = defaultdict(float)
        for word in dict.fromkeys(tokenize(query)):
            for index, value in self.word_scores(word).items():
                scores[index] += value
        return scores

    def word_scores(self, word: str) -> dict[int, float]:
        """One query word's BM25 contribution per skill: its best variant (exact, prefix, typo)."""
        best: dict[int, float] = {}
        for variant, weight in self._variants_of(word):
            idf = self._idf[variant] * weight
            for index, part in zip(*self._postings[variant], strict=True):
                value = idf * part
                if value > best.get(index, 0.0):
                    best[index] = value
        return best

    def _variants_of(self, word: str) -> list[tuple[str, float]]:
        cached = self._variants.get(word)
        if cached is None:
            cached = self._variants[word] = self._expand(word)
            if len(self._variants) > 100_000:
                self._variants.clear()
        return cached

    def _expand(self, word: str) -> list[tuple[str, float]]:
        variants: dict[str, float] = {}
        if word in self._idf:
            variants[word] = EXACT
        if len(word) >= 3:
            start = bisect.bisect_left(self._vocabulary, word)
            for term in self._vocabulary[start : start + MAX_PREFIX_EXPANSIONS + 1]:
                if not term.startswith(word):
                    break
                variants.setdefault(term, PREFIX)
        for term in SYNONYMS.get(word, ()):
            if term in self._idf:
                variants.setdefault(term, SYNONYM)
        if len(word) >= 4 and word not in variants:
            budget = 1 if len(word) < 8 else 2
            for term in self._near(word, budget):
                if term not in variants and edit_distance(word, term, budget) <= budget:
                    variants[term] = FUZZY
        return sorted(variants.items())

    def _near(self, word: str, budget: int) -> set[str]:
        """Candidate terms within `budget` edits, from the index of single deletions (SymSpell)."""
        probes = {word, *_deletions(word)}
        if budget > 1:
            probes |= {d for p in list(probes) for d in _deletions(p)}
        found: set[str] = set()
        for probe in probes:
            if probe in self._idf:
                found.add(probe)
            found.update(self._deletes.get(probe, ()))
        return found


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance between `a` and `b`, or `limit + 1` once past `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
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
