"""Secrets of an upstream binding: the values `${VAR}` expansion put into it, masked as `***`
wherever the upstream could echo them — results, tool descriptions, progress messages, errors
and its stderr. One masking rule for text, JSON data and models."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from mcp.shared.dispatcher import ProgressFnT
from pydantic import BaseModel

from skillgate.skills.binding import ServerBinding, secret_values

M = TypeVar("M", bound=BaseModel)


class Secrets:
    def __init__(self, binding: ServerBinding, environ: Mapping[str, str]) -> None:
        self.values = secret_values(binding, environ)

    def __bool__(self) -> bool:
        return bool(self.values)

    def redact(self, text: str) -> str:
        for secret in self.values:
            text = text.replace(secret, "***")
        return text

    def mask(self, wire: Any) -> Any:
        """`wire` (JSON data) itself when no secret appears in it, else a copy with every one masked."""
        if not self.values or not any(
            secret in json.dumps(wire, ensure_ascii=False) for secret in self.values
        ):
            return wire
        return _map_strings(wire, self.redact)

    def model(self, model: M, cls: type[M]) -> M:
        """The model unchanged, unless a secret appears in it: then a masked copy."""
        if not self.values:
            return model
        wire = model.model_dump(mode="json", by_alias=True, exclude_none=True)
        masked = self.mask(wire)
        return model if masked is wire else cls.model_validate(masked)

    def progress(self, progress: ProgressFnT | None) -> ProgressFnT | None:
        """The progress callback, with secrets masked in the messages it forwards."""
        forward = progress
        if forward is None or not self.values:
            return forward

        async def masked(progress: float, total: float | None, message: str | None) -> None:
            await forward(progress, total, self.redact(message) if message else message)

        return masked


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, change) for v in value]
    return value
