"""`validate` catches what breaks a load: each skill rendered with its defaults in the server's
sandbox, unknown filters and names with "did you mean", required variables, binding commands
missing from PATH, every place as file:line:col from where the command ran."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from skillgate.authoring.checks import check_catalog
from skillgate.base.diagnostics import Diagnostic, Severity
from skillgate.base.errors import SkillgateError
from skillgate.cli import main
from skillgate.render.workers import RenderWorkers
from skillgate.skills.catalog import Catalog
from skillgate.tools.gateway import Gateway
from skillgate.upstream.pool import UpstreamPool
from tests.conftest import gateway_client, time_server, write_skill


def run(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stdout and stderr): diagnostics go to stdout, the summary to stderr."""
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stdout + result.stderr


@pytest.fixture(scope="module")
def renderer() -> Iterator[RenderWorkers]:
    workers = RenderWorkers()
    yield workers
    workers.close()


def check(root: Path, renderer: RenderWorkers) -> list[Diagnostic]:
    return check_catalog(Catalog.load(root), renderer)


def load_with_defaults(root: Path, name: str, renderer: RenderWorkers) -> str | None:
    """None when load_skill with no variables works, else its error."""

    async def go() -> str | None:
        gateway = Gateway(Catalog.load(root), UpstreamPool(os.environ), renderer=renderer)
        try:
            await gateway.load_skill(name)
        except SkillgateError as exc:
            return str(exc)
        return None

    return anyio.run(go)


# -- the property: validate passes exactly when load_skill with the defaults works ----------

