"""Hostile and careless input: one bad file never takes down the catalog, a template never
freezes the server, and every limit is a diagnostic or a tool error with a place and a fix."""

from __future__ import annotations

import gc
import itertools
import json
import os
import time
from pathlib import Path

import anyio
import pytest

from skillgate.base.errors import RenderError
from skillgate.render.template import render_template
from skillgate.render.workers import RenderWorkers
from skillgate.skills.catalog import Catalog
from skillgate.tools.gateway import Gateway
from tests.conftest import gateway_client, text_of, write_skill

CTX = {"skill": {"name": "s"}, "tools": [], "client": {"name": "c", "version": "1"}}

pytestmark = pytest.mark.anyio


def _bad_skill(root: Path, name: str, text: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "SKILL.md").write_text(text)
    return folder


def _front(name: str, extra: str = "", body: str = "# T\n") -> str:
    return f"---\nname: {name}\ndescription: d\n{extra}---\n{body}"


# Each: a SKILL.md (or a whole folder) that must be refused with a diagnostic, never a crash.
HOSTILE_SKILL_MD = {
    "parens": _front("parens", body="{{ " + "(" * 70 + "1" + ")" * 70 + " }}\n"),
    "filters": _front("filters", body="{{ 1" + "|string" * 300 + " }}\n"),
    "blocks": _front("blocks", body="{% if 1 %}" * 250 + "x" + "{% endif %}" * 250 + "\n"),
    "loops": _front("loops", body="{% for i in x %}" * 25 + "x" + "{% endfor %}" * 25 + "\n"),
    "indent": _front("indent", body="{% if 1 %}" * 99 + "x" + "{% endif %}" * 99 + "\n"),
    "big-number": "---\nname: big-number\ndescription: " + "9" * 4400 + "\n---\n",
    "int-tag": "---\nname: int-tag\ndescription: !!int notanint\n---\n",
    "date-tag": "---\nname: date-tag\ndescription: d\nlicense: !!timestamp not-a-date\n---\n",
    "blank": '---\nname: blank\ndescription: " "\n---\n',
    "deep-yaml": "---\nname: deep-yaml\ndescription: d\nmetadata:\n"
    + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(40))
    + "---\n",
    "huge-body": _front("huge-body", body="x" * 1_000_001),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_SKILL_MD))
def test_one_bad_skill_md_is_a_diagnostic_and_the_neighbours_load(tmp_path: Path, case: str) -> None:
    write_skill(tmp_path, "good")
    _bad_skill(tmp_path, case, HOSTILE_SKILL_MD[case])
    catalog = Catalog.load(tmp_path)
    assert list(catalog.skills) == ["good"]
    (problem,) = [d for d in catalog.errors if f"/{case}/" in d.path]
    assert problem.code in ("SG100", "SG102", "SG103", "SG301") and problem.line >= 1


def test_deep_or_huge_mcp_json_and_lock_are_diagnostics(tmp_path: Path) -> None:
    write_skill(tmp_path, "good")
    deep = write_skill(tmp_path, "deep")
    (deep / "mcp.json").write_text('{"mcpServers": ' + "[" * 1000 + "]" * 1000 + "}")
    digits = write_skill(tmp_path, "digits")
    (digits / "mcp.json").write_text('{"mcpServers": {"a": {"command": "x", "timeout": ' + "9" * 4400 + "}}}")
    lock = write_skill(tmp_path, "lock", servers={"a": {"command": "x"}})
    (lock / "tools.lock.json").write_text(
        '{"servers": {"a": {"source": {}, "tools": [' + "[" * 100 + "]" * 100 + "]}}}"
    )
    catalog = Catalog.load(tmp_path)
    assert list(catalog.skills) == ["good"]
    codes = {Path(d.path).parent.name: d.code for d in catalog.errors}
    assert codes == {"deep": "SG201", "digits": "SG201", "lock": "SG401"}
    assert all("nested" in d.message or "digits" in d.message for d in catalog.errors)


def test_a_fifo_named_skill_md_is_refused_without_waiting(tmp_path: Path) -> None:
    write_skill(tmp_path, "good")
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / "SKILL.md")
    started = time.perf_counter()
    catalog = Catalog.load(tmp_path)
    assert time.perf_counter() - started < 5
    assert list(catalog.skills) == ["good"]
    (problem,) = catalog.errors
    assert problem.code == "SG100" and "not a regular file" in problem.message


