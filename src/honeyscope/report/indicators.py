"""The indicator table: source addresses that exploited, and what the period's sessions left behind (web-shell
paths, user agents of alerting sessions, artifact hashes, callback hosts); and its CSV form.

Values are attacker text as the session analysis kept them (each cut at ``sessions.MAX_TEXT``); the HTML
template escapes them and the CSV guards every cell against spreadsheet formulas (``web.present.csv_safe``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from honeyscope.analysis.sessions import SessionSummary
from honeyscope.report.model import ObservedIndicator, ReportData, SourceIndicator
from honeyscope.store.base import SourceSummary
from honeyscope.web.present import csv_safe

#: Source addresses listed at most (most events first).
MAX_SOURCES: Final = 500
#: Indicators of each other kind listed at most (most sessions first).
MAX_PER_KIND: Final = 200
#: Kinds of ``ObservedIndicator`` in the order the table lists them.
KINDS: Final = ("web-shell path", "artifact sha256", "callback host", "user agent")
#: Columns of the CSV.
CSV_COLUMNS: Final = ("type", "value", "country", "asn", "as_org", "events", "sessions", "sources", "cves",
                      "first_seen", "last_seen", "note")


def source_indicators(summaries: Iterable[SourceSummary], sessions: Sequence[SessionSummary],
                      attribution: Any) -> list[SourceIndicator]:
    """Sources whose requests matched a CVE rule, or that belong to an attributed cluster, most events first;
    noted with the research scanner or the actor they belong to."""
    scanners = {s.source_ip: s.scanner for s in sessions if s.scanner}
    actors: dict[str, str] = {}
    for result in getattr(attribution, "clusters", []) or []:
        if result.actor is not None:
            for ip in result.source_ips:
                actors.setdefault(ip, f"{result.actor_name} ({result.level} {result.confidence})")
    chosen = [s for s in summaries if s.cves or s.source_ip in actors]
    chosen.sort(key=lambda s: (-s.events, s.source_ip))
    return [SourceIndicator(s, _note(actors.get(s.source_ip), scanners.get(s.source_ip))) for s in chosen[:MAX_SOURCES]]


def _note(actor: str | None, scanner: str | None) -> str:
    parts = ([f"attributed: {actor}"] if actor else []) + ([f"known scanner: {scanner}"] if scanner else [])
    return "; ".join(parts)


@dataclass(slots=True)
class _Tally:
    first_seen: datetime
    last_seen: datetime
    sessions: int = 0
    sources: set[str] = field(default_factory=set)


def observed_indicators(sessions: Iterable[SessionSummary]) -> list[ObservedIndicator]:
    """Web-shell paths, artifact hashes and callback hosts of every session, and the user agents of sessions
    that matched a rule; each with the sessions and sources that showed it."""
    tallies: dict[tuple[str, str], _Tally] = {}
    for session in sessions:
        values = {"web-shell path": session.webshells, "artifact sha256": session.artifacts,
                  "callback host": session.callbacks,
                  "user agent": session.user_agents if session.alerts else []}
        for kind, found in values.items():
            for value in found:
                tally = tallies.setdefault((kind, value), _Tally(session.first_seen, session.last_seen))
                tally.sessions += 1
                tally.sources.add(session.source_ip)
                tally.first_seen = min(tally.first_seen, session.first_seen)
                tally.last_seen = max(tally.last_seen, session.last_seen)
    result: list[ObservedIndicator] = []
    for kind in KINDS:
        ranked = sorted(((value, t) for (k, value), t in tallies.items() if k == kind),
                        key=lambda item: (-item[1].sessions, item[0]))
        result += [ObservedIndicator(kind=kind, value=value, sessions=t.sessions, sources=len(t.sources),
                                     first_seen=t.first_seen, last_seen=t.last_seen)
                   for value, t in ranked[:MAX_PER_KIND]]
    return result


def csv_rows(data: ReportData) -> Iterable[list[str]]:
    """The indicator table as CSV rows (header first), every cell guarded against formulas."""
    yield list(CSV_COLUMNS)
    for indicator in data.source_indicators:
        s = indicator.source
        yield [csv_safe(cell) for cell in ("source ip", s.source_ip, s.country, s.asn, s.as_org, s.events, "", "",
                                           " ".join(s.cves), _when(s.first_seen), _when(s.last_seen), indicator.note)]
    for o in data.observed_indicators:
        yield [csv_safe(cell) for cell in (o.kind, o.value, "", "", "", "", o.sessions, o.sources, "",
                                           _when(o.first_seen), _when(o.last_seen), "")]


def write_csv(path: Path, data: ReportData) -> int:
    """Write the indicator table to ``path``; the number of indicator rows."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows(csv_rows(data))
    return len(data.source_indicators) + len(data.observed_indicators)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
