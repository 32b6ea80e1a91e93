"""What a report shows: one plain data model, gathered from the store (``gather``) and rendered (``html``).

Nothing here is escaped or formatted for a medium: attacker text stays as stored (cut where the analysis
cut it) and each renderer escapes for its own output (HTML autoescape, CSV formula guard).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from honeyscope.analysis.trends import TrendFinding, TrendReport
from honeyscope.share.tlp import Tlp
from honeyscope.store.base import SourceSummary
from honeyscope.web.models import Overview


@dataclass(frozen=True, slots=True)
class TrendSection:
    """One trend run (one dimension or a pair): its report, or why it could not run."""

    dimensions: tuple[str, ...]
    report: TrendReport | None
    #: Daily counts of each finding's series, aligned with ``days`` (for its chart).
    days: list[date] = field(default_factory=list)
    series: dict[tuple[str, ...], list[int]] = field(default_factory=dict)
    error: str | None = None

    @property
    def findings(self) -> list[TrendFinding]:
        return self.report.findings if self.report is not None else []


@dataclass(frozen=True, slots=True)
class SourceIndicator:
    """A source address that sent requests matching a CVE rule in the period: the store's summary of it."""

    source: SourceSummary
    #: A known research scanner, or the actor its cluster is attributed to.
    note: str = ""


@dataclass(frozen=True, slots=True)
class ObservedIndicator:
    """Another indicator seen in the period's sessions: a web-shell path, a user agent, an artifact hash or a
    callback host, with how many sessions and sources showed it and when."""

    kind: str
    value: str
    sessions: int
    sources: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class DataSource:
    """Where a number in the report comes from, with its date or version when known."""

    name: str
    detail: str


@dataclass(slots=True)
class ReportData:
    """Everything one report shows, for the UTC days ``first`` .. ``last`` (inclusive)."""

    first: date
    last: date
    tlp: Tlp
    generated: datetime
    store: str
    overview: Overview
    #: Attack events (every type but sensor lifecycle reports), distinct source addresses and countries.
    events: int
    sources: int
    countries: int
    #: Events read for sessions and attribution; ``truncated`` when the period held more than the cap.
    events_read: int
    truncated: bool
    trends: list[TrendSection]
    #: ``honeyscope.analysis.attribution.AttributionReport`` (Any: attribution is imported when gathered).
    attribution: Any
    attribution_error: str | None
    source_indicators: list[SourceIndicator]
    observed_indicators: list[ObservedIndicator]
    data_sources: list[DataSource]
    summary: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.events == 0