def test_skill_md_linked_to_dev_zero_is_refused(tmp_path: Path) -> None:
    write_skill(tmp_path, "good")
    (tmp_path / "zero").mkdir()
    (tmp_path / "zero" / "SKILL.md").symlink_to("/dev/zero")
    catalog = Catalog.load(tmp_path)
    assert list(catalog.skills) == ["good"] and catalog.errors[0].code == "SG100"


def test_odd_relative_links_are_warnings_not_crashes(tmp_path: Path) -> None:
    skill = write_skill(
        tmp_path,
        "links",
        body=f"[a]({'x' * 300}.md) [b](a\x00b.md) [c](loop.md) [d](%zz.md)\n",
    )
    (skill / "loop.md").symlink_to("loop.md")
    catalog = Catalog.load(tmp_path)
    assert list(catalog.skills) == ["links"]
    assert {d.code for d in catalog.diagnostics} == {"SG303", "SG304"}  # SG304: loop.md itself


def test_a_description_of_spaces_is_refused_as_the_reference_refuses_it(tmp_path: Path) -> None:
    _bad_skill(tmp_path, "blank", HOSTILE_SKILL_MD["blank"])
    (problem,) = Catalog.load(tmp_path).errors
    assert problem.code == "SG103" and "non-empty" in problem.message


def test_odd_files_in_a_skill_are_not_listed_and_do_not_break_it(tmp_path: Path) -> None:
    skill = write_skill(tmp_path, "odd")
    (skill / ".notes").write_text("private")
    (skill / "notes.md").symlink_to(".notes")
    (skill / "env.md").symlink_to(".env")
    (skill / ".env").write_text("TOKEN=x")
    (skill / "loop.md").symlink_to("loop.md")
    (skill / os.fsdecode(b"caf\xe9.md")).write_text("latin-1 name")
    (skill / "fine.md").write_text("fine")
    catalog = Catalog.load(tmp_path)
    assert [f.path for f in catalog.skills["odd"].files] == ["fine.md"]
    skipped = sorted(d.message.split(":")[0] for d in catalog.diagnostics if d.code == "SG304")
    assert len(skipped) == 4
    assert all(str(d).encode("utf-8") for d in catalog.diagnostics)  # printable, no surrogates


# -- templates ------------------------------------------------------------------


def _render(body: str, folder: Path, variables: dict[str, object] | None = None) -> str:
    return render_template(body, folder, variables=variables or {}, **CTX)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        "{{ 9**(9**9) }}",
        "{{ vars.a ** vars.b }}",
        '{{ "x" * 1000000000 }}',
        "{{ [1, 2] * 100000000 }}",
        "{{ (10 ** 4000) * (10 ** 4000) }}",
    ],
)
def test_huge_arithmetic_is_refused_at_once(tmp_path: Path, body: str) -> None:
    started = time.perf_counter()
    with pytest.raises(RenderError, match="sandbox forbids"):
        _render(body, tmp_path, {"a": 9, "b": 30_000_000})
    assert time.perf_counter() - started < 1


def test_lipsum_is_capped(tmp_path: Path) -> None:
    text = _render("{{ lipsum(n=100000, html=False) }}", tmp_path)
    assert text.count("\n\n") < 20


def test_includes_never_reach_configuration_or_skill_md(tmp_path: Path) -> None:
    skill = write_skill(tmp_path, "inc", servers={"a": {"command": "x"}})
    (skill / ".env").write_text("TOKEN=secret")
    for target in ("mcp.json", ".env", "SKILL.md", "tools.lock.json", "./mcp.json"):
        with pytest.raises(RenderError, match="cannot be included") as info:
            _render("{% include vars.f %}", skill, {"f": target})
        assert "secret" not in str(info.value) and "command" not in str(info.value)


def test_macro_recursion_is_a_render_error_with_a_line(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="recursed too deeply") as info:
        _render("x\n{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", tmp_path)
    assert info.value.line == 2


async def test_a_slow_template_is_stopped_at_the_limit_and_names_the_skill(tmp_path: Path) -> None:
    workers = RenderWorkers(timeout=0.5)
    try:
        started = time.perf_counter()
        with pytest.raises(RenderError, match=r"skill 'slow' took longer than 0\.5 s"):
            await workers.render(
                "slow",
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                tmp_path,
                skill={},
                tools=[],
                variables={},
                client={},
            )
        assert time.perf_counter() - started < 4  # killed at 0.5 s: over 5 times what it needs
        # the killed worker is replaced: the next render works
        assert (
            await workers.render("ok", "{{ 1 + 1 }}", tmp_path, skill={}, tools=[], variables={}, client={})
            == "2"
        )
    finally:
        workers.close()


