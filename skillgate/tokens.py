"""Token counts with a real BPE tokenizer that works offline (o200k_base, bundled)."""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from typing import Any

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
