"""The command line, through click's runner: output, --json and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from skillgate.cli import main
from tests.conftest import EXAMPLES, faulty_server, write_skill

COMMANDS = ["serve", "validate", "list", "search", "render", "call", "lock", "new", "eval", "diff"]


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


def test_counts_agree_in_number(tmp_path: Path) -> None:
    write_skill(tmp_path, "only")
    (tmp_path / "only" / "SKILL.md").write_text("---\nname: only\ndescription: d\nlicence: MIT\n---\n# O\n")
    code, _, err = run("validate", str(tmp_path))
    assert code == 1 and "0 skills loaded; 1 error, 0 warnings" in err
    assert "unknown frontmatter key 'licence' (did you mean 'license'?)" in _ + err


def test_lock_json_reports_what_was_locked(tmp_path: Path) -> None:
    write_skill(tmp_path, "f", servers={"faulty": faulty_server(allowedTools=["echo"])})
    code, out, _ = run("lock", str(tmp_path), "--json")
    assert code == 0
    report = json.loads(out)["skills"]["f"]
    assert report["tools"] == 1 and report["written"] is True
    code, out, _ = run("lock", str(tmp_path), "--check", "--json")
    assert code == 0 and json.loads(out) == {
        "drift": False,
        "skills": {"f": {"changes": [], "path": report["path"]}},
    }


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


def test_new_scaffolds_a_skill_that_passes_both_validators(tmp_path: Path) -> None:
    code, out, _ = run("new", "weather-report", "--dir", str(tmp_path))
    assert code == 0 and "weather-report/SKILL.md" in out
    assert run("validate", str(tmp_path))[0] == 0
    agentskills = Path(__file__).parent.parent / ".venv" / "bin" / "agentskills"
    checked = subprocess.run(
        [str(agentskills), "validate", str(tmp_path / "weather-report")], capture_output=True
    )
    assert checked.returncode == 0, checked.stdout
    code, _, err = run("new", "weather-report", "--dir", str(tmp_path))
    assert code == 2 and "already exists" in err


def test_new_binds_a_pasted_entry_or_a_shared_server(tmp_path: Path) -> None:
    (tmp_path / "mcp.json").write_text('{"mcpServers": {"git": {"command": "mcp-server-git"}}}')
    pasted = '{"mcpServers": {"time": {"command": "mcp-server-time"}}}'
    assert (
        run("new", "clock", "--dir", str(tmp_path), "--server", pasted, "--allow", "get_current_time")[0] == 0
    )
    assert json.loads((tmp_path / "clock" / "mcp.json").read_text()) == {
        "mcpServers": {"time": {"command": "mcp-server-time", "allowedTools": ["get_current_time"]}}
    }
    assert run("new", "history", "--dir", str(tmp_path), "--shared", "git", "--allow", "git_log")[0] == 0
    assert json.loads((tmp_path / "history" / "mcp.json").read_text()) == {
        "mcpServers": {"git": {"allowedTools": ["git_log"]}}
    }
    assert run("validate", str(tmp_path))[0] == 0
    code, _, err = run("new", "other", "--dir", str(tmp_path), "--shared", "nope")
    assert code == 2 and "(it has: git)" in err
    code, _, err = run("new", "Bad_Name", "--dir", str(tmp_path))
    assert code == 2 and "lowercase" in err


def test_validate_formats_for_ci(tmp_path: Path) -> None:
    write_skill(
        tmp_path, "links", body="# L\n\nSee [the guide](references/guide.md).\n{% include 'parts/x.md' %}\n"
    )
    code, out, _ = run("validate", str(tmp_path), "--format", "github")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("::warning file=") and ",line=7,col=5,title=SG303::link target" in lines[0]
    assert lines[1].startswith("::error file=") and "title=SG302::include 'parts/x.md'" in lines[1]
    code, out, _ = run("validate", str(tmp_path), "--format", "json")
    assert [d["code"] for d in json.loads(out)["diagnostics"]] == ["SG303", "SG302"]


def test_warnings_fail_only_with_strict(tmp_path: Path) -> None:
    write_skill(tmp_path, "long", body="# Long\n" + "A line of guidance.\n" * 600)
    code, out, _ = run("validate", str(tmp_path))
    assert code == 0 and "SG501 warning: the body is" in out and "600" not in out.split("tokens and")[0]
    assert run("validate", str(tmp_path), "--strict")[0] == 1


def test_render_html_and_vars_file(tmp_path: Path) -> None:
    write_skill(tmp_path, "s", body="# Hi {{ vars.who }}\n\n<script>x</script> {{ vars.n }}\n")
    (tmp_path / "vars.yaml").write_text("who: Ada\nn: 1\n")
    code, out, _ = run(
        "render", str(tmp_path), "s", "--vars-file", str(tmp_path / "vars.yaml"), "--var", "n=2"
    )
    assert code == 0 and out == "# Hi Ada\n\n<script>x</script> 2\n"
    code, out, _ = run(
        "render", str(tmp_path), "s", "--vars-file", str(tmp_path / "vars.yaml"), "--format", "html"
    )
    assert code == 0 and out == "<h1>Hi Ada</h1>\n<p>&lt;script&gt;x&lt;/script&gt; 1</p>\n"


def test_eval_passes_on_the_examples_every_one_of_which_has_queries() -> None:
    code, out, err = run("eval", str(EXAMPLES))
    assert code == 0, out
    assert "MISS" not in out and "no example queries" not in out
    assert "time-zones\n  ok          #1  what time is it in Tokyo" in out
    assert "0 missed" in err


def _catalog_with_a_miss(root: Path) -> None:
    write_skill(root, "invoices", "Create, send and track customer invoices and payments.")
    write_skill(root, "weather", "Forecasts: will it rain tomorrow, how hot will it be this week.")
    (root / "invoices" / "evals").mkdir()
    (root / "invoices" / "evals" / "queries.txt").write_text(
        "# must find invoices\nsend an invoice to Acme\n\nwill it rain tomorrow in Paris\n"
    )


def test_eval_exits_1_on_a_miss_and_names_the_skills_that_outranked_it(tmp_path: Path) -> None:
    _catalog_with_a_miss(tmp_path)
    code, out, err = run("eval", str(tmp_path), "--k", "1")
    assert code == 1
    assert "  ok          #1  send an invoice to Acme" in out
    assert "MISS" in out and "will it rain tomorrow in Paris" in out
    assert "outranked by: weather" in out
    assert "1 in the top 1, 1 missed" in err and "2 queries over 1 skill" in err
    assert "1 skill without example queries" in err


def test_eval_formats_for_ci(tmp_path: Path) -> None:
    _catalog_with_a_miss(tmp_path)
    code, out, _ = run("eval", str(tmp_path), "--k", "1", "--format", "github")
    assert code == 1
    (line,) = out.splitlines()
    assert line.startswith("::error file=") and "evals/queries.txt,line=4," in line
    assert "title=SG601::" in line and "outranked by weather" in line
    code, out, _ = run("eval", str(tmp_path), "--k", "1", "--format", "json")
    report = json.loads(out)
    assert report["ok"] is False and report["skills_without_queries"] == ["weather"]
    miss = next(r for r in report["results"] if not r["passed"])
    assert miss == {
        "skill": "invoices",
        "query": "will it rain tomorrow in Paris",
        "line": 4,
        "rank": miss["rank"],
        "outranked_by": ["weather"],
        "passed": False,
    }


def test_search_with_the_embedder_off_is_bm25(tmp_path: Path) -> None:
    (tmp_path / "skillgate.toml").write_text('[search]\nembedder = "none"\n')
    write_skill(tmp_path / "cat", "time-zones", "Tell the current time in any city.")
    code, out, _ = run(
        "search", str(tmp_path / "cat"), "clock in Berlin", "--config", str(tmp_path / "skillgate.toml")
    )
    assert code == 0 and out == ""
    code, out, _ = run("search", str(tmp_path / "cat"), "clock in Berlin")
    assert code == 0 and out.startswith("time-zones")


def test_an_http_embedder_without_url_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "skillgate.toml").write_text('[search]\nembedder = "http"\n')
    code, _, err = run("search", str(EXAMPLES), "time", "--config", str(tmp_path / "skillgate.toml"))
    assert code == 2 and 'embedder = "http" needs url and model' in err


def test_eval_skips_a_queries_file_that_is_a_fifo_or_points_outside_the_skill(tmp_path: Path) -> None:
    write_skill(tmp_path, "fifo", "A skill whose queries file is a FIFO.")
    write_skill(tmp_path, "leaky", "A skill whose queries file links outside it.")
    (tmp_path / "fifo" / "evals").mkdir()
    os.mkfifo(tmp_path / "fifo" / "evals" / "queries.txt")
    (tmp_path / "leaky" / "evals").mkdir()
    outside = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    outside.write_text("a line that must not be shown\n")
    (tmp_path / "leaky" / "evals" / "queries.txt").symlink_to(outside)
    code, out, err = run("eval", str(tmp_path))
    assert code == 0 and "must not be shown" not in out
    assert "2 skills without example queries" in err


def test_upstream_stderr_stays_out_of_command_output_and_verbose_shows_it(tmp_path: Path) -> None:
    import sys

    from tests.conftest import REPO

    write_skill(tmp_path, "f", servers={"f": faulty_server(env={"SHOWN": "visible-value"})})
    command = [sys.executable, "-m", "skillgate", "call", str(tmp_path), "f", "leak", "--arg", "name=SHOWN"]
    quiet = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert quiet.returncode == 0 and quiet.stdout.strip() == "shown"
    assert "stderr says" not in quiet.stdout + quiet.stderr
    verbose = subprocess.run(
        [*command[:3], "--verbose", *command[3:]], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert verbose.stdout.strip() == "shown"
    assert "upstream f: stderr says visible-value" in verbose.stderr


def test_errors_speak_to_people_at_the_command_line(tmp_path: Path) -> None:
    write_skill(tmp_path, "greet")
    code, _, err = run("render", str(tmp_path), "gret")
    assert code == 1 and "Did you mean 'greet'?" in err and "skillgate list DIR" in err
    assert "list_skills" not in err
    write_skill(tmp_path, "gone", servers={"s": {"command": "/nonexistent/server"}})
    code, _, err = run("call", str(tmp_path), "gone", "t")
    assert code == 1 and str(tmp_path / "gone" / "mcp.json") in err and "`skillgate call`" not in err
    write_skill(tmp_path, "f", servers={"faulty": faulty_server(allowedTools=["echo"])})
    code, _, err = run("call", str(tmp_path), "f", "echo", "--arg", "times=2")
    assert code == 1 and "skillgate render DIR SKILL" in err and "load_skill" not in err
