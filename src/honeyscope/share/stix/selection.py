"""Which events an export shares: shared by the STIX and MISP exporters so both leave out the same."""

from __future__ import annotations

from honeyscope.events.schema import HttpRequestEvent
from honeyscope.share.stix.observables import parse_address

__all__ = ["exclusion"]


def exclusion(event: HttpRequestEvent, *, only_detected: bool, include_scanners: bool,
              include_non_public: bool) -> str | None:
    """Why ``event`` is left out (``no detection``, ``research scanner``, ``non-public source``), or ``None``.

    Known research scanners (Shodan, Censys …) are not attackers a partner should block, and non-public
    sources (private, loopback, documentation ranges: tests, misconfigured proxies) are nobody's indicator.
    The collector's enrichment decides what is public; without it, ``ipaddress``' ``is_global`` does."""
    enrichment = event.honeyscope.enrichment
    if only_detected and not event.honeyscope.detections:
        return "no detection"
    if enrichment is not None and enrichment.scanner and not include_scanners:
        return "research scanner"
    if include_non_public:
        return None
    if enrichment is not None:
        public = enrichment.network == "public"
    else:
        address = parse_address(event.source.ip)
        public = address is not None and address.is_global
    return None if public else "non-public source"
