"""Serving many agents over real HTTP: auth, profiles, audit, hot reload, health, secrets."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import REPO, faulty_server, text_of, write_skill

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]
TOKEN_ALL = "token-all-0123456789"
TOKEN_LIMITED = "token-limited-0123456789"
SECRET = "s3cret-value-never-shown"
META = ["list_skills", "load_skill", "call_skill"]


@dataclass
class Gateway:
    process: subprocess.Popen[bytes]
    url: str
    root: Path
    audit: Path
    stderr: list[bytes] = field(default_factory=list)
    reader: threading.Thread | None = None  # collects the rest of stderr until the process ends

    @property
    def base(self) -> str:
        return self.url.removesuffix("/mcp")


def write_catalog(root: Path) -> None:
    write_skill(root, "notes", "Notes on writing, instructions only.")
    write_skill(
        root,
        "echoes",
        "Echo text back.",
        servers={
            "f": faulty_server(
                allowedTools=["echo", "pid", "getenv"], env={"FAULTY_SECRET": "${SKILLGATE_TEST_SECRET}"}
            )
        },
    )
    write_skill(
        root, "hidden-ops", "Operations that only some agents may see.", servers={"f": faulty_server()}
    )


SETTINGS = """
[[tokens]]
env = "SKILLGATE_TEST_TOKEN_ALL"

[[tokens]]
env = "SKILLGATE_TEST_TOKEN_LIMITED"
profile = "limited"

[profiles.limited]
include = ["notes", "echoes"]
deny_tools = ["pid"]

[audit]
path = "{audit}"
raw_arguments = true
"""


def start_gateway(tmp_path: Path, *extra: str) -> Gateway:
    root = tmp_path / "catalog"
    write_catalog(root)
    audit = tmp_path / "audit.jsonl"
    config = tmp_path / "skillgate.toml"
    config.write_text(SETTINGS.replace("{audit}", str(audit)))
    env = {
        **os.environ,
        "SKILLGATE_TEST_TOKEN_ALL": TOKEN_ALL,
        "SKILLGATE_TEST_TOKEN_LIMITED": TOKEN_LIMITED,
        "SKILLGATE_TEST_SECRET": SECRET,
    }
    command = [sys.executable, "-m", "skillgate", "--log-level", "info", "serve", str(root), "--http"]
    process = subprocess.Popen(
        [*command, "--port", "0", "--config", str(config), *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    stderr = process.stderr
    lines: list[bytes] = []
    for line in stderr:
        lines.append(line)
        match = re.search(rb"serving \d+ skills? at (http://\S+)", line)
        if match:
            reader = threading.Thread(target=lambda: lines.extend(stderr), daemon=True)
            reader.start()
            return Gateway(process, match.group(1).decode(), root, audit, lines, reader)
    raise AssertionError(b"".join(lines).decode())


@contextmanager
def running(tmp_path: Path) -> Iterator[Gateway]:
    started = start_gateway(tmp_path)
    try:
        yield started
    finally:
        started.process.send_signal(signal.SIGTERM)
        started.process.wait(20)
        assert started.process.stderr is not None
        started.process.stderr.close()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    """A gateway of its own, for a test that changes its catalog or stops it."""
    with running(tmp_path) as started:
        yield started


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One gateway for the tests that only ask it things: they change neither its catalog nor its
    settings (each process start costs about a second of CPU)."""
    with running(tmp_path_factory.mktemp("shared")) as started:
        yield started


@asynccontextmanager
async def client(url: str, token: str | None, mode: str = "auto") -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as connected,
    ):
        yield connected


def rpc(method: str, params: dict[str, Any], id_: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": params}


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_every_meta_tool_needs_a_valid_token(shared: Gateway, token: str | None) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    initialize = rpc(
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}},
    )
    for body in [initialize] + [
        rpc("tools/call", {"name": t, "arguments": {"name": "echoes"}}) for t in META
    ]:
        for path in ["/mcp", "/mcp/limited", "/mcp/default"]:
            response = httpx2.post(shared.base + path, json=body, headers=headers)
            assert response.status_code == 401, (path, body)
            assert response.headers["www-authenticate"].startswith('Bearer realm="skillgate"')
            assert (token is None) != ("invalid_token" in response.headers["www-authenticate"])


