"""A call_skill's arguments checked before they go upstream: their size, and the tool's input
schema (a validator built once per live tool definition)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from skillgate.base.errors import ArgumentsInvalid
from skillgate.base.limits import ARGUMENT_BYTES
from skillgate.base.lru import LRU
from skillgate.base.text import NOT_UNICODE, unicode_text

if TYPE_CHECKING:
    import jsonschema
    import mcp_types as types
    from jsonschema.exceptions import ValidationError as SchemaError


class ArgumentCheck:
    def __init__(self) -> None:
        self._validators: LRU[tuple[str, str], tuple[object, jsonschema.protocols.Validator]] = LRU(4096)

    def check(self, key: str, tool: types.Tool, arguments: dict[str, Any]) -> None:
        """Raise `ArgumentsInvalid` naming what is wrong; `key` names the upstream. Text UTF-8
        cannot carry is refused here, for every caller: sent upstream, it would break the
        connection of every call in flight on it."""
        if not unicode_text(arguments):
            raise ArgumentsInvalid(f"arguments for {tool.name!r}: {NOT_UNICODE}")
        size = len(json.dumps(arguments, default=str))
        if size > ARGUMENT_BYTES:
            raise ArgumentsInvalid(
                f"arguments for {tool.name!r} are {size} bytes; the limit is {ARGUMENT_BYTES}. "
                "Send less data, or put it in a file the tool can read"
            )
        validator = self._validator(key, tool)
        if validator is None:
            return  # the upstream's own schema is broken: let the upstream judge
        errors = sorted(validator.iter_errors(arguments), key=lambda e: (list(e.path), e.message))
        if errors:
            problems = "; ".join(_describe(e) for e in errors[:5])
            raise ArgumentsInvalid(
                f"arguments for {tool.name!r} do not match its input schema: {problems}. "
                "Fix them and call again (load_skill shows the schema)",
                f"arguments for {tool.name!r} do not match its input schema: {problems} "
                "(`skillgate render DIR SKILL` shows the schema)",
            )

    def _validator(self, key: str, tool: types.Tool) -> jsonschema.protocols.Validator | None:
        cached = self._validators.get((key, tool.name))
        if cached is not None and cached[0] is tool:
            return cached[1]
        import jsonschema  # loaded with the first call_skill

        schema = tool.input_schema or {"type": "object"}
        cls = jsonschema.validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError:
            return None
        return self._validators.put((key, tool.name), (tool, cls(schema)))[1]


def _describe(error: SchemaError) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message
