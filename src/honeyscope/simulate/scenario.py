"""What a simulation generates: sensors, background noise, research scanners and campaigns (a TOML file).

The format (``docs/simulate.md``)::

    [simulation]            start, days, sensors, sensor_prefix, host, https_share
    [noise]                 daily_events, dispersion, weekday, countries, addresses_per_country, ...
    [[scanner]]             name (as in the bundled scanner list), daily_events, user_agent, addresses
    [[campaign]]            id, actor, kind, style, start, end, daily_sessions, addresses | countries, ...
    [[outage]]              start, end, sensors

Every option has a default; ``default_scenario()`` is the built-in one (``honeyscope simulate
--print-scenario`` writes it out to edit). A wrong key or value is one ``ConfigError`` line naming it.
"""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Final, Literal

import msgspec

from honeyscope.config import ConfigError, explain_validation_error

CampaignKind = Literal["proxylogon", "proxylogon-check", "proxyshell", "proxyshell-check", "scan"]
#: How a full ProxyLogon chain is played: as logged in the wild in March 2021, or as Metasploit's
#: exchange_proxylogon_rce module sends it (exchange-facts.md B.3; its shells always go to owa/auth).
ChainStyle = Literal["in-the-wild", "metasploit"]
#: Vulnerability checks (exchange-facts.md B.2, B.6).
CHECK_TOOLS: Final = ("css-nse", "metasploit", "nuclei", "goby", "lijiejie", "zeop", "tsunami")
PROXYSHELL_CHECK_TOOLS: Final = ("gossithedog", "nuclei")
#: Where a planted web shell lives, as the URL path prefix the attacker requests it under.
ShellDir = Literal["owa/auth", "aspnet_client", "aspnet_client/system_web"]

#: CVEs a campaign of each kind exploits (ground truth when the campaign does not list its own).
DEFAULT_CVES: Final[dict[str, tuple[str, ...]]] = {
    "proxylogon": ("CVE-2021-26855", "CVE-2021-27065"),
    "proxylogon-check": ("CVE-2021-26855",),
    "proxyshell": ("CVE-2021-34473", "CVE-2021-34523", "CVE-2021-31207"),
    "proxyshell-check": ("CVE-2021-34473",),
    "scan": (),
}


class SimulationSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The period and the sensors."""

    start: date = date(2021, 1, 1)
    days: int = 120
    #: Sensors, named ``<sensor_prefix>-01``, ``-02``, …; each is one decoy on the internet.
    sensors: int = 5
    sensor_prefix: str = "decoy"
    #: Host name the decoys answer for (Host header, TLS server name).
    host: str = "mail.contoso.com"
    #: Share of background requests sent over HTTPS (the rest over plain HTTP).
    https_share: float = 0.7


class NoiseSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Background internet noise: probes from many countries at a steady, overdispersed daily rate."""

    #: Mean requests per day from all countries together, with every sensor up, before the weekday factor.
    daily_events: float = 1200.0
    #: Negative-binomial dispersion α of each country's daily count (variance μ + αμ²).
    dispersion: float = 0.15
    #: Multipliers Monday … Sunday.
    weekday: list[float] = msgspec.field(default_factory=lambda: [1.05, 1.08, 1.05, 1.02, 1.0, 0.9, 0.9])
    #: Relative share of each country (ISO 3166 codes); normalised.
    countries: dict[str, float] = msgspec.field(default_factory=lambda: {"US": 18.0, "CN": 12.0, "DE": 5.0})
    #: Distinct source addresses per country; a few are busy, most are seen rarely (Zipf).
    addresses_per_country: int = 200
    #: Mean requests per visit (one source, one connection, a few seconds).
    requests_per_session: float = 2.5


class ScannerSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A research scanner from the bundled list (``enrich/data/scanners.toml``), from its published ranges."""

    name: str
    daily_events: float = 20.0
    #: Its User-Agent; by default the one its list entry documents, else a plain browser string.
    user_agent: str = ""
    #: Addresses used, taken in order from its ranges.
    addresses: int = 8
    dispersion: float = 0.2


class CampaignSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Attacker activity with a ground truth: who (``actor``, empty for "nobody in particular"), what,
    from where and when."""

    id: str
    #: The knowledge-base actor id a correct attribution names (e.g. ``hafnium``); empty: none should.
    actor: str = ""
    description: str = ""
    #: Public source of the campaign's facts (addresses, web-shell names, dates).
    source: str = ""
    kind: CampaignKind = "proxylogon"
    style: ChainStyle = "in-the-wild"
    #: Check tools used by ``*-check`` campaigns (default: all) and by ``scan`` campaigns from ``checks_since``.
    tools: list[str] = msgspec.field(default_factory=list)
    #: First and last day (inclusive); empty: the whole simulated period.
    start: date | None = None
    end: date | None = None
    #: Mean sessions per day with every sensor up; negative binomial with ``dispersion``.
    daily_sessions: float = 1.0
    dispersion: float = 0.3
    #: The daily rate halves every this many days after ``start`` (a wave that fades); empty: steady.
    half_life_days: float | None = None
    #: Source addresses: listed, or ``address_count`` generated in ``countries`` (relative shares).
    addresses: list[str] = msgspec.field(default_factory=list)
    countries: dict[str, float] = msgspec.field(default_factory=dict)
    address_count: int = 0
    #: Generated addresses all in one /24 (one rented block), not spread over the country.
    block: bool = False
    #: Web shells planted (one per session, drawn from the list), where, and their password.
    shell_names: list[str] = msgspec.field(default_factory=list)
    shell_dir: ShellDir = "owa/auth"
    #: China Chopper key; empty: one per source address (unrelated operators).
    shell_key: str = ""
    #: Commands sent through the web shell; ``{c2}`` becomes one of ``c2`` (download cradles).
    commands: list[str] = msgspec.field(default_factory=lambda: ["cmd /c whoami"])
    c2: list[str] = msgspec.field(default_factory=list)
    #: Share of sessions that only use a shell planted earlier (from the same address).
    revisit: float = 0.0
    #: User-Agent of ``scan`` and check requests (checks default to the tool's own).
    user_agent: str = ""
    #: Mean requests per ``scan`` session.
    requests_per_session: float = 4.0
    #: A ``scan`` campaign adds ProxyLogon checks (``tools``) from this day on.
    checks_since: date | None = None
    #: Ground-truth CVEs; by default the kind's (``DEFAULT_CVES``).
    cves: list[str] = msgspec.field(default_factory=list)
    #: Kept in noise-only runs, at a constant rate over the whole period (dates ignored).
    noise_only: bool = False

    def truth_cves(self) -> list[str]:
        """The CVEs this campaign is known to exploit."""
        return list(self.cves) if self.cves else list(DEFAULT_CVES[self.kind])


