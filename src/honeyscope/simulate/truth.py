"""The ground truth written beside a simulation: who did what from where and when, and which series grew.

``DIR/simulation/ground-truth.json`` (format below and in docs/simulate.md). Campaigns list their source
addresses (no two origins share one), their sessions (ids as ``analysis.sessions`` computes them with the
default 30-minute gap) and every event id. Trend truths are computed from the design, not from what the
analysis finds: the expected daily events of every (country, CVE) series — noise probes, scanners and
campaigns at their designed rates, spread over the countries of their addresses, times the events per
session that carry the CVE — and a series has a sustained increase where a source starts and its expected
rate at least doubles from the day before to at least ``MIN_DAILY`` events a day, then stays above half-way
between the two levels for ``MIN_SUSTAINED`` days or more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final

import msgspec
import numpy as np

from honeyscope.analysis.sessions import DEFAULT_GAP, session_id
from honeyscope.config import ConfigError
from honeyscope.simulate.catalogue import PROBES, Probe, random_paths
from honeyscope.simulate.plan import campaign_rate
from honeyscope.simulate.scenario import CampaignSettings, Scenario

FORMAT: Final = "honeyscope-simulation/1"
TRUTH_FILE: Final = "ground-truth.json"
SCENARIO_FILE: Final = "scenario.toml"
#: A series' expected rate after the onset must reach this many events a day to count as a truth.
MIN_DAILY: Final = 2.0
#: … be at least this many times the rate before …
MIN_RATIO: Final = 2.0
#: … and hold for at least this many days (the trend analysis' default ``min_sustained_days``).
MIN_SUSTAINED: Final = 7


class CampaignTruth(msgspec.Struct, kw_only=True):
    """One campaign as generated."""

    id: str
    #: The actor a correct attribution names; None: nobody in particular (must stay unattributed).
    actor: str | None
    kind: str
    description: str = ""
    source: str = ""
    #: First and last day the campaign was active in the simulation (None: never).
    first_day: date | None = None
    last_day: date | None = None
    cves: list[str] = msgspec.field(default_factory=list)
    source_ips: list[str] = msgspec.field(default_factory=list)
    #: Source addresses per country, as enrichment places them.
    countries: dict[str, int] = msgspec.field(default_factory=dict)
    visits: int = 0
    events: int = 0
    session_ids: list[str] = msgspec.field(default_factory=list)
    event_ids: list[str] = msgspec.field(default_factory=list)


class ScannerTruth(msgspec.Struct, kw_only=True):
    """One research scanner as generated."""

    name: str
    source_ips: list[str]
    events: int = 0


class TrendTruth(msgspec.Struct, kw_only=True):
    """A series with a sustained increase: its key, the onset day and the expected rates around it."""

    dimensions: list[str]
    key: list[str]
    onset: date
    baseline_daily: float
    elevated_daily: float
    sustained_days: int
    #: What starts on the onset day (campaign ids, ``probe:<name>``).
    causes: list[str]


class GroundTruth(msgspec.Struct, kw_only=True):
    """``ground-truth.json``: the run, its exposure, volumes, campaigns and trend truths."""

    format: str = FORMAT
    #: ``store`` or ``sensor``.
    mode: str
    seed: int
    start: date
    days: int
    noise_only: bool = False
    scenario_file: str = SCENARIO_FILE
    sensors: list[str] = msgspec.field(default_factory=list)
    #: Sensors up per day (outages: fewer or 0).
    exposure: dict[date, int] = msgspec.field(default_factory=dict)
    events: int = 0
    noise_events: int = 0
    #: Background events per country.
    noise_countries: dict[str, int] = msgspec.field(default_factory=dict)
    scanners: list[ScannerTruth] = msgspec.field(default_factory=list)
    campaigns: list[CampaignTruth] = msgspec.field(default_factory=list)
    trends: list[TrendTruth] = msgspec.field(default_factory=list)

    def campaign_of(self) -> dict[str, CampaignTruth]:
        """Campaign by source address."""
        return {ip: campaign for campaign in self.campaigns for ip in campaign.source_ips}


def write_truth(truth: GroundTruth, directory: Path) -> Path:
    """Write ``ground-truth.json`` into ``directory``; returns its path."""
    path = directory / TRUTH_FILE
    path.write_bytes(msgspec.json.format(msgspec.json.encode(truth), indent=1) + b"\n")
    return path


def read_truth(data_dir: Path) -> GroundTruth:
    """The ground truth of the simulation in ``data_dir``; a clear error when there is none."""
    path = data_dir / "simulation" / TRUTH_FILE
    try:
        truth = msgspec.json.decode(path.read_bytes(), type=GroundTruth)
    except FileNotFoundError:
        raise ConfigError(f"no ground truth at {path} — run 'honeyscope simulate --data {data_dir}' first") from None
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise ConfigError(f"{path}: not a ground-truth file ({error}) — re-run honeyscope simulate") from None
    if truth.format != FORMAT:
        raise ConfigError(f"{path}: format {truth.format!r}, this honeyscope reads {FORMAT!r} — re-run simulate")
    return truth


def session_ids(stamps: Sequence[tuple[datetime, str, str]], gap: timedelta = DEFAULT_GAP) -> list[str]:
    """Session ids of one origin's events (time, id, address), split as ``SessionBuilder`` splits them."""
    found: list[str] = []
    last: dict[str, datetime] = {}
    for moment, event_id, address in sorted(stamps):
        previous = last.get(address)
        if previous is None or moment - previous > gap:
            found.append(session_id(address, event_id))
        last[address] = moment
    return found