async def test_a_memory_hungry_template_is_stopped_by_the_memory_limit(tmp_path: Path) -> None:
    workers = RenderWorkers(timeout=20, memory_mb=256)
    try:
        body = '{{ range(100000) | join("x" * 100000) }}'
        with pytest.raises(RenderError, match=r"256 MB|longer than"):
            await workers.render("hungry", body, tmp_path, skill={}, tools=[], variables={}, client={})
    finally:
        workers.close()


async def test_other_clients_are_answered_while_a_hostile_template_renders(tmp_path: Path) -> None:
    write_skill(
        tmp_path,
        "hostile",
        body="{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n",
    )
    write_skill(tmp_path, "fine", body="# Fine\n\n{{ 1 + 1 }}\n")
    async with gateway_client(tmp_path) as (client, _):
        waits: list[float] = []
        hostile_result: list[str] = []

        async def hostile() -> None:
            result = await client.call_tool("load_skill", {"name": "hostile"})
            hostile_result.append(text_of(result))

        async with anyio.create_task_group() as tg:
            tg.start_soon(hostile)
            while not hostile_result:
                started = time.perf_counter()
                await client.call_tool("list_skills", {"query": "fine"})
                waits.append(time.perf_counter() - started)
                await anyio.sleep(0.05)
        assert "took longer than 2 s" in hostile_result[0] and "'hostile'" in hostile_result[0]
        assert max(waits) < 1.0  # the event loop never ran the template
        fine = await client.call_tool("load_skill", {"name": "fine"})
        assert "2" in text_of(fine)


async def test_a_render_of_many_headings_is_sectioned_in_linear_time_off_the_loop(tmp_path: Path) -> None:
    # found by review: 49,000 headings took 95 s of the event loop (quadratic section ends)
    write_skill(tmp_path, "many", body="{% for i in range(49000) %}# x\n{% endfor %}\n")
    async with gateway_client(tmp_path) as (client, _):
        with anyio.fail_after(60):  # about 3 s on a quiet machine
            result = await client.call_tool("load_skill", {"name": "many"})
        assert not result.is_error
        assert len(result.structured_content["sections"]) == 49000  # type: ignore[index]


# -- odd files while serving ------------------------------------------------------


async def test_odd_files_never_break_skills_list_or_load_skill(tmp_path: Path) -> None:
    from tests.test_skill_resources import skills_list

    skill = write_skill(tmp_path, "odd")
    (skill / ".notes").write_text("private")
    (skill / "notes.md").symlink_to(".notes")
    (skill / "loop.md").symlink_to("loop.md")
    (skill / os.fsdecode(b"caf\xe9.md")).write_text("latin-1 name")
    (skill / "fine.md").write_text("fine")
    write_skill(tmp_path, "neighbour")
    async with gateway_client(tmp_path) as (client, _):
        listed = await skills_list(client)
        assert [s["uri"] for s in listed["skills"]] == ["skill://neighbour/SKILL.md", "skill://odd/SKILL.md"]
        loaded = await client.call_tool("load_skill", {"name": "odd"})
        assert not loaded.is_error and "fine.md" in text_of(loaded) and "notes.md" not in text_of(loaded)
        for path in ("notes.md", ".notes", "a\x00b", "loop.md", "../neighbour/SKILL.md", "x" * 5000):
            result = await client.call_tool("load_skill", {"name": "odd", "file": path})
            assert result.is_error and "is not a file of skill 'odd'" in text_of(result), path
        read = await client.read_resource("skill://odd/fine.md")
        assert read.contents[0].text == "fine"  # type: ignore[union-attr]


