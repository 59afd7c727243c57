from pathlib import Path

import pytest

from skillgate.base.errors import RenderError
from skillgate.render.template import render_template

CTX = {"skill": {"name": "s"}, "tools": [{"name": "t1"}], "client": {"name": "c", "version": "1"}}


def render(body: str, folder: Path, variables: dict[str, object] | None = None, **kw: object) -> str:
    return render_template(body, folder, variables=variables or {}, **CTX, **kw)  # type: ignore[arg-type]


def test_context_holds_skill_tools_vars_and_client(tmp_path: Path) -> None:
    body = "{{ skill.name }} {{ tools[0].name }} {{ vars.x }} {{ client.name }}"
    assert render(body, tmp_path, {"x": 42}) == "s t1 42 c"


def test_defaults_are_written_in_the_template(tmp_path: Path) -> None:
    assert render('{{ vars.tone | default("brief") }}', tmp_path) == "brief"


def test_undefined_variable_is_an_error_with_the_skill_md_line(tmp_path: Path) -> None:
    with pytest.raises(RenderError) as info:
        render("a\nb\n{{ vars.missing }}\n", tmp_path, line_offset=4)
    assert info.value.line == 7
    assert "default" in str(info.value)


def test_sandbox_refuses_reaching_python_internals(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="sandbox"):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", tmp_path)


def test_includes_reach_only_the_skill_folder(tmp_path: Path) -> None:
    skill = tmp_path / "skill"
    (skill / "parts").mkdir(parents=True)
    (skill / "parts" / "a.md").write_text("included {{ vars.x }}")
    (tmp_path / "secret.txt").write_text("secret")
    assert render('{% include "parts/a.md" %}', skill, {"x": 1}) == "included 1"
    with pytest.raises(RenderError, match="inside the skill folder"):
        render('{% include "../secret.txt" %}', skill)


def test_output_is_capped(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="longer than 100"):
        render("{% for i in range(1000) %}xxxxxxxxxx{% endfor %}", tmp_path, max_chars=100)
