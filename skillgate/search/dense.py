"""DenseIndex: each skill as a few vectors, scored by its best-matching one.

A skill is cut into chunks that each say one thing: "name: description", one chunk per tool
("tool name: tool description") and one for its headings. A skill's similarity to a query is
that of its closest chunk, so a server-sized skill with 26 tools is found by any one of them
instead of by the blurred mean of all. But the best of many chunks also lies closer by chance
than the best of few: `chance()` takes that off (issue 21: no skill wins by being long).

Vectors come through the VectorCache, one per distinct text (skills bound to one server share
its tools' chunks); chunks of one skill are stored together, so the per-skill maximum is one
`maximum.reduceat`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from skillgate.search.lexical import SearchDocument

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from skillgate.search.embedder import Fallback, Vectors
    from skillgate.search.vectors import VectorCache

# The best of n unrelated chunks lies about CHANCE_SPREAD * sqrt(2 ln n) above their mean, with
# CHANCE_SPREAD the spread of a query's cosines to unrelated text (0.08-0.09 for the builtin model
# on the dev catalogs); EXTREME of that is taken off (0.5: chosen on the issue-21 dev sets, where
# 0, 0.5 and 1 were tried).
EXTREME = 0.5
CHANCE_SPREAD = 0.085
TYPICAL_CHUNKS = 2  # a skill's description and one tool: no skill this small is marked down
_SEPARATORS = re.compile(r"[_\-./]+|(?<=[a-z0-9])(?=[A-Z])")


def words_of(name: str) -> str:
    """`git_create_branch` / `createBranch` / `git-history` -> space-separated words."""
    return " ".join(_SEPARATORS.sub(" ", name).split())


def chunks(document: SearchDocument) -> list[str]:
    parts = [f"{words_of(document.name)}: {document.description}"]
    parts += [_tool_chunk(tool) for tool in document.tools]
    if document.headings:
        parts.append(" / ".join(document.headings))
    return [p for p in dict.fromkeys(parts) if p.strip()]


def _tool_chunk(tool: str) -> str:
    name, _, description = tool.partition(" ")
    return f"{words_of(name)}: {description}" if description else words_of(name)


class DenseIndex:
    """Vectors for documents in name order (the same order as the BM25 index)."""

    def __init__(
        self, vectors: Vectors, starts: npt.NDArray[np.intp], size: int, texts: npt.NDArray[np.intp]
    ) -> None:
        self._vectors = vectors  # one row per distinct chunk text
        self._texts = texts  # per chunk (skills in name order, each skill's chunks together): its row
        self._starts = starts
        self.size = size
        self._chance: npt.NDArray[np.float64] | None = None

    @classmethod
    def build(
        cls, documents: Sequence[SearchDocument], embedder: Fallback, cache: VectorCache
    ) -> DenseIndex | None:
        """None when the embedder is down (search then runs on BM25 alone)."""
        import numpy as np

        ordered = sorted(documents, key=lambda d: d.name)
        rows: dict[str, int] = {}  # skills bound to one server share its tools: each text is embedded once
        texts: list[int] = []
        starts: list[int] = []
        for document in ordered:
            starts.append(len(texts))
            texts += [rows.setdefault(chunk, len(rows)) for chunk in chunks(document)]
        vectors = cache.vectors(list(rows), embedder.embed) if rows else None
        if vectors is None:
            return None
        return cls(vectors, np.asarray(starts, dtype=np.intp), len(ordered), np.asarray(texts, dtype=np.intp))

    def similarities(self, queries: Vectors) -> Vectors:
        """(queries x skills): each skill's best chunk cosine for each query vector."""
        import numpy as np

        if self.size == 0:
            return np.zeros((len(queries), 0), dtype=np.float32)
        per_text = self._vectors @ queries.T  # (distinct texts x queries)
        per_chunk = np.take(per_text, self._texts, axis=0)
        best: Vectors = np.maximum.reduceat(per_chunk, self._starts, axis=0).T
        return best

    def chance(self) -> npt.NDArray[np.float64]:
        """Per skill: how much further than a skill of TYPICAL_CHUNKS the best of its chunks reaches
        by chance, EXTREME * CHANCE_SPREAD * (sqrt(2 ln chunks) - sqrt(2 ln TYPICAL_CHUNKS)); 0 for
        skills that small. A fixed allowance: no skill's size moves the scale of the others."""
        import numpy as np

        if self._chance is None:
            counts = np.diff(np.append(self._starts, len(self._texts)))
            reach = np.sqrt(2 * np.log(np.maximum(counts, 1)))
            typical = math.sqrt(2 * math.log(TYPICAL_CHUNKS))
            self._chance = EXTREME * CHANCE_SPREAD * np.maximum(reach - typical, 0.0)
        return self._chance

    @property
    def dim(self) -> int:
        return int(self._vectors.shape[1])

    @property
    def nbytes(self) -> int:
        return int(self._vectors.nbytes + self._starts.nbytes + self._texts.nbytes)
