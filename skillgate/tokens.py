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


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text))


def token_counts(instructions: str, tools: list[dict[str, Any]]) -> dict[str, int | str]:
    """What a loaded skill costs: its instructions, its tool schemas (as JSON), the total."""
    text = count_tokens(instructions)
    schemas = count_tokens(json.dumps(tools, separators=(",", ":"))) if tools else 0
    return {"instructions": text, "tools": schemas, "total": text + schemas, "encoding": ENCODING}
