"""The dashboard in real headless Chromium (Debian's ``chromium`` driven by Playwright) against a real uvicorn.

Screenshots are kept under ``$HONEYSCOPE_TEST_ARTIFACTS/web`` (default: pytest's temporary directory); the
path is printed. Every page is watched for dialogs, console messages and page errors: hostile content must
not run a script, trip the Content-Security-Policy or widen the page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest

from honeyscope.events.ids import new_event_id
from honeyscope.events.schema import HttpRequestEvent, UserAgent
from honeyscope.store.duckdb import DuckDBStore
from honeyscope.testing.browser import MISSING, chromium_path
from honeyscope.web import WebSettings, access_policy, create_app

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
pytestmark = pytest.mark.skipif(chromium_path() is None, reason=MISSING)


@pytest.fixture(scope="module")
def site(campaign, serve) -> Iterator[str]:
    app = create_app(campaign.store, WebSettings(), policy=access_policy(WebSettings(), environ={}))
    with serve(app) as url:
        yield url


class Watched:
    """A page whose dialogs, console output and errors are recorded (and dialogs dismissed)."""

    def __init__(self, browser, width: int = 1280) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.noise: list[str] = []
        self.page.on("dialog", lambda dialog: (self.noise.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        self.page.on("console", lambda message: self.noise.append(f"console {message.type}: {message.text}"))
        self.page.on("pageerror", lambda error: self.noise.append(f"page error: {error}"))

    def layout_holds(self) -> bool:
        return self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser) -> Iterator[Watched]:
    page = Watched(browser)
    yield page
    page.close()


def test_pages_render_campaign_data_with_visible_charts(site: str, watched: Watched, artifacts: Path):
    page = watched.page
    page.goto(site + "/")
    assert page.locator("#map-panel svg.map path").count() > 150
    for panel in ("#map-panel", "#countries-panel", "#countries-daily-panel", "#cves-panel", "#cves-daily-panel",
                  "#personas-panel"):
        chart = page.locator(f"{panel} svg.chart")
        assert chart.is_visible(), panel
        box = chart.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 20, panel
    assert "China" in page.locator("#countries-panel").inner_text()
    assert "CVE-2021-26855" in page.locator("#cves-panel").inner_text()
    assert page.locator("#sensors-panel svg.spark").count() == 1
    page.screenshot(path=artifacts / "overview.png", full_page=True)
    for name, path, marker in (("sessions", "/sessions", "table.sessions tbody tr"),
                               ("actors", "/actors", "section.cluster"),
                               ("trends", "/trends", "h1"),
                               ("live", "/live", "#live-events tbody tr")):
        page.goto(site + path)
        assert page.locator(marker).first.is_visible(), name
        page.screenshot(path=artifacts / f"{name}.png", full_page=True)
    page.goto(site + "/actors")
    assert "HAFNIUM" in page.locator("section.cluster.attributed h2").first.inner_text()
    assert watched.noise == []


def test_drill_down_from_overview_to_session_to_event(site: str, watched: Watched, artifacts: Path, campaign):
    page = watched.page
    page.goto(site + "/")
    page.locator("#sources-panel a.source-link").first.click()
    page.wait_for_url("**/sessions?source=*")
    assert page.locator("table.sessions tbody a.session-link").count() >= 1
    page.goto(site + "/sessions?source=" + campaign.chain_sources[1])
    page.locator("a.session-link").first.click()
    page.wait_for_url("**/sessions/s-*")
    assert page.locator("ol.chain li").count() >= 3
    assert "webshell.command" in page.locator("#session-chain").inner_text()
    page.screenshot(path=artifacts / "session.png", full_page=True)
    page.locator("#timeline a.event-link").last.click()
    page.wait_for_url("**/events/*")
    assert "Request head (as received)" in page.locator("main").inner_text()
    assert page.locator("#fields table.fields tr").count() > 20
    page.screenshot(path=artifacts / "event.png", full_page=True)
    page.goto(site + "/")
    page.locator("#map-panel svg.map a").first.click()
    page.wait_for_url("**/sessions?country=*")
    assert page.locator("table.sessions tbody a.session-link").count() >= 1
    assert watched.noise == []


def test_hostile_content_runs_no_script_and_the_layout_holds(site: str, browser, artifacts: Path, campaign):
    narrow = Watched(browser, width=900)
    page = narrow.page
    try:
        paths = ["/live", f"/sessions?source={campaign.hostile_source}", "/api", *(
            f"/events/{event_id}" for event_id in campaign.hostile_ids)]
        page.goto(site + f"/sessions?source={campaign.hostile_source}")
        paths.append(page.locator("a.session-link").first.get_attribute("href"))
        for index, path in enumerate(paths):
            page.goto(site + path)
            page.wait_for_load_state("load")
            assert narrow.layout_holds(), path
            injected = page.evaluate("""() => [
                document.querySelectorAll('img[src="x"], svg[onload], [onerror], [onload]').length,
                [...document.scripts].filter(s => !s.src).length,
                [...document.querySelectorAll('[style]')].length,
                [...document.querySelectorAll('a[href^="javascript:" i]')].length,
                getComputedStyle(document.body).display]""")
            assert injected == [0, 0, 0, 0, "block"], (path, injected)
            if index in (0, 6, len(paths) - 1):  # live feed, the 100 KB event, the hostile session
                page.screenshot(path=artifacts / f"hostile-{index}.png", full_page=True)
        assert "<script>alert(1)</script>" in page.locator("main").inner_text()  # shown, as text
        assert narrow.noise == []
    finally:
        narrow.close()


def test_live_feed_adds_new_events_as_inert_text(tmp_path: Path, browser, serve, campaign, artifacts: Path):
    store = DuckDBStore(tmp_path / "live.duckdb")
    store.migrate()
    [base] = [e for e in campaign.events if isinstance(e, HttpRequestEvent)][:1]
    store.write([base])
    watcher = Watched(browser)
    try:
        with serve(create_app(store, WebSettings(), policy=access_policy(WebSettings(), environ={}))) as url:
            page = watcher.page
            page.goto(url + "/live?interval=1000")
            assert page.locator("#live-events tbody tr").count() == 1
            hostile = msgspec.structs.replace(
                base, timestamp=base.timestamp + timedelta(minutes=5),
                event=msgspec.structs.replace(base.event, id=new_event_id()),
                user_agent=UserAgent(original='<img src=x onerror=alert(1)>"><script>alert(2)</script>'),
                url=msgspec.structs.replace(base.url, original="/<svg onload=alert(3)>", path="/<svg onload=alert(3)>"))
            store.write([hostile])
            page.locator("#live-events tbody tr.fresh").wait_for(timeout=15_000)
            deadline = time.monotonic() + 5
            while page.locator("#live-events tbody tr").count() < 2 and time.monotonic() < deadline:
                page.wait_for_timeout(100)
            rows = page.locator("#live-events tbody tr")
            assert rows.count() == 2
            assert "<svg onload=alert(3)>" in rows.first.inner_text()
            assert page.evaluate("document.querySelectorAll('img[src=\"x\"], svg[onload]').length") == 0
            page.screenshot(path=artifacts / "live-update.png", full_page=True)
        assert watcher.noise == []
    finally:
        watcher.close()
        store.close()
