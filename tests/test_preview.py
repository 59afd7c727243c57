"""The preview page through Starlette's TestClient: pages, JSON twins, hostile skills."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from skillgate.authoring.preview import build_preview
from skillgate.serve import search_ranker
from skillgate.settings import Settings
from skillgate.skills.catalog import Catalog
from tests.conftest import write_skill


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    write_skill(
        tmp_path,
        "greet",
        "Greet someone warmly.",
        body='# Greeting\n\nSay hello to {{ vars.who | default("everyone") }} in a {{ vars.tone }} tone.\n',
    )
    write_skill(
        tmp_path,
        "hostile",
        "Tries to inject markup.",
        body="# Hostile\n\n<script>document.title='owned'</script>\n<img src=x onerror=alert(1)>\n",
    )
    write_skill(tmp_path, "escape", "Tries to escape the sandbox.", body="{{ ''.__class__.__mro__ }}\n")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "SKILL.md").write_text("---\nname: broken\ndescription: [oops\n---\n")
    return tmp_path


@pytest.fixture
def client(catalog: Path) -> Iterator[TestClient]:
    with TestClient(
        build_preview(Catalog.load(catalog), os.environ, watch=False), base_url="http://127.0.0.1"
    ) as test_client:
        yield test_client


def test_catalog_page_and_its_twin(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "greet" in page.text and "Greet someone warmly." in page.text
    assert "broken/SKILL.md:3:14: SG102" in page.text  # diagnostics inline
    twin = client.get("/index.json").json()
    assert [s["name"] for s in twin["skills"]] == ["escape", "greet", "hostile"]
    assert any("SG102" in d for d in twin["diagnostics"])


def test_search_uses_the_list_skills_ranking(client: TestClient) -> None:
    found = client.get("/index.json", params={"q": "greting"}).json()  # a typo
    assert found["skills"][0]["name"] == "greet" and found["skills"][0]["score"] > 0
    assert "greet" in client.get("/", params={"q": "greet"}).text


def test_skill_page_renders_variables_tokens_and_source(client: TestClient) -> None:
    twin = client.get("/skills/greet.json", params={"v.who": "Ada", "v.tone": "calm"}).json()
    assert twin["variables"] == {"tone": None, "who": "everyone"}
    assert "<p>Say hello to Ada in a calm tone.</p>" in twin["html"]
    assert twin["tokens"]["total"] == twin["tokens"]["instructions"] > 0
    assert twin["tokens"]["encoding"] == "o200k_base"
    assert "{{ vars.who" in twin["source"]
    page = client.get("/skills/greet", params={"v.tone": "calm"})
    assert "Say hello to everyone in a calm tone." in page.text
    assert 'name="tone" value="calm"' in page.text and 'placeholder="default: everyone"' in page.text


def test_a_missing_variable_is_shown_as_an_error_with_its_line(client: TestClient) -> None:
    twin = client.get("/skills/greet.json").json()
    assert twin["error"].startswith("line 7:") and "tone" in twin["error"]
    assert twin["html"] == ""


def test_raw_html_in_a_skill_is_escaped_everywhere(client: TestClient) -> None:
    page = client.get("/skills/hostile")
    assert "<script>document.title" not in page.text
    assert "&lt;script&gt;document.title=&#39;owned&#39;&lt;/script&gt;" in page.text
    assert "<img src=x" not in page.text
    assert "<script>" not in client.get("/skills/hostile.json").json()["html"]


def test_template_escape_attempts_are_refused_with_a_clear_message(client: TestClient) -> None:
    twin = client.get("/skills/escape.json").json()
    assert "sandbox forbids" in twin["error"] and twin["html"] == ""


def test_unknown_skill_is_404_with_suggestions(client: TestClient) -> None:
    assert client.get("/skills/gret").status_code == 404
    assert "'greet'" in client.get("/skills/gret.json").json()["error"]


def test_the_skill_page_shows_its_example_queries_ranked_live(tmp_path: Path) -> None:
    write_skill(tmp_path, "greet", "Greet someone warmly.")
    write_skill(tmp_path, "weather", "Will it rain tomorrow: forecasts for any city.")
    (tmp_path / "greet" / "evals").mkdir()
    queries = tmp_path / "greet" / "evals" / "queries.txt"
    queries.write_text("say hello to the new colleague\nwill it rain tomorrow\n")
    app = build_preview(Catalog.load(tmp_path), os.environ, watch=False, ranker=search_ranker(Settings()))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        twin = client.get("/skills/greet.json").json()
        assert [(r["query"], r["passed"]) for r in twin["findability"]] == [
            ("say hello to the new colleague", True),
            ("will it rain tomorrow", True),  # two skills: both in the top 5
        ]
        assert "say hello to the new colleague" in client.get("/skills/greet").text
        queries.write_text("say hello to the new colleague\n")  # the page follows the file
        app.state.preview.gateway.catalog = Catalog.load(tmp_path)
        assert [r["query"] for r in client.get("/skills/greet.json").json()["findability"]] == [
            "say hello to the new colleague"
        ]
        assert client.get("/skills/weather.json").json()["findability"] == []
        assert "No example queries" in client.get("/skills/weather").text


def test_the_preview_refuses_a_foreign_host(catalog: Path) -> None:
    app = build_preview(Catalog.load(catalog), os.environ, watch=False)
    with TestClient(app, base_url="http://evil.example") as foreign:
        response = foreign.get("/skills/greet.json")
        assert response.status_code == 421 and "source" not in response.text