async def test_a_non_utf8_file_name_created_while_serving_does_not_stop_reloads(tmp_path: Path) -> None:
    from skillgate.server.reload import Reloader
    from skillgate.tools.gateway import Gateway
    from skillgate.upstream.pool import UpstreamPool

    skill = write_skill(tmp_path, "edited", description="Before.")
    async with UpstreamPool(os.environ) as pool:
        gateway = Gateway(Catalog.load(tmp_path), pool)
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(Reloader(gateway).watch, stop)
            with anyio.fail_after(20):  # the watcher is watching once a new skill shows
                while "probe" not in gateway.catalog.skills:
                    write_skill(tmp_path, "probe", description="Seen?")
                    await anyio.sleep(0.2)
                (skill / os.fsdecode(b"caf\xe9.md")).write_text("x")
                # The name stops the watcher (after one reload) and it watches again: a change
                # written after that first reload is seen, so it is watching.
                for round_ in itertools.count():
                    write_skill(tmp_path, "probe-2", description=f"Round {round_}.")
                    with anyio.move_on_after(1):
                        while description(gateway, "probe-2") != f"Round {round_}.":
                            await anyio.sleep(0.05)
                    if round_ >= 1 and description(gateway, "probe-2") == f"Round {round_}.":
                        break
            write_skill(tmp_path, "edited", description="After.")
            with anyio.fail_after(10):
                while gateway.catalog.skills["edited"].frontmatter.description != "After.":
                    await anyio.sleep(0.1)
            stop.set()


def description(gateway: Gateway, name: str) -> str | None:
    skill = gateway.catalog.skills.get(name)
    return skill.frontmatter.description if skill is not None else None


# -- secrets -----------------------------------------------------------------------

SECRET = "hunter2-very-secret"


async def test_secrets_are_masked_in_cwd_descriptions_progress_and_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from tests.conftest import faulty_server

    monkeypatch.setenv("SKILLGATE_TEST_SECRET", SECRET)
    monkeypatch.setenv("SKILLGATE_TEST_DIR", f"/nonexistent/{SECRET}")
    described = faulty_server(
        "--echo-description",
        "the token is ${SKILLGATE_TEST_SECRET}",
        env={"LEAKED": "${SKILLGATE_TEST_SECRET}"},
    )
    write_skill(tmp_path, "described", servers={"f": described})
    write_skill(tmp_path, "elsewhere", servers={"g": {"command": "true", "cwd": "${SKILLGATE_TEST_DIR}"}})
    caplog.set_level(logging.INFO)
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with gateway_client(tmp_path) as (client, pool):
        loaded = await client.call_tool("load_skill", {"name": "described"})
        leaked = await client.call_tool(
            "call_skill",
            {"name": "described", "tool": "leak", "arguments": {"name": "LEAKED"}},
            progress_callback=on_progress,
        )
        failed = await client.call_tool("call_skill", {"name": "elsewhere", "tool": "x", "arguments": {}})
        with anyio.fail_after(10):  # the stderr relay is a thread
            while "stderr says" not in caplog.text:
                await anyio.sleep(0.01)
        seen = [
            json.dumps(loaded.model_dump(mode="json")),
            json.dumps(leaked.model_dump(mode="json")),
            text_of(failed),
            *progress,
            *(u.last_error or "" for u in pool.upstreams),
            caplog.text,
        ]
    assert progress == ["progress says ***"]
    assert "the token is ***" in seen[0]
    assert failed.is_error and "***" in text_of(failed)
    assert "upstream f: stderr says ***" in caplog.text
    assert not [text for text in seen if SECRET in text]


# -- upstream faults -------------------------------------------------------------------


async def test_a_server_that_never_answers_initialize_fails_the_call_within_its_timeout(
    tmp_path: Path,
) -> None:
    import sys

    silent = {"command": sys.executable, "args": ["-c", "import time; time.sleep(60)"], "timeout": 1}
    write_skill(tmp_path, "silent", servers={"s": silent})
    async with gateway_client(tmp_path) as (client, _):
        started = time.perf_counter()
        result = await client.call_tool("call_skill", {"name": "silent", "tool": "x", "arguments": {}})
        assert time.perf_counter() - started < 6  # its timeout is 1 s: 5 times what it needs, and more
        assert result.is_error and "still starting after 1 s" in text_of(result)
    gc.collect()  # its process object, gone: a process not waited for is a ResourceWarning here


async def test_junk_stdout_lines_are_one_warning_without_tracebacks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import faulty_server

    noisy = faulty_server("--junk", "200")
    write_skill(tmp_path, "noisy", servers={"n": noisy})
    async with gateway_client(tmp_path) as (client, _):
        result = await client.call_tool(
            "call_skill", {"name": "noisy", "tool": "echo", "arguments": {"text": "ok"}}
        )
        assert text_of(result) == "ok"
    junk = [
        r for r in caplog.records if "not JSON-RPC" in r.getMessage() or "Failed to parse" in r.getMessage()
    ]
    assert len(junk) == 1 and junk[0].exc_info is None


