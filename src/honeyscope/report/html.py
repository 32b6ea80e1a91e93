"""Render a report as one self-contained HTML file: inline CSS, inline SVG charts (``web.charts``), no script
and no external reference — printable on A4, the TLP label on every page.

The template autoescapes everything; attacker text additionally goes through ``web.present.cell`` (control
characters made visible, one line, cut). A Content-Security-Policy ``<meta>`` forbids scripts and remote
loads as a second line of defence, for the browser that opens the file and for the Chromium that prints it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Final

import jinja2
from markupsafe import Markup

from honeyscope.report.model import ReportData, TrendSection
from honeyscope.share.tlp import Tlp
from honeyscope.web import charts
from honeyscope.web.models import Series
from honeyscope.web.present import cell

#: Label colours of FIRST's TLP 2.0 standard ("Colour-coding", https://www.first.org/tlp/): text in the
#: level's colour on a black background (RGB 0,0,0). AMBER+STRICT uses AMBER's colour.
TLP_COLOURS: Final[dict[Tlp, str]] = {"clear": "#FFFFFF", "green": "#33FF00", "amber": "#FFC000",
                                      "amber+strict": "#FFC000", "red": "#FF2B2B"}
#: What each level allows, in our words (FIRST TLP 2.0 definitions).
TLP_MEANING: Final[dict[Tlp, str]] = {
    "clear": "Disclosure is not limited: recipients may share this report freely, subject to copyright.",
    "green": "Limited to the community: recipients may share it with peers and partner organisations in their "
             "community, not through publicly accessible channels.",
    "amber": "Limited disclosure: recipients may share it on a need-to-know basis only within their own "
             "organisation and with its clients.",
    "amber+strict": "Limited disclosure, restricted to the organisation: recipients may share it on a "
                    "need-to-know basis only within their own organisation.",
    "red": "For the eyes and ears of individual recipients only: no further disclosure.",
}
#: Attacker text in a table cell, and in the indicator table (characters).
CELL: Final = 160
INDICATOR_CELL: Final = 300
#: Findings drawn as a chart each, and leads (unattributed clusters with a weaker match) listed.
FINDING_CHARTS: Final = 12
LEADS: Final = 10


def tlp_label(level: Tlp) -> str:
    """``TLP:AMBER+STRICT`` — the label as FIRST writes it."""
    return f"TLP:{level.upper()}"


def render_html(data: ReportData) -> str:
    """The report as one HTML document (text)."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        data=data, tlp=tlp_label(data.tlp), tlp_colour=TLP_COLOURS[data.tlp], tlp_meaning=TLP_MEANING[data.tlp],
        charts=overview_charts(data), trend_charts=trend_charts(data.trends), ranked=ranked(data.attribution),
        leads=LEADS, days=(data.last - data.first).days + 1)


@functools.cache
def _environment() -> jinja2.Environment:
    # Autoescape on for every template whatever its name; undefined names fail loudly.
    env = jinja2.Environment(loader=jinja2.PackageLoader("honeyscope.report", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda value: f"{value:,}" if isinstance(value, int) else value
    env.filters["when"] = _when
    env.filters["country"] = lambda code: charts.country_name(code) if code else "–"
    env.filters["cell"] = lambda value, limit=CELL: cell(str(value), limit) if value not in (None, "") else ""
    return env


def _when(value: datetime | date | None) -> str:
    if value is None:
        return "–"
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else value.isoformat()


def overview_charts(data: ReportData) -> dict[str, Markup]:
    """The period's charts: map, top countries and ASNs, events per day by country and by CVE."""
    view = data.overview
    return {
        "map": charts.world_map({c.key: c.count for c in view.countries}, label="Events by source country"),
        "countries": charts.bar_chart([charts.Bar(_label(f"{c.key} {c.label or ''}"), c.count)
                                       for c in view.countries[:12]], label="Top source countries", width=560),
        "countries_daily": _lines(view.days, view.countries_daily, "Events per day by source country"),
        "cves": charts.bar_chart([charts.Bar(_label(c.key), c.count) for c in view.cves[:12]], label="Events by CVE",
                                 width=560, color=charts.PALETTE[3]),
        "cves_daily": _lines(view.days, view.cves_daily, "Events per day by CVE"),
        "asns": charts.bar_chart([charts.Bar(_label(f"AS{c.key} {c.label or ''}"), c.count) for c in view.asns],
                                 label="Top source autonomous systems (ASN)", width=560, color=charts.PALETTE[2]),
    }


def _label(text: str) -> str:
    """A chart label: AS names and keys come from data an attacker may influence; ``charts`` escapes them, this
    makes control characters visible and keeps them short."""
    return cell(text.strip(), 80) or ""


def _lines(days: Sequence[date], series: Sequence[Series], label: str) -> Markup:
    return charts.time_series(days, [charts.Line(_label(s.label or s.key if s.key == "other" else
                                                        f"{s.key} {s.label or ''}"), s.counts) for s in series],
                              label=label, width=700)


def trend_charts(sections: Sequence[TrendSection]) -> dict[tuple[tuple[str, ...], tuple[str, ...]], Markup]:
    """A daily chart per finding (its series, the onset marked), for the first ``FINDING_CHARTS`` findings."""
    drawn: dict[tuple[tuple[str, ...], tuple[str, ...]], Markup] = {}
    for section in sections:
        for finding in section.findings:
            counts = section.series.get(finding.key)
            if counts is None or len(drawn) >= FINDING_CHARTS:
                continue
            name = _label(" × ".join(finding.key))
            drawn[(finding.dimensions, finding.key)] = charts.time_series(
                section.days, [charts.Line(name, counts)], label=f"Events per day: {name}", width=700, height=180,
                marker=finding.onset, marker_label=f"onset {finding.onset}")
    return drawn


def ranked(report: Any) -> list[Any]:
    """Clusters as ``honeyscope attribute`` ranks them: attributed first, then leads by confidence."""
    if report is None:
        return []
    return sorted(report.clusters, key=lambda r: (r.actor is None, r.best is None,
                                                  -(r.best.confidence if r.best else 0), r.first_seen, r.cluster))
