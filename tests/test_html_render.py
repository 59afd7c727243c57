"""Golden files for rendering: a skill rendered to Markdown and to HTML, with and without variables.

Regenerate after an intended change with: UPDATE_GOLDEN=1 pytest tests/test_html_render.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from skillgate.render.html import markdown_to_html
from skillgate.render.template import render_template
from skillgate.skills.catalog import Catalog

GOLDEN = Path(__file__).parent / "golden"
CASES = {"no-vars": {}, "with-vars": json.loads((GOLDEN / "with-vars.json").read_text())}


def rendered(variables: dict[str, object]) -> str:
    skill = Catalog.load(GOLDEN / "catalog").get("showcase")
    return render_template(
        skill.body, skill.dir, skill={"name": skill.name}, tools=[], variables=variables, client={}
    )


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("kind", ["md", "html"])
def test_rendering_matches_the_golden_file(case: str, kind: str) -> None:
    markdown = rendered(CASES[case])
    actual = markdown if kind == "md" else markdown_to_html(markdown)
    golden = GOLDEN / f"{case}.{kind}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(actual)
    assert actual == golden.read_text()


def test_raw_html_and_unsafe_links_are_inert() -> None:
    html = markdown_to_html(rendered({}))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html
    assert "<b>" not in html


def test_variables_are_not_html_in_the_page() -> None:
    assert "hi &lt;there&gt;" in markdown_to_html(rendered(CASES["with-vars"]))
