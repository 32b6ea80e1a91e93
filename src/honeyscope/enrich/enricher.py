"""The collector's enrichment stage: network label, geo/AS and known scanner for each event's source.

``Enricher.enrich`` mutates an event in place: ``source.geo``, ``source.as`` and
``honeyscope.enrichment``. Events without a source (``sensor.lifecycle``, a ``sensor.limit`` not tied to a
connection) are left as they are. Enriching twice gives the same result (redelivered events are safe).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from socket import AF_INET, inet_pton

import msgspec

from honeyscope.config import ConfigError, EnrichSettings
from honeyscope.enrich.geo import GeoAnswer, GeoSource, open_geo_source
from honeyscope.enrich.networks import INVALID, PUBLIC, address_key_and_text, with_scanners
from honeyscope.enrich.scanners import ScannerMatcher
from honeyscope.events.schema import (
    AsOrganization,
    AutonomousSystem,
    Event,
    Geo,
    HsEnrichment,
    HttpRequestEvent,
    SensorLifecycleEvent,
)

log = logging.getLogger(__name__)

#: Distinct User-Agent strings remembered (far fewer than addresses: scanners reuse a handful).
USER_AGENT_CACHE = 10_000
#: Table keys of IPv4 (and IPv4-mapped) addresses are ``_IPV4_KEYS | the IPv4 number`` (ranges.py).
_IPV4_KEYS = 0xFFFF_0000_0000
#: What a key outside the network table is (the table covers every key: a safety net).
_UNPLACED = ("reserved", None)


def _check_cache_size(size: int) -> None:
    if size < 0:
        raise ConfigError(f"enrich.cache_size = {size}: must be 0 or more — use e.g. 100000")


class SourceFacts(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Everything learnt about one source address (what the per-address cache holds), with the event
    fields it gives built once: a cache hit then only assigns them (≈ 0.5 µs instead of building four
    structs per event). Events of one source share these objects: nothing mutates them in place."""

    network: str
    geo: GeoAnswer | None = None
    geo_source: str | None = None
    scanner: str | None = None
    #: ``source.geo``, ``source.as`` and ``honeyscope.enrichment`` (the latter unless a scanner is then
    #: found by User-Agent) as ``enrich`` sets them.
    source_geo: Geo | None = None
    source_as: AutonomousSystem | None = None
    enrichment: HsEnrichment | None = None


# 16,384 kinds: 20,000 random addresses (bench/pipeline.py's set) hold 4,182 (country, AS) answers, and
# 4,096 made a cycle through them rebuild the facts of every address (≈ +0.35 µs a miss).
@functools.lru_cache(maxsize=16384)
def _facts(network: str, answer: GeoAnswer | None = None, geo_source: str | None = None,
           scanner: str | None = None) -> SourceFacts:
    """The facts of one kind of source, built once: many addresses share a country, AS and label, so an
    address cache miss mostly finds them here (its structs are shared; nothing mutates them)."""
    geo = as_ = None
    if answer is not None:
        geo = (Geo(country_iso_code=answer.country_iso_code, country_name=answer.country_name,
                   continent_code=answer.continent_code)
               if answer.country_iso_code or answer.continent_code else None)
        as_ = (AutonomousSystem(number=answer.as_number, organization=AsOrganization(name=answer.as_organization))
               if answer.as_number is not None or answer.as_organization else None)
    enrichment = HsEnrichment(network=network, scanner=scanner, scanner_evidence="ip_range" if scanner else None,
                              geo_source=geo_source)
    return SourceFacts(network=network, geo=answer, geo_source=geo_source, scanner=scanner, source_geo=geo,
                       source_as=as_, enrichment=enrichment)


