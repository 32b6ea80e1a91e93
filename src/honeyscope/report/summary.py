"""The executive summary: a few sentences built from the report's own numbers (nothing here is computed
anew — each number is one the report shows in detail further down)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from honeyscope.web.charts import country_name

if TYPE_CHECKING:
    from honeyscope.report.model import ReportData, TrendSection

#: Countries, CVEs and trend sentences named in the summary at most.
NAMED: Final = 3


def executive_summary(data: ReportData) -> list[str]:
    """Sentences for managers: volume, where from, which exploits, what rose, who is behind it."""
    days = (data.last - data.first).days + 1
    period = f"{data.first} to {data.last} ({days} day{'s' if days != 1 else ''}, UTC)"
    if data.empty:
        return [f"No events in this period: the store holds no attack events from {period}. Either the sensors "
                "were not running or not reachable, or the period lies outside the data collected."]
    sensors = len(data.overview.sensors)
    sentences = [f"From {period}, {sensors} sensor{'s' if sensors != 1 else ''} recorded {data.events:,} attack "
                 f"events from {data.sources:,} distinct source addresses in {data.countries} countries."]
    sentences += [s for s in (_countries(data), _cves(data), _trends(data.trends), _attribution(data)) if s]
    return sentences


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.0f}%" if total else "–"


def _countries(data: ReportData) -> str:
    top = data.overview.countries[:NAMED]
    located = sum(c.count for c in data.overview.countries)
    if not top:
        return "No source address could be geolocated."
    named = _join([f"{country_name(c.key)} ({c.count:,} events, {_share(c.count, located)})" for c in top])
    return (f"Most geolocated events came from {named}; this is where the traffic came from, not who sent it "
            "(source geography is not attribution).")


def _cves(data: ReportData) -> str:
    top = data.overview.cves[:NAMED]
    if not top:
        return "No request matched a detection rule for a known vulnerability (CVE)."
    return f"The most exploited vulnerabilities were {_join([f'{c.key} ({c.count:,} events)' for c in top])}."


def _trends(sections: list[TrendSection]) -> str:
    seen: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    rising = []
    for section in sections:
        for finding in section.findings:
            if finding.direction == "increase" and (finding.dimensions, finding.key) not in seen:
                seen.add((finding.dimensions, finding.key))
                rising.append(finding.sentence)
    if not any(section.report is not None and section.report.tested for section in sections):
        return "The period was too short or too quiet for the trend analysis to test any series."
    if not rising:
        return "The trend analysis found no sustained increase."
    shown = "; ".join(rising[:NAMED]) + (f"; and {len(rising) - NAMED} more" if len(rising) > NAMED else "")
    return f"The trend analysis found {len(rising)} sustained increase{'s' if len(rising) != 1 else ''}: {shown}."


def _attribution(data: ReportData) -> str:
    report: Any = data.attribution
    if report is None:
        return f"Attribution did not run: {data.attribution_error}." if data.attribution_error else ""
    clusters = len(report.clusters)
    attributed = [r for r in report.clusters if r.actor is not None]
    opening = f"The {report.sessions:,} sessions form {clusters:,} activity clusters"
    if not attributed:
        return (f"{opening}; none is attributed to a known actor with at least medium confidence "
                "(unattributed is a valid result).")
    named = _join([f"{r.actor_name} ({r.level} confidence, {r.confidence}/100: {str(r.words).lower()})"
                   for r in sorted(attributed, key=lambda r: -(r.confidence or 0))[:NAMED]])
    more = f" and {len(attributed) - NAMED} more" if len(attributed) > NAMED else ""
    return f"{opening}; {len(attributed)} attributed: {named}{more}."


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
