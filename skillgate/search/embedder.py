"""Embedders: text -> unit vectors for the dense half of search.

    Embedder (protocol)      `name` (model identity, part of every cache key) and `embed(texts)`
    ├── BuiltinEmbedder      WordLlama's static token embeddings (256 dims), shipped in the
    │                        `wordllama` wheel and read straight from its package folder: no hub,
    │                        no download, no network at any point
    └── HttpEmbedder         the user's own server speaking the OpenAI-style /v1/embeddings API
                             (Ollama, text-embeddings-inference, vLLM, ...)

`Fallback` wraps an embedder for search: a failing embedder logs one warning per outage and
search carries on with BM25 alone; it is tried again after a pause.

The builtin model is loaded on first use (a search), never on the way to the MCP handshake.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from skillgate.base.errors import EmbedderUnavailable
from skillgate.base.text import printable

if TYPE_CHECKING:
    import httpx2
    import numpy as np
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 4000  # a skill chunk or a query past this adds nothing a mean of token vectors keeps
RETRY_AFTER = 30.0  # seconds before a failed embedder is tried again
HTTP_BATCH = 64
MAX_RESPONSE_BYTES = 64_000_000  # per batch: 64 vectors of 4,096 dims as JSON are about 6 MB


class Embedder(Protocol):
    @property
    def name(self) -> str:
        """The model's identity: vectors from different names never mix."""
        ...

    @property
    def remote(self) -> bool:
        """True when embedding waits on the network (searches then run off the event loop)."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row per text; raises EmbedderUnavailable."""
        ...

    @property
    def chance_cosine(self) -> float | None:
        """The cosine below which a request's nearest text is no closer than unrelated text comes by
        chance (the relevance floor's dense half); None: not calibrated for this model."""
        ...


class BuiltinEmbedder:
    """WordLlama l2_supercat, 256 dims: the mean of the text's token vectors, normalised."""

    remote = False
    # Calibrated on issue 21's dev sets (answerable requests vs fixtures/no_answer_queries.json):
    # the best chunk of the nearest skill of an answerable request is above this for 98-100% of them.
    chance_cosine = 0.25
    WEIGHTS = "weights/l2_supercat_256.safetensors"
    TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._table: Vectors | None = None
        self._tokenizer: object | None = None
        self._name: str | None = None

    @property
    def name(self) -> str:
        if self._name is None:
            from importlib.metadata import version

            self._name = f"wordllama-l2_supercat-256@{version('wordllama')}"
        return self._name

    def _load(self) -> tuple[Vectors, object]:
        with self._lock:
            if self._table is None:
                from tokenizers import Tokenizer

                folder = _package_folder("wordllama")
                self._table = _mapped_table(folder / self.WEIGHTS, "embedding.weight")
                self._tokenizer = Tokenizer.from_file(str(folder / self.TOKENIZER))
            assert self._tokenizer is not None
            return self._table, self._tokenizer

    def embed(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        table, tokenizer = self._load()
        encoded = tokenizer.encode_batch(  # type: ignore[attr-defined]
            [_encodable(t[:MAX_TEXT_CHARS]) for t in texts], add_special_tokens=False
        )
        out = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
        for row, encoding in enumerate(encoded):
            ids = [i for i in encoding.ids if 0 <= i < table.shape[0]]
            if ids:
                out[row] = table[ids].astype(np.float32).mean(axis=0)
        return normalise(out)


def _mapped_table(path: Path, name: str) -> Vectors:
    """One 2-D tensor of a safetensors file, memory-mapped: only the rows a text uses are read,
    so the 32,000-word table costs resident memory for the words seen, not 33 MB up front."""
    import json
    import struct

    import numpy as np

    with path.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(min(size, 1_000_000)))
    spec = header[name]
    dtype = {"F16": np.float16, "F32": np.float32}[spec["dtype"]]
    rows, columns = spec["shape"]
    start, end = spec["data_offsets"]
    if end - start != rows * columns * np.dtype(dtype).itemsize:
        raise ValueError(f"{path.name}: {name} has {end - start} bytes, not {rows}x{columns} {spec['dtype']}")
    table: Vectors = np.memmap(path, dtype=dtype, mode="r", offset=8 + size + start, shape=(rows, columns))
    return table


