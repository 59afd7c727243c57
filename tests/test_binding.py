from pathlib import Path

import pytest

from skillgate.base.errors import EnvVarMissing
from skillgate.skills.binding import ServerBinding, ServerEntry, expand, merge_bindings, read_mcp_json


def test_expand_uses_the_environment_and_defaults() -> None:
    env = {"TOKEN": "abc"}
    assert expand("Bearer ${TOKEN}", env, "s") == "Bearer abc"
    assert expand("${MISSING:-fallback}/x", env, "s") == "fallback/x"


def test_expand_without_value_or_default_names_the_variable_not_a_value() -> None:
    with pytest.raises(EnvVarMissing, match=r"GITHUB_TOKEN is not set.*\$\{GITHUB_TOKEN:-default\}"):
        expand("${GITHUB_TOKEN}", {}, "github")


def test_allowlist_takes_exact_names_and_globs() -> None:
    entry = ServerEntry.model_validate({"command": "x", "allowedTools": ["git_log", "git_diff*"]})
    binding = ServerBinding(name="git", entry=entry, base_dir=Path("."))
    assert binding.allows("git_log") and binding.allows("git_diff_staged")
    assert not binding.allows("git_commit")


def test_entry_without_allowlist_allows_every_tool() -> None:
    binding = ServerBinding(name="t", entry=ServerEntry(command="x"), base_dir=Path("."))
    assert binding.allows("anything")


def test_transport_kind_follows_the_entry() -> None:
    def kind(raw: dict[str, object]) -> str:
        return ServerBinding(name="s", entry=ServerEntry.model_validate(raw), base_dir=Path(".")).kind

    assert kind({"command": "x"}) == "stdio"
    assert kind({"url": "http://h/mcp"}) == "http"
    assert kind({"url": "http://h/sse"}) == "sse"
    assert kind({"url": "http://h/events", "transport": "sse"}) == "sse"
    assert kind({"url": "http://h/mcp", "type": "http"}) == "http"


def test_skill_entry_is_merged_over_the_shared_one(tmp_path: Path) -> None:
    shared = {"git": ServerEntry.model_validate({"command": "mcp-server-git", "args": ["-r", "."]})}
    skill = {"git": ServerEntry.model_validate({"allowedTools": ["git_log"], "timeout": 5})}
    (binding,), diagnostics = merge_bindings(
        skill, tmp_path / "s", shared, tmp_path, tmp_path / "s" / "mcp.json"
    )
    assert diagnostics == []
    assert binding.entry.command == "mcp-server-git" and binding.entry.args == ["-r", "."]
    assert binding.entry.allowed_tools == ["git_log"] and binding.timeout == 5
    assert binding.base_dir == tmp_path


def test_skills_sharing_a_server_share_its_connection_key(tmp_path: Path) -> None:
    shared = {"git": ServerEntry(command="mcp-server-git")}
    a = {"git": ServerEntry.model_validate({"allowedTools": ["git_log"]})}
    b = {"git": ServerEntry.model_validate({"allowedTools": ["git_status"]})}
    (one,), _ = merge_bindings(a, tmp_path / "a", shared, tmp_path, tmp_path / "a" / "mcp.json")
    (two,), _ = merge_bindings(b, tmp_path / "b", shared, tmp_path, tmp_path / "b" / "mcp.json")
    assert one.connection_key() == two.connection_key()
    other = ServerBinding(name="git", entry=ServerEntry(command="other"), base_dir=tmp_path)
    assert other.connection_key() != one.connection_key()


def test_entry_without_command_and_without_shared_server_is_sg203(tmp_path: Path) -> None:
    mcp_json = tmp_path / "mcp.json"
    mcp_json.write_text('{"mcpServers": {\n  "nope": {"allowedTools": ["x"]}\n}}')
    entries, _ = read_mcp_json(mcp_json)
    bindings, (diag,) = merge_bindings(
        entries, tmp_path, {"git": ServerEntry(command="g")}, tmp_path, mcp_json
    )
    assert bindings == []
    assert (diag.code, diag.line) == ("SG203", 2)
    assert "git" in diag.message


def test_invalid_json_and_unknown_keys_are_diagnostics(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"mcpServers": {\n  "x": {"command": "a",}\n}}')
    _, (diag,) = read_mcp_json(bad)
    assert (diag.code, diag.line) == ("SG201", 2)
    typo = tmp_path / "typo.json"
    typo.write_text('{"mcpServers": {\n  "x": {"command": "a", "allowedtools": ["y"]}\n}}')
    _, (diag,) = read_mcp_json(typo)
    assert diag.code == "SG202" and "allowedtools" in diag.message and diag.line == 2
