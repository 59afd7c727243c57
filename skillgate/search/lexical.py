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
import math
import re
import statistics
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads with the first search, not at startup
    import numpy as np
    import numpy.typing as npt

    WordParts = tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class WordMatch:
    """One query word's BM25 contribution: per part (`parts` in order, `values`), and per skill
    (`skills` in order, `best`: its best part's value)."""

    parts: npt.NDArray[np.intp]
    values: npt.NDArray[np.float64]
    skills: npt.NDArray[np.intp]
    best: npt.NDArray[np.float64]


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
MAX_FUZZY_LETTERS = 32  # typo matching of a longer word: its deletions of deletions grow as the cube
K1, B = 1.2, 0.75
B_TOOL = 1.0  # full length normalisation for tools: repeating a description adds nothing
TOOL_PIVOT = 16  # words of a typical tool (name and description)
COVERAGE = 0.25  # the share of a skill's score from words matched across its parts
MAX_CACHED_POSTINGS = 4_000_000  # per-word arrays kept between queries: about 64 MB per cache


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
    tools: Sequence[str] = ()  # tool names and descriptions, one text per tool

    def head(self) -> list[str]:
        """The skill's own words, each field repeated by its weight: name, description, headings."""
        fields = {"name": self.name, "description": self.description, "headings": " ".join(self.headings)}
        out: list[str] = []
        for field, text in fields.items():
            out += tokenize(text) * FIELD_WEIGHTS[field]
        return out or tokenize(self.name) or [self.name]

    def parts(self) -> list[list[str]]:
        """Its head, then one part per tool (a tool whose words repeat an earlier one's is left out:
        copies add nothing)."""
        found = [self.head()]
        seen: set[tuple[str, ...]] = set()
        for text in self.tools:
            words = tokenize(text) * FIELD_WEIGHTS["tools"]
            key = tuple(sorted(words))
            if words and key not in seen:
                seen.add(key)
                found.append(words)
        return found


@dataclass(frozen=True)
class Hit:
    name: str
    score: float
    part: str | None = None  # of a request in several parts: the part this skill matched best


