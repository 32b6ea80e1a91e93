"""MMDB files built for the tests with mmdb-writer, in the record layouts real databases use.

Handed to tests as fixtures (pytest's importlib mode does not let tests import conftest).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet  # type: ignore[import-untyped]

from honeyscope.events.schema import (
    Endpoint,
    EventMeta,
    Honeyscope,
    HsConnection,
    HttpRequestEvent,
    Observer,
    UserAgent,
)


def _country(iso: str, name: str, continent: str) -> dict[str, Any]:
    return {"continent": {"code": continent, "names": {"en": continent}},
            "country": {"iso_code": iso, "names": {"en": name, "de": name}}}


def _write(path: Path, database_type: str, rows: list[tuple[list[str], dict[str, Any]]], *,
           ip_version: int = 6) -> Path:
    writer = MMDBWriter(ip_version=ip_version, ipv4_compatible=ip_version == 6, database_type=database_type,
                        languages=["en"], description={"en": f"honeyscope test {database_type}"})
    for networks, record in rows:
        writer.insert_network(IPSet(networks), record)
    writer.to_db_file(str(path))
    return path


@pytest.fixture(scope="session")
def mmdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GeoLite2-like country + ASN files, an IPinfo-Lite-like combined file and a DB-IP-like one."""
    root = tmp_path_factory.mktemp("mmdb")
    _write(root / "GeoLite2-Country.mmdb", "GeoLite2-Country", [
        (["81.2.69.0/24", "2a02:ff80::/29"], _country("GB", "United Kingdom", "EU")),
        (["89.160.20.0/24"], _country("SE", "Sweden", "EU")),
        # Anycast-style record: no `country`, only where the block is registered.
        (["198.41.128.0/24"], {"continent": {"code": "NA"},
                               "registered_country": {"iso_code": "US", "names": {"en": "United States"}}}),
    ])
    _write(root / "GeoLite2-ASN.mmdb", "GeoLite2-ASN", [
        (["81.2.69.0/24"], {"autonomous_system_number": 20712,
                            "autonomous_system_organization": "Andrews & Arnold Ltd"}),
        (["89.160.20.0/24"], {"autonomous_system_number": 29518,
                              "autonomous_system_organization": "Bredband2 AB"}),
    ], ip_version=4)
    _write(root / "ipinfo_lite.mmdb", "ipinfo ipinfo_lite.mmdb", [
        (["104.16.0.0/13", "2606:4700::/32"], {
            "country": "United States", "country_code": "US", "continent": "North America",
            "continent_code": "NA", "asn": "AS13335", "as_name": "Cloudflare, Inc.",
            "as_domain": "cloudflare.com"}),
        (["223.5.5.0/24"], {
            "country": "China", "country_code": "CN", "continent": "Asia", "continent_code": "AS",
            "asn": "AS37963", "as_name": "Hangzhou Alibaba Advertising Co.,Ltd.", "as_domain": "aliyun.com"}),
    ])
    _write(root / "dbip-country-lite.mmdb", "DBIP-Country-Lite", [
        (["77.88.8.0/24"], _country("RU", "Russia", "EU")),
    ])
    (root / "empty.mmdb").write_bytes(b"")
    (root / "junk.mmdb").write_bytes(b"this is not a MaxMind DB\n" * 50)
    return root


@pytest.fixture
def make_request() -> Any:
    """Builds an ``http.request`` event from ``ip`` and an optional User-Agent."""

    def build(ip: str, user_agent: str | None = None) -> HttpRequestEvent:
        return HttpRequestEvent(
            timestamp=datetime(2026, 11, 22, 12, 0, tzinfo=UTC), event=EventMeta(id="0190-test"),
            observer=Observer(name="s1"), source=Endpoint(ip=ip, port=50123),
            destination=Endpoint(ip="192.0.2.10", port=443),
            user_agent=UserAgent(original=user_agent) if user_agent is not None else None,
            honeyscope=Honeyscope(persona="exchange", connection=HsConnection(id="c1")))

    return build
