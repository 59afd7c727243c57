"""Token counts with a real BPE tokenizer that works offline (o200k_base, bundled)."""

from __future__ import annotations

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