class SearchIndex:
    """BM25 over a fixed set of skills, each judged by its best-matching parts, not its volume.

    A skill is a set of parts: its head (name, description, headings) and each of its tools.
    A word's weight (idf) counts skills, not parts; its match in a part saturates (k1) and is
    normalised by that part's length against parts of its kind. A skill scores
        (1 - COVERAGE) * its best part's score  +  COVERAGE * the sum over query words of the
                                                    word's best match in any of its parts
    so repeating a tool, or adding tools that match nothing, adds nothing, and words spread over
    several tools count, bounded by COVERAGE. Build a new index when the catalog changes.
    """

    def __init__(self, documents: Iterable[SearchDocument]) -> None:
        ordered = sorted(documents, key=lambda d: d.name)
        self.names = [d.name for d in ordered]
        owner: list[int] = []
        parts: list[list[str]] = []
        kinds: list[int] = []  # 0: a head, 1: a tool
        frequencies: dict[str, int] = defaultdict(int)
        for index, document in enumerate(ordered):
            mine = document.parts()
            for kind, words in enumerate(mine):
                owner.append(index)
                parts.append(words)
                kinds.append(min(kind, 1))
            for term in {w for words in mine for w in words}:
                frequencies[term] += 1
        count = len(ordered)
        self._idf = {term: math.log((count + 1) / df) for term, df in frequencies.items()}
        # a head's length against the median head; a tool's against a fixed pivot, so that no skill's
        # tools, however many or long, move the scale the others are measured on
        heads = [len(w) for w, k in zip(parts, kinds, strict=True) if k == 0]
        typical = [statistics.median(heads) if heads else 1.0, float(TOOL_PIVOT)]
        postings: dict[str, tuple[array[int], array[float]]] = {}
        for part, (words, kind) in enumerate(zip(parts, kinds, strict=True)):
            b = B if kind == 0 else B_TOOL  # a tool's text said ten times over is the same tool
            norm = K1 * (1 - b + b * len(words) / typical[kind])
            for term, tf in Counter(words).items():
                entry = postings.get(term)
                if entry is None:
                    entry = postings[term] = (array("I"), array("d"))
                entry[0].append(part)
                entry[1].append(tf * (K1 + 1) / (tf + norm))
        self._postings = postings  # compact: two typed arrays per term
        self._owner = array("I", owner)
        self._owner_np: npt.NDArray[np.intp] | None = None  # built on the first search
        self._vocabulary = sorted(self._idf)
        self._deletes: dict[str, list[str]] = defaultdict(list)
        for term in self._vocabulary:
            if len(term) >= 4:
                for variant in _deletions(term):
                    self._deletes[variant].append(term)
        self._variants: dict[str, list[tuple[str, float]]] = {}
        self._reach: dict[str, WordParts] = {}
        self._reached = 0  # entries held in _reach

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
        """Each matched skill's score (by index) for `query`."""
        import numpy as np

        array_ = self.combine([self.word_match(word) for word in dict.fromkeys(tokenize(query))])
        matched = np.flatnonzero(array_ > 0)
        return dict(zip(matched.tolist(), array_[matched].tolist(), strict=True))

    def combine(self, words: Sequence[WordMatch]) -> npt.NDArray[np.float64]:
        """Skill scores (an array in name order) from each query word's matches."""
        import numpy as np

        scores = np.zeros(len(self.names))
        words = [w for w in words if len(w.parts)]
        if not words:
            return scores
        owner = self._owner_array()
        parts = np.concatenate([w.parts for w in words])
        values = np.concatenate([w.values for w in words])
        if len(words) == 1:
            touched, part_sums = parts, values
        elif len(parts) * 8 < len(owner):  # few postings: sort them (each word's are sorted runs)
            order = np.argsort(parts, kind="stable")
            touched, starts = _runs(parts[order])
            part_sums = np.add.reduceat(values[order], starts)
        else:  # many: one pass over all parts
            sums = np.bincount(parts, weights=values, minlength=len(owner))
            touched = np.flatnonzero(sums)
            part_sums = sums[touched]
        skills, first = _runs(owner[touched])  # parts are in skill order: each skill's are one run
        best = np.maximum.reduceat(part_sums, first)
        coverage = np.bincount(
            np.concatenate([w.skills for w in words]),
            weights=np.concatenate([w.best for w in words]),
            minlength=len(self.names),
        )
        scores[skills] = (1 - COVERAGE) * best + COVERAGE * coverage[skills]
        return scores

    def word_match(self, word: str) -> WordMatch:
        """One query word's BM25 contribution per part and per skill: its best variant (exact,
        prefix, typo)."""
        import numpy as np

        pieces = [
            (np.frombuffer(self._postings[v][0], dtype=np.uint32).astype(np.intp),
             np.frombuffer(self._postings[v][1], dtype=np.float64) * (self._idf[v] * weight))
            for v, weight in self._variants_of(word)
        ]  # fmt: skip
        if not pieces:
            empty = np.zeros(0, dtype=np.intp)
            return WordMatch(empty, np.zeros(0), empty, np.zeros(0))
        parts, values = pieces[0]
        if len(pieces) > 1:
            parts = np.concatenate([p[0] for p in pieces])
            values = np.concatenate([p[1] for p in pieces])
            order = np.lexsort((-values, parts))  # by part, best value first
            parts, values = parts[order], values[order]
            first = np.flatnonzero(np.r_[True, parts[1:] != parts[:-1]])
            parts, values = parts[first], values[first]
        skills, starts = _runs(self._owner_array()[parts])  # parts are in order: each skill's are a run
        return WordMatch(parts, values, skills, np.maximum.reduceat(values, starts))

    def coverage(self, words: Sequence[str]) -> float:
        """The largest share of the words' weight that one skill matches (see `shares`)."""
        return float(self.shares(words).max(initial=0.0))

    def shares(self, words: Sequence[str]) -> npt.NDArray[np.float64]:
        """Per skill, the share of the words' weight (idf) it matches, by any variant: 0 when it has
        none of them, 1 when it has them all. A word no skill has weighs as much as the rarest
        word; a variant counts for no more than the word itself (a common word is not made rare by
        a rare word it starts)."""
        import numpy as np

        reached = np.zeros(len(self.names))
        if not self.names or not words:
            return reached
        rarest = math.log(len(self.names) + 1)
        weights = [self._idf.get(word, rarest) for word in words]
        for word, weight in zip(words, weights, strict=True):
            skills, values = self._reach_of(word)
            reached[skills] += np.minimum(values, weight)
        return reached / sum(weights)

    def _reach_of(self, word: str) -> WordParts:
        """The skills a word reaches by any variant, each with the variant's idf (times its weight)."""
        import numpy as np

        cached = self._reach.get(word)
        if cached is not None:
            return cached
        owner = self._owner_array()
        best = np.zeros(len(self.names))
        for variant, weight in self._variants_of(word):
            parts = np.frombuffer(self._postings[variant][0], dtype=np.uint32)
            skills = owner[parts]
            best[skills] = np.maximum(best[skills], self._idf[variant] * weight)
        skills = np.flatnonzero(best)
        found = (skills, best[skills])
        self._reached += len(skills)
        if self._reached > MAX_CACHED_POSTINGS:
            self._reach.clear()
            self._reached = len(skills)
        self._reach[word] = found
        return found

    def _owner_array(self) -> npt.NDArray[np.intp]:
        import numpy as np

        if self._owner_np is None:
            self._owner_np = np.frombuffer(self._owner, dtype=np.uint32).astype(np.intp)
        return self._owner_np

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
        if 4 <= len(word) <= MAX_FUZZY_LETTERS and word not in variants:
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


def _runs(values: npt.NDArray[np.intp]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The distinct values of a sorted array and where each one's run starts (np.unique, without
    sorting again)."""
    import numpy as np

    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    return values[starts], starts


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
