"""Token counts with a real BPE tokenizer that works offline (o200k_base, bundled)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import bpe_openai

ENCODING = "o200k_base"


@lru_cache(maxsize=1)
def _encoding() -> Any:
    return bpe_openai.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text))
