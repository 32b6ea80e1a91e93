"""A simulated store (21 days around the ProxyLogon disclosure, store mode) plus hostile events, and the report
gathered from it once per test session.

Hostile events carry script tags, event handlers, ``javascript:`` URLs, CSS injection, CSV formulas, ANSI
escapes, invalid UTF-8 (decoded latin-1), NULs, bidi overrides and 200 KB values in paths, user agents,
headers and AS names; they matched CVE rules, so their source, user agents and artifacts reach the indicator
table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from honeyscope.report import ReportData, gather, render_html
from honeyscope.share.stix.synthetic import PROXYLOGON_SSRF, Origin, hostile_events, request
from honeyscope.simulate import parse_scenario, simulate
from honeyscope.store.duckdb import DuckDBStore

FIRST = date(2021, 2, 19)
LAST = date(2021, 3, 11)
HOSTILE_SOURCE = "198.18.0.66"
XSS = "<script>alert(document.domain)</script>"
FORMULA = "=cmd|' /C calc'!A0"
CSS = '</style><style>body{display:none}</style><div style="position:fixed;inset:0;background:red">'
JS_URL = "javascript:alert(1)"
HANDLER = '"><img src=x onerror=alert(1)>'
ANSI = "\x1b[2J\x1b[31mPWNED\x1b[0m"

#: 21 days at a tenth of the built-in volumes: HAFNIUM from its published addresses before the patch, Tick
#: after it, a mass wave of checks from 2021-03-03 (most from CN), a noisy scanner in a Chinese /24.
SCENARIO = """
[simulation]
start = 2021-02-19
days = 21
sensors = 3

[noise]
daily_events = 150.0
addresses_per_country = 30
[noise.countries]
US = 4
CN = 3
DE = 2
BR = 1
VN = 1

[[scanner]]
name = "Censys"
daily_events = 10.0

[[campaign]]
id = "hafnium-proxylogon"
actor = "hafnium"
kind = "proxylogon"
start = 2021-01-06
end = 2021-03-04
daily_sessions = 0.6
addresses = ["104.140.114.110", "108.61.246.56", "149.28.14.163", "157.230.221.198", "203.160.69.66"]
shell_names = ["OutlookZH.aspx", "errorPage.aspx"]
shell_key = "qPw8Lx3zT"
commands = ["cmd /c whoami"]
revisit = 0.3

[[campaign]]
id = "mass-checks"
kind = "proxylogon-check"
start = 2021-03-03
daily_sessions = 40.0
countries = { CN = 4, US = 2, DE = 1 }
address_count = 60

[[campaign]]
id = "cn-noisy-scanner"
kind = "scan"
daily_sessions = 12.0
countries = { CN = 1 }
address_count = 3
block = true
checks_since = 2021-03-03
tools = ["css-nse", "goby"]
noise_only = true
"""


@dataclass
class Simulated:
    """The data directory, the report gathered from it, its HTML, and the CPU seconds gathering and rendering
    took (tests get the constants from here: importlib mode cannot import conftest)."""

    data: Path
    report: ReportData
    html: str
    cpu_seconds: float
    first: date = FIRST
    last: date = LAST
    hostile_source: str = HOSTILE_SOURCE


def _hostile() -> list:
    start = datetime(2021, 3, 5, 12, 0, tzinfo=UTC)
    origin = Origin("CN", 4134, f"{XSS}{ANSI}")
    extra = [
        request(HOSTILE_SOURCE, start + timedelta(minutes=1), number=9101, target=f"/owa/{HANDLER}?x={CSS}",
                user_agent=f"{CSS}{JS_URL}", detections=[PROXYLOGON_SSRF], origin=origin,
                headers=[("Host", XSS), ("User-Agent", f"{CSS}{JS_URL}"), ("Referer", JS_URL), ("X-Css", CSS)]),
        request(HOSTILE_SOURCE, start + timedelta(minutes=2), number=9102, target="/ecp/y.js",
                user_agent=f"{FORMULA}{HANDLER}", detections=[PROXYLOGON_SSRF], origin=origin),
    ]
    return [*hostile_events(start), *extra]


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    data = tmp_path_factory.mktemp("report-sim")
    simulate(data, parse_scenario(SCENARIO, "report test scenario"), seed=11, scenario_text=SCENARIO)
    store = DuckDBStore(data / "honeyscope.duckdb")
    try:
        store.write(_hostile())
        began = time.process_time()
        report = gather(store, FIRST, LAST, tlp="amber", store_label="honeyscope.duckdb")
        html = render_html(report)
        spent = time.process_time() - began
    finally:
        store.close()
    return Simulated(data, report, html, spent)
