"""Known scanners come from data files that cite their sources; user files extend them; a malformed
file is one configuration error naming the file and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from honeyscope.config import ConfigError
from honeyscope.enrich import ScannerMatcher, parse_address
from honeyscope.enrich.ranges import address_key
from honeyscope.enrich.scanners import load_bundled


def by_address(matcher: ScannerMatcher, ip: str) -> str | None:
    address = parse_address(ip)
    assert address is not None
    return matcher.by_address(address_key(address))


@pytest.fixture(scope="module")
def bundled() -> ScannerMatcher:
    return ScannerMatcher.load()


def test_every_bundled_scanner_cites_a_source() -> None:
    entries = load_bundled()
    assert {"Censys", "Shodan", "Shadowserver", "Rapid7 Project Sonar", "Palo Alto Networks Cortex Xpanse",
            "InterneTTL", "LeakIX", "ZGrab", "Nuclei", "masscan"} <= {e.name for e in entries}
    for entry in entries:
        assert entry.source.startswith("https://"), entry.name
        assert entry.note, entry.name


@pytest.mark.parametrize(("ip", "scanner"), [
    ("162.142.125.33", "Censys"),
    ("::ffff:167.94.138.120", "Censys"),
    ("2602:80d:1006::5", "Censys"),
    ("71.6.199.23", "Shodan"),
    ("184.105.139.70", "Shadowserver"),
    ("71.6.233.17", "Rapid7 Project Sonar"),
    ("205.210.31.9", "Palo Alto Networks Cortex Xpanse"),
    ("104.152.52.1", "InterneTTL"),
    ("8.8.8.8", None),
    ("162.142.126.1", None),
])
def test_scanner_by_published_range(bundled: ScannerMatcher, ip: str, scanner: str | None) -> None:
    assert by_address(bundled, ip) == scanner


@pytest.mark.parametrize(("user_agent", "scanner"), [
    ("Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)", "Censys"),
    ("Expanse, a Palo Alto Networks company, searches across the global IPv4 space multiple times per day",
     "Palo Alto Networks Cortex Xpanse"),
    ("l9explore/1.0.0", "LeakIX (tool)"),
    ("l9tcpid/0.4.0", "LeakIX (tool)"),
    ("Mozilla/5.0 zgrab/0.x", "ZGrab (tool)"),
    ("nuclei - open-source project (github.com/projectdiscovery/nuclei)", "Nuclei (tool)"),
    ("masscan/1.3 (https://github.com/robertdavidgraham/masscan)", "masscan (tool)"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", None),
    ("", None),
])
def test_scanner_by_user_agent(bundled: ScannerMatcher, user_agent: str, scanner: str | None) -> None:
    assert bundled.by_user_agent(user_agent) == scanner


def test_user_files_add_scanners_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "ours.toml"
    toml.write_text('[[scanner]]\nname = "Our red team"\nranges = ["198.51.100.0/25", "2001:db8:7::/48"]\n'
                    'user_agents = ["RedTeam/"]\n', encoding="utf-8")
    json = tmp_path / "more.json"
    json.write_text('{"scanner": [{"name": "Narrow", "kind": "tool", "ranges": ["162.142.125.128/25"]}]}',
                    encoding="utf-8")
    matcher = ScannerMatcher.load([toml, str(json)])
    assert by_address(matcher, "198.51.100.5") == "Our red team"
    assert by_address(matcher, "2001:db8:7::9") == "Our red team"
    assert matcher.by_user_agent("curl RedTeam/2") == "Our red team"
    # The narrower user range wins inside Censys's /24; the rest of the /24 stays Censys.
    assert by_address(matcher, "162.142.125.200") == "Narrow (tool)"
    assert by_address(matcher, "162.142.125.10") == "Censys"


@pytest.mark.parametrize(("content", "problem"), [
    ('[[scanner]\nname = "x"', "not valid TOML"),
    ('[[scanner]]\nname = "x"\nranges = ["10.0.0.0/8"]\ncolour = "red"', "unknown field `colour`"),
    ('[[scanner]]\nranges = ["10.0.0.0/8"]', "missing required field `name`"),
    ('[[scanner]]\nname = "x"\nranges = "10.0.0.0/8"', "Expected `array`"),
    ('[[scanner]]\nname = "x"\nranges = ["10.0.0.300/8"]', "'10.0.0.300/8' is not an address range"),
    ('[[scanner]]\nname = "x"\nranges = ["10.0.0.1/8"]', "has host bits set"),
    ('[[scanner]]\nname = "x"', "neither ranges nor user_agents"),
    ('[[scanner]]\nname = "x"\nuser_agents = [" "]', "empty user_agents pattern"),
    ('[[scanner]]\nname = ""\nuser_agents = ["a"]', "empty name"),
])
def test_malformed_scanner_file_is_one_clear_error(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        ScannerMatcher.load([path])
    message = str(caught.value)
    assert str(path) in message and problem in message and "\n" not in message


def test_missing_scanner_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"enrich.scanner_files: .*nope\.toml: file not found"):
        ScannerMatcher.load([tmp_path / "nope.toml"])


def test_bad_json_scanner_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"scanner": [', encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        ScannerMatcher.load([path])