async def test_a_tool_added_upstream_is_callable_after_tools_list_changed(tmp_path: Path) -> None:
    from tests.conftest import faulty_server

    write_skill(tmp_path, "growing", servers={"f": faulty_server()})
    async with gateway_client(tmp_path) as (client, _):
        missing = await client.call_tool("call_skill", {"name": "growing", "tool": "grown", "arguments": {}})
        assert missing.is_error
        await client.call_tool("call_skill", {"name": "growing", "tool": "grow", "arguments": {}})
        with anyio.fail_after(10):
            while True:
                grown = await client.call_tool(
                    "call_skill", {"name": "growing", "tool": "grown", "arguments": {}}
                )
                if not grown.is_error:
                    break
                await anyio.sleep(0.1)
        assert text_of(grown) == "grown"


async def test_a_cancelled_call_is_audited_as_cancelled(tmp_path: Path) -> None:
    from mcp import Client

    from skillgate.observe.audit import AuditLog
    from skillgate.server.mcp_server import SkillgateServer
    from skillgate.tools.gateway import Gateway
    from skillgate.upstream.pool import UpstreamPool
    from tests.conftest import faulty_server

    write_skill(tmp_path / "catalog", "slow", servers={"f": faulty_server()})
    audit_path = tmp_path / "audit.jsonl"
    audit = AuditLog(audit_path)
    async with UpstreamPool(os.environ) as pool:
        app = SkillgateServer(Gateway(Catalog.load(tmp_path / "catalog"), pool), audit=audit)
        async with Client(app.server) as client:  # type: ignore[arg-type]
            with anyio.move_on_after(3):
                await client.call_tool("call_skill", {"name": "slow", "tool": "hang", "arguments": {}})
            with anyio.fail_after(10):  # the cancelled call's line is written when it has unwound
                while not audit_path.exists() or not audit_path.read_text().endswith("\n"):
                    await anyio.sleep(0.01)
    audit.close()
    outcomes = [json.loads(line)["outcome"] for line in audit_path.read_text().splitlines()]
    assert outcomes == ["cancelled"]


# -- other hosts' skills: the reference validator's rules ---------------------------------


def test_metadata_values_are_text_as_the_reference_reads_them(tmp_path: Path) -> None:
    _bad_skill(
        tmp_path, "meta", "---\nname: meta\ndescription: yes\nmetadata:\n  version: 1.0\n  n: 010\n---\n"
    )
    skill = Catalog.load(tmp_path).skills["meta"]
    assert skill.frontmatter.metadata == {"version": "1.0", "n": "010"}
    assert skill.frontmatter.description == "yes"


def test_a_unicode_name_loads_with_a_warning(tmp_path: Path) -> None:
    _bad_skill(tmp_path, "café", "---\nname: café\ndescription: Coffee.\n---\n# C\n")
    catalog = Catalog.load(tmp_path)
    assert list(catalog.skills) == ["café"]
    (warning,) = catalog.diagnostics
    assert warning.severity == "warning" and "non-ASCII" in warning.message


def test_a_lowercase_skill_md_loads_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "lower"
    folder.mkdir()
    (folder / "skill.md").write_text("---\nname: lower\ndescription: Lowercase file name.\n---\n# L\n")
    catalog = Catalog.load(tmp_path)
    assert list(catalog.skills) == ["lower"] and catalog.skills["lower"].skill_md.name == "skill.md"
    (warning,) = catalog.diagnostics
    assert "rename it to 'SKILL.md'" in warning.message


@pytest.mark.parametrize(
    "line",
    [
        "metadata: {}",
        "metadata: {version: 1.0}",
        "license: [MIT]",
        "description: &d x",
        "description: !!str x",
    ],
)
def test_yaml_the_reference_refuses_is_refused_with_its_line(tmp_path: Path, line: str) -> None:
    _bad_skill(
        tmp_path,
        "refused",
        f"---\nname: refused\ndescription: d\n{line}\n---\n".replace(
            "description: d\ndescription", "description"
        ),
    )
    (problem,) = Catalog.load(tmp_path).errors
    assert problem.code == "SG102" and problem.line in (3, 4)


def test_a_long_body_without_newlines_is_counted_not_refused(tmp_path: Path) -> None:
    from skillgate.authoring.checks import authoring_diagnostics

    write_skill(tmp_path, "long", body="é" * 400_000 + "\n")
    catalog = Catalog.load(tmp_path)
    (warning,) = authoring_diagnostics(catalog)
    assert warning.code == "SG501" and "400001 tokens" in warning.message  # 400,000 + the newline
