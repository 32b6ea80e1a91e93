"""Country and autonomous system of a public address: the ``GeoSource`` protocol and how to pick one.

Two sources implement it: ``BuiltinGeo`` (geoip2fast's bundled GeoLite2-derived data, installed with the
package) and ``MmdbGeo`` (MMDB files the user supplies: GeoLite2, DB-IP Lite, IPinfo Lite).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Protocol

import msgspec

from honeyscope.config import ConfigError, EnrichSettings


class GeoAnswer(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What a source knows about an address; any field may be unknown (None)."""

    country_iso_code: str | None = None
    country_name: str | None = None
    continent_code: str | None = None
    as_number: int | None = None
    as_organization: str | None = None


class GeoSource(Protocol):
    """Answers geo/AS questions about public addresses (already normalised: IPv4-mapped unwrapped)."""

    #: Names the data that answered, with its date (e.g. ``geoip2fast 2024-06-18``); goes into
    #: ``honeyscope.enrichment.geo_source``.
    label: str

    def lookup(self, ip: str) -> GeoAnswer | None:
        """The answer for ``ip``, or None when the data has nothing. Never raises on bad input."""
        ...

    def close(self) -> None:
        """Release files the source holds open."""
        ...


@functools.cache
def _continents() -> dict[str, str]:
    data = resources.files("honeyscope.enrich").joinpath("data/continents.json").read_bytes()
    table: dict[str, str] = json.loads(data)["continents"]
    return table


def continent_of(country_iso_code: str) -> str | None:
    """Continent code (AF AN AS EU NA OC SA) of an ISO 3166-1 country code, from GeoNames' table."""
    return _continents().get(country_iso_code.upper())


def open_geo_source(settings: EnrichSettings) -> GeoSource | None:
    """The source ``settings.geo`` names; None for ``none``. Bad MMDB paths raise ``ConfigError``."""
    if settings.geo == "none":
        return None
    if settings.geo == "builtin":
        from honeyscope.enrich.geo_builtin import BuiltinGeo

        return BuiltinGeo()
    if not settings.country_mmdb and not settings.asn_mmdb:
        raise ConfigError('enrich.geo = "mmdb" needs enrich.country_mmdb and/or enrich.asn_mmdb — set the '
                          'path of your .mmdb file(s), or use geo = "builtin"')
    from honeyscope.enrich.geo_mmdb import MmdbGeo

    return MmdbGeo(settings.country_mmdb, settings.asn_mmdb)