@pytest.mark.parametrize("mode", MODES)
async def test_sdk_client_is_refused_without_a_token_and_served_with_one(shared: Gateway, mode: str) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the SDK raises its transport's error for a 401
        async with client(shared.url, None, mode) as c:
            await c.call_tool("list_skills", {})
    async with client(shared.url, TOKEN_ALL, mode) as c:
        listed = await c.call_tool("list_skills", {})
        assert listed.structured_content is not None
        assert [s["name"] for s in listed.structured_content["skills"]] == ["echoes", "hidden-ops", "notes"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("route", ["token", "path"])
async def test_profile_isolation_on_every_path(shared: Gateway, mode: str, route: str) -> None:
    url, token = (shared.url, TOKEN_LIMITED) if route == "token" else (shared.url + "/limited", TOKEN_ALL)
    async with client(url, token, mode) as c:
        assert c.instructions is not None and "hidden-ops" not in c.instructions
        tools = (await c.list_tools()).tools
        assert all("hidden-ops" not in (t.description or "") for t in tools)
        listed = await c.call_tool("list_skills", {})
        assert listed.structured_content is not None
        assert [s["name"] for s in listed.structured_content["skills"]] == ["echoes", "notes"]
        assert listed.structured_content["skills"][0]["tools"] == ["echo", "getenv"]  # pid is denied
        searched = await c.call_tool("list_skills", {"query": "operations agents"})
        assert "hidden-ops" not in json.dumps(searched.structured_content)
        for tool, args in [
            ("load_skill", {"name": "hidden-ops"}),
            ("load_skill", {"name": "hidden-ops", "file": "SKILL.md"}),
            ("call_skill", {"name": "hidden-ops", "tool": "echo", "arguments": {"text": "x"}}),
            ("load_skill", {"name": "hidden-op"}),  # a near miss suggests nothing hidden
        ]:
            result = await c.call_tool(tool, args)
            assert result.is_error and "hidden-ops" not in text_of(result).replace(repr(args["name"]), "")
        denied = await c.call_tool("call_skill", {"name": "echoes", "tool": "pid", "arguments": {}})
        assert denied.is_error and "Its tools are: echo, getenv" in text_of(denied)
        ok = await c.call_tool("call_skill", {"name": "echoes", "tool": "echo", "arguments": {"text": "hi"}})
        assert text_of(ok) == "hi"


def test_a_limited_token_cannot_choose_or_enumerate_other_profiles(shared: Gateway) -> None:
    headers = {"Authorization": f"Bearer {TOKEN_LIMITED}", "Accept": "application/json, text/event-stream"}
    body = rpc("tools/call", {"name": "list_skills", "arguments": {}})
    existing = httpx2.post(shared.url + "/default", json=body, headers=headers)
    missing = httpx2.post(shared.url + "/nope", json=body, headers=headers)
    assert existing.status_code == missing.status_code == 403  # the same answer: nothing to enumerate
    assert existing.json() == missing.json()


def test_health_and_readiness(shared: Gateway) -> None:
    assert httpx2.get(shared.base + "/healthz").json() == {"status": "ok"}
    public = httpx2.get(shared.base + "/readyz").json()
    assert public == {"generation": 1, "ready": True, "skills": 3}
    full = httpx2.get(shared.base + "/readyz", headers={"Authorization": f"Bearer {TOKEN_ALL}"}).json()
    assert full["profiles"] == ["default", "limited"] and full["diagnostics"] == []


def test_dns_rebinding_is_refused(shared: Gateway) -> None:
    headers = {
        "Authorization": f"Bearer {TOKEN_ALL}",
        "Host": "evil.example:80",
        "Accept": "application/json",
    }
    response = httpx2.post(shared.url, json=rpc("tools/call", {"name": "list_skills"}), headers=headers)
    assert response.status_code == 421


def test_readyz_refuses_a_foreign_host_and_shows_a_limited_token_only_its_profile(gateway: Gateway) -> None:
    foreign = httpx2.get(
        gateway.base + "/readyz", headers={"Host": "evil.example", "Authorization": f"Bearer {TOKEN_ALL}"}
    )
    assert foreign.status_code == 421 and "diagnostics" not in foreign.text
    (gateway.root / "hidden-ops" / "SKILL.md").write_text(
        "---\nname: hidden-ops\n---\n"
    )  # broken, outside "limited"
    (gateway.root / "notes" / "SKILL.md").write_text("---\nname: notes\n---\n")  # broken, inside "limited"
    limited = {"Authorization": f"Bearer {TOKEN_LIMITED}"}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        seen = httpx2.get(gateway.base + "/readyz", headers=limited).json()
        if seen.get("diagnostics"):
            break
        time.sleep(0.2)
    assert seen["profiles"] == ["limited"]
    assert seen["diagnostics"] and all("notes/SKILL.md" in d for d in seen["diagnostics"])


def test_an_origin_that_only_starts_like_localhost_is_refused(shared: Gateway) -> None:
    port = shared.url.split(":")[-1].split("/")[0]
    headers = {
        "Authorization": f"Bearer {TOKEN_ALL}",
        "Origin": f"http://localhost:{port}.evil.example",
        "Accept": "application/json, text/event-stream",
    }
    response = httpx2.post(shared.url, json=rpc("tools/list", {}), headers=headers)
    assert response.status_code == 403 and "Origin" in response.json()["error"]


def test_an_oversized_request_gets_a_clear_error_and_an_audit_line(shared: Gateway) -> None:
    headers = {"Authorization": f"Bearer {TOKEN_ALL}", "Accept": "application/json, text/event-stream"}
    arguments = {"name": "echoes", "tool": "echo", "arguments": {"text": "x" * 10_000_000}}
    response = httpx2.post(
        shared.url, json=rpc("tools/call", {"name": "call_skill", "arguments": arguments}), headers=headers
    )
    assert response.status_code == 413
    message = response.json()["error"]["message"]
    assert "4,194,304" in message and "file the tool can read" in message
    last = json.loads(shared.audit.read_text().splitlines()[-1])
    assert (last["method"], last["outcome"]) == ("(request)", "too_large")


async def test_a_thousand_concurrent_calls_make_a_thousand_audit_lines(shared: Gateway) -> None:
    async with client(shared.url, TOKEN_ALL) as warm:
        await warm.call_tool("call_skill", {"name": "echoes", "tool": "echo", "arguments": {"text": "warm"}})
    before = shared.audit.read_text().count("\n")
    failures: list[str] = []

    async def agent(index: int) -> None:
        # ten agents of a hundred calls, ten in flight each: sized to pass with the other core busy
        # (a hundred at once each left connections idle past the server's keep-alive, and reset)
        in_flight = anyio.Semaphore(10)
        async with client(shared.url, TOKEN_ALL) as c, anyio.create_task_group() as tg:
            for n in range(100):

                async def one(n: int = n) -> None:
                    args = {"text": f"{index}-{n}", "password": SECRET}
                    async with in_flight:
                        result = await c.call_tool(
                            "call_skill", {"name": "echoes", "tool": "echo", "arguments": args}
                        )
                    if result.is_error:
                        failures.append(text_of(result))

                tg.start_soon(one)

    with anyio.fail_after(300):
        async with anyio.create_task_group() as tg:
            for index in range(10):
                tg.start_soon(agent, index)
    lines = shared.audit.read_text().splitlines()[before:]
    events = [json.loads(line) for line in lines]
    calls = [e for e in events if e["method"] == "call_skill"]
    assert len(calls) == 1000 and failures == []
    assert {e["outcome"] for e in calls} == {"ok"}
    assert len({e["arguments_sha256"] for e in calls}) == 1000
    assert all(e["arguments"]["arguments"]["password"] == "***" for e in calls)
    assert all(e["profile"] == "default" and e["time"].endswith("Z") and e["duration_ms"] >= 0 for e in calls)
    assert SECRET not in shared.audit.read_text()


async def answered(results: list[bool], count: int) -> None:
    with anyio.fail_after(30):
        while len(results) < count:
            await anyio.sleep(0.01)


async def wait_for_generation(gateway: Gateway, generation: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN_ALL}"}
    with anyio.fail_after(30):
        while True:
            ready = httpx2.get(gateway.base + "/readyz", headers=headers).json()
            if ready["generation"] >= generation:
                return dict(ready)
            await anyio.sleep(0.05)


async def test_reload_under_load_loses_no_request_and_keeps_the_last_valid_skill(gateway: Gateway) -> None:
    results: list[bool] = []
    stop = anyio.Event()

    async def load() -> None:
        async with client(gateway.url, TOKEN_ALL) as c:
            while not stop.is_set():
                listed = await c.call_tool("list_skills", {})
                called = await c.call_tool(
                    "call_skill", {"name": "echoes", "tool": "echo", "arguments": {"text": "a"}}
                )
                results.append(not listed.is_error and text_of(called) == "a")

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(load)
        await answered(results, 4)
        write_skill(gateway.root, "added-later", "A skill added while serving.")
        await wait_for_generation(gateway, 2)
        (gateway.root / "notes" / "SKILL.md").write_text(
            "---\nname: notes\ndescription: [broken\n---\n# Broken\n"
        )
        ready = await wait_for_generation(gateway, 3)
        await answered(results, len(results) + 4)  # requests keep succeeding after the reloads
        stop.set()
    assert results and all(results), f"{results.count(False)} of {len(results)} requests failed"
    assert any("notes/SKILL.md" in d and "SG102" in d for d in ready["diagnostics"])
    async with client(gateway.url, TOKEN_ALL) as c:
        listed = await c.call_tool("list_skills", {})
        assert listed.structured_content is not None
        assert [s["name"] for s in listed.structured_content["skills"]] == [
            "added-later",
            "echoes",
            "hidden-ops",
            "notes",
        ]
        notes = await c.call_tool("load_skill", {"name": "notes"})
        assert "Do the thing." in text_of(notes)  # the last valid version
        assert "- added-later: A skill added while serving." in (c.instructions or "")  # a new session


async def test_changed_binding_restarts_only_its_upstream(gateway: Gateway) -> None:
    async with client(gateway.url, TOKEN_ALL) as c:

        async def pid(skill: str) -> int:
            result = await c.call_tool("call_skill", {"name": skill, "tool": "pid", "arguments": {}})
            return int(text_of(result))

        echoes_before, ops_before = await pid("echoes"), await pid("hidden-ops")
        servers = {"f": faulty_server("--echo-description", "new")}
        (gateway.root / "hidden-ops" / "mcp.json").write_text(json.dumps({"mcpServers": servers}))
        await wait_for_generation(gateway, 2)
        assert await pid("echoes") == echoes_before
        assert await pid("hidden-ops") != ops_before


async def test_no_secret_reaches_responses_logs_or_audit(gateway: Gateway) -> None:
    broken = {"x": {"command": "/nonexistent/${SKILLGATE_TEST_SECRET}/server"}}
    write_skill(gateway.root, "leaky", "Has a secret in its command.", servers=broken)
    await wait_for_generation(gateway, 2)
    seen: list[str] = []
    async with client(gateway.url, TOKEN_ALL) as c:
        for tool, args in [
            ("list_skills", {}),
            ("load_skill", {"name": "echoes"}),
            ("call_skill", {"name": "echoes", "tool": "echo", "arguments": {"text": "x"}}),
            ("call_skill", {"name": "echoes", "tool": "getenv", "arguments": {"name": "FAULTY_SECRET"}}),
            ("call_skill", {"name": "leaky", "tool": "t", "arguments": {}}),
            ("load_skill", {"name": "leaky"}),
        ]:
            result = await c.call_tool(tool, args)
            seen.append(json.dumps(result.model_dump(mode="json")))
    seen.append(httpx2.get(gateway.base + "/readyz", headers={"Authorization": f"Bearer {TOKEN_ALL}"}).text)
    gateway.process.send_signal(signal.SIGTERM)
    gateway.process.wait(20)
    assert gateway.reader is not None
    gateway.reader.join(20)  # all of stderr is in
    everything = (
        "\n".join(seen) + b"".join(gateway.stderr).decode(errors="replace") + gateway.audit.read_text()
    )
    assert "***" in seen[3] and "***" in seen[4]  # the upstream's answer and the failing command, masked
    for secret in (SECRET, TOKEN_ALL, TOKEN_LIMITED):
        assert secret not in everything


def test_non_loopback_without_tokens_refuses_to_start(tmp_path: Path) -> None:
    write_skill(tmp_path, "s")
    command = [sys.executable, "-m", "skillgate", "serve", str(tmp_path), "--http", "--host", "0.0.0.0"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--allow-unauthenticated" in result.stderr


def test_a_bad_settings_file_names_the_setting(tmp_path: Path) -> None:
    write_skill(tmp_path, "s")
    config = tmp_path / "skillgate.toml"
    config.write_text('port = "eighty"\n[audit]\nmax_byte = 5\n')
    command = [sys.executable, "-m", "skillgate", "serve", str(tmp_path), "--http", "--config", str(config)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "port: Input should be a valid integer" in result.stderr
    assert "audit.max_byte: unknown setting" in result.stderr
