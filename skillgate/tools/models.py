"""Results of the three meta-tools: the models behind their `structuredContent`.

Their JSON schemas are the tools' `outputSchema`s, so these models are the single
source of what a client receives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import mcp_types as types  # a third of a second to import: `render` and `list` never need it

META_TOOLS = ("list_skills", "load_skill", "call_skill")  # the tools skillgate itself serves


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)


class SkillSummary(_Model):
    """One skill of a list_skills answer."""

    name: str = Field(description="Skill name, for load_skill and call_skill.")
    description: str = Field(description="First line of the skill's description.")
    tools: list[str] = Field(description="Tool names (or allowlist patterns until the server is known).")
    score: float | None = Field(default=None, description="Relevance, when searching.")
    matched: str | None = Field(
        default=None, description="Of a query in several parts: the part this skill matched best."
    )


class SkillPage(_Model):
    """A list_skills answer: one page of the catalog, or the ranked matches of a query."""

    skills: list[SkillSummary] = Field(description="In name order, or best match first with a query.")
    total: int = Field(description="Number of matching skills.")
    next_cursor: str | None = Field(
        default=None, alias="nextCursor", description="cursor= for the next page; absent on the last."
    )
    no_match: bool | None = Field(
        default=None,
        alias="noMatch",
        description="With a query: true when nothing matches it beyond chance (skills are the nearest).",
    )


class ToolSpec(_Model):
    """One tool a skill allows."""

    name: str = Field(description="Tool name, for call_skill.")
    description: str | None = Field(default=None, description="The upstream's description of the tool.")
    input_schema: dict[str, Any] = Field(alias="inputSchema", description="JSON schema of its arguments.")


class FileInfo(_Model):
    """One of a skill's other files."""

    path: str = Field(description="Path inside the skill folder, for file=PATH.")
    size: int = Field(description="Size in bytes.")


class Section(_Model):
    """One heading of the instructions."""

    heading: str = Field(description="Heading text, for section=HEADING.")
    level: int = Field(description="Heading level (1 for #).")
    tokens: int = Field(description="Tokens of the section with its subsections.")


class LoadedSkill(_Model):
    """A load_skill answer: a skill's instructions, tools and files."""

    name: str = Field(description="Skill name.")
    description: str = Field(description="The skill's description.")
    instructions: str = Field(description="Rendered Markdown (one section if asked).")
    sections: list[Section] = Field(description="Headings of the whole instructions, in order.")
    tools: list[ToolSpec] = Field(description="Allowed tools with their input schemas.")
    files: list[FileInfo] = Field(description="Other files; load one with file=PATH.")
    variables: dict[str, str | None] | None = Field(
        default=None, description="Template variables the skill reads, with their defaults (null: none)."
    )
    warnings: list[str] | None = Field(
        default=None, description="Tools unavailable now, or changed since they were locked."
    )
    omitted: list[str] | None = Field(default=None, description="Sections left out by max_tokens.")


class LoadedFile(_Model):
    """A load_skill answer with file=PATH: one of the skill's files."""

    name: str = Field(description="Skill name.")
    path: str = Field(description="Path inside the skill folder.")
    size: int = Field(description="Size in bytes.")
    mime_type: str = Field(alias="mimeType", description="Media type, from the file name.")
    text: str | None = Field(default=None, description="Content, for UTF-8 text files.")
    blob: str | None = Field(default=None, description="Base64, for files that are not UTF-8 text.")


# call_skill's `outputSchema`: what the upstream returned, whatever its shape.
UPSTREAM_RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "The upstream tool's structuredContent, unchanged; when it gave none, "
        '{"content": [...]}: a copy of its content blocks.'
    ),
}


