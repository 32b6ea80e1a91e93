"""Counting what a simulation generated, per origin, into the ground truth."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from honeyscope.events.schema import HttpRequestEvent
from honeyscope.simulate.plan import Sources
from honeyscope.simulate.scenario import Scenario
from honeyscope.simulate.truth import CampaignTruth, GroundTruth, Rates, ScannerTruth, session_ids, trend_truths


@dataclass(slots=True)
class _Campaign:
    visits: int = 0
    events: int = 0
    first: date | None = None
    last: date | None = None
    stamps: list[tuple[datetime, str, str]] = field(default_factory=list)
    #: phase → sessions, and phase → CVE → events carrying it.
    sessions: Counter[int] = field(default_factory=Counter)
    cves: dict[int, Counter[str]] = field(default_factory=dict)


class Tally:
    """Events and visits per origin (``noise``, ``scanner:<name>``, ``campaign:<id>``)."""

    def __init__(self, scenario: Scenario, sources: Sources, countries: dict[str, str | None]) -> None:
        self.scenario = scenario
        self.sources = sources
        self.countries = countries
        self.events = 0
        self.noise: Counter[str] = Counter()
        self.scanners: Counter[str] = Counter()
        self.campaigns = {campaign.id: _Campaign() for campaign in scenario.campaign}

    def visit(self, origin: str, day: date, phase: int) -> None:
        """One visit (a session) of ``origin`` on ``day``."""
        kind, _, name = origin.partition(":")
        if kind == "campaign":
            found = self.campaigns[name]
            found.visits += 1
            found.sessions[phase] += 1
            found.first = day if found.first is None else min(found.first, day)
            found.last = day if found.last is None else max(found.last, day)

    def event(self, origin: str, phase: int, event: HttpRequestEvent) -> None:
        """One event, after detection (its CVEs are counted for the trend truths)."""
        self.events += 1
        kind, _, name = origin.partition(":")
        if kind == "noise":
            self.noise[self.countries.get(event.source.ip) or "unknown"] += 1
        elif kind == "scanner":
            self.scanners[name] += 1
        else:
            found = self.campaigns[name]
            found.events += 1
            found.stamps.append((event.timestamp, event.event.id, event.source.ip))
            cves = found.cves.setdefault(phase, Counter())
            cves.update({cve for detection in event.honeyscope.detections for cve in detection.cves})

    def truth(self, *, mode: str, seed: int, noise_only: bool, trends: bool,
              sensors: list[str] | None = None) -> GroundTruth:
        """The ground truth; ``sensors`` replaces the scenario's (sensor mode runs one, in real time)."""
        scenario = self.scenario
        campaigns = [self._campaign_truth(c.id) for c in scenario.campaign]
        exposure = {day: len(scenario.active_sensors(day)) for day in scenario.days} if sensors is None else {}
        truth = GroundTruth(
            mode=mode, seed=seed, start=scenario.simulation.start, days=scenario.simulation.days,
            noise_only=noise_only, sensors=sensors or scenario.sensor_names(), exposure=exposure,
            events=self.events,
            noise_events=sum(self.noise.values()), noise_countries=dict(sorted(self.noise.items())),
            scanners=[ScannerTruth(name=s.name, source_ips=self.sources.scanners.get(s.name, []),
                                   events=self.scanners[s.name]) for s in scenario.scanner],
            campaigns=campaigns)
        if trends:
            truth.trends = trend_truths(scenario, self.rates(), seed)
        return truth

    def rates(self) -> Rates:
        """Campaigns' country shares and CVE events per session, for the trend truths."""
        shares: dict[str, dict[str, float]] = {}
        per_session: dict[tuple[str, int], dict[str, float]] = {}
        for campaign_id, found in self.campaigns.items():
            addresses = self.sources.campaigns.get(campaign_id, [])
            placed = [self.countries.get(address) for address in addresses]
            shares[campaign_id] = {code: placed.count(code) / len(addresses)
                                   for code in sorted({c for c in placed if c})} if addresses else {}
            for phase, sessions in found.sessions.items():
                counted = found.cves.get(phase, Counter())
                per_session[(campaign_id, phase)] = {cve: n / sessions for cve, n in sorted(counted.items())}
        return Rates(campaign_countries=shares, per_session=per_session)

    def _campaign_truth(self, campaign_id: str) -> CampaignTruth:
        settings = next(c for c in self.scenario.campaign if c.id == campaign_id)
        found = self.campaigns[campaign_id]
        addresses = self.sources.campaigns.get(campaign_id, [])
        countries = Counter(code for address in addresses if (code := self.countries.get(address)))
        return CampaignTruth(
            id=campaign_id, actor=settings.actor or None, kind=settings.kind, description=settings.description,
            source=settings.source, first_day=found.first, last_day=found.last, cves=settings.truth_cves(),
            source_ips=list(addresses), countries=dict(sorted(countries.items())), visits=found.visits,
            events=found.events, session_ids=session_ids(found.stamps),
            event_ids=[event_id for _, event_id, _ in sorted(found.stamps)])
