"""Ranking: what `list_skills(query)` orders skills by.

Hybrid retrieval. For a query (or one part of it), each skill gets
    LEXICAL_WEIGHT * bm25 / best bm25  +  DENSE_WEIGHT * cosine / best cosine
over the skills the query reaches: BM25 from `search.SearchIndex`, cosine from
`dense.DenseIndex` (negative cosines count as 0). Either half is scaled by its own best, so
neither needs calibrating against the other.

Long requests name several needs ("find the trending topics, chart them and save a PDF").
The query is cut into parts at punctuation and at the words that join requests; each part of
two or more content words is ranked on its own, and a skill's score is its best part score
(each part scaled to 1) plus PART_BLEND of its whole-query score. So the best skill for each
need reaches the top instead of five near-duplicates of the loudest need.

A skill matches when BM25 reaches it, or it is among the DENSE_CANDIDATES nearest by cosine, or
its cosine is at least DENSE_MATCH; ties are broken by name. Without an embedder (or while it
is down) the ranking is BM25 alone, as before.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from skillgate.search.lexical import MAX_CACHED_POSTINGS, Hit, SearchDocument, SearchIndex, tokenize

if TYPE_CHECKING:  # numpy and the embedders load on the first search, not at startup
    import numpy as np
    import numpy.typing as npt

    from skillgate.search.dense import DenseIndex
    from skillgate.search.embedder import Embedder, Fallback
    from skillgate.search.lexical import WordMatch
    from skillgate.search.vectors import VectorCache
    from skillgate.settings import SearchSettings  # the edge's model: a type only

LEXICAL_WEIGHT, DENSE_WEIGHT = 0.4, 0.6
PART_BLEND = 0.5
DENSE_MATCH = 0.3
DENSE_CANDIDATES = 10
MAX_PARTS = 8
MAX_QUERY_CHARS = 2000  # a longer request ranks by its start: bounded work per query
QUERY_CACHE = 4096
FLOOR_COVERAGE = 0.05  # a request one skill matches this share of (by word weight) matches


@dataclass(frozen=True)
class Found:
    """A search's answer: the best hits, how many skills matched, and whether any matches beyond
    chance. Below the relevance floor (`above` False) the hits are only the nearest skills."""

    hits: list[Hit]
    total: int
    above: bool


_JOINS = re.compile(
    r"[,;:.!?\n]+|\s(?:and then|and|then|also|plus|after that|afterwards|as well as|so that|so)\s", re.I
)


def parts_of(query: str) -> list[str]:
    """The separate needs of a request: its clauses of two or more content words."""
    parts = [p.strip() for p in _JOINS.split(f" {query} ")]
    return [p for p in parts if len(tokenize(p)) >= 2][:MAX_PARTS]


class HybridIndex:
    """BM25 fused with dense vectors; `dense=None` ranks by BM25 alone."""

    def __init__(
        self,
        documents: Sequence[SearchDocument],
        dense: DenseIndex | None,
        embedder: Fallback | None,
        lexical: SearchIndex | None = None,
    ) -> None:
        self.lexical = lexical if lexical is not None else SearchIndex(documents)
        self.names = self.lexical.names
        self.dense = dense
        self._embedder = embedder
        self._queries: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._words: dict[str, WordMatch] = {}
        self._held = 0  # entries held in _words

    @property
    def hybrid(self) -> bool:
        return self.dense is not None

    def search(self, query: str, limit: int | None = None) -> list[Hit]:
        return self.find(query, limit).hits

    def top(
        self, query: str, count: int | None = None, keep: Callable[[str], bool] | None = None
    ) -> tuple[list[Hit], int]:
        """The best `count` hits (all if None) among skills `keep` admits, and how many matched."""
        found = self.find(query, count, keep)
        return found.hits, found.total

    def find(self, query: str, count: int | None = None, keep: Callable[[str], bool] | None = None) -> Found:
        """The best `count` hits (all if None) among skills `keep` admits, how many matched, and
        whether anything matches beyond chance (the relevance floor)."""
        query = query[:MAX_QUERY_CHARS]
        parts = parts_of(query)
        texts = [query, *parts] if len(parts) > 1 else [query]  # one part: the whole query is that part
        vectors = self._embed(texts) if self.dense is not None else None
        words = [list(dict.fromkeys(tokenize(text))) for text in texts]
        if vectors is None or self.dense is None or vectors.shape[1] != self.dense.dim:
            # no embedder, it is down, or the model behind its name changed since the build: BM25 alone
            hits, total = self.lexical.top(query, count, keep)
            calibrated = self._embedder is None or self._embedder.chance_cosine is not None
            return Found(hits, total, bool(hits) and (not calibrated or self._words_match(words, keep)))
        import numpy as np

        similarities = self.dense.similarities(vectors)
        scores, part = self._scores(words, similarities)
        matched = np.flatnonzero(scores > 0)
        order = matched[np.lexsort((matched, -scores[matched]))].tolist()  # index order is name order
        if keep is not None:
            order = [i for i in order if keep(self.names[i])]
        named = [*parts, None] if len(texts) > 1 else [None]  # -1: no part of it matched
        hits = [Hit(self.names[i], round(float(scores[i]), 4), named[part[i]]) for i in order[:count]]
        assert self._embedder is not None
        chance = self._embedder.chance_cosine
        if chance is None:  # not calibrated for this model: the floor does not apply
            return Found(hits, len(order), bool(hits))
        nearest = similarities.max(axis=0, initial=-1.0)  # per skill, over the request's texts
        above = bool(hits) and (self._any_admitted(nearest >= chance, keep) or self._words_match(words, keep))
        return Found(hits, len(order), above)

    def _any_admitted(self, passing: npt.NDArray[np.bool_], keep: Callable[[str], bool] | None) -> bool:
        """Whether a skill `keep` admits is among those `passing`: what the floor may look at, so a
        skill hidden from a profile never decides whether the visible ones match (asked of the
        passing skills only, not of the whole catalog)."""
        import numpy as np

        indexes = np.flatnonzero(passing).tolist()
        return bool(indexes) if keep is None else any(keep(self.names[i]) for i in indexes)

    def _words_match(self, words: list[list[str]], keep: Callable[[str], bool] | None) -> bool:
        """The floor's lexical half: one admitted skill has FLOOR_COVERAGE of the words' weight, of
        the whole request or of one of its parts."""
        return any(self._any_admitted(self.lexical.shares(w) >= FLOOR_COVERAGE, keep) for w in words)

    def _scores(
        self, words: list[list[str]], similarities: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]]:
        """Each skill's hybrid score for [query, *parts] (the whole query's, or the best part's plus
        PART_BLEND of the whole query's), and the part that gave it its best (0 with one part)."""
        import numpy as np

        assert self.dense is not None
        fused = self._fuse(words, similarities - self.dense.chance()[None, :])
        whole = fused[0]
        if len(words) == 1:
            return whole, np.zeros(len(whole), dtype=np.intp)
        by_part = fused[1:]
        best = by_part.max(0)
        return best + PART_BLEND * whole, np.where(best > 0, by_part.argmax(0), -1)

    def _fuse(self, words: list[list[str]], cosines: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Per text (a row): LEXICAL_WEIGHT * BM25 / best + DENSE_WEIGHT * cosine / best over the
        skills the text reaches, scaled to a best of 1."""
        import numpy as np

        lexical = _scaled(np.stack([self._lexical(w) for w in words]))
        reached = (lexical > 0) | (cosines >= DENSE_MATCH)
        if cosines.shape[1] > DENSE_CANDIDATES:
            # the DENSE_CANDIDATES nearest; a row with that many at DENSE_MATCH or more has them already
            short = np.flatnonzero((cosines >= DENSE_MATCH).sum(axis=1) < DENSE_CANDIDATES)
            if len(short):
                nearest = np.argpartition(-cosines[short], DENSE_CANDIDATES, axis=1)[:, :DENSE_CANDIDATES]
                rows = reached[short]
                np.put_along_axis(rows, nearest, True, axis=1)
                reached[short] = rows
        else:
            reached[:] = True
        dense = _scaled(np.where(reached, np.maximum(cosines, 0.0), 0.0))
        return _scaled(LEXICAL_WEIGHT * lexical + DENSE_WEIGHT * dense)

    def _lexical(self, words: list[str]) -> npt.NDArray[np.float64]:
        """BM25 of the words per skill (best part and words across parts), from per-word matches
        cached for the life of the index."""
        matches = []
        for word in words:
            found = self._words.get(word)
            if found is None:
                found = self.lexical.word_match(word)
                size = len(found.parts) + len(found.skills)
                self._held += size
                if self._held > MAX_CACHED_POSTINGS:
                    self._words.clear()
                    self._held = size
                self._words[word] = found
            matches.append(found)
        return self.lexical.combine(matches)

    def _embed(self, texts: list[str]) -> npt.NDArray[np.float32] | None:
        import numpy as np

        assert self._embedder is not None
        found = {t: self._queries[t] for t in dict.fromkeys(texts) if t in self._queries}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            vectors = self._embedder.embed(missing)
            if vectors is None:
                return None
            found.update(zip(missing, vectors, strict=True))
        for text, vector in found.items():  # this request's texts are the newest
            self._queries[text] = vector
            self._queries.move_to_end(text)
        while len(self._queries) > QUERY_CACHE:
            self._queries.popitem(last=False)
        return np.stack([found[t] for t in texts])


def _scaled(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Each row divided by its best (a row of no positive score: zeros)."""
    import numpy as np

    if scores.size == 0:
        return scores
    top = scores.max(axis=-1, keepdims=True)
    scaled: npt.NDArray[np.float64] = np.zeros_like(scores, dtype=np.float64)
    np.divide(scores, top, out=scaled, where=top > 0)
    return scaled


class Ranker:
    """Builds a HybridIndex for a catalog: the embedder (or none) and where its vectors are cached."""

    def __init__(self, embedder: Embedder | None = None, cache_folder: Path | None = None) -> None:
        from skillgate.search.embedder import Fallback

        self.embedder = Fallback(embedder) if embedder is not None else None
        self.cache_folder = cache_folder
        self._caches: dict[Path, VectorCache] = {}
        self._lock = threading.Lock()

    @property
    def remote(self) -> bool:
        """True when embedding a query may wait on the network (run searches off the event loop)."""
        return self.embedder is not None and self.embedder.embedder.remote

    def index(self, documents: Sequence[SearchDocument], root: Path) -> HybridIndex:
        """The index of `documents`: read back from the disk cache when the same documents were
        indexed before with the same embedder (a restart), else built and written there."""
        from skillgate.base.disk_cache import DiskCache, code_version

        disk = DiskCache(self.cache_folder, "search") if self.cache_folder is not None else None
        model = self.embedder.name if self.embedder is not None else "none"
        texts = [[d.name, d.description, list(d.headings), list(d.tools)] for d in documents]
        key = hashlib.sha256(json.dumps([code_version(), model, texts]).encode("utf-8", "surrogatepass"))
        name = hashlib.sha256(f"{root}\0{model}".encode("utf-8", "surrogatepass")).hexdigest()[:24]
        stored = disk.read_keyed(name, key.hexdigest()) if disk is not None else None
        if isinstance(stored, tuple) and len(stored) == 2 and isinstance(stored[0], SearchIndex):
            lexical, dense = stored
            if dense is not None or self.embedder is None:
                return HybridIndex(documents, dense, self.embedder, lexical)
        dense = None
        if self.embedder is not None and self.embedder.available:
            from skillgate.search.dense import DenseIndex

            with self._lock:
                dense = DenseIndex.build(documents, self.embedder, self._cache(root))
        index = HybridIndex(documents, dense, self.embedder)
        if disk is not None and (dense is not None or self.embedder is None):
            disk.write_keyed(name, key.hexdigest(), (index.lexical, dense))
        return index

    def wants_rebuild(self, index: HybridIndex) -> bool:
        """An index built while the embedder was down is rebuilt once it may be back."""
        return self.embedder is not None and not index.hybrid and self.embedder.available

    def _cache(self, root: Path) -> VectorCache:
        from skillgate.search.vectors import VectorCache

        assert self.embedder is not None
        cache = self._caches.get(root)
        if cache is None:
            cache = self._caches[root] = VectorCache(self.cache_folder, self.embedder.name, root)
        return cache


def ranker_for(settings: SearchSettings, cache_folder: Path | None) -> Ranker:
    """The Ranker that `[search]` asks for; `cache_folder` None keeps vectors in memory only."""
    from skillgate.search.embedder import BuiltinEmbedder, HttpEmbedder

    if settings.embedder == "none":
        return Ranker(None)
    if settings.embedder == "http":
        assert settings.url is not None and settings.model is not None  # checked by SearchSettings
        return Ranker(HttpEmbedder(settings.url, settings.model, settings.timeout), cache_folder)
    return Ranker(BuiltinEmbedder(), cache_folder)