def dump(model: BaseModel) -> dict[str, Any]:
    """The wire form: camelCase aliases, no nulls."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


class ListSkillsArgs(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str | None = Field(default=None, description="What you need, in words.")
    limit: int | None = Field(default=None, ge=1, le=100, description="Default 20; 5 with a query.")
    cursor: str | None = Field(default=None, description="nextCursor of the previous page.")


class LoadSkillArgs(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Skill name, as list_skills gives it.")
    variables: dict[str, Any] | None = Field(default=None, description="Template variables.")
    section: str | None = Field(default=None, description="Only this heading's section.")
    max_tokens: int | None = Field(default=None, ge=1, description="Cut at a section boundary.")
    file: str | None = Field(default=None, description="One of the skill's files, instead.")


class CallSkillArgs(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Skill name.")
    tool: str = Field(description="One of the skill's tools.")
    arguments: dict[str, Any] | None = Field(default=None, description="The tool's arguments.")


def compact_schema(model: type[BaseModel], *, titles: bool = False) -> dict[str, Any]:
    """A model's JSON schema with `$defs` inlined and without the `title`s that only repeat names:
    small for the model's context. `titles` keeps the titles of objects (the models' names), which
    typed clients name their classes after.

    A field that defaults to None is left out of the wire (see `dump`), so null is not one of its
    values; elsewhere (a mapping's values) null stays.
    """
    schema = model.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:  # the definition, with what the reference adds (its description)
            extra = {k: v for k, v in node.items() if k != "$ref"}
            return walk({**defs[node["$ref"].split("/")[-1]], **extra})
        if "default" in node and node["default"] is None and {"type": "null"} in node.get("anyOf", []):
            rest = [n for n in node["anyOf"] if n != {"type": "null"}]
            only = rest[0] if len(rest) == 1 else {"anyOf": rest}
            node = {**{k: v for k, v in node.items() if k != "anyOf"}, **only}
        drop = {"default"} | ({"additionalProperties"} if node.get("additionalProperties") is True else set())
        if not (titles and "properties" in node):
            drop.add("title")
        return {
            k: {name: walk(spec) for name, spec in v.items()} if k == "properties" else walk(v)
            for k, v in node.items()
            if k not in drop
        }

    result: dict[str, Any] = walk(schema)
    return result


def output_schema(*models: type[BaseModel]) -> dict[str, Any]:
    """A tool's `outputSchema`: the whole shape of its `structuredContent`, every field described.

    Models never read it (hosts show them names, descriptions and input schemas), so it costs no
    tokens; typed clients build their result classes from it, named after the models. A result
    that is one of several models is one object with all their fields, whose `oneOf` says which
    fields each model requires: the root must be an object (MCP before 2026-07-28), and clients
    such as fastmcp build their class from the root's `properties` only.
    """
    schemas = [compact_schema(model, titles=True) for model in models]
    if len(schemas) == 1:
        return schemas[0]
    properties: dict[str, Any] = {}
    for schema in schemas:
        for name, spec in schema["properties"].items():
            if properties.setdefault(name, spec) != spec:
                raise ValueError(f"field {name!r} differs between {[m.__name__ for m in models]}")
    required = set.intersection(*(set(schema["required"]) for schema in schemas))
    return {
        "title": "Or".join(model.__name__ for model in models),
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name in required],
        "oneOf": [
            {"title": s["title"], "description": s["description"], "required": s["required"]} for s in schemas
        ],
    }


def lean_schema(schema: Any) -> Any:
    """A tool's input schema as a model reads it: without `title`s, which only repeat the names,
    and without `$schema`, which says nothing about the arguments.

    Property names are kept even when a property is called "title"; only schema keywords go.
    """
    if isinstance(schema, list):
        return [lean_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    lean: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("title", "$schema") and isinstance(value, str):
            continue
        if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(value, dict):
            lean[key] = {name: lean_schema(spec) for name, spec in value.items()}
        else:
            lean[key] = lean_schema(value)
    return lean


_SIMPLE = {"string", "integer", "number", "boolean", "null"}
_SHOWN = {"type", "description", "title", "enum", "default", "items"}


def signature(name: str, schema: dict[str, Any]) -> str:
    """A tool's input schema as a TypeScript-like signature with one line per argument.

    `tool(a: string, b?: integer = 5)` then `a: its description`; whatever the notation does
    not say (bounds, patterns, nested objects, `additionalProperties`...) follows as compact
    JSON, so nothing of the schema is lost. Far fewer tokens than the JSON schema itself.
    """
    schema = lean_schema(schema) if isinstance(schema, dict) else {}
    found = schema.get("properties")
    properties: dict[str, Any] = found if isinstance(found, dict) else {}
    required = set(schema.get("required") or []) if isinstance(schema.get("required"), list) else set()
    arguments, notes = [], []
    for prop, spec in properties.items():
        spec = spec if isinstance(spec, dict) else {}
        kind = _type_of(spec)
        default = f" = {_json(spec['default'])}" if "default" in spec else ""
        arguments.append(f"{prop}{'' if prop in required else '?'}: {kind}{default}")
        rest = {k: v for k, v in spec.items() if k not in _SHOWN or (k == "items" and kind == "array")}
        if kind == "object" or kind.startswith("{"):
            rest.pop("type", None)
        detail = " ".join(
            filter(None, [str(spec.get("description") or "").strip(), _json(rest) if rest else ""])
        )
        if detail:
            notes.append(f"    {prop}: {detail}")
    extra = {k: v for k, v in schema.items() if k not in ("type", "properties", "required")}
    if extra and extra != {"additionalProperties": False}:
        notes.append(f"    schema: {_json(extra)}")
    return f"{name}({', '.join(arguments)})" + "".join(f"\n{n}" for n in notes)


def _type_of(spec: dict[str, Any]) -> str:
    if "enum" in spec and isinstance(spec["enum"], list):
        return " | ".join(_json(v) for v in spec["enum"])
    kind = spec.get("type")
    if isinstance(kind, list) and all(isinstance(k, str) for k in kind):
        return " | ".join(kind)
    if kind == "array":
        items = spec.get("items")
        if isinstance(items, dict) and items.get("type") in _SIMPLE and set(items) <= {"type"}:
            return f"{items['type']}[]"
        return "array"
    return kind if isinstance(kind, str) else "any"


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


LOAD_SKILL_DESCRIPTION = "A skill's instructions, its tools with their arguments, and its files."
CALL_SKILL_DESCRIPTION = (
    "Call a skill's tool; arguments are checked against its schema. The result is the tool's."
)


def meta_tools(list_description: str) -> list[types.Tool]:
    import mcp_types as types

    return [
        types.Tool(
            name="list_skills",
            description=list_description,
            input_schema=compact_schema(ListSkillsArgs),
            output_schema=output_schema(SkillPage),
            annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
        ),
        types.Tool(
            name="load_skill",
            description=LOAD_SKILL_DESCRIPTION,
            input_schema=compact_schema(LoadSkillArgs),
            output_schema=output_schema(LoadedSkill, LoadedFile),
            annotations=types.ToolAnnotations(read_only_hint=True),
        ),
        types.Tool(
            name="call_skill",
            description=CALL_SKILL_DESCRIPTION,
            input_schema=compact_schema(CallSkillArgs),
            output_schema=UPSTREAM_RESULT_SCHEMA,
        ),
    ]
