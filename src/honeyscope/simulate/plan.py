"""The day-by-day plan: who visits which sensor when, sending what — a pure function of scenario and seed.

Volumes are negative binomial (gamma–Poisson, variance μ + αμ²): per country per day for background noise
(with the weekday multipliers), per scanner per day, per campaign per day (sessions). Every mean is scaled
by the share of sensors up that day, so an outage lowers what is seen, not what is sent. Noise sources
repeat with a Zipf law (a few addresses are seen daily, most once); a visit is one connection of a few
requests seconds apart.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate

import numpy as np

from honeyscope.config import ConfigError
from honeyscope.enrich.scanners import ScannerEntry
from honeyscope.simulate.addresses import AddressBook
from honeyscope.simulate.catalogue import (
    BROWSER_AGENT,
    NOISE_AGENTS,
    PROBES,
    SCANNER_AGENTS,
    SCANNER_PROBES,
    Probe,
    random_paths,
)
from honeyscope.simulate.chains import CHECK_AGENTS, Shell
from honeyscope.simulate.scenario import CHECK_TOOLS, PROXYSHELL_CHECK_TOOLS, CampaignSettings, Scenario
from honeyscope.simulate.templates import Chain, Single, Template, random_name, random_token

#: Zipf exponent of how often noise sources come back.
_ZIPF = 1.1
#: ``nuclei``/``tsunami`` out-of-band hosts per campaign (a finite set keeps the template cache small).
_OAST_HOSTS = 24
_DAY_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class Visit:
    """One connection: a source, a sensor, a start, and what it sends."""

    start: datetime
    source_ip: str
    sensor: str
    tls: bool
    templates: tuple[Template, ...]
    #: ``noise``, ``scanner:<name>`` or ``campaign:<id>``.
    origin: str
    #: Seconds between requests.
    gap: float


@dataclass(slots=True)
class Sources:
    """Who sends: addresses per noise country, per scanner, per campaign (and the campaign's countries)."""

    noise: dict[str, list[str]] = field(default_factory=dict)
    scanners: dict[str, list[str]] = field(default_factory=dict)
    campaigns: dict[str, list[str]] = field(default_factory=dict)


def _nb(generator: np.random.Generator, mean: float, dispersion: float) -> int:
    """One negative-binomial draw with mean ``mean`` and NB2 dispersion ``dispersion``."""
    if mean <= 0:
        return 0
    return int(generator.poisson(generator.gamma(1.0 / dispersion, dispersion * mean)))


class Planner:
    """Draws each day's visits; call ``day`` for consecutive days (the generators advance)."""

    def __init__(self, scenario: Scenario, seed: int, book: AddressBook, scanners: Sequence[ScannerEntry]) -> None:
        self.scenario = scenario
        self._random = random.Random(f"honeyscope-simulate-plan-{seed}")
        self._numbers = np.random.default_rng(seed)
        self._probes = (*PROBES, *random_paths(seed))
        self.sources = self._sources(book, {entry.name: entry for entry in scanners})
        self._zipf: dict[int, list[float]] = {}
        self._shell_keys: dict[tuple[str, str], str] = {}
        self._planted: dict[tuple[str, str, str], Shell] = {}
        self._singles: dict[tuple[str, str | None], Single] = {}
        self._agents = [agent for agent, _ in NOISE_AGENTS]
        self._agent_weights = list(accumulate(weight for _, weight in NOISE_AGENTS))

    # -- sources ----------------------------------------------------------------------------------------

    def _sources(self, book: AddressBook, scanners: dict[str, ScannerEntry]) -> Sources:
        sources = Sources()
        for campaign in self.scenario.campaign:
            book.reserve(campaign.addresses)
        per_country = self.scenario.noise.addresses_per_country
        wanted: dict[str, int] = dict.fromkeys(self.scenario.noise.countries, per_country)
        for campaign in self.scenario.campaign:
            for code, count in _split(campaign.countries, campaign.address_count).items():
                wanted[code] = wanted.get(code, 0) + (1 if campaign.block else count)
        book.prepare(wanted)
        for campaign in self.scenario.campaign:
            sources.campaigns[campaign.id] = list(campaign.addresses) or self._campaign_addresses(book, campaign)
        for code in sorted(self.scenario.noise.countries):
            sources.noise[code] = book.draw(code, per_country)
        for scanner in self.scenario.scanner:
            entry = scanners.get(scanner.name)
            if entry is None or not entry.ranges:
                known = ", ".join(sorted(name for name, e in scanners.items() if e.ranges))
                raise ConfigError(f"scanner {scanner.name!r}: not a scanner with published ranges in the scanner "
                                  f"lists — use one of {known}")
            sources.scanners[scanner.name] = book.scanner_addresses(entry.label, entry.ranges, scanner.addresses)
        return sources

    def _campaign_addresses(self, book: AddressBook, campaign: CampaignSettings) -> list[str]:
        counts = _split(campaign.countries, campaign.address_count)
        if campaign.block:
            code = max(counts, key=lambda c: (counts[c], c))
            return book.block(code, campaign.address_count)
        return [address for code in sorted(counts) for address in book.draw(code, counts[code])]

    # -- days -------------------------------------------------------------------------------------------

    def day(self, day: date) -> list[Visit]:
        """Every visit of ``day``, in time order."""
        active = self.scenario.active_sensors(day)
        if not active:
            return []
        share = len(active) / self.scenario.simulation.sensors
        visits = self._noise(day, active, share) + self._scanners(day, active, share)
        for campaign in self.scenario.campaign:
            visits += self._campaign(campaign, day, active, share)
        visits.sort(key=lambda visit: (visit.start, visit.source_ip))
        return visits

    def _noise(self, day: date, active: list[str], share: float) -> list[Visit]:
        noise = self.scenario.noise
        total = sum(noise.countries.values())
        weekday = noise.weekday[day.weekday()]
        probes = [probe for probe in self._probes if probe.active(day)]
        weights = list(accumulate(probe.weight for probe in probes))
        visits: list[Visit] = []
        for code in sorted(noise.countries):
            mean = noise.daily_events * noise.countries[code] / total * weekday * share
            remaining = _nb(self._numbers, mean, noise.dispersion)
            pool = self.sources.noise[code]
            while remaining > 0:
                size = min(remaining, int(self._numbers.geometric(1.0 / noise.requests_per_session)))
                remaining -= size
                agent = self._random.choices(self._agents, cum_weights=self._agent_weights)[0]
                chosen = self._random.choices(probes, cum_weights=weights, k=size)
                tls = self._random.random() < self.scenario.simulation.https_share
                visits.append(self._visit(day, self._zipf_pick(pool), active, tls,
                                          tuple(self._single(probe, agent) for probe in chosen), "noise", 2.0))
        return visits

    def _scanners(self, day: date, active: list[str], share: float) -> list[Visit]:
        visits: list[Visit] = []
        weights = list(accumulate(probe.weight for probe in SCANNER_PROBES))
        for scanner in self.scenario.scanner:
            agent = scanner.user_agent or SCANNER_AGENTS.get(scanner.name, BROWSER_AGENT)
            remaining = _nb(self._numbers, scanner.daily_events * share, scanner.dispersion)
            pool = self.sources.scanners[scanner.name]
            while remaining > 0 and pool:
                size = min(remaining, self._random.randint(2, 5))
                remaining -= size
                chosen = self._random.choices(SCANNER_PROBES, cum_weights=weights, k=size)
                templates = tuple(self._single(probe, agent) for probe in chosen)
                visits.append(self._visit(day, self._random.choice(pool), active, self._random.random() < 0.8,
                                          templates, f"scanner:{scanner.name}", 0.5))
        return visits

    def _campaign(self, campaign: CampaignSettings, day: date, active: list[str], share: float) -> list[Visit]:
        mean = campaign_rate(campaign, day, self.scenario.simulation.start) * share
        sessions = _nb(self._numbers, mean, campaign.dispersion)
        pool = self.sources.campaigns[campaign.id]
        visits = []
        for _ in range(sessions):
            source = self._random.choice(pool)
            sensor = self._random.choice(active)
            templates, tls = self._campaign_templates(campaign, day, source, sensor)
            gap = 1.0 if campaign.kind in ("proxylogon", "proxyshell") else 2.0
            visits.append(self._visit(day, source, active, tls, templates, f"campaign:{campaign.id}", gap, sensor))
        return visits

    def _campaign_templates(self, campaign: CampaignSettings, day: date, source: str,
                            sensor: str) -> tuple[tuple[Template, ...], bool]:
        kind = campaign.kind
        if kind == "proxylogon":
            return (self._proxylogon(campaign, source, sensor),), True
        if kind == "proxyshell":
            shell = self._shell(campaign, source, "aspnet_client")
            rng = random.Random(f"{campaign.id}-mailbox-{source}")
            mailbox = f"{random_token(rng, 5).lower()}@{random_token(rng, 5).lower()}.xyz"
            return (Chain("proxyshell", shell=shell, mailbox=mailbox, agent=campaign.user_agent),), True
        if kind in ("proxylogon-check", "proxyshell-check"):
            return self._check(campaign, kind), True
        agent = campaign.user_agent or self._random.choices(self._agents, cum_weights=self._agent_weights)[0]
        probes = [probe for probe in self._probes if probe.active(day)]
        size = int(self._numbers.geometric(1.0 / campaign.requests_per_session))
        chosen = self._random.choices(probes, weights=[probe.weight for probe in probes], k=size)
        templates: tuple[Template, ...] = tuple(self._single(probe, agent) for probe in chosen)
        if campaign.checks_since is not None and day >= campaign.checks_since and self._random.random() < 0.5:
            tools = campaign.tools or list(CHECK_TOOLS)
            templates += (Chain("proxylogon-check", tool=self._random.choice(tools), agent=campaign.user_agent,
                                oast=self._oast(campaign)),)
        return templates, self._random.random() < self.scenario.simulation.https_share

    def _proxylogon(self, campaign: CampaignSettings, source: str, sensor: str) -> Chain:
        planted = self._planted.get((campaign.id, source, sensor))
        if planted is not None and self._random.random() < campaign.revisit:
            fresh = Shell(planted.name, planted.directory, planted.key, self._commands(campaign))
            return Chain("proxylogon", campaign.style, fresh, agent=campaign.user_agent, revisit=True)
        shell = self._shell(campaign, source, campaign.shell_dir)
        self._planted[(campaign.id, source, sensor)] = shell
        return Chain("proxylogon", campaign.style, shell, agent=campaign.user_agent)

    def _shell(self, campaign: CampaignSettings, source: str, directory: str) -> Shell:
        """The campaign's shell for this visit: a listed name, or the address's own random one."""
        names = campaign.shell_names or [random_name(random.Random(f"{campaign.id}-{source}"))]
        key = campaign.shell_key or self._shell_keys.setdefault(
            (campaign.id, source), random_token(random.Random(f"{campaign.id}-key-{source}"), 10))
        return Shell(self._random.choice(names), directory, key, self._commands(campaign))

    def _commands(self, campaign: CampaignSettings) -> tuple[str, ...]:
        count = min(len(campaign.commands), self._random.randint(1, 2))
        chosen = self._random.sample(campaign.commands, count) if campaign.commands else []
        return tuple(command.replace("{c2}", self._random.choice(campaign.c2)) if "{c2}" in command else command
                     for command in chosen)

    def _check(self, campaign: CampaignSettings, kind: str) -> tuple[Template, ...]:
        tools = campaign.tools or list(PROXYSHELL_CHECK_TOOLS if kind == "proxyshell-check" else CHECK_TOOLS)
        tool = self._random.choice(tools)
        check: Template = Chain(kind, tool=tool, agent=campaign.user_agent, oast=self._oast(campaign))
        if self._random.random() < 0.5:  # fingerprint first, as nuclei's workflows and MSF's check do
            agent = campaign.user_agent or CHECK_AGENTS.get(tool, BROWSER_AGENT)
            return Single("GET", "/owa/auth/logon.aspx", (("User-Agent", agent),)), check
        return (check,)

    def _oast(self, campaign: CampaignSettings) -> str:
        """An interactsh-style host (nuclei, Tsunami): recorded as a callback, never contacted."""
        index = self._random.randrange(_OAST_HOSTS)
        return f"{random_token(random.Random(f'{campaign.id}-oast-{index}'), 20).lower()}.oast.fun"

    def _single(self, probe: Probe, agent: str | None) -> Single:
        """One template object per (probe, agent): visits share it, and the template cache hashes it once."""
        found = self._singles.get((probe.name, agent))
        if found is None:
            found = self._singles[(probe.name, agent)] = _single(probe, agent)
        return found

    def _zipf_pick(self, pool: list[str]) -> str:
        weights = self._zipf.get(len(pool))
        if weights is None:
            weights = self._zipf[len(pool)] = list(accumulate(1.0 / (rank + 1) ** _ZIPF for rank in range(len(pool))))
        return self._random.choices(pool, cum_weights=weights)[0]

    def _visit(self, day: date, source: str, active: list[str], tls: bool, templates: tuple[Template, ...],
               origin: str, gap: float, sensor: str | None = None) -> Visit:
        offset = self._random.uniform(0, _DAY_SECONDS - 600)
        start = datetime.combine(day, time(0), UTC) + timedelta(seconds=round(offset, 3))
        return Visit(start, source, sensor or self._random.choice(active), tls, templates, origin,
                     round(gap * self._random.uniform(0.3, 1.7), 3))


def campaign_rate(campaign: CampaignSettings, day: date, first: date) -> float:
    """Mean sessions of ``campaign`` on ``day`` with every sensor up (0 outside its dates)."""
    start = campaign.start or first
    if day < start or (campaign.end is not None and day > campaign.end):
        return 0.0
    rate = campaign.daily_sessions
    if campaign.half_life_days is not None:
        rate *= 0.5 ** ((day - start).days / campaign.half_life_days)
    return rate


def _split(countries: dict[str, float], count: int) -> dict[str, int]:
    """``count`` addresses over countries by share (largest remainders), every listed country ≥ 1."""
    if not countries or count <= 0:
        return {}
    total = sum(countries.values())
    exact = {code: count * share / total for code, share in countries.items()}
    counts = {code: max(1, math.floor(value)) for code, value in exact.items()}
    for code in sorted(exact, key=lambda c: (exact[c] - math.floor(exact[c]), c), reverse=True):
        if sum(counts.values()) >= count:
            break
        counts[code] += 1
    return counts


def _single(probe: Probe, agent: str | None) -> Single:
    headers = list(probe.headers)
    user_agent = probe.user_agent if probe.user_agent is not None else agent
    if user_agent is not None:
        headers.insert(0, ("User-Agent", user_agent))
    return Single(probe.method, probe.target, tuple(headers), probe.body)

