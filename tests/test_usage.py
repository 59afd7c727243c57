"""`skillgate stats`: the usage report read back from an audit log of a scripted session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from mcp import Client

from skillgate.cli import main
from skillgate.observe.audit import AuditLog, scrub
from skillgate.server.mcp_server import SkillgateServer
from skillgate.skills.catalog import Catalog
from skillgate.tools.gateway import Gateway
from skillgate.upstream.pool import UpstreamPool
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.anyio
TIME_CALL = {"name": "time-zones", "tool": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}


async def scripted_session(log: Path) -> None:
    audit = AuditLog(log)
    async with UpstreamPool(os.environ) as pool:
        app = SkillgateServer(Gateway(Catalog.load(EXAMPLES), pool), audit=audit)
        async with Client(app.server) as client:  # type: ignore[arg-type]
            await client.call_tool("list_skills", {"query": "what time is it in Tokyo"})
            await client.call_tool("load_skill", {"name": "time-zones"})
            await client.call_tool("call_skill", TIME_CALL)
            await client.call_tool(
                "list_skills", {"query": "Order a   pizza with token sk-abcdefghijklmnop1234"}
            )
            await client.call_tool("list_skills", {"query": "write a commit message"})
            await client.call_tool("load_skill", {"name": "commit-messages"})
            await client.call_tool("load_skill", {"name": "no-such-skill"})
    audit.close()


async def test_stats_counts_what_agents_found_loaded_called_and_missed(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    await scripted_session(log)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    searches = [e for e in events if e["method"] == "list_skills"]
    assert searches[0]["results"][0] == "time-zones" and searches[0]["session"]
    assert "sk-abcdefghijklmnop1234" not in log.read_text()  # credential-looking text is masked

    result = CliRunner().invoke(main, ["stats", str(log), "--catalog", str(EXAMPLES), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    time_zones = report["skills"]["time-zones"]
    assert (time_zones["loaded"], time_zones["called"]) == (1, 1) and time_zones["surfaced"] >= 1
    assert time_zones["p50_ms"] is not None and time_zones["p99_ms"] >= time_zones["p50_ms"]
    assert report["skills"]["no-such-skill"]["failed"] == 1
    (miss,) = report["misses"]
    assert miss["query"] == "order a pizza with token ***" and miss["count"] == 1
    assert set(report["never_surfaced"]) <= {"git-history", "git-status", "repo-files", "commit-messages"}

    text = CliRunner().invoke(main, ["stats", str(log)]).stdout
    assert "searches no skill answered" in text and "order a pizza" in text


def test_stats_since_and_bad_input(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    old = {"time": "2020-01-01T00:00:00Z", "method": "load_skill", "skill": "old", "outcome": "ok"}
    log.write_text(json.dumps(old) + "\nnot json\n")
    recent = CliRunner().invoke(main, ["stats", str(log), "--since", "7d", "--json"])
    assert recent.exit_code == 0 and json.loads(recent.stdout)["events"] == 0
    everything = CliRunner().invoke(main, ["stats", str(log), "--json"])
    assert json.loads(everything.stdout)["skills"]["old"]["loaded"] == 1
    bad = CliRunner().invoke(main, ["stats", str(log), "--since", "last tuesday"])
    assert bad.exit_code == 2 and "--since" in bad.output


def test_scrub_is_bounded() -> None:
    assert len(scrub("x" * 1_000_000)) == 200
