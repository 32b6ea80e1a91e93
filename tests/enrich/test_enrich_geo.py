"""Geo sources: geoip2fast's bundled data answers for well-known addresses; user MMDB files in the
GeoLite2, DB-IP Lite and IPinfo Lite layouts are read with maxminddb's C extension; bad files are one
clear configuration error."""

from __future__ import annotations

import importlib
import ipaddress
import random
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from honeyscope.config import ConfigError, EnrichSettings
from honeyscope.enrich import GeoAnswer, geo_builtin, open_geo_source
from honeyscope.enrich.geo_builtin import BuiltinGeo
from honeyscope.enrich.geo_mmdb import MmdbGeo


@pytest.fixture(scope="module")
def builtin() -> BuiltinGeo:
    return BuiltinGeo()


def test_builtin_data_is_dated_from_the_file(builtin: BuiltinGeo) -> None:
    assert builtin.label == "geoip2fast 2024-06-18"
    assert "GeoLite2" in builtin.data_info


@pytest.mark.parametrize(("ip", "iso", "continent", "as_name"), [
    ("8.8.8.8", "US", "NA", "GOOGLE"),
    # GeoLite2 (2024-06-18, as bundled) places 1.1.1.1 in Australia (APNIC's research prefix), not the US.
    ("1.1.1.1", "AU", "OC", "CLOUDFLARENET"),
    ("223.5.5.5", "CN", "AS", "Hangzhou Alibaba Advertising Co.,Ltd."),
    ("77.88.8.8", "RU", "EU", "YANDEX LLC"),
    ("2001:4860:4860::8888", "US", "NA", "GOOGLE"),
    ("2606:4700:4700::1111", "US", "NA", "CLOUDFLARENET"),
])
def test_builtin_answers_well_known_addresses(builtin: BuiltinGeo, ip: str, iso: str, continent: str,
                                              as_name: str) -> None:
    answer = builtin.lookup(ip)
    assert answer is not None
    assert (answer.country_iso_code, answer.continent_code, answer.as_organization) == (iso, continent, as_name)
    assert answer.country_name and answer.as_number is None  # the bundled data has AS names, not numbers


def test_builtin_has_nothing_for_unroutable_or_bad_input(builtin: BuiltinGeo) -> None:
    assert builtin.lookup("not an address") is None
    assert builtin.lookup("") is None


def _boundary_numbers(firsts: list[list[int]], netlens: list[list[int]], sizes: tuple[list[int], list[int]],
                      rows: int, rng: random.Random) -> list[int]:
    """First, last, one past the last and one before the first address of ``rows`` random rows of a
    geoip2fast table (sized as IPv4 or IPv6 by the row's own family)."""
    numbers = []
    for _ in range(rows):
        chunk = rng.randrange(len(firsts))
        row = rng.randrange(len(firsts[chunk]))
        first = firsts[chunk][row]
        last = first + sizes[first >= 2**32][netlens[chunk][row]] - 1
        numbers += [first, last, last + 1, first - 1]
    return [number for number in numbers if 0 <= number < 2**128]


def _text(number: int) -> str:
    return str(ipaddress.IPv4Address(number) if number < 2**32 else ipaddress.IPv6Address(number))


def _as_network_misses(builtin: BuiltinGeo, address: str, sizes: tuple[list[int], list[int]]) -> bool:
    """True when geoip2fast names an AS network for ``address`` that does not contain it, sized by the
    address's own family (its ``asn_cidr`` is the network it picked)."""
    detail = builtin._db.lookup(address)
    if not isinstance(detail.asn_cidr, str) or "/" not in detail.asn_cidr:
        return False
    first, length = detail.asn_cidr.split("/")
    number, start = builtin._db._ip2int(address), builtin._db._ip2int(first)
    return bool(number > start + sizes[number >= 2**32][int(length)] - 1)