PIECES = [
    "Plain text.\n",
    '{{ vars.tone | default("brief") }}\n',
    "{{ vars.city }}\n",  # a required variable
    "{% if vars.city is defined %}{{ vars.city }}{% endif %}\n",
    '{% set home = vars.home | default("UTC") %}{{ home }}\n',
    "{{ home }}\n",  # defined only after the set above
    "{{ hme }}\n",
    "{{ skill.name }} {{ skill.nme | default('x') }}\n",
    "{{ skill.nme }}\n",
    "{% for t in tools %}- {{ t.name }}\n{% endfor %}",
    "{{ tools[0].name }}\n",
    "{{ client.name or 'someone' }}\n",
    '{{ "a" | upper }} {{ "b" | title }}\n',
    '{{ "a" | uper }}\n',
    "{% if 3 is odd %}odd{% endif %}\n",
    "{% if 3 is od %}odd{% endif %}\n",
    "{{ vars.n | default(2) * 3 }}\n",
    "{{ 1 / 0 }}\n",
    "{% macro greet(who) %}Hi {{ who }}{% endmacro %}{{ greet('you') }}\n",
    "{{ greet('you') }}\n",
    "{{ vars.items | default([]) | join(', ') }}\n",
    '{{ vars.city | default("Paris") | upper }}\n',
]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=5))
def test_validate_passes_exactly_when_load_skill_works_with_the_defaults(
    renderer: RenderWorkers, pieces: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_skill(root, "generated", body="# Generated\n\n" + "".join(pieces))
        errors = [d for d in check(root, renderer) if d.severity is Severity.ERROR]
        failure = load_with_defaults(root, "generated", renderer)
        assert (not errors) == (failure is None), (errors, failure)


# -- each case, named ----------------------------------------------------------------------


def test_an_unknown_filter_is_a_syntax_error_with_did_you_mean_and_column(tmp_path: Path) -> None:
    write_skill(tmp_path, "notes", body='# Notes\n\nHello {{ vars.who | defualt("you") }}.\n')
    code, _, err = run("validate", str(tmp_path))
    path = f"{tmp_path.as_posix()}/notes/SKILL.md"
    assert code == 1
    assert f"{path}:7:21: SG301 unknown filter 'defualt' (did you mean 'default'?)" in err


def test_an_unknown_test_has_did_you_mean(tmp_path: Path) -> None:
    write_skill(tmp_path, "notes", body="# Notes\n\n{% if 3 is od %}x{% endif %}\n")
    code, _, err = run("validate", str(tmp_path))
    assert code == 1 and "notes/SKILL.md:7:12: SG301 unknown test 'od' (did you mean 'odd'?)" in err


def test_an_unknown_filter_in_a_branch_not_taken_is_still_found(tmp_path: Path) -> None:
    body = "# N\n\n{% if vars.full is defined %}{{ vars.full | uper }}{% endif %}\n"
    write_skill(tmp_path, "notes", body=body)
    code, _, err = run("validate", str(tmp_path))
    assert code == 1 and "SG301 unknown filter 'uper' (did you mean 'upper'?)" in err
    guarded = "# N\n\n{% if 'shout' is filter %}{{ 'a' | shout }}{% endif %}ok\n"  # Jinja's own guard
    write_skill(tmp_path, "notes", body=guarded)
    assert run("validate", str(tmp_path))[0] == 0


def test_an_undefined_name_fails_validate_with_did_you_mean(tmp_path: Path) -> None:
    body = '# T\n\n{% set home = vars.home | default("UTC") %}\nUse {{ hme }}.\n'
    write_skill(tmp_path, "tz", body=body)
    code, _, err = run("validate", str(tmp_path))
    assert code == 1
    assert "tz/SKILL.md:8:8: SG305 load_skill fails with the defaults: 'hme' is not defined " in err
    assert "(did you mean 'home'?)" in err


def test_a_variable_without_a_default_is_reported_as_required(tmp_path: Path) -> None:
    write_skill(tmp_path, "weather", body="# W\n\nCity: {{ vars.city }}\n")
    code, _, err = run("validate", str(tmp_path))
    assert code == 1
    assert (
        "weather/SKILL.md:7:10: SG305 load_skill fails with the defaults: variable 'city' has no value" in err
    )
    assert "--var city=VALUE" in err and '{{ vars.city | default("...") }}' in err


def test_render_errors_name_file_line_and_column_in_skillgates_words(tmp_path: Path) -> None:
    write_skill(tmp_path, "weather", body="# W\n\nCity: {{ vars.city }}\n")
    code, _, err = run("render", str(tmp_path), "weather")
    assert code == 1
    assert f"error: {tmp_path.as_posix()}/weather/SKILL.md:7:10: variable 'city' has no value" in err
    assert "dict object" not in err
    code, out, _ = run("render", str(tmp_path), "weather", "--var", "city=Paris")
    assert code == 0 and "City: Paris" in out


@pytest.mark.anyio
async def test_load_skill_names_the_missing_variable_and_how_to_pass_it(tmp_path: Path) -> None:
    write_skill(tmp_path, "weather", body="# W\n\nCity: {{ vars.city }}\n")
    async with gateway_client(tmp_path) as (client, _):
        failed = await client.call_tool("load_skill", {"name": "weather"})
        text = failed.content[0].text  # type: ignore[union-attr]
        assert failed.is_error and "variable 'city' has no value and no default" in text
        assert 'load_skill\'s variables ({"city": ...})' in text and "--var" not in text
        loaded = await client.call_tool("load_skill", {"name": "weather", "variables": {"city": "Paris"}})
        assert not loaded.is_error and "City: Paris" in loaded.content[0].text  # type: ignore[union-attr]


def test_a_binding_command_missing_from_path_has_the_install_hint(tmp_path: Path) -> None:
    write_skill(tmp_path, "clock", servers={"time": time_server(command="mcp-server-tiem")})
    code, _, err = run("validate", str(tmp_path))
    assert code == 1
    assert "clock/mcp.json:1:1: SG205 server 'time': command 'mcp-server-tiem' is not on PATH" in err
    assert "(did you mean 'mcp-server-time'?)" in err and "pip install" in err


def test_a_binding_command_that_is_not_executable_is_reported(tmp_path: Path) -> None:
    script = tmp_path / "server.sh"
    script.write_text("#!/bin/sh\n")
    write_skill(tmp_path / "cat", "tool", servers={"s": {"command": str(script)}})
    code, _, err = run("validate", str(tmp_path / "cat"))
    assert code == 1 and f"is not executable; run `chmod +x {script}`" in err
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    code, _, err = run("validate", str(tmp_path / "cat"))
    assert code == 0, err


def test_the_examples_validate_and_render_quickly_enough_to_need_no_tokenizer() -> None:
    # validate renders every template of the examples (time-zones has one) and passes
    code, _, err = run("validate", "skills")
    assert code == 0 and "5 skills valid" in err


# -- paths as typed ------------------------------------------------------------------------


def test_paths_are_relative_to_where_the_command_ran(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = tmp_path / "my-skills"
    write_skill(catalog, "broken", body="# T\n\n{{ hme }}\n")
    write_skill(catalog, "tz", folder=catalog / "a")
    write_skill(catalog, "tz")
    monkeypatch.chdir(tmp_path)
    _, _, err = run("validate", "my-skills")
    assert "my-skills/broken/SKILL.md:7:4: SG305" in err
    assert (
        "my-skills/tz/SKILL.md:2:1: SG106 skill name 'tz' is already used by my-skills/a/tz/SKILL.md" in err
    )
    monkeypatch.chdir(catalog)
    _, _, err = run("validate")
    assert "\nbroken/SKILL.md:7:4: SG305" in "\n" + err
    assert "\ntz/SKILL.md:2:1: SG106 skill name 'tz' is already used by a/tz/SKILL.md" in "\n" + err
    monkeypatch.chdir(catalog / "a")
    _, _, err = run("validate", "..")
    assert "../broken/SKILL.md:7:4: SG305" in err
    for line in err.splitlines():
        if ": SG" in line:
            assert Path(line.split(":", 1)[0]).is_file(), line  # every path opens from here


# -- lock is a way out ---------------------------------------------------------------------


def test_lock_fails_on_a_tool_the_server_lacks_with_its_tools(tmp_path: Path) -> None:
    allowed = ["get_current_time", "convert_times"]
    write_skill(tmp_path, "tz", servers={"time": time_server(allowedTools=allowed)})
    code, out, err = run("lock", str(tmp_path))
    assert code == 1 and not (tmp_path / "tz" / "tools.lock.json").exists() and "locked" not in out
    assert "server 'time' has no tool 'convert_times' (did you mean 'convert_time'?)" in err
    assert "its tools: convert_time, get_current_time. Fix allowedTools in mcp.json" in err
    code, _, err = run("lock", "--check", str(tmp_path))
    assert code == 1 and "no tool 'convert_times'" in err + _


def test_lock_repairs_a_lock_that_hides_its_skill(tmp_path: Path) -> None:
    allowed = ["get_current_time"]
    skill = write_skill(tmp_path, "tz", servers={"time": time_server(allowedTools=allowed)})
    assert run("lock", str(tmp_path))[0] == 0
    entry = time_server(allowedTools=[*allowed, "convert_time"])
    (skill / "mcp.json").write_text(json.dumps({"mcpServers": {"time": entry}}))
    code, out, err = run("lock", "--check", str(tmp_path))
    assert code == 1 and "SG402 time: allowed tool 'convert_time' has no lock entry" in out
    assert run("validate", str(tmp_path))[0] == 1
    code, out, _ = run("lock", str(tmp_path))  # the skill is out of the catalog, and lock still sees it
    assert code == 0 and "locked tz: 2 tools" in out
    assert run("validate", str(tmp_path))[0] == 0
    code, _, err = run("lock", "--check", str(tmp_path))
    assert code == 0 and "locks match the live servers" in err


def test_lock_check_fails_on_a_lock_that_cannot_be_read(tmp_path: Path) -> None:
    skill = write_skill(tmp_path, "tz", servers={"time": time_server(allowedTools=["get_current_time"])})
    (skill / "tools.lock.json").write_text("{ not json")
    code, out, _ = run("lock", "--check", str(tmp_path))
    assert code == 1 and "SG401 lock is not valid JSON" in out


# -- people's errors -----------------------------------------------------------------------


def test_a_busy_port_is_one_line_with_the_fix(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "skillgate", "serve", "skills", "--http", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is in use (another skillgate, or another server); stop it, or "
        f"pick another port: `--port {port + 1}` (`make run PORT={port + 1}`)"
    ]


def test_stats_refuses_a_file_that_is_not_an_audit_log(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\nworld\n")
    code, out, err = run("stats", str(notes))
    assert code == 2 and out == ""
    assert "is not a skillgate audit log: none of its first 2 lines is an audit event" in err
    (tmp_path / "empty.log").write_text("")
    assert run("stats", str(tmp_path / "empty.log"))[0] == 0  # a new log: no events yet


def test_new_suggests_a_valid_name_and_keys(tmp_path: Path) -> None:
    code, _, err = run("new", "Release Notes", "--dir", str(tmp_path))
    assert code == 2 and "did you mean 'release-notes'?" in err
    code, _, err = run("new", "rn", "--dir", str(tmp_path), "--server", '{"comand": "x"}')
    assert code == 2 and "unknown key 'comand' (did you mean 'command'?)" in err
    assert "Extra inputs" not in err


# -- serve what hosts load -----------------------------------------------------------------


def test_a_long_description_is_served_with_a_warning_and_fails_validate(tmp_path: Path) -> None:
    long = "Summarise release notes. " + "More words about it. " * 50
    write_skill(tmp_path, "notes", description=long)
    catalog = Catalog.load(tmp_path)
    assert "notes" in catalog.skills
    (warning,) = catalog.diagnostics
    assert warning.severity is Severity.WARNING and "served anyway" in warning.message
    code, _, err = run("validate", str(tmp_path))
    assert code == 1 and "SG103 'description' is 1075 characters; the limit is 1024" in err
    code, out, _ = run("list", str(tmp_path))
    assert code == 0 and "notes" in out


def test_a_server_that_exits_at_start_says_why_without_verbose(tmp_path: Path) -> None:
    server = {"command": "mcp-server-git", "args": ["--repository", str(tmp_path / "no-such-repo")]}
    write_skill(tmp_path, "history", servers={"git": server})
    done = subprocess.run(
        [sys.executable, "-m", "skillgate", "render", str(tmp_path), "history"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
    )
    assert done.returncode == 0 and "Do the thing." in done.stdout  # the instructions still load
    assert "upstream git failed: Connection closed; its stderr said: " in done.stderr
    assert "no-such-repo does not exist" in done.stderr
    assert "warning: its tools are unavailable now: server 'git' could not be started" in done.stderr


# -- found by review -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        {"command": "mcp-server-time", "cwd": "${SKILLGATE_TEST_UNSET_CWD}"},
        {"command": "mcp-server-time", "cwd": "a\u0000b"},
        {"command": "a/" + "x" * 5000},
    ],
    ids=["cwd-from-serving-env", "nul-in-cwd", "name-too-long"],
)
def test_odd_bindings_never_stop_validate(tmp_path: Path, entry: dict[str, str]) -> None:
    write_skill(tmp_path, "odd", servers={"s": entry})
    write_skill(tmp_path, "other", body="# O\n\n{{ hme }}\n")
    code, _, err = run("validate", str(tmp_path))
    assert code == 1 and "other/SKILL.md:7:4: SG305" in err  # the neighbour is still checked
    assert "Traceback" not in err


def test_a_template_reading_tools_of_an_unlocked_server_is_a_warning_not_a_verdict(tmp_path: Path) -> None:
    write_skill(
        tmp_path, "first", servers={"time": time_server()}, body="# F\n\nFirst: {{ tools[0].name }}\n"
    )
    code, _, err = run("validate", str(tmp_path))
    assert code == 0, err  # the load with the live tools works: validate must not fail it
    assert "SG305 warning: rendered without its tools, it fails" in err and "run `skillgate lock`" in err
    code, out, _ = run("render", str(tmp_path), "first")
    assert code == 0 and "First: convert_time" in out


def test_a_lone_surrogate_in_the_output_fails_validate_and_render_cleanly(tmp_path: Path) -> None:
    write_skill(tmp_path, "surrogate", body='# S\n\nA {{ "\\ud800" }} B\n')
    code, _, err = run("validate", str(tmp_path))
    assert code == 1 and "lone surrogate" in err
    code, _, err = run("render", str(tmp_path), "surrogate")
    assert code == 1 and "lone surrogate" in err


def test_a_syntax_error_in_an_included_file_names_that_file(tmp_path: Path) -> None:
    skill = write_skill(tmp_path, "inc", body='# I\n\n{% include "references/part.md" %}\n')
    (skill / "references").mkdir()
    (skill / "references" / "part.md").write_text("one\ntwo\n{{ 1 | nope }}\n")
    code, _, err = run("validate", str(tmp_path))
    assert code == 1 and "inc/SKILL.md:7:" in err and "references/part.md:3: unknown filter 'nope'" in err


def test_a_guard_covers_only_what_jinja_lets_it_cover(tmp_path: Path) -> None:
    body = '# G\n\n{% if "nope" is filter %}{% for x in [1] %}{{ x | nope }}{% endfor %}{% endif %}ok\n'
    write_skill(tmp_path, "guard", body=body)
    assert "guard" not in Catalog.load(tmp_path).skills  # every load would fail to compile: not served
    assert run("validate", str(tmp_path))[0] == 1


def test_the_column_is_the_leftmost_unknown_word_on_its_line(tmp_path: Path) -> None:
    write_skill(tmp_path, "cols", body='# C\n\x0c\n{{ "a" | zzz }} {{ "b" | aaa }}\n')
    _, _, err = run("validate", str(tmp_path))
    assert "cols/SKILL.md:7:10: SG301 unknown filter 'zzz'" in err


def test_validate_renders_under_the_settings_render_limits(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    write_skill(
        catalog,
        "busy",
        body="# B\n\n{% for i in range(100000) %}{% for j in range(30) %}{% endfor %}{% endfor %}ok\n",
    )
    settings = tmp_path / "skillgate.toml"
    settings.write_text("[render]\ntimeout = 0.05\n")
    code, _, err = run("validate", str(catalog), "--config", str(settings))
    assert code == 1 and "took longer than 0.05 s" in err


def test_lock_says_when_there_is_nothing_to_lock(tmp_path: Path) -> None:
    write_skill(tmp_path, "plain")
    code, _, err = run("lock", str(tmp_path))
    assert code == 0 and "no skill in" in err and "nothing to lock" in err
    code, _, err = run("lock", str(tmp_path), "plain")
    assert code == 2 and "plain: not bound to a server" in err
    assert not (tmp_path / "plain" / "tools.lock.json").exists()
