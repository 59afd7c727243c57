"""The preview page once, end to end, in a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.conftest import REPO, write_skill
from tests.support.replica import serving

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

        page.fill("input[name=who]", "Ada")  # re-renders as you type
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
        USAGE_SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(USAGE_SCREENSHOT), full_page=True)
        browser.close()
    with capsys.disabled():
        print(f"\nusage view screenshot: {USAGE_SCREENSHOT}")
