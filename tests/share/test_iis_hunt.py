"""Acceptance: signature-base's log YARA rules fire, unchanged, on our IIS export of the emulated
ProxyShell and ProxyLogon chains; ``honeyscope hunt`` reports them per CVE with file:line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from honeyscope.detect.yara import YaraScanner
from honeyscope.events.schema import Detection, HttpRequestEvent
from honeyscope.share.iis import NO_CVE, hunt, write_iis_logs, yara_line_detector

SIGNATURE_BASE = Path(__file__).resolve().parents[3] / "shared" / "data" / "signature-base" / "yara"
pytestmark = pytest.mark.skipif(not SIGNATURE_BASE.is_dir(), reason="signature-base snapshot not present")


@pytest.fixture(scope="module")
def signature_base() -> YaraScanner:
    scanner = YaraScanner.load([SIGNATURE_BASE])
    assert scanner.errors == []
    return scanner


def _hits(scanner: YaraScanner, files: list[Path]) -> dict[str, list[str]]:
    """signature-base rule → the lines (file:line) it fired on, scanning line by line."""
    hits: dict[str, list[str]] = {}
    for path in files:
        for number, line in enumerate(path.read_bytes().split(b"\r\n"), start=1):
            for detection in scanner.scan_bytes(line, f"{path.name}:{number}"):
                hits.setdefault(detection.rule_id, []).append(f"{path.name}:{number}")
    return hits


def test_signature_base_fires_on_the_exported_proxylogon_chain(proxylogon_chain: Any, signature_base: YaraScanner,
                                                                tmp_path: Path) -> None:
    stats = write_iis_logs(proxylogon_chain.events, tmp_path)
    hits = _hits(signature_base, stats.files)
    # POST /ecp/y.js ... 200 with the in-the-wild user agents: the SSRF steps answered 200 (not the 241 logon).
    assert hits == {"apt_hafnium_log_sigs:LOG_APT_HAFNIUM_Exchange_Log_Traces_Mar21_1":
                    [f"u_ex210303.log:{n}" for n in (5, 6, 8, 9, 10)]}


def test_signature_base_fires_on_the_exported_proxyshell_chain(proxyshell_chain: Any, signature_base: YaraScanner,
                                                               tmp_path: Path) -> None:
    stats = write_iis_logs(proxyshell_chain.events, tmp_path)
    hits = _hits(signature_base, stats.files)
    fired = hits["expl_proxyshell:EXPL_Exchange_ProxyShell_Successful_Aug21_1"]
    powershell = [e for e in proxyshell_chain.events if "/powershell" in (e.url.query or "")]
    ews = [e for e in proxyshell_chain.events if "/EWS/" in (e.url.query or "")]
    assert len(fired) == len(powershell) + len(ews) >= 10  # the X-Rps-CAT PowerShell and EWS steps


def test_hunt_groups_findings_per_cve_with_their_lines(proxyshell_chain: Any, proxylogon_chain: Any,
                                                       signature_base: YaraScanner, tmp_path: Path) -> None:
    files = write_iis_logs([*proxylogon_chain.events, *proxyshell_chain.events], tmp_path).files

    def sigma_like(event: HttpRequestEvent) -> list[Detection]:  # stands in for the Sigma engine here
        if event.url.path == "/ecp/y.js" and event.http.request.method == "POST":
            return [Detection(rule_id="test-ssrf", title="ProxyLogon SSRF", cves=["CVE-2021-26855"])]
        return []

    report = hunt(files, line_detectors=[yara_line_detector(signature_base)], event_detectors=[sigma_like])
    assert report.files == 3 and report.unparsed == 0 and report.problems == []
    groups = report.by_cve()
    assert list(groups) == ["CVE-2022-41040", "CVE-2021-34523", "CVE-2021-34473", "CVE-2021-31207",
                            "CVE-2021-26855", NO_CVE]
    assert {f.location for f in groups["CVE-2021-26855"]} == {f"{tmp_path / 'u_ex210303.log'}:{n}"
                                                               for n in range(5, 11)}
    assert all(f.detection.rule_id.endswith("Log_Traces_Mar21_1") for f in groups[NO_CVE])
    assert all("/autodiscover/autodiscover.json" in f.line for f in groups["CVE-2021-34473"])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "honeyscope", *args], capture_output=True, text=True, timeout=120)


def test_cli_export_iis_then_hunt(proxyshell_chain: Any, tmp_path: Path) -> None:
    exported = _cli("export", "iis", "--spool", str(proxyshell_chain.spool), "--output", str(tmp_path / "logs"))
    assert exported.returncode == 0, exported.stderr
    files = sorted((tmp_path / "logs").glob("u_ex*.log"))
    assert [p.name for p in files] == ["u_ex210809.log", "u_ex210810.log"]
    assert exported.stdout.split() == [str(p) for p in sorted(files, key=lambda p: p.name)]

    text = _cli("hunt", *map(str, files), "--rules", str(SIGNATURE_BASE))
    assert text.returncode == 0, text.stderr
    assert "CVE-2021-34473:" in text.stdout
    assert "  [yara medium] expl_proxyshell:EXPL_Exchange_ProxyShell_Successful_Aug21_1: " in text.stdout
    assert f"    {files[0]}:7  2021-08-09 23:59:52 10.0.0.5 POST /autodiscover/autodiscover.json " in text.stdout

    result = _cli("hunt", *map(str, files), "--rules", str(SIGNATURE_BASE / "expl_proxyshell.yar"), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["files"] == 2 and document["lines"] == len(proxyshell_chain.events)
    yara = [f for f in document["by_cve"]["CVE-2021-34473"] if f["engine"] == "yara"]  # Sigma may add its own
    assert yara[0]["location"] == f"{files[0]}:7" and yara[0]["rule_id"].endswith("Successful_Aug21_1")
    assert len({f["location"] for f in yara}) == 10


def test_cli_hunt_reports_bad_input_clearly(tmp_path: Path) -> None:
    missing = _cli("hunt", str(tmp_path / "u_ex990101.log"))
    assert missing.returncode == 2 and "no such log file" in missing.stderr and "Traceback" not in missing.stderr
    log = tmp_path / "u_ex210303.log"
    log.write_text("2021-03-03 01:02:03 10.0.0.5 GET /owa/ - 443 - 192.0.2.1 curl/8.0 - 302 0 0 4\n")
    bad_rule = tmp_path / "broken.yar"
    bad_rule.write_text("rule broken {\n  condition:\n}\n")
    result = _cli("hunt", str(log), "--rules", str(bad_rule))
    assert result.returncode == 0
    assert f"honeyscope: warning: {bad_rule}:3: syntax error" in result.stderr
