"""DenseIndex: each skill as a few vectors, scored by its best-matching one.

A skill is cut into chunks that each say one thing: "name: description", one chunk per tool
("tool name: tool description") and one for its headings. A skill's similarity to a query is
that of its closest chunk, so a server-sized skill with 26 tools is found by any one of them
instead of by the blurred mean of all. Vectors come through the VectorCache; chunks of one
skill are stored together, so the per-skill maximum is one `maximum.reduceat`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from skillgate.search.lexical import SearchDocument

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from skillgate.search.embedder import Fallback, Vectors
    from skillgate.search.vectors import VectorCache

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

    def __init__(self, vectors: Vectors, starts: npt.NDArray[np.intp], size: int) -> None:
        self._vectors = vectors
        self._starts = starts
        self.size = size

    @classmethod
    def build(
        cls, documents: Sequence[SearchDocument], embedder: Fallback, cache: VectorCache
    ) -> DenseIndex | None:
        """None when the embedder is down (search then runs on BM25 alone)."""
        import numpy as np

        ordered = sorted(documents, key=lambda d: d.name)
        texts: list[str] = []
        starts: list[int] = []
        for document in ordered:
            starts.append(len(texts))
            texts += chunks(document)
        vectors = cache.vectors(texts, embedder.embed) if texts else None
        if vectors is None:
            return None
        return cls(vectors, np.asarray(starts, dtype=np.intp), len(ordered))

    def similarities(self, queries: Vectors) -> Vectors:
        """(queries x skills): each skill's best chunk cosine for each query vector."""
        import numpy as np

        if self.size == 0:
            return np.zeros((len(queries), 0), dtype=np.float32)
        per_chunk = queries @ self._vectors.T
        best: Vectors = np.maximum.reduceat(per_chunk, self._starts, axis=1)
        return best

    @property
    def dim(self) -> int:
        return int(self._vectors.shape[1])

    @property
    def nbytes(self) -> int:
        return int(self._vectors.nbytes + self._starts.nbytes)