def _encodable(text: str) -> str:
    """`text` with lone surrogates (from bytes that were not UTF-8) replaced: the tokenizer refuses them."""
    return text if text.isascii() else printable(text)


class HttpEmbedder:
    """POST {"model", "input": [...]} to `url` and read `data[i].embedding` (OpenAI style)."""

    remote = True
    chance_cosine = None  # another model's cosines have another scale: the floor uses words only

    def __init__(self, url: str, model: str, timeout: float = 5.0) -> None:
        self.url = embeddings_url(url)
        self.model = model
        self.timeout = timeout

    @property
    def name(self) -> str:
        return f"http:{self.model}@{self.url}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        import httpx2 as httpx
        import numpy as np

        rows: list[list[float]] = []
        try:
            with httpx.Client(timeout=self.timeout) as client:
                for start in range(0, len(texts), HTTP_BATCH):
                    batch = [t[:MAX_TEXT_CHARS] or " " for t in texts[start : start + HTTP_BATCH]]
                    body = self._post(client, {"model": self.model, "input": batch})
                    data = sorted(json.loads(body)["data"], key=lambda d: d["index"])
                    if len(data) != len(batch):
                        raise ValueError(f"{len(data)} embeddings for {len(batch)} inputs")
                    rows += [d["embedding"] for d in data]
            vectors = np.asarray(rows, dtype=np.float32)
            if vectors.ndim != 2 or len(vectors) != len(texts) or not np.isfinite(vectors).all():
                raise ValueError("the embeddings are not one list of finite numbers per input")
        except (httpx.HTTPError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise EmbedderUnavailable(f"embedding server {self.url} (model {self.model!r}): {exc}") from None
        return normalise(vectors)

    def _post(self, client: httpx2.Client, payload: dict[str, object]) -> bytes:
        """The response body, refused past MAX_RESPONSE_BYTES (a server cannot exhaust memory)."""
        with client.stream("POST", self.url, json=payload) as response:
            response.raise_for_status()
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise ValueError(f"response larger than {MAX_RESPONSE_BYTES // 1_000_000} MB")
            return bytes(body)


class Fallback:
    """An embedder that, when it fails, says so once and stands aside for RETRY_AFTER seconds."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.embedder.name

    @property
    def chance_cosine(self) -> float | None:
        floor: float | None = getattr(self.embedder, "chance_cosine", None)  # embedders of older code lack it
        return floor

    @property
    def available(self) -> bool:
        return self._down_since is None or time.monotonic() >= self._retry_at

    def embed(self, texts: Sequence[str]) -> Vectors | None:
        """The vectors, or None while the embedder is down (search then uses BM25 alone)."""
        if not self.available:
            return None
        try:
            vectors = self.embedder.embed(texts)
        except EmbedderUnavailable as exc:
            with self._lock:
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    logger.warning("search falls back to BM25: %s; retrying every %ds", exc, RETRY_AFTER)
                self._retry_at = time.monotonic() + RETRY_AFTER
            return None
        if self._down_since is not None:
            with self._lock:
                self._down_since = None
                logger.info("embedder %s is back; search is hybrid again", self.embedder.name)
        return vectors


def embeddings_url(url: str) -> str:
    """`http://host:11434`, `.../v1` or `.../v1/embeddings` -> the embeddings endpoint."""
    url = url.rstrip("/")
    if url.endswith("/embeddings"):
        return url
    return f"{url}/embeddings" if url.endswith("/v1") else f"{url}/v1/embeddings"


def normalise(vectors: Vectors) -> Vectors:
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


def _package_folder(package: str) -> Path:
    """A package's folder without importing it (wordllama's __init__ configures root logging)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(
            f"the builtin embedder needs the {package!r} package; reinstall skillgate, "
            'or set [search] embedder = "none"'
        )
    return Path(next(iter(spec.submodule_search_locations)))
