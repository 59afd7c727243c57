"""Token counts with a real BPE tokenizer that works offline (o200k_base, bundled)."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import sys
import threading
import warnings
from collections.abc import Callable
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skillgate.base.disk_cache import DiskCache

ENCODING = "o200k_base"


_LOADING = threading.Lock()


@lru_cache(maxsize=1)
def _counter() -> Callable[[str], int]:
    """A function counting o200k_base tokens, loaded on first use.

    bpe_openai's package import builds every vocabulary it ships (o200k_base, cl100k_base and
    voyage3_base, about 0.65 s and three tables in Python) although its Rust extension holds
    them all compiled in. This module is the one owner of bpe_openai's private extension
    module: it loads `bpe_openai._bindings` alone (about 0.08 s), and falls back to the public
    API if a release moves it. `tests/test_tokens.py` checks the two count alike.
    """
    with _LOADING:  # render threads may count at once: the extension is initialised once
        try:
            bindings = sys.modules.get("bpe_openai._bindings") or _load_bindings()
            tokenizer = bindings.tokenizer_for_encoding(ENCODING)
            count: Callable[[str], int] = tokenizer.count
            return count
        except (ImportError, AttributeError, OSError):
            return public_counter()


def _load_bindings() -> ModuleType:
    package = importlib.util.find_spec("bpe_openai")  # finds the package without running its __init__
    if package is None or not package.submodule_search_locations:
        raise ImportError("bpe_openai is not installed")
    spec = importlib.machinery.PathFinder.find_spec(
        "bpe_openai._bindings", list(package.submodule_search_locations)
    )
    if spec is None or spec.loader is None:
        raise ImportError("bpe_openai._bindings is not where it was")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # an extension module is initialised once per process
    spec.loader.exec_module(module)
    return module


@lru_cache(maxsize=1)
def public_counter() -> Callable[[str], int]:
    """The count through bpe_openai's public API (special tokens counted as text); its encoding
    is built once (about 18 ms a call otherwise)."""
    with warnings.catch_warnings():
        # bpe_openai reads its bundled vocabularies with a deprecated importlib.resources call.
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        encoding = bpe_openai.get_encoding(ENCODING)
    return lambda text: len(encoding.encode(text, disallowed_special=()))


CHUNK_CHARS = 50_000  # the tokenizer refuses inputs of more than 200,000 tokens: count in pieces


def count_tokens(text: str) -> int:
    """Tokens of `text`; long texts are counted in pieces cut at line ends (exact up to the cuts).
    A lone surrogate (which UTF-8 cannot carry) counts as the replacement character."""
    if not text.isascii():
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    count = _counter()
    if len(text) <= CHUNK_CHARS:
        return count(text)
    total, start = 0, 0
    while start < len(text):
        end = min(len(text), start + CHUNK_CHARS)
        if end < len(text):
            cut = text.rfind("\n", start, end)
            end = cut + 1 if cut > start else end
        total += count(text[start:end])
        start = end
    return total


def token_counts(
    instructions: str, tools: list[dict[str, Any]], count: Callable[[str], int] = count_tokens
) -> dict[str, int | str]:
    """What a loaded skill costs: its instructions, its tool schemas (as JSON), the total."""
    text = count(instructions)
    schemas = count(json.dumps(tools, separators=(",", ":"))) if tools else 0
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
