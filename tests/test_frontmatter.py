from pathlib import Path

from skillgate.skills.frontmatter import parse_skill_file

P = Path("s/SKILL.md")


def test_valid_frontmatter_is_parsed_and_the_body_line_is_known() -> None:
    parsed = parse_skill_file("---\nname: a-b\ndescription: Does a.\n---\n# Body\n", P)
    assert parsed.diagnostics == []
    assert parsed.frontmatter is not None and parsed.frontmatter.name == "a-b"
    assert parsed.body == "# Body\n"
    assert parsed.body_line == 5


def test_missing_frontmatter_is_sg101() -> None:
    parsed = parse_skill_file("# just markdown\n", P)
    assert [d.code for d in parsed.diagnostics] == ["SG101"]


def test_yaml_error_points_at_the_line_in_skill_md() -> None:
    parsed = parse_skill_file("---\nname: a\ndescription: [unclosed\n---\n", P)
    (diag,) = parsed.diagnostics
    assert diag.code == "SG102"
    assert diag.line >= 3
    assert str(diag).startswith("s/SKILL.md:")


def test_unknown_key_is_reported_on_its_line_with_the_allowed_keys() -> None:
    text = "---\nname: a\ndescription: d\nversion: 2\n---\n"
    (diag,) = parse_skill_file(text, P).diagnostics
    assert (diag.code, diag.line) == ("SG104", 4)
    assert "metadata" in diag.message and "allowed-tools" in diag.message


def test_bad_name_names_the_rule() -> None:
    found = parse_skill_file("---\nname: Bad--Name\ndescription: d\n---\n", P).diagnostics
    assert {(d.code, d.line) for d in found} == {("SG103", 2)}
    assert "lowercase" in found[0].message and "consecutive hyphens" in found[1].message


def test_every_problem_is_reported_at_once() -> None:
    text = "---\nname: -x\nextra: 1\ncompatibility: " + "c" * 501 + "\n---\n"
    codes = sorted(d.code for d in parse_skill_file(text, P).diagnostics)
    assert codes == ["SG103", "SG103", "SG103", "SG104"]  # name, description missing, compatibility; extra


def test_optional_spec_fields_are_accepted() -> None:
    text = (
        "---\nname: a\ndescription: d\nlicense: MIT\ncompatibility: needs git\n"
        "metadata:\n  author: me\nallowed-tools: Bash Read\n---\n"
    )
    parsed = parse_skill_file(text, P)
    assert parsed.diagnostics == []
    assert parsed.frontmatter is not None and parsed.frontmatter.allowed_tools == "Bash Read"
