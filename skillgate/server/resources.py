"""Skills as MCP prompts and resources, and the Skills-over-MCP extension (SEP-2640).

- Each skill is a prompt named after it; its template variables are the prompt's
  arguments, and `prompts/get` returns the rendered instructions.
- Each file of a skill is a resource `skill://<skill-path>/<file>`, where the skill path
  is the skill's folder relative to the catalog root (its name, for top-level skills).
  `SKILL.md` is served as written (the template, unrendered); mcp.json and
  tools.lock.json are gateway configuration and are not served.
- `skills/list` and `skills/get` return entries `{uri, frontmatter, resources: [{uri, size,
  digest: "sha256:<hex>"}]}` over the same resources.

Everything is seen through a profile: a skill outside the view has no prompt, no
resource and no entry.
"""

from __future__ import annotations

import base64
from typing import Any

import mcp_types as types
from mcp import MCPError

from skillgate.base.cursor import decode_cursor, encode_cursor
from skillgate.base.errors import FileNotInSkill
from skillgate.base.layout import mime_of, text_of
from skillgate.base.limits import SKILL_MD_BYTES
from skillgate.base.reading import Unreadable, read_bytes
from skillgate.skills.bundle import Skill
from skillgate.skills.catalog import Catalog
from skillgate.skills.profile import Profile
from skillgate.tools.gateway import Gateway

SCHEME = "skill://"
EXTENSION = "io.modelcontextprotocol/skills"
PAGE = 200


class SkillsListParams(types.PaginatedRequestParams):
    pass


class SkillsGetParams(types.RequestParams):
    uri: str


def skill_path(skill: Skill, catalog: Catalog) -> str:
    return skill.dir.relative_to(catalog.root).as_posix()


def skill_uri(skill: Skill, catalog: Catalog, file: str = "SKILL.md") -> str:
    return f"{SCHEME}{skill_path(skill, catalog)}/{file}"


def _read(skill: Skill, path: str) -> bytes:
    """A skill file's bytes; a file that changed into something unreadable is an invalid-params error."""
    if path != "SKILL.md":
        try:
            return skill.read_file(path)
        except FileNotInSkill as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
    try:
        return read_bytes(skill.skill_md, SKILL_MD_BYTES)
    except Unreadable as exc:
        raise MCPError(
            types.INVALID_PARAMS, f"SKILL.md of skill {skill.name!r} cannot be read: {exc}"
        ) from None


def entry(skill: Skill, catalog: Catalog) -> dict[str, Any]:
    """The SEP-2640 entry of a skill, with a sha256 digest of every file's bytes.

    Digests are computed once per catalog generation (`Skill.digests`; callers run this off the
    event loop). A file that cannot be read is left out of this entry; it never fails the
    listing of the other skills.
    """
    resources = [
        {"uri": skill_uri(skill, catalog, path), "size": size, "digest": digest}
        for path, size, digest in skill.digests
    ]
    return {
        "uri": skill_uri(skill, catalog),
        "frontmatter": skill.frontmatter.model_dump(by_alias=True, exclude_none=True),
        "resources": resources,
    }


def _visible(catalog: Catalog, view: Profile) -> list[Skill]:
    return [s for s in catalog if view.admits(s.name)]


def _page(cursor: str | None, total: int) -> tuple[int, str | None]:
    """The page a cursor asks for (from the start, for one that is not ours) and the next cursor."""
    start = decode_cursor(cursor) or 0
    return start, (encode_cursor(start + PAGE) if start + PAGE < total else None)


def _locate(uri: str, catalog: Catalog, view: Profile) -> tuple[Skill, str]:
    """The visible skill and file a `skill://` URI names, else an invalid-params error."""
    if uri.startswith(SCHEME):
        rest = uri[len(SCHEME) :]
        for skill in _visible(catalog, view):
            prefix = skill_path(skill, catalog) + "/"
            path = rest[len(prefix) :]
            if rest.startswith(prefix) and (path == "SKILL.md" or path in skill.file_index):
                return skill, path
    raise MCPError(
        types.INVALID_PARAMS, f"no skill resource {uri!r}; list them with resources/list or skills/list"
    )


def _size(skill: Skill) -> int | None:
    try:
        return skill.skill_md.stat().st_size
    except OSError:
        return None


class SkillResources:
    """The prompt, resource and skills/* handlers for one profile."""

    def __init__(self, gateway: Gateway, view: Profile) -> None:
        self.gateway = gateway
        self.view = view

    def list_prompts(self, cursor: str | None) -> types.ListPromptsResult:
        catalog = self.gateway.catalog
        skills = _visible(catalog, self.view)
        start, next_cursor = _page(cursor, len(skills))
        prompts = []
        for skill in skills[start : start + PAGE]:
            variables = self.gateway.variables_of(skill)
            arguments = [
                types.PromptArgument(
                    name=name,
                    description="no default" if default is None else f"default: {default!r}",
                    required=False,
                )
                for name, default in variables.items()
            ]
            prompts.append(
                types.Prompt(name=skill.name, description=skill.frontmatter.summary(), arguments=arguments)
            )
        return types.ListPromptsResult(prompts=prompts, next_cursor=next_cursor)

    async def get_prompt(self, name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
        skill = self.gateway.skill(name, self.view)
        text = await self.gateway.render(skill, arguments or {}, view=self.view)
        message = types.PromptMessage(role="user", content=types.TextContent(type="text", text=text))
        return types.GetPromptResult(description=skill.frontmatter.summary(), messages=[message])

    def list_resources(self, cursor: str | None) -> types.ListResourcesResult:
        catalog = self.gateway.catalog
        everything = [
            (skill, path, size)
            for skill in _visible(catalog, self.view)
            for path, size in [("SKILL.md", None), *((f.path, f.size) for f in skill.files)]
        ]
        start, next_cursor = _page(cursor, len(everything))
        resources = []
        for skill, path, known_size in everything[start : start + PAGE]:
            size = _size(skill) if known_size is None else known_size
            resources.append(
                types.Resource(
                    uri=skill_uri(skill, catalog, path),
                    name=skill.name if path == "SKILL.md" else f"{skill.name}/{path}",
                    description=skill.frontmatter.description if path == "SKILL.md" else None,
                    mime_type=mime_of(path),
                    size=size,
                )
            )
        return types.ListResourcesResult(resources=resources, next_cursor=next_cursor)

    def read_resource(self, uri: str) -> types.ReadResourceResult:
        skill, path = _locate(uri, self.gateway.catalog, self.view)
        data = _read(skill, path)
        mime, text = mime_of(path, data), text_of(data)
        content: types.TextResourceContents | types.BlobResourceContents = (
            types.TextResourceContents(uri=uri, mime_type=mime, text=text)
            if text is not None
            else types.BlobResourceContents(uri=uri, mime_type=mime, blob=base64.b64encode(data).decode())
        )
        return types.ReadResourceResult(contents=[content])

    def list_skills(self, cursor: str | None) -> dict[str, Any]:
        catalog = self.gateway.catalog
        skills = _visible(catalog, self.view)
        start, next_cursor = _page(cursor, len(skills))
        result: dict[str, Any] = {"skills": [entry(s, catalog) for s in skills[start : start + PAGE]]}
        if next_cursor:
            result["nextCursor"] = next_cursor
        return result

    def get_skill(self, uri: str) -> dict[str, Any]:
        catalog = self.gateway.catalog
        skill, path = _locate(uri, catalog, self.view)
        if path != "SKILL.md":
            raise MCPError(types.INVALID_PARAMS, f"{uri!r} is not a skill's SKILL.md")
        return {"skill": entry(skill, catalog)}
