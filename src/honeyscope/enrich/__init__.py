"""Enrichment: what the collector adds about each event's source address.

* ``networks``: public / private / loopback / link_local / shared / multicast / documentation /
  reserved / invalid — only public addresses are geolocated;
* ``geo``: country, continent and AS from geoip2fast's bundled data (default) or user MMDB files;
* ``scanners``: known research scanners and scanning tools, by published range or user agent;
* ``enricher``: ``Enricher.from_settings(settings.enrich).enrich(event)`` with a per-address cache.

See docs/enrichment.md.
"""

from honeyscope.enrich.enricher import Enricher, SourceFacts
from honeyscope.enrich.geo import GeoAnswer, GeoSource, open_geo_source
from honeyscope.enrich.networks import LABELS, classify, parse_address
from honeyscope.enrich.scanners import ScannerEntry, ScannerMatcher

__all__ = [
    "LABELS",
    "Enricher",
    "GeoAnswer",
    "GeoSource",
    "ScannerEntry",
    "ScannerMatcher",
    "SourceFacts",
    "classify",
    "open_geo_source",
    "parse_address",
]
