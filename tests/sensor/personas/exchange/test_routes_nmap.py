"""Debian's nmap against a live sensor over TLS: http-title and http-ntlm-info print what they print for
a real Exchange 2016 server.

The scripts run in separate nmap processes: nmap's HTTP cache keys on host, port and path only, so in
one run whichever script fetches ``/`` first hands its response to the other (a real server too).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from honeyscope.testing import LiveSensor, live_sensor

pytestmark = [pytest.mark.nmap, pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap not installed")]


@pytest.fixture(scope="module")
def sensor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSensor]:
    with live_sensor(tmp_path_factory.mktemp("nmap"), http=None, https=0) as running:
        yield running


def nmap(sensor: LiveSensor, script: str) -> str:
    host, port = sensor.address("https")
    command = ["nmap", "-Pn", "-sT", "-n", "-p", str(port), "-sV", "--version-light", "--script", script, host]
    return subprocess.run(command, capture_output=True, text=True, timeout=240, check=True).stdout


def test_nmap_http_title(sensor: LiveSensor) -> None:
    output = nmap(sensor, "http-title")
    host, port = sensor.address("https")
    assert "ssl/http Microsoft IIS httpd 10.0" in output
    assert "| http-title: Outlook" in output
    assert f"Requested resource was https://{host}:{port}/owa/auth/logon.aspx?url=https%3a%2f%2f" in output


def test_nmap_http_ntlm_info(sensor: LiveSensor) -> None:
    output = nmap(sensor, "http-ntlm-info")
    for line in ("Target_Name: CONTOSO", "NetBIOS_Domain_Name: CONTOSO", "NetBIOS_Computer_Name: EXCH01",
                 "DNS_Domain_Name: contoso.local", "DNS_Computer_Name: EXCH01.contoso.local",
                 "DNS_Tree_Name: contoso.local", "Product_Version: 10.0.14393"):
        assert line in output