class Enricher:
    """Adds what is known about each event's source address. Build it with ``from_settings``."""

    def __init__(self, geo: GeoSource | None, scanners: ScannerMatcher, cache_size: int = 100_000) -> None:
        _check_cache_size(cache_size)
        self.geo = geo
        self.scanners = scanners
        #: Network label and scanner of an address key, one search for both.
        self._places = with_scanners(scanners.ranges)
        #: A geo source's IPv4 lookup by number, where it has one (saves parsing the address again).
        self._geo_ipv4: Callable[[int], GeoAnswer | None] | None = getattr(geo, "lookup_ipv4", None)
        # functools.lru_cache: a C-implemented LRU bounded by maxsize (a hit costs ≈ 0.1 µs and moves the
        # entry to the front), thread-safe, and it reports its size. A plain dict evicting in insertion
        # order would be as fast but forget busy scanners first; OrderedDict costs a Python call per hit.
        self.lookup: Callable[[str], SourceFacts] = functools.lru_cache(maxsize=cache_size)(self._facts)
        self._user_agent: Callable[[str], str | None] = functools.lru_cache(
            maxsize=min(cache_size, USER_AGENT_CACHE))(scanners.by_user_agent)
        #: (network, geo source, scanner named by the User-Agent) → the ``honeyscope.enrichment`` to set.
        self._by_agent: Callable[[str, str | None, str], HsEnrichment] = functools.lru_cache(
            maxsize=min(cache_size, USER_AGENT_CACHE))(_agent_enrichment)

    @classmethod
    def from_settings(cls, settings: EnrichSettings) -> Enricher:
        """Open the configured geo source and scanner lists; configuration problems raise ``ConfigError``."""
        _check_cache_size(settings.cache_size)
        scanners = ScannerMatcher.load(settings.scanner_files)
        geo = open_geo_source(settings)
        log.info("enrichment: geo from %s, %d known scanners, cache %d addresses",
                 geo.label if geo else "nothing (geo = none)", len(scanners.entries), settings.cache_size)
        return cls(geo, scanners, settings.cache_size)

    def _facts(self, ip: str) -> SourceFacts:
        """An address cache miss: ≈ 2.8 µs with the builtin geo source (was ≈ 13.6), a hit ≈ 0.1 µs."""
        number: int | None
        try:  # the common case inline (a call is ≈ 0.2 µs): a dotted quad, as address_key_and_text reads it
            number = int.from_bytes(inet_pton(AF_INET, ip), "big")
            key = _IPV4_KEYS | number
        except (OSError, ValueError):
            parsed = address_key_and_text(ip)
            if parsed is None:
                return _facts(INVALID)
            key, ip = parsed
            number = key & 0xFFFF_FFFF if key >> 32 == _IPV4_KEYS >> 32 else None
        network, scanner = self._places.get(key) or _UNPLACED
        if network != PUBLIC or self.geo is None:
            return _facts(network, scanner=scanner)
        ipv4 = self._geo_ipv4
        answer = ipv4(number) if number is not None and ipv4 is not None else self.geo.lookup(ip)
        return _facts(network, answer, self.geo.label if answer else None, scanner)

    def enrich(self, event: Event) -> None:
        """Set ``source.geo``, ``source.as`` and ``honeyscope.enrichment`` on ``event`` (in place)."""
        if isinstance(event, SensorLifecycleEvent) or event.source is None:
            return
        source = event.source
        facts = self.lookup(source.ip)
        source.geo = facts.source_geo
        source.as_ = facts.source_as
        enrichment = facts.enrichment
        if facts.scanner is None and isinstance(event, HttpRequestEvent) and event.user_agent is not None:
            scanner = self._user_agent(event.user_agent.original)
            if scanner is not None:
                enrichment = self._by_agent(facts.network, facts.geo_source, scanner)
        event.honeyscope.enrichment = enrichment

    def enrich_batch(self, events: Iterable[Event]) -> None:
        """``enrich`` each event."""
        enrich = self.enrich
        for event in events:
            enrich(event)

    def cache_size(self) -> int:
        """Addresses currently cached."""
        info = getattr(self.lookup, "cache_info", None)
        return int(info().currsize) if info else 0

    def close(self) -> None:
        """Release the geo source's files."""
        if self.geo is not None:
            self.geo.close()


def _agent_enrichment(network: str, geo_source: str | None, scanner: str) -> HsEnrichment:
    return HsEnrichment(network=network, scanner=scanner, scanner_evidence="user_agent", geo_source=geo_source)
