"""Geo sources: geoip2fast's bundled data answers for well-known addresses; user MMDB files in the
GeoLite2, DB-IP Lite and IPinfo Lite layouts are read with maxminddb's C extension; bad files are one
clear configuration error."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from honeyscope.config import ConfigError, EnrichSettings
from honeyscope.enrich import GeoAnswer, open_geo_source
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


def test_builtin_direct_search_answers_as_geoip2fast_lookup_does(builtin: BuiltinGeo) -> None:
    """The table searches called directly give what geoip2fast's own ``lookup`` gives, for 5,000 random
    IPv4 and 1,000 random IPv6 addresses (in and out of its data) and odd input."""
    import random

    rng = random.Random(11)
    addresses = [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(5000)]
    addresses += [":".join(f"{rng.randrange(0x2000, 0x3000 if i == 0 else 0x10000):x}" for i in range(8))
                  for _ in range(1000)]
    addresses += ["::1", "::ffff:8.8.8.8", "fe80::1%eth0", "300.1.1.1", "", "not an address", "1.1.1"]
    fast = [builtin._find(address) for address in addresses]
    public = [builtin._find_public(address) for address in addresses]
    assert sum(found is not None and found[0] != "" for found in fast) > 3000  # most random addresses are placed
    for address, found, expected in zip(addresses, fast, public, strict=True):
        if found is None:  # outside every network of the data: lookup says "not found"
            assert not expected[0].isalpha() or len(expected[0]) != 2, address
            assert expected[2] is None, address
        else:
            assert found == expected, address


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
