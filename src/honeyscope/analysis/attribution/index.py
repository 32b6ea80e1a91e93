"""Lookup tables over the knowledge base, so scoring touches only the profiles a cluster's values match.

Each table maps an observable to the profiles that claim it. When a profile claims a value directly and a
multi-actor campaign list also has it, the direct claim wins (the campaign list adds nothing new about who).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from honeyscope.analysis.knowledge.model import ActorProfile, Indicator, KnowledgeBase, Source


@dataclass(frozen=True, slots=True)
class Claimants:
    """The profiles that claim one value, each with the indicator or claim that says so."""

    entries: tuple[tuple[str, Source, str], ...]  # (actor id, source, note)
    #: Distinct profiles among the entries.
    count: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "count", len({actor for actor, _, _ in self.entries}))


@dataclass(slots=True)
class EvidenceIndex:
    exact: dict[tuple[str, str], Claimants] = field(default_factory=dict)
    #: (kind, compiled pattern, pattern text, claimants) for prefix/glob path indicators.
    patterns: list[tuple[str, re.Pattern[str], str, Claimants]] = field(default_factory=list)
    networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Claimants]] = field(default_factory=list)
    cves: dict[str, Claimants] = field(default_factory=dict)
    techniques: dict[str, Claimants] = field(default_factory=dict)
    chains: list[ActorProfile] = field(default_factory=list)
    windowed: list[ActorProfile] = field(default_factory=list)
    countries: Counter[str] = field(default_factory=Counter)
    #: Host of every URL indicator → its claimants (a decoy sees hosts a client asks for, not whole URLs).
    url_hosts: dict[str, Claimants] = field(default_factory=dict)
    actors: dict[str, ActorProfile] = field(default_factory=dict)

    #: Every pattern in one regex, to reject the (usual) path that matches none with one search.
    any_patterns: re.Pattern[str] | None = None
    #: Profiles active on a day (cache).
    active_days: dict[date, list[ActorProfile]] = field(default_factory=dict)

    def any_pattern(self, kind: str, path: str) -> list[tuple[str, Claimants]]:
        if self.any_patterns is None or not self.any_patterns.match(path):
            return []
        return [(text, claimants) for k, pattern, text, claimants in self.patterns
                if k == kind and pattern.match(path)]

    def active_on(self, day: date) -> list[ActorProfile]:
        """Profiles with an activity window containing ``day``."""
        active = self.active_days.get(day)
        if active is None:
            active = self.active_days[day] = [p for p in self.windowed if any(w.contains(day) for w in p.windows)]
        return active


def build_index(knowledge: KnowledgeBase) -> EvidenceIndex:
    """Tables for every indicator, CVE, technique, chain, window and country in the knowledge base."""
    index = EvidenceIndex(actors=dict(knowledge.actors))
    grouped: dict[tuple[str, str, str], list[tuple[str, Indicator]]] = {}
    for profile in knowledge.actors.values():
        for indicator in profile.indicators:
            key = (indicator.kind, indicator.match, indicator.value)
            grouped.setdefault(key, []).append((profile.id, indicator))
        if profile.chain:
            index.chains.append(profile)
        if profile.windows:
            index.windowed.append(profile)
        if profile.country:
            index.countries[profile.country.upper()] += 1
    for (kind, match, value), holders in sorted(grouped.items()):
        claimants = _claimants(holders)
        if match == "exact" and kind == "cidr":
            index.networks.append((ipaddress.ip_network(value), claimants))
        elif match == "exact":
            index.exact[(kind, value)] = claimants
            if kind == "url":
                host = value.split("://", 1)[-1].split("/", 1)[0].split("@")[-1].split(":")[0].lower()
                previous = index.url_hosts.get(host)
                index.url_hosts[host] = Claimants((previous.entries if previous else ()) + claimants.entries)
        else:
            text = value if match == "glob" else value + "*"
            index.patterns.append((kind, re.compile(fnmatch.translate(text)), value, claimants))
    if index.patterns:
        index.any_patterns = re.compile("|".join(f"(?:{pattern.pattern})" for _, pattern, _, _ in index.patterns))
    index.cves = _claims(knowledge.actors.values(), "cves")
    index.techniques = _claims(knowledge.actors.values(), "techniques")
    return index


def specific_weight(base: float, claimants: int) -> float:
    """``base − log10(k)``: evidence k profiles share supports each of them less."""
    return base - math.log10(max(claimants, 1))


def _claimants(holders: list[tuple[str, Indicator]]) -> Claimants:
    direct = [(actor, i) for actor, i in holders if i.campaign is None]
    chosen = direct or holders
    return Claimants(tuple((actor, i.source, _note(i)) for actor, i in chosen))


def _note(indicator: Indicator) -> str:
    parts = [indicator.note] if indicator.note else []
    if indicator.campaign:
        parts.append(f"shared list: {indicator.campaign}")
    return "; ".join(parts)


def _claims(profiles: Iterable[ActorProfile], name: str) -> dict[str, Claimants]:
    table: dict[str, list[tuple[str, Source, str]]] = {}
    for profile in profiles:
        for claim in getattr(profile, name):
            entries = table.setdefault(claim.value.upper(), [])
            if all(actor != profile.id for actor, _, _ in entries):
                entries.append((profile.id, claim.source, ""))
    return {value: Claimants(tuple(entries)) for value, entries in table.items()}
