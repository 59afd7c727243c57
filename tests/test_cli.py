"""The command line, through click's runner: output, --json and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from skillgate.cli import main
from tests.conftest import EXAMPLES, faulty_server, write_skill

COMMANDS = ["serve", "validate", "list", "search", "render", "call", "lock"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0 and "Usage:" in out


def test_validate_the_examples_exits_0() -> None:
    code, out, err = run("validate", str(EXAMPLES))
    assert code == 0 and out == ""
    assert "5 skills valid; 0 errors" in err


def test_validate_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    write_skill(tmp_path, "good")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "SKILL.md").write_text("---\nname: bad\ndescription: d\nauthor: me\n---\n{% if %}\n")
    code, out, _ = run("validate", str(tmp_path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].endswith("bad/SKILL.md:4:1: SG104 unknown frontmatter key 'author': the Agent Skills "
                             "specification allows only allowed-tools, compatibility, description, license, "
                             "metadata, name; put custom data under 'metadata'")  # fmt: skip
    code, out, _ = run("validate", str(tmp_path), "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and data["diagnostics"][0]["code"] == "SG104"


def test_search_ranks_the_time_skill_first() -> None:
    code, out, _ = run("search", str(EXAMPLES), "what time is it in Tokyo", "--json")
    assert code == 0
    assert json.loads(out)["skills"][0]["name"] == "time-zones"


def test_list_is_in_name_order() -> None:
    code, out, _ = run("list", str(EXAMPLES), "--json")
    names = [s["name"] for s in json.loads(out)["skills"]]
    assert code == 0 and names == sorted(names) and len(names) == 5


def test_render_uses_variables_and_reports_tokens() -> None:
    code, out, err = run("render", str(EXAMPLES), "commit-messages", "--var", "type=fix", "--var", "width=60")
    assert code == 0
    assert "Use the type `fix`." in out and "wrapped at 60 columns" in out
    assert "tokens (o200k_base): instructions" in err
    code, out, _ = run("render", str(EXAMPLES), "commit-messages", "--json")
    tokens = json.loads(out)["tokens"]
    assert tokens["total"] == tokens["instructions"] > 0 and tokens["tools"] == 0


def test_render_of_an_unknown_skill_suggests_names_and_exits_1() -> None:
    code, _, err = run("render", str(EXAMPLES), "time-zone")
    assert code == 1 and "Did you mean 'time-zones'" in err


def test_call_prints_the_result_and_exits_1_on_a_tool_error(tmp_path: Path) -> None:
    write_skill(tmp_path, "f", servers={"faulty": faulty_server()})
    code, out, _ = run("call", str(tmp_path), "f", "echo", "--arg", "text=hi", "--arg", "times=2")
    assert (code, out) == (0, "hihi\n")
    code, out, _ = run("call", str(tmp_path), "f", "echo", "--args", '{"text": "x"}', "--json")
    assert code == 0 and json.loads(out)["structuredContent"] == {"result": "x"}
    code, _, err = run("call", str(tmp_path), "f", "echo")
    assert code == 1 and "'text' is a required property" in err


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    assert run("search")[0] == 2
    assert run("call", str(tmp_path), "f", "echo", "--args", "{nope")[0] == 2
    code, _, err = run("list", str(tmp_path / "missing"))
    assert code == 2
    code, _, err = run("serve", str(EXAMPLES), "--http", "--host", "0.0.0.0")
    assert code == 2 and "without authentication" in err
