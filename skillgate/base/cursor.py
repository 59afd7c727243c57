"""The one cursor codec of every paged answer (list_skills, prompts, resources, skills/list): an
opaque string that holds the offset of the next page."""

from __future__ import annotations

import base64
import binascii
import json


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    """The offset a cursor holds: 0 for none, None for a string that is not one of ours."""
    if not cursor:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor.encode()))["o"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    return offset if isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0 else None
