"""The three meta-tools, driven by the SDK's Client in both protocol eras."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from mcp import Implementation
from pydantic import BaseModel

from skillgate.search.embedder import BuiltinEmbedder
from skillgate.search.hybrid import Ranker
from skillgate.skills.catalog import Catalog
from skillgate.tools.models import LoadedFile, LoadedSkill, SkillPage, SkillSummary, meta_tools
from skillgate.tools.startup import Entry, fit_startup, startup_tokens
from tests.conftest import faulty_server, gateway_client, text_of, time_server, write_skill

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    write_skill(
        tmp_path,
        "time-zones",
        "Tell the current time in any time zone.",
        body="""\
        # Time zones

        Home zone: {{ vars.home | default("UTC") }}. Client: {{ client.name }}.

        ## Converting

        Use convert_time.
        """,
        servers={"time": time_server(allowedTools=["get_current_time"])},
    )
    notes = write_skill(tmp_path, "notes", "Instructions only, with a reference file.")
    (notes / "references").mkdir()
    (notes / "references" / "guide.md").write_text("# Guide\n")
    write_skill(
        tmp_path, "echoes", "Echo text back.", servers={"f": faulty_server(allowedTools=["echo", "hang"])}
    )
    write_skill(tmp_path, "hostile", "Tries to escape.", body="{{ ''.__class__.__mro__ }}\n")
    return tmp_path


@pytest.mark.parametrize("mode", MODES)
async def test_tools_have_output_schemas_and_the_catalog_is_in_instructions(catalog: Path, mode: str) -> None:
    async with gateway_client(catalog, mode) as (client, _):
        tools = (await client.list_tools()).tools
        assert [t.name for t in tools] == ["list_skills", "load_skill", "call_skill"]
        assert all(t.output_schema is not None for t in tools)
        assert (
            client.instructions is not None and "- time-zones: Tell the current time" in client.instructions
        )
        assert startup_tokens(tools, client.instructions) <= 1000


def undescribed(schema: Any, where: str = "") -> list[str]:
    """Where in `schema` a property has no description."""
    if isinstance(schema, list):
        return [path for i, item in enumerate(schema) for path in undescribed(item, f"{where}[{i}]")]
    if not isinstance(schema, dict):
        return []
    missing = [
        f"{where}.{name}" for name, spec in schema.get("properties", {}).items() if "description" not in spec
    ]
    return missing + [path for key, value in schema.items() for path in undescribed(value, f"{where}/{key}")]


def fields(*models: type[BaseModel]) -> set[str]:
    return {info.alias or name for model in models for name, info in model.model_fields.items()}


def test_output_schemas_describe_every_field_of_each_result() -> None:
    schemas = {tool.name: tool.output_schema for tool in meta_tools("Find skills.")}
    for name, schema in schemas.items():
        assert schema is not None and schema["type"] == "object", name  # MCP before 2026: an object root
        Draft202012Validator.check_schema(schema)
        assert undescribed(schema) == [], name
        assert schema.get("description") or all(one.get("description") for one in schema["oneOf"]), name
    assert set(schemas["list_skills"]["properties"]) == fields(SkillPage)
    assert set(schemas["load_skill"]["properties"]) == fields(LoadedSkill, LoadedFile)
    assert schemas["call_skill"] == {"type": "object", "description": schemas["call_skill"]["description"]}


async def test_every_answer_validates_against_its_tools_output_schema(catalog: Path) -> None:
    (catalog / "notes" / "assets").mkdir()
    (catalog / "notes" / "assets" / "logo.bin").write_bytes(b"\x89PNG\r\n\x1a\n\xff")
    write_skill(catalog, "greeting", body="# Hello\n\nHello {{ vars.who }}.\n")  # a variable without default
    write_skill(catalog, "gone", servers={"gone": {"command": "skillgate-test-no-such-command"}})
    answers = [
        ("list_skills", {}),
        ("list_skills", {"limit": 1}),  # nextCursor
        ("list_skills", {"query": "what time is it"}),  # scores
        ("list_skills", {"query": "zzzqqq"}),  # noMatch: the nearest only
        ("list_skills", {"query": "what time is it in Tokyo, and echo my words back"}),  # matched parts
        ("load_skill", {"name": "time-zones", "variables": {"home": "Asia/Tokyo"}}),
        ("load_skill", {"name": "time-zones", "section": "Converting"}),
        ("load_skill", {"name": "time-zones", "max_tokens": 5}),  # omitted
        ("load_skill", {"name": "greeting", "variables": {"who": "Ada"}}),  # variables: {"who": null}
        ("load_skill", {"name": "gone"}),  # warnings
        ("load_skill", {"name": "notes"}),  # files
        ("load_skill", {"name": "notes", "file": "references/guide.md"}),  # text
        ("load_skill", {"name": "notes", "file": "assets/logo.bin"}),  # blob
        ("call_skill", {"name": "time-zones", "tool": "get_current_time", "arguments": {"timezone": "UTC"}}),
        ("call_skill", {"name": "echoes", "tool": "echo", "arguments": {"text": "hi"}}),
    ]
    errors = [
        ("list_skills", {"cursor": "!!"}),
        ("load_skill", {"name": "time-zone"}),
        ("load_skill", {"name": "notes", "file": "../SKILL.md"}),
        ("call_skill", {"name": "time-zones", "tool": "convert_time", "arguments": {}}),
    ]
    async with gateway_client(catalog, ranker=Ranker(BuiltinEmbedder())) as (client, _):
        tools = (await client.list_tools()).tools
        validators = {t.name: Draft202012Validator(t.output_schema or {}) for t in tools}
        seen: set[str] = set()
        for tool, arguments in answers:
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, (tool, arguments, text_of(result))
            assert result.structured_content is not None
            validators[tool].validate(result.structured_content)
            seen |= set(result.structured_content)
            if tool == "list_skills":
                seen |= {key for skill in result.structured_content["skills"] for key in skill}
        assert seen >= fields(SkillPage, SkillSummary, LoadedSkill, LoadedFile)  # every field in some answer
        for tool, arguments in errors:  # a tool error carries text only: nothing to validate
            result = await client.call_tool(tool, arguments)
            assert result.is_error and result.structured_content is None, (tool, arguments)


@pytest.mark.parametrize("mode", MODES)
async def test_list_skills_pages_in_name_order_and_searches(catalog: Path, mode: str) -> None:
    async with gateway_client(catalog, mode) as (client, _):
        first = await client.call_tool("list_skills", {"limit": 2})
        assert first.structured_content is not None
        assert [s["name"] for s in first.structured_content["skills"]] == ["echoes", "hostile"]
        cursor = first.structured_content["nextCursor"]
        second = await client.call_tool("list_skills", {"limit": 2, "cursor": cursor})
        assert second.structured_content is not None
        assert [s["name"] for s in second.structured_content["skills"]] == ["notes", "time-zones"]
        found = await client.call_tool("list_skills", {"query": "what time is it"})
        assert found.structured_content is not None
        assert found.structured_content["skills"][0]["name"] == "time-zones"
        assert found.structured_content["skills"][0]["score"] > 0


@pytest.mark.parametrize("mode", MODES)
async def test_load_skill_renders_with_variables_and_lists_tools_and_files(catalog: Path, mode: str) -> None:
    async with gateway_client(catalog, mode) as (client, _):
        result = await client.call_tool(
            "load_skill", {"name": "time-zones", "variables": {"home": "Asia/Tokyo"}}
        )
        assert not result.is_error, text_of(result)
        data = result.structured_content
        assert data is not None
        assert "Home zone: Asia/Tokyo." in data["instructions"]
        assert [t["name"] for t in data["tools"]] == ["get_current_time"]
        assert data["tools"][0]["inputSchema"]["required"] == ["timezone"]
        assert [s["heading"] for s in data["sections"]] == ["Time zones", "Converting"]
        notes = await client.call_tool("load_skill", {"name": "notes"})
        assert notes.structured_content is not None
        assert notes.structured_content["files"] == [{"path": "references/guide.md", "size": 8}]


async def test_load_skill_section_and_file(catalog: Path) -> None:
    async with gateway_client(catalog) as (client, _):
        section = await client.call_tool("load_skill", {"name": "time-zones", "section": "converting"})
        assert section.structured_content is not None
        assert section.structured_content["instructions"] == "## Converting\n\nUse convert_time.\n"
        missing = await client.call_tool("load_skill", {"name": "time-zones", "section": "Nope"})
        assert missing.is_error and "'Converting'" in text_of(missing)
        file = await client.call_tool("load_skill", {"name": "notes", "file": "references/guide.md"})
        assert text_of(file) == "# Guide\n"


@pytest.mark.parametrize("mode", MODES)
async def test_client_name_reaches_the_template(catalog: Path, mode: str) -> None:
    info = Implementation(name="voice-agent", version="1.2")
    async with gateway_client(catalog, mode, client_info=info) as (client, _):
        result = await client.call_tool("load_skill", {"name": "time-zones"})
        assert result.structured_content is not None
        assert "Client: voice-agent." in result.structured_content["instructions"]


@pytest.mark.parametrize("mode", MODES)
async def test_call_skill_returns_the_upstream_result_without_a_prior_load(catalog: Path, mode: str) -> None:
    async with gateway_client(catalog, mode) as (client, _):
        result = await client.call_tool(
            "call_skill",
            {"name": "time-zones", "tool": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}},
        )
        assert not result.is_error, text_of(result)
        assert result.structured_content is not None
        assert result.structured_content["timezone"] == "Asia/Tokyo"
        assert json.loads(text_of(result))["timezone"] == "Asia/Tokyo"


async def test_mistakes_come_back_as_tool_errors_that_name_the_fix(catalog: Path) -> None:
    async with gateway_client(catalog) as (client, _):

        async def error(tool: str, args: dict[str, object]) -> str:
            result = await client.call_tool(tool, args)
            assert result.is_error, text_of(result)
            return text_of(result)

        assert "'time-zones'" in await error("load_skill", {"name": "time-zone"})
        assert "'time-zones'" in await error("call_skill", {"name": "time-zonez", "tool": "x"})
        not_allowed = await error(
            "call_skill", {"name": "time-zones", "tool": "convert_time", "arguments": {}}
        )
        assert "allowlist" in not_allowed and "get_current_time" in not_allowed
        unknown = await error("call_skill", {"name": "echoes", "tool": "nope"})
        assert "echo, hang" in unknown
        bad = await error(
            "call_skill", {"name": "time-zones", "tool": "get_current_time", "arguments": {"tz": 1}}
        )
        assert "'timezone' is a required property" in bad
        typed = await error(
            "call_skill", {"name": "echoes", "tool": "echo", "arguments": {"text": "a", "times": "x"}}
        )
        assert "times: 'x' is not of type 'integer'" in typed
        assert "instructions only" in await error("call_skill", {"name": "notes", "tool": "x"})
        escape = await error("load_skill", {"name": "notes", "file": "../../etc/passwd"})
        assert "not a file of skill 'notes'" in escape and "references/guide.md" in escape
        assert "sandbox" in await error("load_skill", {"name": "hostile"})
        assert "'name' is required" in await error("load_skill", {})
        assert "'bogus' is not an argument" in await error("list_skills", {"bogus": 1})
        assert "cursor" in await error("list_skills", {"cursor": "!!"})
        assert "unknown tool" in await error("nope", {})


def test_startup_context_stays_within_budget_at_any_catalog_size(tmp_path: Path) -> None:
    for size in [0, 1, 50, 1000, 10000]:
        entries = [
            Entry(f"skill-{i:05d}", f"Does task number {i} with care and detail. " * 3) for i in range(size)
        ]
        startup = fit_startup(entries, meta_tools)
        tokens = startup_tokens(meta_tools(startup.list_skills_description), startup.instructions)
        assert tokens <= 1000, (size, tokens)
        if size > 20:
            assert "more: search them with list_skills" in startup.instructions


def test_the_example_catalog_fits_whole_in_the_startup_context() -> None:
    catalog = Catalog.load(Path(__file__).parent.parent / "skills")
    startup = fit_startup([Entry(s.name, s.frontmatter.summary()) for s in catalog], meta_tools)
    assert all(f"- {name}:" in startup.instructions for name in catalog.skills)


async def test_sections_carry_token_sizes_and_max_tokens_cuts_at_a_heading(tmp_path: Path) -> None:
    body = (
        "Preface line.\n\n# Intro\n\nShort.\n\n## Details\n\n"
        + "Many words of detail. " * 200
        + "\n\n## Last\n\nEnd.\n"
    )
    write_skill(tmp_path, "long", "A long skill.", body=body)
    async with gateway_client(tmp_path) as (client, _):
        full = await client.call_tool("load_skill", {"name": "long"})
        assert full.structured_content is not None
        sections = {s["heading"]: s for s in full.structured_content["sections"]}
        assert set(sections) == {"Intro", "Details", "Last"}
        assert sections["Intro"]["tokens"] > sections["Details"]["tokens"] > sections["Last"]["tokens"] > 0
        assert "Sections (tokens), for section=HEADING: Intro (" in text_of(full)
        cut = await client.call_tool("load_skill", {"name": "long", "max_tokens": 30})
        assert cut.structured_content is not None
        instructions = cut.structured_content["instructions"]
        assert instructions.startswith("Preface line.\n\n# Intro\n\nShort.\n")
        assert "Many words" not in instructions and "## Last" not in instructions
        omitted = cut.structured_content["omitted"]
        assert [o.split(" (")[0] for o in omitted] == ["Details", "Last"]
        assert "Load one with load_skill(name, section=HEADING)" in instructions
        part = await client.call_tool("load_skill", {"name": "long", "section": "Details"})
        assert part.structured_content is not None
        assert part.structured_content["instructions"].startswith("## Details")
