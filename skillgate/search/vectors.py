"""VectorCache: embeddings of skill text kept on disk, so a restart does not recompute them.

A vector is keyed by sha256(model name, text): a changed skill (or another model) is a new
key, so the cache can never serve a stale vector. One file per model and catalog folder,
`vectors-<model>-<catalog>.npz` under the cache folder, rewritten atomically with only the
keys the catalog uses now, so it never grows past the catalog. A corrupt file is ignored with
a warning and rebuilt; a cache folder that cannot be written leaves search working without it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from skillgate.search.embedder import Vectors

logger = logging.getLogger(__name__)

KEY_BYTES = 16
MAX_CACHE_BYTES = 2_000_000_000  # 100,000 skills of 256-d chunks is about 400 MB


def text_key(model: str, text: str) -> bytes:
    return hashlib.sha256(f"{model}\0{text}".encode("utf-8", "surrogatepass")).digest()[:KEY_BYTES]


class VectorCache:
    """Vectors of one model for one catalog; `folder=None` keeps them in memory only."""

    def __init__(self, folder: Path | None, model: str, catalog: Path) -> None:
        self.model = model
        self.path: Path | None = None
        if folder is not None:
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", model)[:80]
            place = hashlib.sha256(str(catalog).encode("utf-8", "surrogatepass")).hexdigest()[:12]
            self.path = folder / f"vectors-{slug}-{place}.npz"
        self._vectors: dict[bytes, Vectors] = {}
        self._loaded = False
        self.hits = self.misses = 0

    def vectors(
        self, texts: Sequence[str], compute: Callable[[list[str]], Vectors | None], again: bool = True
    ) -> Vectors | None:
        """The vectors of `texts`, computing the missing ones with `compute(texts)`.

        `compute` returns None when the embedder is down; so does this, and nothing is stored.
        Cached vectors of another dimension than fresh ones are all embedded again, once.
        """
        import numpy as np

        self._load()
        keys = [text_key(self.model, t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}.items())
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        if missing:
            fresh = compute([t for _, t in missing])
            if fresh is None:
                return None
            for (key, _), vector in zip(missing, fresh, strict=True):
                self._vectors[key] = vector
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        shapes = {self._vectors[k].shape for k in keys}
        if len(shapes) > 1:  # the model behind this name changed its dimension: embed everything anew
            self._vectors = {}
            return self.vectors(texts, compute, again=False) if again else None
        table = np.stack([self._vectors[k] for k in keys])
        if missing or len(self._vectors) != len(set(keys)):
            self._vectors = {k: self._vectors[k] for k in keys}  # only what the catalog uses now
            self._save()
        return table

    def _load(self) -> None:
        if self._loaded or self.path is None:
            return
        self._loaded = True
        import numpy as np

        try:
            status = self.path.stat()
            if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_CACHE_BYTES:
                raise ValueError(f"not a regular file of at most {MAX_CACHE_BYTES // 1_000_000} MB")
            with np.load(self.path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
            if keys.ndim != 2 or keys.shape[1] != KEY_BYTES or len(keys) != len(vectors) or vectors.ndim != 2:
                raise ValueError("unexpected shapes")
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            logger.warning("ignoring the vector cache %s (%s); it will be rebuilt", self.path, exc)
            return
        self._vectors = {bytes(k): v for k, v in zip(keys, vectors.astype(np.float32), strict=True)}

    def _save(self) -> None:
        if self.path is None:
            return
        import numpy as np

        keys = sorted(self._vectors)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".vectors-", suffix=".npz")
            try:
                with os.fdopen(handle, "wb") as out:
                    np.savez(
                        out,
                        keys=np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), KEY_BYTES),
                        vectors=np.stack([self._vectors[k] for k in keys]),
                    )
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            logger.warning("cannot write the vector cache %s (%s); search works without it", self.path, exc)
            self.path = None