def _standard_address(text: str) -> bool:
    """An address as inet_pton reads it (geoip2fast alone would also read ``1.1.1`` or `` 8.8.8.8``)."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
        except (OSError, ValueError):
            continue
        return True
    return False


def _without_as(answer: GeoAnswer | None) -> GeoAnswer | None:
    if answer is None or (answer.country_iso_code is None and answer.continent_code is None):
        return None
    return GeoAnswer(country_iso_code=answer.country_iso_code, country_name=answer.country_name,
                     continent_code=answer.continent_code)


def test_builtin_answers_as_geoip2fast_lookup_does(builtin: BuiltinGeo) -> None:
    """``lookup`` gives the answer geoip2fast's own ``lookup`` gives — without an AS name where that AS
    network does not hold the address (geoip2fast's IPv6 sizing of IPv4 AS rows) — for random IPv4 and IPv6 addresses
    (in and out of its data), for the first, last and next address of its networks and of the IPv4
    index's steps (where answers change: random addresses rarely land there), and for odd input."""
    rng = random.Random(11)
    module = importlib.import_module("geoip2fast.geoip2fast")
    sizes = (module.numIPsv4, module.numIPsv6)
    addresses = [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(5000)]
    addresses += [":".join(f"{rng.randrange(0x2000, 0x3000 if i == 0 else 0x10000):x}" for i in range(8))
                  for _ in range(1000)]
    numbers = _boundary_numbers(module.mainListFirstIP, module.mainListNetlength, sizes, 1500, rng)
    numbers += _boundary_numbers(module.mainListFirstIPASN, module.mainListNetlengthASN, sizes, 1500, rng)
    _tables, index = geo_builtin._indexed_tables()
    assert index is not None, "the IPv4 index was not built for the bundled data: every lookup is slow"
    for at in [0, len(index.bounds) - 1, *rng.sample(range(len(index.bounds)), 3000)]:
        numbers += [index.bounds[at], index.bounds[at] - 1]
    addresses += [_text(number) for number in numbers if number >= 0]
    addresses += ["0.0.0.0", "255.255.255.255", "::", "::1", "::8.8.8.8", "::1:0:0", "::ffff:8.8.8.8",
                  "::ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::1%eth0", "300.1.1.1", "",
                  "not an address", "1.1.1", "8.8.8.8 ", " 8.8.8.8", "010.8.8.8", "0x8.8.8.8"]
    answers = [builtin.lookup(address) for address in addresses]
    named_outside = 0
    for address, answer in zip(addresses, answers, strict=True):
        expected = builtin._lookup_public(address) if _standard_address(address) else None
        if _as_network_misses(builtin, address, sizes):  # geoip2fast's bug we do not keep (_asn_row)
            named_outside += expected is not None and expected.as_organization is not None
            expected = _without_as(expected)
        assert answer == expected, address
    assert named_outside > 100  # the case is exercised: gaps between AS networks are asked about
    assert sum(answer is not None and answer.country_iso_code is not None for answer in answers) > 15_000
    assert any(answer is not None and answer.as_organization is None for answer in answers)
    assert any(answer is None for answer in answers[6000:])  # boundaries outside the data are asked too
    for address in addresses[:200]:  # IPv4 by number, with and without the index, answers alike
        number = int(ipaddress.ip_address(address)) if "." in address else None
        if number is not None:
            assert builtin.lookup_ipv4(number) == builtin._lookup_ipv4_searched(number) == builtin.lookup(address)


def test_builtin_import_leaves_the_environment_and_ignores_the_working_directory(tmp_path: Path) -> None:
    # geoip2fast sets PYTHONWARNINGS=ignore on import and looks for its (pickled) data file in the
    # current directory first: neither may reach us.
    (tmp_path / "geoip2fast-asn-ipv6.dat.gz").write_bytes(b"not a pickle")
    script = textwrap.dedent("""
        import os
        from honeyscope.enrich.geo_builtin import BuiltinGeo
        answer = BuiltinGeo().lookup("8.8.8.8")
        print(os.environ.get("PYTHONWARNINGS"), os.environ.get("PYTHONIOENCODING"), answer.country_iso_code)
    """)
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", "None", "US"]


def test_geolite2_country_and_asn_files(mmdb_dir: Path) -> None:
    geo = MmdbGeo(str(mmdb_dir / "GeoLite2-Country.mmdb"), str(mmdb_dir / "GeoLite2-ASN.mmdb"))
    assert geo.uses_c_extension
    assert geo.lookup("81.2.69.142") == GeoAnswer(country_iso_code="GB", country_name="United Kingdom",
                                                  continent_code="EU", as_number=20712,
                                                  as_organization="Andrews & Arnold Ltd")
    # In the country file's IPv6 data but absent from the IPv4-only ASN file: country only, no error.
    assert geo.lookup("2a02:ff80::1") == GeoAnswer(country_iso_code="GB", country_name="United Kingdom",
                                                   continent_code="EU")
    # A record with only `registered_country` still names the country.
    answer = geo.lookup("198.41.128.5")
    assert answer is not None and answer.country_iso_code == "US"
    assert geo.lookup("8.8.8.8") is None
    assert geo.label.startswith("GeoLite2-Country.mmdb 2") and "GeoLite2-ASN.mmdb" in geo.label
    geo.close()


def test_ipinfo_lite_one_file_for_both(mmdb_dir: Path) -> None:
    path = str(mmdb_dir / "ipinfo_lite.mmdb")
    geo = MmdbGeo(path, path)
    assert geo.lookup("104.16.1.1") == GeoAnswer(country_iso_code="US", country_name="United States",
                                                 continent_code="NA", as_number=13335,
                                                 as_organization="Cloudflare, Inc.")
    answer = geo.lookup("2606:4700::6810:1")
    assert answer is not None and answer.as_number == 13335
    assert geo.label.startswith("ipinfo_lite.mmdb ") and "," not in geo.label
    geo.close()


def test_dbip_lite_country_only(mmdb_dir: Path) -> None:
    source = open_geo_source(EnrichSettings(geo="mmdb", country_mmdb=str(mmdb_dir / "dbip-country-lite.mmdb")))
    assert source is not None
    assert source.lookup("77.88.8.8") == GeoAnswer(country_iso_code="RU", country_name="Russia",
                                                   continent_code="EU")
    source.close()


@pytest.mark.parametrize(("name", "problem"), [
    ("missing.mmdb", "file not found"),
    ("empty.mmdb", "not a valid MaxMind DB"),
    ("junk.mmdb", "not a valid MaxMind DB"),
    (".", "not a valid MaxMind DB"),
])
def test_bad_mmdb_is_one_line_naming_file_and_fix(mmdb_dir: Path, name: str, problem: str) -> None:
    path = str(mmdb_dir / name)
    with pytest.raises(ConfigError) as caught:
        open_geo_source(EnrichSettings(geo="mmdb", country_mmdb=path))
    message = str(caught.value)
    assert "\n" not in message and problem in message
    assert "enrich.country_mmdb" in message and repr(path) in message and "geo = \"builtin\"" in message


def test_bad_asn_mmdb_names_its_setting(mmdb_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^enrich\.asn_mmdb = .*junk\.mmdb.*not a valid"):
        open_geo_source(EnrichSettings(geo="mmdb", country_mmdb=str(mmdb_dir / "GeoLite2-Country.mmdb"),
                                       asn_mmdb=str(mmdb_dir / "junk.mmdb")))


def test_mmdb_without_files_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"needs enrich\.country_mmdb and/or enrich\.asn_mmdb"):
        open_geo_source(EnrichSettings(geo="mmdb"))


def test_geo_none_opens_nothing() -> None:
    assert open_geo_source(EnrichSettings(geo="none")) is None
