"""User-supplied MMDB files read with maxminddb's C extension: GeoLite2, DB-IP Lite, IPinfo Lite.

Record layouts understood (one file may carry both parts, e.g. IPinfo Lite or a GeoLite2-City + ASN
merge):

* country, GeoLite2-Country/City and DB-IP Lite: ``country.iso_code``, ``country.names.en``,
  ``continent.code``; ``registered_country`` when ``country`` is absent (anycast and satellite networks).
* country, IPinfo Lite: ``country_code``, ``country`` (the English name), ``continent_code``; the older
  IPinfo "country_asn" layout: ``country`` (the code), ``country_name``, ``continent``.
* AS, GeoLite2-ASN and DB-IP Lite ASN: ``autonomous_system_number``, ``autonomous_system_organization``.
* AS, IPinfo: ``asn`` like ``"AS13335"``, ``as_name``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import maxminddb

from honeyscope.config import ConfigError
from honeyscope.enrich.geo import GeoAnswer

log = logging.getLogger(__name__)

_warned_pure_python = False
_FIX: Final = ('— download the file again (GeoLite2, DB-IP Lite or IPinfo Lite .mmdb), fix the path, '
               'or set enrich.geo = "builtin"')


def open_reader(path: str, setting: str) -> maxminddb.Reader:
    """Open an MMDB with the C extension (falls back, warning once, to pure Python ≈ 30× slower)."""
    global _warned_pure_python
    try:
        try:
            return maxminddb.open_database(path, maxminddb.MODE_MMAP_EXT)
        except ValueError as error:
            if "extension" not in str(error):
                raise
            if not _warned_pure_python:
                _warned_pure_python = True
                log.warning("maxminddb's C extension is not available: MMDB lookups run in pure Python, "
                            "about 30x slower — install a maxminddb wheel for this platform")
            return maxminddb.open_database(path, maxminddb.MODE_MMAP)
    except FileNotFoundError:
        raise ConfigError(f"{setting} = {path!r}: file not found {_FIX}") from None
    except maxminddb.InvalidDatabaseError:
        raise ConfigError(f"{setting} = {path!r}: not a valid MaxMind DB (MMDB) file {_FIX}") from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ConfigError(f"{setting} = {path!r}: cannot be read ({reason}) {_FIX}") from None


def _describe(path: str, reader: maxminddb.Reader) -> str:
    """``<file name> <build date>``: which data answered, for ``geo_source``."""
    built = datetime.fromtimestamp(reader.metadata().build_epoch, UTC).date().isoformat()
    return f"{Path(path).name} {built}"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _country(record: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(iso code, English name, continent code) from any known layout."""
    country = record.get("country")
    continent = record.get("continent")
    if isinstance(country, str):
        if "country_code" in record:  # IPinfo Lite: country is the name
            return _text(record.get("country_code")), country, _text(record.get("continent_code"))
        return country, _text(record.get("country_name")), _text(continent)  # older IPinfo layout
    if not isinstance(country, dict):
        country = record.get("registered_country")
    iso = name = None
    if isinstance(country, dict):
        iso = _text(country.get("iso_code"))
        names = country.get("names")
        name = _text(names.get("en")) if isinstance(names, dict) else None
    code = _text(continent.get("code")) if isinstance(continent, dict) else _text(record.get("continent_code"))
    return iso, name, code


def _autonomous_system(record: dict[str, Any]) -> tuple[int | None, str | None]:
    """(AS number, organisation) from the GeoLite2/DB-IP or IPinfo layout."""
    number = record.get("autonomous_system_number")
    if isinstance(number, int) and not isinstance(number, bool):
        return number, _text(record.get("autonomous_system_organization"))
    asn = record.get("asn")
    parsed: int | None = None
    if isinstance(asn, str) and asn[:2].upper() == "AS" and asn[2:].isdigit():
        parsed = int(asn[2:])
    elif isinstance(asn, int) and not isinstance(asn, bool):
        parsed = asn
    return parsed, _text(record.get("as_name")) or _text(record.get("autonomous_system_organization"))


class MmdbGeo:
    """``GeoSource`` over one or two MMDB files (``country_path`` and ``asn_path`` may be the same file)."""

    def __init__(self, country_path: str | None, asn_path: str | None) -> None:
        self._country: maxminddb.Reader | None = None
        self._asn: maxminddb.Reader | None = None
        labels = []
        if country_path:
            self._country = open_reader(country_path, "enrich.country_mmdb")
            labels.append(_describe(country_path, self._country))
        if asn_path and asn_path == country_path:
            self._asn = self._country
        elif asn_path:
            self._asn = open_reader(asn_path, "enrich.asn_mmdb")
            labels.append(_describe(asn_path, self._asn))
        self.label = ", ".join(labels)

    @property
    def uses_c_extension(self) -> bool:
        """True when every file is read by maxminddb's C extension."""
        readers = [r for r in (self._country, self._asn) if r is not None]
        return all(type(r).__module__ == "maxminddb.extension" for r in readers)

    @staticmethod
    def _get(reader: maxminddb.Reader | None, ip: str) -> dict[str, Any] | None:
        if reader is None:
            return None
        try:
            record = reader.get(ip)
        except ValueError:  # not an address, or IPv6 asked of an IPv4-only file
            return None
        return record if isinstance(record, dict) else None

    def lookup(self, ip: str) -> GeoAnswer | None:
        """Country fields from the country file, AS fields from the AS file (each falls back to the other
        when one file carries both)."""
        country_record = self._get(self._country, ip)
        asn_record = country_record if self._asn is self._country else self._get(self._asn, ip)
        iso = name = continent = None
        number = organization = None
        if country_record is not None:
            iso, name, continent = _country(country_record)
            if "autonomous_system_number" in country_record or "asn" in country_record:
                number, organization = _autonomous_system(country_record)
        if asn_record is not None and asn_record is not country_record:
            asn_number, asn_organization = _autonomous_system(asn_record)
            number, organization = asn_number or number, asn_organization or organization
            if iso is None and continent is None:
                iso, name, continent = _country(asn_record)
        if iso is None and continent is None and number is None and organization is None:
            return None
        return GeoAnswer(country_iso_code=iso, country_name=name, continent_code=continent,
                         as_number=number, as_organization=organization)

    def close(self) -> None:
        """Close the files."""
        for reader in {id(r): r for r in (self._country, self._asn) if r is not None}.values():
            reader.close()
