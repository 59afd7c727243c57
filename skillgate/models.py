"""Results of the three meta-tools: the models behind their `structuredContent`.

Their JSON schemas are the tools' `outputSchema`s, so these models are the single
source of what a client receives.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)


class SkillSummary(_Model):
    name: str
    description: str = Field(description="First line of the skill's description.")
    tools: list[str] = Field(description="Tool names (or allowlist patterns until the server is known).")
    score: float | None = Field(default=None, description="Relevance, when searching.")


class SkillPage(_Model):
    skills: list[SkillSummary]
    total: int = Field(description="Number of matching skills.")
    next_cursor: str | None = Field(default=None, alias="nextCursor")


class ToolSpec(_Model):
    name: str
    description: str | None = None
    input_schema: dict[str, Any] = Field(alias="inputSchema")


class FileInfo(_Model):
    path: str
    size: int


class Section(_Model):
    heading: str
    level: int
    tokens: int = Field(description="Tokens of the section with its subsections.")


class LoadedSkill(_Model):
    name: str
    description: str
    instructions: str = Field(description="Rendered Markdown (one section if asked).")
    sections: list[Section]
    tools: list[ToolSpec]
    files: list[FileInfo] = Field(description="Other files; load one with file=PATH.")
    warnings: list[str] | None = Field(default=None, description="Tools that changed since they were locked.")
    omitted: list[str] | None = Field(default=None, description="Sections left out by max_tokens.")


class LoadedFile(_Model):
    name: str
    path: str
    size: int
    mime_type: str = Field(alias="mimeType")
    text: str | None = None
    blob: str | None = Field(default=None, description="Base64, for files that are not UTF-8 text.")


def dump(model: BaseModel) -> dict[str, Any]:
    """The wire form: camelCase aliases, no nulls."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


class ListSkillsArgs(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str | None = Field(default=None, description="What you need, in words. Omit to list all.")
    limit: int | None = Field(
        default=None, ge=1, le=100, description="Page size (default 20; 5 with a query)."
    )
    cursor: str | None = Field(default=None, description="nextCursor of the previous page.")


class LoadSkillArgs(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    variables: dict[str, Any] | None = Field(default=None, description="Template variables.")
    section: str | None = Field(default=None, description="Only this heading's section.")
    max_tokens: int | None = Field(default=None, ge=1, description="Cut at a section boundary.")
    file: str | None = Field(default=None, description="Return this file of the skill instead.")


class CallSkillArgs(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Skill name.")
    tool: str = Field(description="One of the skill's tools.")
    arguments: dict[str, Any] | None = Field(default=None, description="The tool's arguments.")


def compact_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema without titles, with `$defs` inlined: small for the model's context."""
    schema = model.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].split("/")[-1]])
            if "anyOf" in node and {"type": "null"} in node["anyOf"]:
                rest = [n for n in node["anyOf"] if n != {"type": "null"}]
                only = rest[0] if len(rest) == 1 else {"anyOf": rest}
                node = {**{k: v for k, v in node.items() if k != "anyOf"}, **only}
            drop = {"title", "default"} | (
                {"additionalProperties"} if node.get("additionalProperties") is True else set()
            )
            return {k: walk(v) for k, v in node.items() if k not in drop}
        if isinstance(node, list):
            return [walk(n) for n in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


def shallow_schema(*models: type[BaseModel]) -> dict[str, Any]:
    """An `outputSchema` naming each top-level field and its JSON type, nothing deeper.

    Output schemas sit in every client's startup context; the full shapes are in the
    docs and the text of each result. With several models (a result that is one of
    them), the properties are merged and only the common fields are required.
    """
    properties: dict[str, Any] = {}
    required: set[str] | None = None
    for model in models:
        full = compact_schema(model)
        for name, spec in full["properties"].items():
            kind = spec.get("type")
            properties.setdefault(name, {"type": kind} if kind else {})
        names = set(full.get("required", []))
        required = names if required is None else required & names
    return {"type": "object", "properties": properties, "required": sorted(required or ())}
