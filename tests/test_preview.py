"""The preview page through Starlette's TestClient: pages, JSON twins, hostile skills."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from skillgate.authoring.preview import build_preview
from skillgate.serve import search_ranker
from skillgate.settings import Settings
from skillgate.skills.catalog import Catalog
from tests.conftest import EXAMPLES, write_skill


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
    assert 'name="v.tone" value="calm"' in page.text and 'placeholder="default: everyone"' in page.text


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


def test_unknown_skill_is_404_in_peoples_words_with_suggestions(client: TestClient, catalog: Path) -> None:
    page = client.get("/skills/gret")
    assert page.status_code == 404
    assert "list_skills" not in page.text  # the model's wording is for models
    there = "There is no skill, and no skill folder with errors, named <code>gret</code> in"
    assert f"{there} <code>{catalog.as_posix()}</code>." in page.text
    assert 'Did you mean <a href="/skills/greet">greet</a>?' in page.text and '<a href="/">' in page.text
    twin = client.get("/skills/gret.json")
    assert twin.status_code == 404
    assert twin.json()["error"] == f"No skill named 'gret' in {catalog.as_posix()}; did you mean 'greet'?"
    assert client.get("/skills/brokn.json").json()["suggestions"] == ["broken"]  # skills with errors too


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
        absent = re.search(r'<p id="absent" class="muted">(.*?)</p>', client.get("/skills/weather").text)
        assert absent is not None and "no example queries (add evals/queries.txt" in absent.group(1)


def test_the_preview_refuses_a_foreign_host(catalog: Path) -> None:
    app = build_preview(Catalog.load(catalog), os.environ, watch=False)
    with TestClient(app, base_url="http://evil.example") as foreign:
        response = foreign.get("/skills/greet.json")
        assert response.status_code == 421 and "source" not in response.text


RELEASE_NOTES = "# Release notes\n\nList the changes since {{ vars.since | default('the last tag') }}.\n"
TYPO = '# Release notes\n\nHello {{ x | defualt("a") }} there.\n'  # line 7 of SKILL.md


def test_a_broken_skill_has_a_page_with_its_source_and_diagnostics_inline(
    client: TestClient, catalog: Path
) -> None:
    write_skill(catalog, "release-notes", "Write release notes.", body=TYPO)
    client.app.state.preview.gateway.catalog = Catalog.load(catalog)  # type: ignore[attr-defined]
    page = client.get("/skills/release-notes")
    assert page.status_code == 200
    assert "This skill has errors and is not served." in page.text and "list_skills" not in page.text
    line = re.search(
        r'<li id="L7" class="flagged"><code>([^<]*)</code><div class="note error">([^<]*)</div>', page.text
    )
    assert line is not None, "the diagnostic is not under the line it names"
    assert html.unescape(line.group(1)) == 'Hello {{ x | defualt("a") }} there.'
    assert re.match(r"SG301, line 7, column \d+: unknown filter 'defualt'", html.unescape(line.group(2)))
    assert page.text.count('class="flagged"') == 1
    twin = client.get("/skills/release-notes.json")
    assert twin.status_code == 200
    data = twin.json()
    assert data["broken"] is True and data["last_good"] is None and "defualt" in data["source"]
    assert [(d["line"], d["code"], d["severity"]) for d in data["inline"]] == [(7, "SG301", "error")]
    assert any(": SG301 unknown filter 'defualt'" in d for d in data["diagnostics"])

    yaml = client.get("/skills/broken")  # a YAML error: the frontmatter line it names
    assert yaml.status_code == 200
    assert re.search(
        r'<li id="L3" class="flagged"><code>description: \[oops</code><div class="note error">SG102',
        yaml.text,
    )


def test_the_catalog_lists_broken_skills_with_a_badge_to_their_page(client: TestClient) -> None:
    twin = client.get("/index.json").json()
    assert twin["broken"] == [
        {"name": "broken", "folder": twin["broken"][0]["folder"], "errors": 1, "last_good": False}
    ]
    assert twin["broken"][0]["folder"].endswith("/broken")
    assert [s["broken"] for s in twin["skills"]] == [False, False, False]
    page = client.get("/").text
    assert re.search(
        r'<div class="card skill broken"><a href="/skills/broken"><strong>broken</strong></a>'
        r'<a class="badge" href="/skills/broken">broken</a>',
        page,
    )
    assert "1</span> with errors (not served)" in page
    assert client.get("/index.json", params={"q": "greet"}).json()["broken"] == []  # the search applies


def test_after_a_skill_breaks_its_page_shows_the_last_good_render(tmp_path: Path) -> None:
    skill_md = write_skill(tmp_path, "release-notes", "Write release notes.", body=RELEASE_NOTES) / "SKILL.md"
    app = build_preview(Catalog.load(tmp_path), os.environ, watch=False)
    preview = app.state.preview
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get("/skills/release-notes.json").json()["broken"] is False
        good = skill_md.read_text()
        skill_md.write_text(good.replace(RELEASE_NOTES, TYPO))
        client.portal.call(preview.reloader.reload)  # type: ignore[union-attr]  # what the watcher does
        assert "release-notes" in preview.gateway.catalog.skills  # the reload kept the last valid version
        data = client.get("/skills/release-notes.json", params={"v.since": "v1.2"}).json()
        assert data["broken"] is True and "defualt" in data["source"]
        assert data["last_good"]["html"] == "<h1>Release notes</h1>\n<p>List the changes since v1.2.</p>\n"
        page = client.get("/skills/release-notes", params={"v.since": "v1.2"}).text
        assert "a running one keeps serving its last good version (rendered below)" in page
        last_good = re.search(
            r'<section class="card" id="last-good"><h2>Last good render</h2>(.*?)</section>', page, re.S
        )
        assert last_good is not None and "List the changes since v1.2." in last_good.group(1)
        assert '<li id="L7" class="flagged">' in page
        assert client.get("/index.json").json()["skills"][0]["broken"] is True

        skill_md.write_text(good.replace("List the changes", "List every change"))  # fixed
        client.portal.call(preview.reloader.reload)  # type: ignore[union-attr]
        data = client.get("/skills/release-notes.json").json()
        assert data["broken"] is False and "List every change since the last tag." in data["html"]
        assert "last-good" not in client.get("/skills/release-notes").text


def test_tool_schemas_are_indented_json_as_written(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "time-zones", tmp_path / "time-zones")  # its tools come from its lock
    app = build_preview(Catalog.load(tmp_path), os.environ, watch=False)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = client.get("/skills/time-zones").text
        tools = {t["name"]: t for t in client.get("/skills/time-zones.json").json()["tools"]}
    schemas = [html.unescape(s) for s in re.findall(r'<pre class="schema">(.*?)</pre>', page, re.S)]
    assert len(schemas) == len(tools) == 2
    assert "\\u0027" not in page and "\\u0027" not in "".join(schemas)
    convert = next(s for s in schemas if "source_timezone" in s)
    assert convert == json.dumps(tools["convert_time"]["inputSchema"], indent=2, ensure_ascii=False)
    assert "(e.g., 'America/New_York', 'Europe/London')" in convert and '\n  "properties": {\n' in convert


def test_a_section_with_nothing_in_it_is_not_shown(tmp_path: Path) -> None:
    write_skill(tmp_path, "plain", "Only instructions.")  # no tools, files, example queries, diagnostics
    with TestClient(
        build_preview(Catalog.load(tmp_path), os.environ, watch=False), base_url="http://127.0.0.1"
    ) as client:
        page = client.get("/skills/plain").text
        nothing = client.get("/", params={"q": "zzzzqqq"}).text
    for missing in ('id="files"', 'id="findability"', 'id="tools"', 'id="diagnostics"', "<h2>Files</h2>"):
        assert missing not in page, missing
    absent = re.search(r'<p id="absent" class="muted">(.*?)</p>', page)
    assert absent is not None
    assert absent.group(1).startswith(
        "This skill has no template variables; no tools (no mcp.json binding, or its servers offer none); "
        "no files besides SKILL.md; no example queries"
    )
    assert not re.search(r"<(ul|ol|table|div|section|p)[^>]*>\s*</\1>", page)  # no empty element
    assert '<p id="skills" class="muted">No skill matches zzzzqqq.</p>' in nothing
    assert not re.search(r"<(ul|ol|table|div|section|p)[^>]*>\s*</\1>", nothing)


def test_the_usage_view_links_only_skills_that_have_a_page(catalog: Path, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    events = [
        {"time": "2026-01-01T00:00:00Z", "method": "load_skill", "skill": name, "outcome": "ok"}
        for name in ("greet", "broken", "renamed-long-ago")
    ]
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    app = build_preview(Catalog.load(catalog), os.environ, watch=False, audit=[log])
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = client.get("/usage").text
        twin = client.get("/usage.json").json()
    assert twin["pages"] == ["broken", "greet"]
    assert '<a href="/skills/greet">greet</a>' in page and '<a href="/skills/broken">broken</a>' in page
    assert '<span class="gone">renamed-long-ago</span>' in page and "/skills/renamed-long-ago" not in page


def test_the_pages_have_an_icon_so_no_favicon_request_fails(client: TestClient) -> None:
    for path in ("/", "/skills/greet", "/skills/broken", "/skills/gret", "/usage"):
        assert (
            '<link rel="icon" type="image/svg+xml" href="data:image/svg+xml,%3Csvg' in client.get(path).text
        )
    icon = client.get("/favicon.ico")  # for the JSON twins opened in a browser
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"


def test_a_skill_that_fails_with_its_defaults_shows_what_validate_says(client: TestClient) -> None:
    # greet reads vars.tone with no default: served, but validate's SG305 is on its page
    twin = client.get("/skills/greet.json").json()
    (sg305,) = [d for d in twin["diagnostics"] if "SG305" in d]
    assert "greet/SKILL.md:7:" in sg305 and "variable 'tone' has no value and no default" in sg305
    assert "--var tone=VALUE" in sg305
    fixed = client.get("/skills/greet.json", params={"v.tone": "warm"}).json()
    assert "in a warm tone" in fixed["instructions"]
