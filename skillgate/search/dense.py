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
from collections import Counter
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
    """Vectors for documents in name order (the same order as the BM25 index).

    One row per distinct chunk text. A skill's best chunk is the best of its own rows (texts no
    other skill has: its description, at least) and of its shared group (the tool texts it shares
    with other skills, as skills bound to one server do), and each group's best is found once per
    query, not once per skill that has it.
    """

    def __init__(self, vectors: Vectors, per_skill: Sequence[Sequence[int]]) -> None:
        import numpy as np

        uses = Counter(row for rows in per_skill for row in set(rows))
        own: list[int] = []
        own_starts: list[int] = []
        group_of: list[int] = []
        groups: dict[tuple[int, ...], int] = {}
        for rows in per_skill:
            mine = [row for row in dict.fromkeys(rows) if uses[row] == 1]
            shared = tuple(sorted({row for row in rows if uses[row] > 1}))
            if not mine:  # a run is never empty: a shared row stands in (a max of it twice is the same)
                mine = list(shared[:1]) or [len(vectors)]  # no chunk at all: the zero row below
            own_starts.append(len(own))
            own += mine
            group_of.append(groups.setdefault(shared, len(groups)) if shared else -1)
        if len(vectors) in own:
            vectors = np.vstack([vectors, np.zeros((1, vectors.shape[1]), dtype=vectors.dtype)])
        shared_rows = sorted({row for group in groups for row in group})
        place = {row: i for i, row in enumerate(shared_rows)}
        ordered = sorted(groups, key=groups.__getitem__)
        # transposed and in skill order, so one matrix product gives each skill's own rows side by side
        self._own_t = np.ascontiguousarray(vectors[np.asarray(own, dtype=np.intp)].T)
        self._own_starts = np.asarray(own_starts, dtype=np.intp)
        self._one_each = len(own) == len(per_skill)  # every skill has one own row: no maximum to take
        self._shared_t = np.ascontiguousarray(vectors[np.asarray(shared_rows, dtype=np.intp)].T)
        self._group_rows = np.asarray([place[row] for group in ordered for row in group], dtype=np.intp)
        self._group_starts = np.cumsum([0, *(len(g) for g in ordered[:-1])]).astype(np.intp)
        self._group_of = np.asarray(group_of, dtype=np.intp)
        self._grouped = np.flatnonzero(self._group_of >= 0)
        self._counts = np.asarray([max(len(set(rows)), 1) for rows in per_skill], dtype=np.intp)
        self.size = len(per_skill)
        self._chance: npt.NDArray[np.float64] | None = None

    @classmethod
    def build(
        cls, documents: Sequence[SearchDocument], embedder: Fallback, cache: VectorCache
    ) -> DenseIndex | None:
        """None when the embedder is down (search then runs on BM25 alone)."""
        ordered = sorted(documents, key=lambda d: d.name)
        rows: dict[str, int] = {}  # skills bound to one server share its tools: each text is embedded once
        per_skill = [[rows.setdefault(chunk, len(rows)) for chunk in chunks(d)] for d in ordered]
        vectors = cache.vectors(list(rows), embedder.embed) if rows else None
        if vectors is None:
            return None
        return cls(vectors, per_skill)

    def similarities(self, queries: Vectors) -> Vectors:
        """(queries x skills): each skill's best chunk cosine for each query vector."""
        import numpy as np

        if self.size == 0:
            return np.zeros((len(queries), 0), dtype=np.float32)
        own = queries @ self._own_t
        best: Vectors = own if self._one_each else np.maximum.reduceat(own, self._own_starts, axis=1)
        if len(self._group_rows):
            shared = np.take(queries @ self._shared_t, self._group_rows, axis=1)
            groups = np.maximum.reduceat(shared, self._group_starts, axis=1)
            grouped = self._grouped
            if len(grouped) == self.size:  # every skill shares texts (a catalog of bound skills)
                best = np.maximum(best, np.take(groups, self._group_of, axis=1))
            else:
                best[:, grouped] = np.maximum(best[:, grouped], groups[:, self._group_of[grouped]])
        return best

    def chance(self) -> npt.NDArray[np.float64]:
        """Per skill: how much further than a skill of TYPICAL_CHUNKS the best of its chunks reaches
        by chance, EXTREME * CHANCE_SPREAD * (sqrt(2 ln chunks) - sqrt(2 ln TYPICAL_CHUNKS)); 0 for
        skills that small. A fixed allowance: no skill's size moves the scale of the others."""
        import numpy as np

        if self._chance is None:
            reach = np.sqrt(2 * np.log(self._counts))
            typical = math.sqrt(2 * math.log(TYPICAL_CHUNKS))
            self._chance = EXTREME * CHANCE_SPREAD * np.maximum(reach - typical, 0.0)
        return self._chance

    @property
    def dim(self) -> int:
        return int(self._own_t.shape[0])

    @property
    def nbytes(self) -> int:
        parts = (
            self._own_t,
            self._shared_t,
            self._own_starts,
            self._group_of,
            self._group_rows,
            self._counts,
        )
        return sum(int(part.nbytes) for part in parts)
