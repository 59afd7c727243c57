"""Text a wire can carry. JSON can spell a lone surrogate (`"\\ud800"`) that UTF-8 cannot encode:
such a string is refused where arguments enter, and made printable where a name is only
recorded."""

from __future__ import annotations

import json
from typing import Any

NOT_UNICODE = (
    "they hold a lone surrogate (an escape between \\ud800 and \\udfff), which is not Unicode text. "
    "Send the text as valid UTF-8"
)


def unicode_text(value: Any) -> bool:
    """Whether every string in `value` (JSON data) is Unicode text: what UTF-8 can carry."""
    try:
        json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except (ValueError, RecursionError):
        return True  # not JSON data at all: the argument models refuse it
    return True


def printable(text: str) -> str:
    """`text` with each lone surrogate replaced by "?" (for names that are only recorded)."""
    return text.encode("utf-8", "replace").decode("utf-8")