class Outage(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Sensors down from ``start`` to ``end`` (inclusive); an empty list means every sensor."""

    start: date
    end: date
    sensors: list[str] = msgspec.field(default_factory=list)


class Scenario(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A whole scenario file."""

    simulation: SimulationSettings = msgspec.field(default_factory=SimulationSettings)
    noise: NoiseSettings = msgspec.field(default_factory=NoiseSettings)
    scanner: list[ScannerSettings] = msgspec.field(default_factory=list)
    campaign: list[CampaignSettings] = msgspec.field(default_factory=list)
    outage: list[Outage] = msgspec.field(default_factory=list)

    @property
    def days(self) -> list[date]:
        """Every simulated day."""
        first = self.simulation.start
        return [first + timedelta(days=offset) for offset in range(self.simulation.days)]

    def sensor_names(self) -> list[str]:
        """``decoy-01``, ``decoy-02``, …"""
        prefix = self.simulation.sensor_prefix
        return [f"{prefix}-{index:02d}" for index in range(1, self.simulation.sensors + 1)]

    def active_sensors(self, day: date) -> list[str]:
        """Sensors up on ``day`` (outages removed)."""
        down: set[str] = set()
        for outage in self.outage:
            if outage.start <= day <= outage.end:
                down |= set(outage.sensors or self.sensor_names())
        return [name for name in self.sensor_names() if name not in down]


def parse_scenario(text: str, origin: str) -> Scenario:
    """A scenario from TOML text, checked; problems raise one-line ``ConfigError``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{origin}: not valid TOML ({error}) — fix the syntax at that line") from None
    try:
        scenario = msgspec.convert(data, Scenario)
    except msgspec.ValidationError as error:
        message = str(explain_validation_error(error, origin)).replace("docs/configuration.md", "docs/simulate.md")
        raise ConfigError(message) from None
    check_scenario(scenario, origin)
    return scenario


def load_scenario(path: Path | None) -> Scenario:
    """The scenario file at ``path``, or the built-in default."""
    if path is None:
        from honeyscope.simulate.default import DEFAULT_SCENARIO

        return parse_scenario(DEFAULT_SCENARIO, "built-in scenario")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found — pass an existing scenario file with --scenario "
                          "(honeyscope simulate --print-scenario writes the default one)") from None
    return parse_scenario(text, str(path))


def with_period(scenario: Scenario, *, start: date | None = None, days: int | None = None) -> Scenario:
    """The scenario with its period replaced by the command line's."""
    simulation = scenario.simulation
    if start is not None:
        simulation = msgspec.structs.replace(simulation, start=start)
    if days is not None:
        simulation = msgspec.structs.replace(simulation, days=days)
    changed = msgspec.structs.replace(scenario, simulation=simulation)
    check_scenario(changed, "the command line")
    return changed


def noise_only(scenario: Scenario) -> Scenario:
    """Background, research scanners and the campaigns marked ``noise_only``, each at a constant rate over
    the whole period (a scan that adds checks on some day adds them from the first day)."""
    first = scenario.simulation.start
    kept = [msgspec.structs.replace(c, start=None, end=None, half_life_days=None,
                                    checks_since=first if c.checks_since is not None else None)
            for c in scenario.campaign if c.noise_only]
    return msgspec.structs.replace(scenario, campaign=kept)


def check_scenario(scenario: Scenario, origin: str) -> None:
    """Values msgspec's types cannot check: ranges, unique ids, known tools, country codes."""
    sim = scenario.simulation
    _require(sim.days >= 1, origin, f"simulation.days = {sim.days}: simulate at least 1 day")
    _require(sim.days <= 3660, origin, f"simulation.days = {sim.days}: at most 3660 (ten years)")
    _require(1 <= sim.sensors <= 100, origin, f"simulation.sensors = {sim.sensors}: use 1 to 100")
    _require(0.0 <= sim.https_share <= 1.0, origin, "simulation.https_share must lie in 0..1, e.g. 0.7")
    noise = scenario.noise
    _require(noise.daily_events >= 0, origin, "noise.daily_events must be 0 or more")
    _require(noise.dispersion > 0, origin, "noise.dispersion must be positive, e.g. 0.15")
    _require(len(noise.weekday) == 7 and all(w > 0 for w in noise.weekday), origin,
             "noise.weekday needs 7 positive multipliers, Monday to Sunday")
    _require(noise.addresses_per_country >= 1, origin, "noise.addresses_per_country must be at least 1")
    _require(noise.requests_per_session >= 1, origin, "noise.requests_per_session must be at least 1")
    _countries(noise.countries, origin, "noise.countries")
    for scanner in scenario.scanner:
        _require(scanner.daily_events >= 0 and scanner.addresses >= 1, origin,
                 f"scanner {scanner.name!r}: daily_events ≥ 0 and addresses ≥ 1")
    seen: set[str] = set()
    for campaign in scenario.campaign:
        _check_campaign(campaign, origin, seen)
    for outage in scenario.outage:
        _require(outage.end >= outage.start, origin, f"outage {outage.start}..{outage.end}: end is before start")
        unknown = sorted(set(outage.sensors) - set(scenario.sensor_names()))
        _require(not unknown, origin, f"outage names unknown sensors {unknown} — sensors are "
                                      f"{', '.join(scenario.sensor_names())}")


def _check_campaign(campaign: CampaignSettings, origin: str, seen: set[str]) -> None:
    where = f"campaign {campaign.id!r}"
    _require(bool(campaign.id.strip()), origin, "a [[campaign]] has an empty id — give each campaign an id")
    _require(campaign.id not in seen, origin, f"{where} is defined twice — campaign ids must be unique")
    seen.add(campaign.id)
    _require(campaign.daily_sessions >= 0 and campaign.dispersion > 0, origin,
             f"{where}: daily_sessions ≥ 0 and dispersion > 0")
    _require(campaign.half_life_days is None or campaign.half_life_days > 0, origin,
             f"{where}: half_life_days must be positive")
    _require(bool(campaign.addresses) != bool(campaign.countries), origin,
             f"{where}: give either addresses = [...] or countries = {{...}} with address_count")
    _require(not campaign.countries or campaign.address_count >= 1, origin,
             f"{where}: countries needs address_count ≥ 1")
    _countries(campaign.countries, origin, f"{where}: countries")
    _require(0.0 <= campaign.revisit <= 1.0, origin, f"{where}: revisit must lie in 0..1")
    _require(campaign.start is None or campaign.end is None or campaign.end >= campaign.start, origin,
             f"{where}: end {campaign.end} is before start {campaign.start}")
    known = PROXYSHELL_CHECK_TOOLS if campaign.kind == "proxyshell-check" else CHECK_TOOLS
    unknown = sorted(set(campaign.tools) - set(known))
    _require(not unknown, origin, f"{where}: unknown tools {unknown} — use some of {', '.join(known)}")
    _require(campaign.requests_per_session >= 1, origin, f"{where}: requests_per_session must be at least 1")
    _require(campaign.style != "metasploit" or campaign.shell_dir == "owa/auth", origin,
             f"{where}: Metasploit's module always writes its shell under owa/auth — set shell_dir = \"owa/auth\"")
    if any("{c2}" in command for command in campaign.commands):
        _require(bool(campaign.c2), origin, f"{where}: commands use {{c2}} but c2 = [] is empty")


def _countries(countries: dict[str, float], origin: str, where: str) -> None:
    for code, share in countries.items():
        _require(len(code) == 2 and code.isalpha() and code.isupper(), origin,
                 f"{where}: {code!r} is not an ISO 3166 country code — write it like CN or US")
        _require(share > 0, origin, f"{where}: the share of {code} must be positive")


def _require(condition: bool, origin: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"{origin}: {message} (see docs/simulate.md)")
