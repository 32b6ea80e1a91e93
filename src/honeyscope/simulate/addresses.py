"""Source addresses that enrichment places where the scenario says: per country, in one block, or in a
research scanner's published ranges.

Addresses are found, not invented: random public IPv4 addresses (seeded) are looked up through the same
``Enricher`` the collector runs, and kept when its geo data answers the wanted country and no scanner range
claims them. Whatever geo source the settings name (geoip2fast's bundled data or the user's MMDB files),
the events end up in the intended countries. A hit in a country still short of addresses also yields up to
a dozen addresses from its /16, checked the same way, so rare countries need far fewer samples.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable

from honeyscope.config import ConfigError
from honeyscope.enrich import Enricher

#: Random addresses tried at most before the scenario is declared impossible with this geo data.
MAX_SAMPLES = 1_500_000
#: Addresses at most taken from the /16 of each hit (checked one by one).
_NEIGHBOURS = 12
_FIRST = int(ipaddress.IPv4Address("1.0.0.0"))
_LAST = int(ipaddress.IPv4Address("223.255.255.255"))


class AddressBook:
    """Hands out distinct addresses; an address is never given twice (campaigns and noise stay apart)."""

    def __init__(self, enricher: Enricher, seed: int) -> None:
        self._enricher = enricher
        self._random = random.Random(f"honeyscope-simulate-addresses-{seed}")
        self._taken: set[str] = set()
        self._spare: dict[str, list[str]] = {}
        self._pooled: set[str] = set()
        self.samples = 0

    def country_of(self, address: str) -> str | None:
        """The country enrichment gives ``address`` (None: none, or not a public address)."""
        facts = self._enricher.lookup(address)
        return facts.geo.country_iso_code if facts.geo is not None else None

    def scanner_of(self, address: str) -> str | None:
        """The research scanner enrichment names for ``address``, if any."""
        return self._enricher.lookup(address).scanner

    def reserve(self, addresses: Iterable[str]) -> None:
        """Addresses a scenario lists: never handed out to anyone else."""
        self._taken.update(addresses)

    def prepare(self, needs: dict[str, int]) -> None:
        """Find enough addresses for every country in one pass over the samples (rare countries dominate)."""
        missing = {c: n - len(self._spare.get(c, [])) for c, n in needs.items() if n > len(self._spare.get(c, []))}
        while missing:
            if self.samples >= MAX_SAMPLES:
                worst = ", ".join(f"{c} ({needs[c] - m} of {needs[c]})" for c, m in sorted(missing.items()))
                raise ConfigError(f"the geo data places too few addresses in {worst} for this scenario — lower "
                                  "noise.addresses_per_country or the campaigns' address_count, or drop those "
                                  "countries")
            for country, address in self._sample(missing):
                if country in missing and address not in self._pooled:
                    self._pooled.add(address)
                    self._spare.setdefault(country, []).append(address)
                    missing[country] -= 1
                    if missing[country] <= 0:
                        del missing[country]

    def draw(self, country: str, count: int) -> list[str]:
        """``count`` fresh addresses in ``country``."""
        self.prepare({country: count})
        spare = self._spare[country]
        chosen, self._spare[country] = spare[:count], spare[count:]
        self._taken.update(chosen)
        return chosen

    def block(self, country: str, count: int) -> list[str]:
        """``count`` fresh addresses of one /24 in ``country`` (a rented block)."""
        for _ in range(200):
            seed = self.draw(country, 1)[0]
            network = int(ipaddress.IPv4Address(seed)) & ~0xFF
            hosts = [str(ipaddress.IPv4Address(network + host)) for host in range(1, 255)]
            self._random.shuffle(hosts)
            fresh = [ip for ip in hosts if ip != seed and ip not in self._taken and ip not in self._pooled
                     and self._usable(ip) == country]
            found = [seed, *fresh[: count - 1]]
            if len(found) == count:
                self._taken.update(found)
                return sorted(found, key=lambda ip: int(ipaddress.IPv4Address(ip)))
        raise ConfigError(f"no /24 in {country} with {count} usable addresses found — lower address_count or set "
                          "block = false")

    def scanner_addresses(self, label: str, ranges: Iterable[str], count: int) -> list[str]:
        """``count`` IPv4 addresses from a scanner's published ranges that enrichment labels ``label``."""
        networks = [ipaddress.ip_network(text) for text in ranges]
        v4 = [n for n in networks if n.version == 4]
        found: list[str] = []
        for attempt in range(count * 20):
            if len(found) == count or not v4:
                break
            network = v4[attempt % len(v4)]
            offset = self._random.randrange(network.num_addresses) if network.num_addresses > 2 else 0
            address = str(network.network_address + offset)
            if address not in found and self._enricher.lookup(address).scanner == label:
                found.append(address)
        self._taken.update(found)
        return found

    def _sample(self, missing: dict[str, int]) -> list[tuple[str, str]]:
        """A batch of (country, address) hits; a hit in a wanted country brings neighbours from its /16."""
        hits: list[tuple[str, str]] = []
        for _ in range(2000):
            self.samples += 1
            value = self._random.randint(_FIRST, _LAST)
            address = str(ipaddress.IPv4Address(value))
            country = self._usable(address)
            if country is None or country not in missing:
                continue
            hits.append((country, address))
            # Most of a /16 is one country: a few checked lookups instead of thousands of blind samples.
            for _ in range(min(_NEIGHBOURS, missing[country])):
                neighbour = str(ipaddress.IPv4Address((value & ~0xFFFF) | self._random.randint(256, 0xFFFE)))
                if neighbour != address and self._usable(neighbour) == country:
                    hits.append((country, neighbour))
            if len(hits) >= sum(missing.values()):
                break
        return [(c, a) for c, a in hits if a not in self._taken]

    def _usable(self, address: str) -> str | None:
        """The country of a public, non-scanner address not yet handed out; else None."""
        if address in self._taken:
            return None
        facts = self._enricher.lookup(address)
        if facts.network != "public" or facts.scanner is not None or facts.geo is None:
            return None
        return facts.geo.country_iso_code
