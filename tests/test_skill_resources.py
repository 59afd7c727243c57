"""Skills as prompts and resources, and SEP-2640 skills/list and skills/get, through the SDK client."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import anyio
import mcp_types as types
import pytest
from mcp import Client, MCPError
from pydantic import TypeAdapter

from skillgate.skills.catalog import Catalog
from skillgate.skills.profile import Profile
from tests.conftest import gateway_client, write_skill

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]


class SkillsList(types.Request[types.PaginatedRequestParams, Literal["skills/list"]]):
    method: Literal["skills/list"] = "skills/list"


class SkillsGetParams(types.RequestParams):
    uri: str


class SkillsGet(types.Request[SkillsGetParams, Literal["skills/get"]]):
    method: Literal["skills/get"] = "skills/get"


ANY = TypeAdapter(dict[str, Any])


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    body = '# Greet\n\nSay hello in a {{ vars.tone | default("warm") }} tone to {{ vars.who }}.\n'
    greet = write_skill(tmp_path, "greet", "Greet someone.", body=body)
    (greet / "references").mkdir()
    (greet / "references" / "phrases.md").write_text("# Phrases\n\nHello!\n")
    (greet / "logo.bin").write_bytes(bytes(range(256)))
    write_skill(tmp_path, "refunds", "Refund policy.", folder=tmp_path / "acme" / "billing")
    write_skill(tmp_path, "secret-ops", "Hidden from the limited view.")
    return tmp_path


async def skills_list(client: Client) -> dict[str, Any]:
    return await client.session.send_request(SkillsList(params=types.PaginatedRequestParams()), ANY)


async def skills_get(client: Client, uri: str) -> dict[str, Any]:
    return await client.session.send_request(SkillsGet(params=SkillsGetParams(uri=uri)), ANY)


@pytest.mark.parametrize("mode", MODES)
async def test_each_skill_is_a_prompt_whose_arguments_are_its_variables(catalog: Path, mode: str) -> None:
    async with gateway_client(catalog, mode) as (client, _):
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert sorted(prompts) == ["greet", "refunds", "secret-ops"]
        arguments = {a.name: a.description for a in prompts["greet"].arguments or []}
        assert arguments == {"tone": "default: 'warm'", "who": "no default"}
        result = await client.get_prompt("greet", {"who": "Ada", "tone": "formal"})
        (message,) = result.messages
        assert isinstance(message.content, types.TextContent)
        assert "Say hello in a formal tone to Ada." in message.content.text
        with pytest.raises(MCPError, match="who"):
            await client.get_prompt("greet", {})


@pytest.mark.parametrize("mode", MODES)
async def test_files_are_resources_under_skill_uris(catalog: Path, mode: str) -> None:
    async with gateway_client(catalog, mode) as (client, _):
        uris = [str(r.uri) for r in (await client.list_resources()).resources]
        assert uris == [  # by skill name, SKILL.md first
            "skill://greet/SKILL.md",
            "skill://greet/logo.bin",
            "skill://greet/references/phrases.md",
            "skill://acme/billing/refunds/SKILL.md",
            "skill://secret-ops/SKILL.md",
        ]
        read = await client.read_resource("skill://greet/references/phrases.md")
        (content,) = read.contents
        assert isinstance(content, types.TextResourceContents) and content.text == "# Phrases\n\nHello!\n"
        skill_md = (await client.read_resource("skill://greet/SKILL.md")).contents[0]
        assert isinstance(skill_md, types.TextResourceContents) and "{{ vars.who }}" in skill_md.text
        blob = (await client.read_resource("skill://greet/logo.bin")).contents[0]
        assert isinstance(blob, types.BlobResourceContents)
        for bad in ["skill://greet/../secret-ops/SKILL.md", "skill://greet/mcp.json", "file:///etc/passwd"]:
            with pytest.raises(MCPError):
                await client.read_resource(bad)


@pytest.mark.parametrize("mode", MODES)
async def test_skills_list_and_get_carry_frontmatter_and_digests(catalog: Path, mode: str) -> None:
    async with gateway_client(catalog, mode) as (client, _):
        listed = await skills_list(client)
        by_uri = {e["uri"]: e for e in listed["skills"]}
        assert sorted(by_uri) == [
            "skill://acme/billing/refunds/SKILL.md",
            "skill://greet/SKILL.md",
            "skill://secret-ops/SKILL.md",
        ]
        greet = by_uri["skill://greet/SKILL.md"]
        assert greet["frontmatter"] == {"name": "greet", "description": "Greet someone."}
        digests = {r["uri"]: r["digest"] for r in greet["resources"]}
        expected = hashlib.sha256((catalog / "greet" / "logo.bin").read_bytes()).hexdigest()
        assert digests["skill://greet/logo.bin"] == f"sha256:{expected}"
        assert len(digests) == 3
        got = await skills_get(client, "skill://acme/billing/refunds/SKILL.md")
        assert got["skill"]["frontmatter"]["name"] == "refunds"
        with pytest.raises(MCPError) as info:
            await skills_get(client, "skill://nope/SKILL.md")
        assert info.value.error.code == types.INVALID_PARAMS
        capabilities = client.server_capabilities
        declared = (
            capabilities.extensions if mode == "auto" else capabilities.experimental
        )  # 2025-11-25 has no extensions
        assert "io.modelcontextprotocol/skills" in (declared or {})


async def test_prompts_resources_and_skills_respect_the_profile(catalog: Path) -> None:
    view = Profile(exclude=["secret-*"])
    async with gateway_client(catalog, view=view) as (client, _):
        assert "secret-ops" not in [p.name for p in (await client.list_prompts()).prompts]
        assert all("secret-ops" not in str(r.uri) for r in (await client.list_resources()).resources)
        assert all("secret-ops" not in e["uri"] for e in (await skills_list(client))["skills"])
        with pytest.raises(MCPError):
            await client.get_prompt("secret-ops", {})
        with pytest.raises(MCPError):
            await client.read_resource("skill://secret-ops/SKILL.md")
        with pytest.raises(MCPError):
            await skills_get(client, "skill://secret-ops/SKILL.md")


async def test_a_skill_of_twenty_thousand_files_serves_its_first_thousand_and_holds_up_no_one(
    tmp_path: Path,
) -> None:
    big = write_skill(tmp_path, "big", "Many files.")
    (big / "data").mkdir()
    for i in range(20_000):  # the first 1,000 (the served ones) of 100 kB each
        (big / "data" / f"f{i:05}.bin").write_bytes(i.to_bytes(4, "big") * (25_000 if i < 1_000 else 1))
    write_skill(tmp_path, "small", "A small skill.")
    catalog = Catalog.load(tmp_path)
    (warning,) = [d for d in catalog.diagnostics if d.code == "SG306"]
    assert "20,000 files; the first 1,000 in path order are served" in warning.message
    assert len(catalog.skills["big"].files) == 1_000
    async with gateway_client(tmp_path) as (client, _):
        done: list[str] = []

        async def listing() -> None:
            entries = (await skills_list(client))["skills"]
            assert [len(e["resources"]) for e in entries] == [1_001, 1]  # SKILL.md and the files
            done.append("skills/list")

        async def searching() -> None:
            await anyio.sleep(0)  # let skills/list start hashing first
            result = await client.call_tool("list_skills", {"query": "small skill"})
            assert not result.is_error
            done.append("list_skills")

        async with anyio.create_task_group() as tg:
            tg.start_soon(listing)
            tg.start_soon(searching)
    # 100 MB hashed for skills/list, in a thread: the other request was answered meanwhile
    assert done == ["list_skills", "skills/list"]
