"""STIX 2.1 objects as plain dicts: every object of an export carries the producer and the TLP marking.

Plain dicts rather than ``stix2`` objects, for speed: ``stix2`` builds about 1k objects/s (each indicator
pattern is parsed), so an export of 100k sightings (≈ 500k objects) would take minutes; dicts take
microseconds. The tests parse every kind of object with ``stix2`` and validate exports with
stix2-validator 3.2.0.

Reference objects (identity, attack-pattern, vulnerability, intrusion-set, threat-actor) carry a fixed
``created``/``modified`` (``REFERENCE_TIME``), so every export and every TAXII poll serves one version of
them; objects derived from events take their times from the events.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from honeyscope.share.stix.attack import technique, technique_url
from honeyscope.share.stix.ids import object_id, stix_time
from honeyscope.share.tlp import TLP_MARKING_IDS, Tlp

__all__ = ["REFERENCE_TIME", "StixFactory", "ip_pattern", "path_pattern", "sha256_pattern"]

#: ``created``/``modified`` of reference objects.
REFERENCE_TIME: Final = "2021-01-01T00:00:00.000Z"

_PATTERN_SPECIAL: Final = re.compile(r"([\\'])")
_REGEX_SPECIAL: Final = re.compile(r"([.^$*+?()\[\]{}|\\])")


def _literal(value: str) -> str:
    """A STIX pattern string literal (quote and backslash escaped)."""
    return "'" + _PATTERN_SPECIAL.sub(r"\\\1", value) + "'"


def ip_pattern(address: str, version: int) -> str:
    """``[ipv4-addr:value = '203.0.113.7']``."""
    return f"[ipv{version}-addr:value = {_literal(address)}]"


def path_pattern(path: str) -> str:
    """HTTP requests for exactly ``path``, with or without a query (PCRE on the request target)."""
    regex = "^" + _REGEX_SPECIAL.sub(r"\\\1", path) + r"(\?|$)"
    return f"[network-traffic:extensions.'http-request-ext'.request_value MATCHES {_literal(regex)}]"


def sha256_pattern(digest: str) -> str:
    """``[file:hashes.'SHA-256' = '…']``."""
    return f"[file:hashes.'SHA-256' = {_literal(digest)}]"


class StixFactory:
    """Builds the objects of one export: all created by ``identity_id`` and marked with the TLP level."""

    def __init__(self, network_name: str, tlp: Tlp) -> None:
        self.network_name = network_name
        self.identity_id = object_id("identity", network_name)
        self.markings = [TLP_MARKING_IDS[tlp]]

    def _sdo(self, kind: str, object_id_: str, created: str, modified: str | None = None) -> dict[str, Any]:
        return {"type": kind, "spec_version": "2.1", "id": object_id_, "created_by_ref": self.identity_id,
                "created": created, "modified": modified or created, "object_marking_refs": self.markings}

    def sco(self, kind: str, object_id_: str, properties: dict[str, Any]) -> dict[str, Any]:
        """A cyber observable (its id computed by ``ids.sco_id`` from ``properties``)."""
        return {"type": kind, "spec_version": "2.1", "id": object_id_, **properties,
                "object_marking_refs": self.markings}

    def identity(self) -> dict[str, Any]:
        """The sensor network: producer of every object and where everything was sighted."""
        return {"type": "identity", "spec_version": "2.1", "id": self.identity_id, "created": REFERENCE_TIME,
                "modified": REFERENCE_TIME, "name": self.network_name, "identity_class": "organization",
                "description": "Network of decoy services (honeypots) run with honeyscope; everything it "
                               "observed was sent to it unsolicited.",
                "object_marking_refs": self.markings}

    def attack_pattern(self, technique_id: str) -> dict[str, Any]:
        """An ATT&CK technique, named from the galaxy, with its ``mitre-attack`` external reference."""
        known = technique(technique_id)
        obj = self._sdo("attack-pattern", object_id("attack-pattern", technique_id), REFERENCE_TIME)
        obj["name"] = known.name
        obj["external_references"] = [{"source_name": "mitre-attack", "external_id": technique_id,
                                       "url": technique_url(technique_id)}]
        if known.tactics:
            obj["kill_chain_phases"] = [{"kill_chain_name": "mitre-attack", "phase_name": t} for t in known.tactics]
        return obj

    def vulnerability(self, cve: str) -> dict[str, Any]:
        """A CVE, with its ``cve`` external reference."""
        obj = self._sdo("vulnerability", object_id("vulnerability", cve), REFERENCE_TIME)
        obj["name"] = cve
        obj["external_references"] = [{"source_name": "cve", "external_id": cve,
                                       "url": f"https://www.cve.org/CVERecord?id={cve}"}]
        return obj

    def indicator(self, key: Sequence[str], *, name: str, description: str, pattern: str, types: list[str],
                  valid_from: datetime, tactics: Sequence[str] = ()) -> dict[str, Any]:
        """An indicator (STIX pattern) first valid when first seen."""
        when = stix_time(valid_from)
        obj = self._sdo("indicator", object_id("indicator", *key), when)
        obj.update(name=name, description=description, indicator_types=types, pattern=pattern,
                   pattern_type="stix", pattern_version="2.1", valid_from=when)
        if tactics:
            obj["kill_chain_phases"] = [{"kill_chain_name": "mitre-attack", "phase_name": t} for t in tactics]
        return obj

    def observed_data(self, object_id_: str, *, first: datetime, last: datetime, count: int,
                      refs: list[str]) -> dict[str, Any]:
        """``count`` observations of the same objects between ``first`` and ``last``."""
        obj = self._sdo("observed-data", object_id_, stix_time(first), stix_time(last))
        obj.update(first_observed=stix_time(first), last_observed=stix_time(last),
                   number_observed=min(count, 999_999_999), object_refs=refs)
        return obj

    def sighting(self, object_id_: str, *, of: str, first: datetime, last: datetime, count: int,
                 observed: list[str]) -> dict[str, Any]:
        """The network saw indicator ``of`` ``count`` times between ``first`` and ``last``."""
        obj = self._sdo("sighting", object_id_, stix_time(first), stix_time(last))
        obj.update(first_seen=stix_time(first), last_seen=stix_time(last), count=min(count, 999_999_999),
                   sighting_of_ref=of, where_sighted_refs=[self.identity_id])
        if observed:
            obj["observed_data_refs"] = observed
        return obj

    def relationship(self, kind: str, source: str, target: str, *, created: str = REFERENCE_TIME,
                     modified: str | None = None, **extra: Any) -> dict[str, Any]:
        """``source`` —kind→ ``target``; its id depends on the three only (one relationship per pair)."""
        obj = self._sdo("relationship", object_id("relationship", kind, source, target), created, modified)
        obj.update(relationship_type=kind, source_ref=source, target_ref=target, **extra)
        return obj

    def campaign(self, cluster_id: str, *, name: str, description: str, first: datetime,
                 last: datetime) -> dict[str, Any]:
        """An activity cluster: sessions linked by infrastructure, tools and payloads."""
        obj = self._sdo("campaign", object_id("campaign", cluster_id), stix_time(first), stix_time(last))
        obj.update(name=name, description=description, first_seen=stix_time(first), last_seen=stix_time(last))
        return obj

    def actor(self, kind: str, actor_id: str, *, name: str, aliases: Sequence[str],
              attack_group: str | None, description: str) -> dict[str, Any]:
        """An ``intrusion-set`` or ``threat-actor`` (aliases = synonyms; ATT&CK group as reference)."""
        obj = self._sdo(kind, object_id(kind, actor_id), REFERENCE_TIME)
        obj["name"] = name
        if description:
            obj["description"] = description
        if aliases:
            obj["aliases"] = list(aliases)
        if attack_group:
            obj["external_references"] = [{"source_name": "mitre-attack", "external_id": attack_group,
                                           "url": f"https://attack.mitre.org/groups/{attack_group}/"}]
        return obj
