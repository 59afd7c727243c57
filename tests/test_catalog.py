from pathlib import Path

import pytest

from skillgate.base.errors import FileNotInSkill, SkillNotFound, UsageError
from skillgate.skills.catalog import Catalog
from tests.conftest import write_skill


def test_nested_skills_are_found_and_sorted_by_name(tmp_path: Path) -> None:
    write_skill(tmp_path, "zeta")
    write_skill(tmp_path, "refunds", folder=tmp_path / "acme" / "billing")
    write_skill(tmp_path, "alpha")
    catalog = Catalog.load(tmp_path)
    assert list(catalog.skills) == ["alpha", "refunds", "zeta"]
    assert catalog.diagnostics == []


def test_a_broken_skill_does_not_stop_the_others(tmp_path: Path) -> None:
    write_skill(tmp_path, "good")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "SKILL.md").write_text("---\nname: broken\ndescription: [x\n---\n")
    catalog = Catalog.load(tmp_path)
    assert list(catalog.skills) == ["good"]
    assert [d.code for d in catalog.errors] == ["SG102"]
    assert catalog.errors[0].path.endswith("broken/SKILL.md")


def test_duplicate_names_are_detected(tmp_path: Path) -> None:
    write_skill(tmp_path, "same", folder=tmp_path / "a")
    write_skill(tmp_path, "same", folder=tmp_path / "b")
    catalog = Catalog.load(tmp_path)
    assert list(catalog.skills) == ["same"]
    (diag,) = catalog.errors
    assert diag.code == "SG106" and "a/same/SKILL.md" in diag.message


def test_name_must_equal_the_folder(tmp_path: Path) -> None:
    skill = write_skill(tmp_path, "right")
    skill.rename(tmp_path / "wrong")
    (diag,) = Catalog.load(tmp_path).errors
    assert diag.code == "SG105"


def test_template_syntax_error_gives_the_skill_md_line(tmp_path: Path) -> None:
    write_skill(tmp_path, "t", body="# T\n\nline\n{% if x %}\n")
    (diag,) = Catalog.load(tmp_path).errors
    assert diag.code == "SG301"
    assert diag.line == 8  # 4 lines of frontmatter; the body's 4th line


def test_unknown_skill_suggests_close_names(tmp_path: Path) -> None:
    write_skill(tmp_path, "time-zones")
    write_skill(tmp_path, "git-status")
    with pytest.raises(SkillNotFound, match="time-zones"):
        Catalog.load(tmp_path).get("time-zone")


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        Catalog.load(tmp_path / "nope")


def test_files_exclude_configuration_and_hidden_files(tmp_path: Path) -> None:
    skill = write_skill(tmp_path, "s", servers={"x": {"command": "x"}})
    (skill / "references").mkdir()
    (skill / "references" / "a.md").write_text("A")
    (skill / ".hidden").write_text("h")
    files = Catalog.load(tmp_path).get("s").files
    assert [(f.path, f.size) for f in files] == [("references/a.md", 1)]


def test_two_servers_allowing_the_same_tool_is_sg204(tmp_path: Path) -> None:
    write_skill(
        tmp_path,
        "s",
        servers={
            "a": {"command": "x", "allowedTools": ["read"]},
            "b": {"command": "y", "allowedTools": ["read"]},
        },
    )
    catalog = Catalog.load(tmp_path)
    (diag,) = catalog.errors
    assert diag.code == "SG204" and "'read'" in diag.message
    assert "s" not in catalog.skills


def test_a_symlink_out_of_the_skill_folder_is_not_one_of_its_files(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    skill = write_skill(tmp_path / "catalog", "s")
    (skill / "leak.txt").symlink_to(outside)
    (skill / "ok.txt").write_text("fine")
    loaded = Catalog.load(tmp_path / "catalog").get("s")
    assert [f.path for f in loaded.files] == ["ok.txt"]
    with pytest.raises(FileNotInSkill):
        loaded.read_file("leak.txt")
