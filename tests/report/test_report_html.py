"""The HTML report of a simulated campaign with hostile events: its sections, numbers, charts, TLP marking and
indicator table, that attacker text arrives as inert text, and that nothing is loaded from elsewhere."""

from __future__ import annotations

import csv
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

from honeyscope.report import gather, render_html, write_csv
from honeyscope.store.duckdb import DuckDBStore

XSS = "<script>alert(document.domain)</script>"
FORMULA = "=cmd|' /C calc'!A0"
CSS = '</style><style>body{display:none}</style>'


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text outside ``<style>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False if tag == "style" else self._in_style

    def handle_data(self, data: str) -> None:
        if not self._in_style:
            self.text.append(data)


def parsed(html: str) -> Elements:
    elements = Elements()
    elements.feed(html)
    elements.close()
    return elements


def test_report_has_every_section_with_the_periods_numbers(simulated) -> None:
    data, html = simulated.report, simulated.html
    for section in ("summary", "charts", "trends", "attribution", "indicators", "methodology"):
        assert f'<section class="part{" first" if section == "summary" else ""}" id="{section}">' in html
    assert data.events > 4000 and data.sources > 100 and data.countries >= 5
    summary = " ".join(data.summary)
    assert f"{data.events:,} attack events from {data.sources:,} distinct source addresses" in summary
    assert "CVE-2021-26855" in summary and "source geography is not attribution" in summary
    assert "HAFNIUM (High confidence" in summary
    text = " ".join(" ".join(parsed(html).text).split())
    for sentence in data.summary:
        assert " ".join(sentence.split()) in text
    assert "Source geography is not attribution" in text
    assert "geoip2fast" in text  # the geolocation data named with its date


def test_trend_findings_and_attribution_are_those_of_the_analysis(simulated) -> None:
    data, html = simulated.report, simulated.html
    findings = [f for section in data.trends for f in section.findings]
    assert any(f.key == ("CVE-2021-26855",) and f.direction == "increase" for f in findings)
    text = " ".join(" ".join(parsed(html).text).split())
    for finding in findings:
        assert finding.sentence in text
    attributed = {r.actor_name: r for r in data.attribution.clusters if r.actor is not None}
    assert "HAFNIUM" in attributed
    hafnium = attributed["HAFNIUM"]
    assert f"HAFNIUM {hafnium.level} {hafnium.confidence} · {hafnium.words}" in text
    assert "104.140.114.110" in text
    assert "Next-best hypotheses" in text or "No competing hypothesis" in text


def test_tlp_marking_top_bottom_and_on_every_printed_page(simulated) -> None:
    html = simulated.html
    assert html.count('<span>TLP:AMBER</span>') == 2
    assert html.index('id="tlp-top"') < html.index('id="summary"') < html.index('id="tlp-bottom"')
    assert re.search(r'@top-right \{ content: "TLP:AMBER"; color: #FFC000; background: #000;', html)
    assert re.search(r'@bottom-right \{ content: "TLP:AMBER"; color: #FFC000; background: #000;', html)
    assert "<title>TLP:AMBER " in html


def test_charts_are_inline_svg(simulated) -> None:
    tags = parsed(simulated.html).tags
    charts = [attrs.get("class") for tag, attrs in tags if tag == "svg"]
    assert charts.count("chart map") == 1
    assert charts.count("chart bars") == 3  # countries, CVEs, ASNs
    assert charts.count("chart series") >= 3  # per day by country and by CVE, one per trend finding
    assert sum(1 for tag, _ in tags if tag == "path") > 150  # the world map's countries


def test_hostile_text_is_escaped_and_nothing_external_is_referenced(simulated) -> None:
    html = simulated.html
    elements = parsed(html)
    assert "<script" not in html.lower()
    assert not [tag for tag, _ in elements.tags if tag in ("script", "img", "iframe", "object", "embed", "link",
                                                            "base", "form", "input", "button")]
    handlers = [(tag, name) for tag, attrs in elements.tags for name in attrs if name.lower().startswith("on")]
    assert handlers == []
    assert not [(tag, attrs) for tag, attrs in elements.tags if "style" in attrs]
    for tag, attrs in elements.tags:
        for name in ("src", "href", "xlink:href", "action", "data", "poster"):
            assert name not in attrs, (tag, attrs)
    assert len([tag for tag, _ in elements.tags if tag == "style"]) == 1
    assert not re.search(r"url\(|@import", html.split("</style>")[0], re.IGNORECASE)
    text = "".join(elements.text)
    assert simulated.hostile_source in text
    assert "&lt;script&gt;alert(document.domain)&lt;/script&gt;" in html  # shown, as text
    assert "\\x1b[2J" in text and "\x1b" not in html  # ANSI escapes made visible
    assert "\x00" not in html and "\u202e" not in html
    assert max(len(line) for line in html.splitlines()) < 200_000  # 200 KB values were cut


def test_indicator_csv_guards_formulas(simulated, tmp_path: Path) -> None:
    target = tmp_path / "indicators.csv"
    rows = write_csv(target, simulated.report)
    with target.open(newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table[0][:3] == ["type", "value", "country"] and len(table) == rows + 1
    types = {row[0] for row in table[1:]}
    assert {"source ip", "user agent", "artifact sha256", "web-shell path"} <= types
    assert [row for row in table if row[0] == "source ip" and row[1] == simulated.hostile_source]
    agents = [row[1] for row in table if row[0] == "user agent"]
    assert any(agent.startswith("'" + FORMULA) for agent in agents)
    for row in table[1:]:
        for value in row:
            assert value[:1] not in ("=", "+", "-", "@", "\t", "\r"), row


def test_an_empty_period_is_a_valid_report(simulated) -> None:
    store = DuckDBStore(simulated.data / "honeyscope.duckdb")
    try:
        data = gather(store, date(2020, 1, 1), date(2020, 1, 31))
    finally:
        store.close()
    html = render_html(data)
    assert data.events == 0 and data.sources == 0
    assert data.summary[0].startswith("No events in this period")
    assert html.count("No events in this period") >= 2
    assert "<svg" not in html and html.count("<span>TLP:AMBER</span>") == 2


def test_a_store_never_written_is_a_valid_report(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "empty.duckdb")
    try:
        data = gather(store, date(2021, 3, 1), date(2021, 3, 1), tlp="red")
    finally:
        store.close()
    html = render_html(data)
    assert "No events in this period" in html and "(1 day, UTC)" in html
    assert html.count("<span>TLP:RED</span>") == 2 and "#FF2B2B" in html
