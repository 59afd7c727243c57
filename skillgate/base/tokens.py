"""Token counts with a real BPE tokenizer that works offline (o200k_base, bundled)."""

from __future__ import annotations

import hashlib
import json
import warnings
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skillgate.base.disk_cache import DiskCache

ENCODING = "o200k_base"


@lru_cache(maxsize=1)
def _encoding() -> Any:
    with warnings.catch_warnings():
        # bpe_openai reads its bundled vocabularies with a deprecated importlib.resources call.
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai  # imported on first use: it takes a third of a second

        return bpe_openai.get_encoding(ENCODING)


CHUNK_CHARS = 50_000  # the tokenizer refuses inputs of more than 200,000 tokens: count in pieces


def count_tokens(text: str) -> int:
    """Tokens of `text`; long texts are counted in pieces cut at line ends (exact up to the cuts)."""
    encode = _encoding().encode
    if len(text) <= CHUNK_CHARS:
        return len(encode(text))
    total, start = 0, 0
    while start < len(text):
        end = min(len(text), start + CHUNK_CHARS)
        if end < len(text):
            cut = text.rfind("\n", start, end)
            end = cut + 1 if cut > start else end
        total += len(encode(text[start:end]))
        start = end
    return total


def token_counts(instructions: str, tools: list[dict[str, Any]]) -> dict[str, int | str]:
    """What a loaded skill costs: its instructions, its tool schemas (as JSON), the total."""
    text = count_tokens(instructions)
    schemas = count_tokens(json.dumps(tools, separators=(",", ":"))) if tools else 0
    return {"instructions": text, "tools": schemas, "total": text + schemas, "encoding": ENCODING}


KEPT_COUNTS = 20_000  # texts whose counts a CountCache keeps (the newest)


class CountCache:
    """Token counts of texts counted before, kept between runs under each text's sha256: a fresh
    process answers its first load_skill without loading the tokenizer (a third of a second and
    140 MiB). A count is a function of the text alone, so an entry can never be stale."""

    def __init__(self, disk: DiskCache | None = None, name: str = "counts") -> None:
        self._disk, self._name = disk, name
        stored = disk.read(name) if disk is not None else None
        self._counts: dict[str, int] = stored if isinstance(stored, dict) else {}
        self._added = False

    def count(self, text: str) -> int:
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        found = self._counts.get(key)
        if found is None:
            found = self._counts[key] = count_tokens(text)
            self._added = True
        return found

    def save(self) -> None:
        """Write the counts if any were added (the newest `KEPT_COUNTS`)."""
        if not self._added or self._disk is None:
            return
        if len(self._counts) > KEPT_COUNTS:
            self._counts = dict(list(self._counts.items())[-KEPT_COUNTS:])
        self._disk.write(self._name, self._counts)
        self._added = False
