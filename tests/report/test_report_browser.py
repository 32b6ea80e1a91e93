"""The HTML report opened in real headless Chromium (Debian's ``chromium`` driven by Playwright): no script runs
(dialog, console and page-error hooks stay silent), injected markup did not become elements, and the charts
are visible. Screenshots go to ``$HONEYSCOPE_TEST_ARTIFACTS/report`` (default: pytest's temporary directory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from honeyscope.testing.browser import MISSING, chromium_path

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
pytestmark = pytest.mark.skipif(chromium_path() is None, reason=MISSING)


def test_report_runs_no_script_and_shows_its_charts(simulated, browser, artifacts: Path, tmp_path: Path) -> None:
    page_file = tmp_path / "report.html"
    page_file.write_text(simulated.html, encoding="utf-8")
    context = browser.new_context(viewport={"width": 900, "height": 1200})
    noise: list[str] = []
    requests: list[str] = []
    try:
        page = context.new_page()
        page.on("dialog", lambda dialog: (noise.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        page.on("console", lambda message: noise.append(f"console {message.type}: {message.text}"))
        page.on("pageerror", lambda error: noise.append(f"page error: {error}"))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_file.as_uri())
        page.wait_for_load_state("load")
        injected = page.evaluate("""() => [
            document.querySelectorAll('script, img, iframe, object, embed, [onerror], [onload], [style]').length,
            [...document.querySelectorAll('a')].length,
            getComputedStyle(document.body).display,
            document.documentElement.scrollWidth <= window.innerWidth + 1]""")
        assert injected == [0, 0, "block", True]
        for chart, height in (("#chart-map svg.map", 150), ("#chart-countries svg.chart", 100),
                              ("#chart-cves-daily svg.chart", 150), ("#chart-asns svg.chart", 15)):
            box = page.locator(chart).bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > height, chart
        assert page.locator("#tlp-top").inner_text() == "TLP:AMBER"
        assert "<script>alert(document.domain)</script>" in page.locator("#indicators").inner_text()
        page.screenshot(path=artifacts / "report.png", full_page=True)
        page.emulate_media(media="print")
        page.screenshot(path=artifacts / "report-print.png", full_page=False)
        assert noise == []
        assert requests == [page_file.as_uri()]  # nothing else was fetched
    finally:
        context.close()