@dataclass(frozen=True, slots=True)
class Rates:
    """What the trend truths are computed from, besides the scenario."""

    #: Campaign id → country → share of its addresses.
    campaign_countries: dict[str, dict[str, float]]
    #: (campaign id, phase) → CVE → mean events carrying it per session (phase 1: a scan's checks are on).
    per_session: dict[tuple[str, int], dict[str, float]]


def trend_truths(scenario: Scenario, rates: Rates, seed: int) -> list[TrendTruth]:
    """Every (country, CVE) series with a sustained increase by design."""
    days = scenario.days
    expected, causes = _expected(scenario, rates, seed)
    onsets = _onsets(scenario, days)
    truths: list[TrendTruth] = []
    for key in sorted(expected):
        series = expected[key]
        for index in sorted(onsets):
            truth = _step(series, index, days)
            if truth is None:
                continue
            baseline, elevated, sustained = truth
            started = sorted(onsets[index] & causes.get(key, set()))
            if not started:
                continue
            truths.append(TrendTruth(dimensions=["country", "cve"], key=list(key), onset=days[index],
                                     baseline_daily=round(baseline, 3), elevated_daily=round(elevated, 3),
                                     sustained_days=sustained, causes=started))
    return truths


def _step(series: np.ndarray, index: int, days: Sequence[date]) -> tuple[float, float, int] | None:
    """(baseline, elevated, sustained days) when the expected rate steps up at ``index``.

    Expected rates carry no noise: the baseline is the rate of the day before and the elevated rate the
    onset day's (a source joining days later is a step of its own, or none)."""
    if index < MIN_SUSTAINED or index + MIN_SUSTAINED > len(days):
        return None
    baseline, elevated = float(series[index - 1]), float(series[index])
    if elevated < MIN_DAILY or elevated < MIN_RATIO * baseline:
        return None
    # Held while the rate stays above half-way between the two levels (a later, further rise is no end).
    above = series[index:] >= baseline + (elevated - baseline) / 2
    sustained = int(np.argmin(above)) if not above.all() else len(above)
    return (baseline, elevated, sustained) if sustained >= MIN_SUSTAINED else None


def _onsets(scenario: Scenario, days: Sequence[date]) -> dict[int, set[str]]:
    """Day index → what starts that day."""
    index = {day: position for position, day in enumerate(days)}
    found: dict[int, set[str]] = {}
    for campaign in scenario.campaign:
        for start in (campaign.start, campaign.checks_since):
            if start is not None and start in index:
                found.setdefault(index[start], set()).add(campaign.id)
    for probe in PROBES:
        if probe.since is not None and probe.since in index and probe.cves:
            found.setdefault(index[probe.since], set()).add(f"probe:{probe.name}")
    return found


def _expected(scenario: Scenario, rates: Rates,
              seed: int) -> tuple[dict[tuple[str, str], np.ndarray], dict[tuple[str, str], set[str]]]:
    """Expected events per (country, CVE) and day, and which sources feed each series."""
    days = scenario.days
    share = np.array([len(scenario.active_sensors(day)) / scenario.simulation.sensors for day in days])
    expected: dict[tuple[str, str], np.ndarray] = {}
    causes: dict[tuple[str, str], set[str]] = {}

    def add(key: tuple[str, str], values: np.ndarray, cause: str) -> None:
        expected[key] = expected.get(key, np.zeros(len(days))) + values
        causes.setdefault(key, set()).add(cause)

    probes = (*PROBES, *random_paths(seed))
    noise = scenario.noise
    total = sum(noise.countries.values())
    weekday = np.array([noise.weekday[day.weekday()] for day in days])
    for cve, fraction, names in _probe_fractions(probes, days):
        for code, weight in noise.countries.items():
            values = noise.daily_events * weight / total * weekday * share * fraction
            for name in names:
                add((code, cve), values, f"probe:{name}")
    for campaign in scenario.campaign:
        sessions = np.array([campaign_rate(campaign, day, days[0]) for day in days]) * share
        phase = np.array([_phase(campaign, day) for day in days])
        for code, country_share in rates.campaign_countries.get(campaign.id, {}).items():
            for which in (0, 1):
                for cve, per_session in rates.per_session.get((campaign.id, which), {}).items():
                    values = sessions * country_share * per_session * (phase == which)
                    if values.any():
                        add((code, cve), values, campaign.id)
    return expected, causes


def _phase(campaign: CampaignSettings, day: date) -> int:
    return int(campaign.checks_since is not None and day >= campaign.checks_since)


def _probe_fractions(probes: Sequence[Probe], days: Sequence[date]) -> list[tuple[str, np.ndarray, list[str]]]:
    """Per CVE: the share of noise requests carrying it each day, and the probes that carry it."""
    totals = np.array([sum(p.weight for p in probes if p.active(day)) for day in days])
    by_cve: dict[str, tuple[np.ndarray, list[str]]] = {}
    for probe in probes:
        if not probe.cves:
            continue
        active = np.array([probe.weight if probe.active(day) else 0.0 for day in days])
        for cve in probe.cves:
            values, names = by_cve.get(cve, (np.zeros(len(days)), []))
            by_cve[cve] = (values + active / totals, [*names, probe.name])
    return [(cve, values, names) for cve, (values, names) in sorted(by_cve.items())]


def country_shares(addresses: Sequence[str], countries: Mapping[str, str | None]) -> dict[str, float]:
    """Share of the addresses in each country (addresses without a country are left out)."""
    known = [countries.get(address) for address in addresses]
    placed = [code for code in known if code]
    return {code: placed.count(code) / len(addresses) for code in sorted(set(placed))} if addresses else {}
