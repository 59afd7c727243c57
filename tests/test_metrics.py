"""Prometheus metrics, scraped by a real Prometheus and read back through its query API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client

from tests.conftest import REPO, faulty_server, free_port, listening, write_skill
from tests.support.replica import serving

pytestmark = pytest.mark.anyio
PROMETHEUS = "/usr/bin/prometheus"
TOKEN = "metrics-token-0123456789"


def catalog(root: Path) -> Path:
    write_skill(root, "notes", "Notes on writing.")
    write_skill(root, "echoes", "Echo text back.", servers={"f": faulty_server(allowedTools=["echo"])})
    return root


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """skillgate over HTTP with /metrics on a loopback port of its own; yields (mcp url, metrics port)."""
    port = free_port()
    config = tmp_path / "skillgate.toml"
    config.write_text(f"[metrics]\nport = {port}\n")
    command = [sys.executable, "-m", "skillgate", "serve", str(catalog(tmp_path / "catalog")), "--http",
               "--port", "0", "--config", str(config)]  # fmt: skip
    with serving(command) as (_, url):
        yield url, port


@pytest.fixture
def prometheus(tmp_path: Path, gateway: tuple[str, int]) -> Iterator[str]:
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: skillgate\n    static_configs: [{{targets: ['127.0.0.1:{gateway[1]}']}}]\n"
    )
    command = [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
               f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    with listening(command, port) as url:
        yield url


def query(prometheus: str, expression: str) -> float | None:
    answer = httpx2.get(f"{prometheus}/api/v1/query", params={"query": expression}).json()
    results = answer["data"]["result"]
    return float(results[0]["value"][1]) if results else None


@pytest.mark.prometheus
async def test_prometheus_scrapes_requests_errors_latency_and_state(
    gateway: tuple[str, int], prometheus: str
) -> None:
    url, _ = gateway
    async with Client(url) as client:
        for _ in range(3):
            await client.call_tool("list_skills", {"query": "echo"})
        await client.call_tool("load_skill", {"name": "notes"})
        await client.call_tool("load_skill", {"name": "not-a-skill-" + "x" * 20})
        await client.call_tool("call_skill", {"name": "echoes", "tool": "echo", "arguments": {"text": "hi"}})
        await client.call_tool("call_skill", {"name": "echoes", "tool": "echo", "arguments": {"times": "x"}})
    expectations = {
        'sum(skillgate_requests_total{tool="list_skills"})': 3,
        'skillgate_requests_total{tool="load_skill",skill="notes",error="none"}': 1,
        'skillgate_requests_total{tool="load_skill",skill="(unknown)",error="not_found"}': 1,
        'skillgate_upstream_calls_total{upstream="f",error="none"}': 1,
        'skillgate_requests_total{tool="call_skill",skill="echoes",error="bad_arguments"}': 1,
        "skillgate_skills_loaded": 2,
        'skillgate_upstream_state{upstream="f",state="ready"}': 1,
        'skillgate_request_seconds_count{tool="call_skill"}': 2,
    }
    deadline = time.monotonic() + 30
    seen: dict[str, float | None] = {}
    while time.monotonic() < deadline:
        seen = {e: query(prometheus, e) for e in expectations}
        if all(seen[e] == v for e, v in expectations.items()):
            break
        time.sleep(0.5)
    assert seen == expectations


def test_metrics_on_the_main_server_need_an_unlimited_token(tmp_path: Path) -> None:
    config = tmp_path / "skillgate.toml"
    tokens = '[[tokens]]\nenv = "SG_TOKEN_ALL"\n[[tokens]]\nenv = "SG_TOKEN_ONE"\nprofile = "one"\n'
    config.write_text(tokens + "[profiles.one]\n")
    env = {**os.environ, "SG_TOKEN_ALL": TOKEN, "SG_TOKEN_ONE": TOKEN + "-one"}
    command = [sys.executable, "-m", "skillgate", "serve", str(catalog(tmp_path / "catalog")), "--http",
               "--port", "0", "--config", str(config)]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    try:
        base = ""
        for line in process.stderr:
            if b" at http" in line:
                base = line.decode().split(" at ")[1].split()[0].removesuffix("/mcp")
                break
        assert httpx2.get(f"{base}/metrics").status_code == 401
        assert (
            httpx2.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}-one"}).status_code == 403
        )
        page = httpx2.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert page.status_code == 200 and "skillgate_skills_loaded 2.0" in page.text
    finally:
        process.terminate()
        process.wait(20)
        process.stderr.close()
