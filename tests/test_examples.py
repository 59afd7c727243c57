"""Every example skill in skills/ is valid by the reference validator, renders, and answers a real call."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from skillgate.skills.catalog import Catalog
from tests.conftest import EXAMPLES, REPO, gateway_client, text_of

pytestmark = pytest.mark.anyio
SKILLS = sorted(p.parent.name for p in EXAMPLES.glob("*/SKILL.md"))

# One real call per bound example skill, with what its answer must contain.
CALLS: dict[str, tuple[str, dict[str, Any], str]] = {
    "time-zones": (
        "convert_time",
        {"source_timezone": "Europe/Berlin", "time": "09:00", "target_timezone": "Asia/Tokyo"},
        "Asia/Tokyo",
    ),
    "git-history": ("git_log", {"repo_path": ".", "max_count": 1}, "Commit"),
    "git-status": ("git_status", {"repo_path": "."}, "Repository status"),
    "repo-files": ("read_text_file", {"path": str(REPO / "pyproject.toml"), "head": 3}, "build-system"),
}


def test_the_catalog_has_every_kind_of_example() -> None:
    catalog = Catalog.load(EXAMPLES)
    assert catalog.diagnostics == []
    assert set(catalog.skills) == set(SKILLS)
    unbound = [s.name for s in catalog if not s.bindings]
    assert unbound == ["commit-messages"] and catalog.get("commit-messages").files
    assert set(CALLS) == {s.name for s in catalog if s.bindings}


@pytest.mark.parametrize("skill", SKILLS)
def test_example_passes_the_agent_skills_reference_validator(skill: str) -> None:
    agentskills = Path(REPO / ".venv" / "bin" / "agentskills")
    result = subprocess.run(
        [str(agentskills), "validate", str(EXAMPLES / skill)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("skill", SKILLS)
async def test_example_renders_with_and_without_variables(skill: str) -> None:
    async with gateway_client(EXAMPLES) as (client, _):
        plain = await client.call_tool("load_skill", {"name": skill})
        assert not plain.is_error, text_of(plain)
        custom = await client.call_tool(
            "load_skill",
            {"name": skill, "variables": {"home_zone": "Asia/Tokyo", "max_commits": 3, "verbose": True,
                                          "max_lines": 50, "type": "docs", "width": 60, "style": "full"}},
        )  # fmt: skip
        assert not custom.is_error, text_of(custom)
        assert plain.structured_content != custom.structured_content  # the variables are used


@pytest.mark.parametrize("skill", sorted(CALLS))
async def test_bound_example_answers_a_real_call(skill: str) -> None:
    tool, arguments, expected = CALLS[skill]
    async with gateway_client(EXAMPLES) as (client, _):
        result = await client.call_tool("call_skill", {"name": skill, "tool": tool, "arguments": arguments})
        assert not result.is_error, text_of(result)
        assert expected in text_of(result)


async def test_the_two_git_skills_share_one_server_with_different_allowlists() -> None:
    async with gateway_client(EXAMPLES) as (client, pool):
        log = await client.call_tool("call_skill", {"name": "git-status", "tool": "git_log", "arguments": {}})
        assert log.is_error and "git_status" in text_of(log)
        await client.call_tool(
            "call_skill", {"name": "git-status", "tool": "git_status", "arguments": {"repo_path": "."}}
        )
        await client.call_tool(
            "call_skill", {"name": "git-history", "tool": "git_log", "arguments": {"repo_path": "."}}
        )
        assert [u.name for u in pool.upstreams] == ["git"]


def test_the_example_locks_match_their_live_servers() -> None:
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "skillgate"), "lock", "skills", "--check"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert all((EXAMPLES / name / "tools.lock.json").is_file() for name in CALLS)
