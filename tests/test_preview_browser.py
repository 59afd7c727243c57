"""The preview page once, end to end, in a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, sync_playwright
from starlette.types import Message, Receive, Scope, Send

from skillgate.authoring.preview import build_preview
from skillgate.skills.catalog import Catalog
from tests.conftest import REPO, write_skill
from tests.support.replica import serving

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = REPO / ".artifacts" / "preview.png"


@pytest.fixture
def preview_url(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    catalog = tmp_path / "catalog"
    write_skill(
        catalog,
        "greet",
        "Greet someone warmly.",
        body='# Greeting\n\nSay hello to {{ vars.who | default("everyone") }}.\n',
    )
    write_skill(catalog, "weather", "Tell the weather forecast.")
    write_skill(
        catalog, "hostile", "Tries to run a script.", body="# H\n\n<script>document.title='owned'</script>\n"
    )
    with serving([sys.executable, "-m", "skillgate", "preview", str(catalog), "--port", "0"]) as (_, url):
        yield url, catalog


def text_of(page: Page, selector: str) -> str:
    return page.locator(selector).inner_text()


def assert_no_empty_boxes(page: Page) -> None:
    """No card, list, table or block of code on the page is empty (a card's heading alone is empty)."""
    empty = page.evaluate(
        """() => [...document.querySelectorAll("main .card, main ul, main ol, main table, main pre")]
            .filter((box) => ![...box.children].filter((c) => !/^H[1-6]$/.test(c.tagName))
                .some((c) => c.innerText.trim()) && !(box.children.length === 0 && box.innerText.trim()))
            .map((box) => box.outerHTML.slice(0, 120))"""
    )
    assert empty == [], f"empty boxes on {page.url}: {empty}"


def assert_fits_the_width(page: Page) -> None:
    """Long lines wrap: neither the page nor any box of text scrolls sideways."""
    wide = page.evaluate(
        """() => [document.documentElement, ...document.querySelectorAll("main *")]
            .filter((box) => box.scrollWidth > box.clientWidth + 1)
            .filter((box) => getComputedStyle(box).overflowX !== "hidden")
            .map((box) => `${box.tagName}#${box.id}.${box.className}: ${box.scrollWidth}px`)"""
    )
    assert wide == [], f"scrolls sideways on {page.url}: {wide}"


@contextmanager
def recorded_preview(catalog: Path) -> Iterator[tuple[str, list[tuple[str, int]]]]:
    """The preview (as `skillgate preview` builds it) served in this process, with the path and
    status of every request it answered: the browser's own requests too (a /favicon.ico), which
    Playwright does not report."""
    answered: list[tuple[str, int]] = []
    app = build_preview(Catalog.load(catalog), os.environ)

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered.append((scope["path"], message["status"]))
            await send(message)

        await app(scope, receive, sending if scope["type"] == "http" else send)

    listening = socket.create_server(("127.0.0.1", 0))  # listening already: no wait for the server
    config = uvicorn.Config(recording, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listening.getsockname()[1]}", answered
    finally:
        server.should_exit = True
        thread.join(30)
        listening.close()


def test_preview_in_a_real_browser(preview_url: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    url, catalog = preview_url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)

        page.goto(url + "/")
        assert page.locator(".skill").count() == 3
        page.fill("#search", "weathr")  # search as you type, typo-tolerant, best match first
        page.wait_for_function("(document.querySelector('.skill') || {}).innerText?.startsWith('weather')")
        assert text_of(page, "#skills").startswith("weather")
        page.fill("#search", "greet")
        page.wait_for_function("document.querySelector('#skills').innerText.includes('greet')")
        page.click("text=greet")
        page.wait_for_url(re.compile(r".*/skills/greet$"))
        assert "Say hello to everyone." in text_of(page, "#rendered")

        page.fill("input[name='v.who']", "Ada")  # re-renders as you type
        page.wait_for_function("document.querySelector('#rendered').innerText.includes('Say hello to Ada.')")
        assert "who=Ada" in page.url

        skill_md = catalog / "greet" / "SKILL.md"
        saved = time.monotonic()
        skill_md.write_text(skill_md.read_text().replace("# Greeting", "# Greeting, edited on disk"))
        page.wait_for_function("document.querySelector('#rendered').innerText.includes('edited on disk')")
        updated_after = time.monotonic() - saved
        assert "Say hello to Ada." in text_of(page, "#rendered")  # the variables survive the reload
        assert "edited on disk" in text_of(page, "#source")

        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        page.goto(url + "/skills/hostile")
        assert page.title() != "owned" and "<script>" in text_of(page, "#rendered")
        browser.close()
    with capsys.disabled():
        print(
            f"\npreview screenshot: {SCREENSHOT}; page updated {updated_after * 1000:.0f} ms after the save"
        )


USAGE_SCREENSHOT = REPO / ".artifacts" / "usage.png"


def test_the_usage_view_in_a_real_browser(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import anyio

    from tests.conftest import EXAMPLES
    from tests.test_usage import scripted_session

    log = tmp_path / "audit.jsonl"
    anyio.run(scripted_session, log)
    command = [
        sys.executable,
        "-m",
        "skillgate",
        "preview",
        str(EXAMPLES),
        "--port",
        "0",
        "--audit",
        str(log),
    ]
    with serving(command) as (_, url), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.set_default_timeout(15_000)
        page.goto(url + "/")
        page.click("header >> text=Usage")
        page.wait_for_selector("#usage-skills")
        rows = text_of(page, "#usage-skills")
        assert re.search(r"time-zones\s+1\s+1\s+1\s+0", rows)
        assert "order a pizza with token ***" in text_of(page, "#usage-misses")
        assert "no-such-skill" in rows  # in the log, not in the catalog: named, not linked to a 404
        links = page.locator("#usage-skills a").all_inner_texts()
        assert "no-such-skill" not in links and {"time-zones", "commit-messages"} <= set(links)
        assert_no_empty_boxes(page)
        USAGE_SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(USAGE_SCREENSHOT), full_page=True)

        page.click("#usage-skills >> text=time-zones")  # a linked skill's page exists
        page.wait_for_url(re.compile(r".*/skills/time-zones$"))
        schema = text_of(page, "#tools pre.schema >> nth=0")  # tools in order: convert_time first
        assert "(e.g., 'America/New_York', 'Europe/London')" in schema and "\\u0027" not in schema
        assert '\n  "properties": {\n    "source_timezone": {' in schema  # indented JSON
        assert_fits_the_width(page)
        browser.close()
    with capsys.disabled():
        print(f"\nusage view screenshot: {USAGE_SCREENSHOT}")


FIXING_SCREENSHOT = REPO / ".artifacts" / "preview-broken.png"
RELEASE_NOTES = "# Release notes\n\nList the changes since {{ vars.since | default('the last tag') }}.\n"
TYPO = 'Hello {{ x | defualt("a") }} there.'  # line 7 of SKILL.md


def test_fixing_skills_in_a_real_browser(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = tmp_path / "catalog"
    long_line = "See https://example.com/" + "a-very-long-path-segment/" * 16 + " for the " + "details " * 40
    write_skill(catalog, "greet", "Greet someone warmly.", body=f"# Greeting\n\nSay hello.\n\n{long_line}\n")
    notes = write_skill(catalog, "release-notes", "Write release notes.", body=RELEASE_NOTES) / "SKILL.md"
    changelog = catalog / "changelog"
    changelog.mkdir()
    (changelog / "SKILL.md").write_text("---\nname: changelog\ndescription: [oops\n---\n# Changelog\n")
    with recorded_preview(catalog) as (url, answered), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.set_default_timeout(15_000)

        page.goto(url + "/")  # the catalog lists the skill with errors, with a badge to its page
        assert page.locator(".skill").count() == 3 and page.locator(".skill.broken").count() == 1
        assert_no_empty_boxes(page)
        page.click(".skill.broken >> .badge")
        page.wait_for_url(re.compile(r".*/skills/changelog$"))
        assert "This skill has errors and is not served." in text_of(page, "#broken")
        assert text_of(page, "#L3 code") == "description: [oops"
        assert text_of(page, "#L3 .note").startswith("SG102, line 3, column")  # under the line it names
        assert page.locator(".note").count() == 1 and "SG102" in text_of(page, "#diagnostics")
        assert_no_empty_boxes(page)

        page.goto(url + "/skills/greet")  # long lines wrap instead of scrolling sideways
        assert "a-very-long-path-segment" in text_of(page, "#rendered") and "details" in text_of(
            page, "#source"
        )
        assert_fits_the_width(page)
        assert_no_empty_boxes(page)
        assert "no files besides SKILL.md" in text_of(page, "#absent")

        page.goto(url + "/skills/release-notes?v.since=v1.2")
        assert " ".join(text_of(page, "#rendered").split()) == "Release notes List the changes since v1.2."
        good = notes.read_text()
        notes.write_text(
            good.replace("List the changes since {{ vars.since | default('the last tag') }}.", TYPO)
        )
        page.wait_for_selector("#last-good")  # the page follows the save: errors, and the last good render
        assert text_of(page, "#last-good h2") == "Last good render"
        assert "List the changes since v1.2." in text_of(page, "#last-good #rendered")
        assert text_of(page, "#L7 code") == TYPO
        assert "unknown filter 'defualt'" in text_of(page, "#L7 .note")
        assert "a running one keeps serving its last good version" in text_of(page, "#broken")
        assert_no_empty_boxes(page)
        FIXING_SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(FIXING_SCREENSHOT), full_page=True)

        notes.write_text(good.replace("List the changes", "List every change"))  # fixed
        page.wait_for_function("document.querySelector('#rendered')?.innerText.includes('List every change')")
        assert page.locator("#broken, #last-good, .note").count() == 0
        page.fill("input[name='v.since']", "v2.0")  # the form that came back with the fix works
        page.wait_for_function("document.querySelector('#rendered').innerText.includes('since v2.0')")

        page.goto(url + "/skills/gret")  # a name that is nothing: people's words, links onward
        assert "did you mean greet?" in text_of(page, "#missing").lower()
        page.click("#missing >> text=greet")
        page.wait_for_url(re.compile(r".*/skills/greet$"))
        icon = page.get_attribute("link[rel=icon]", "href")
        assert icon is not None and icon.startswith("data:image/svg+xml,")
        browser.close()
    failed = [(path, status) for path, status in answered if status >= 400]
    assert failed == [("/skills/gret", 404)]  # only the page asked for on purpose
    assert "/favicon.ico" not in [path for path, _ in answered]  # the page names its icon
    with capsys.disabled():
        print(f"\nbroken-skill page screenshot: {FIXING_SCREENSHOT}")
