"""YARA over what the real Exchange persona records for whole exploit chains: request bodies and the
artifacts the chains "wrote", read back from a real spool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from honeyscope.detect.yara import YaraScanner, builtin_yara_paths
from honeyscope.events.schema import ArtifactRef, HttpRequestEvent
from honeyscope.sensor.personas.exchange import ExchangePersona
from honeyscope.testing.record import InProcessRecorder, proxylogon_in_the_wild, proxyshell_dmaasland


@pytest.fixture(scope="module")
def scanner() -> YaraScanner:
    return YaraScanner.load(builtin_yara_paths())


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[InProcessRecorder]:
    recorder = InProcessRecorder(ExchangePersona(), tmp_path / "spool")
    yield recorder
    recorder.close()


def _scan(scanner: YaraScanner, recorder: InProcessRecorder) -> dict[str, set[str]]:
    """Rule names (without namespace) per request, keyed by the persona's stage or route."""
    found: dict[str, set[str]] = {}
    for event in recorder.events:
        detections = scanner.scan_event(event, recorder.spool.directory)
        assert (event.event.kind == "alert") == bool(detections)
        assert ("intrusion_detection" in event.event.category) == bool(detections)
        key = event.honeyscope.stage or event.honeyscope.route
        found.setdefault(key, set()).update(d.rule_id.split(":")[1] for d in detections)
    return found


def test_proxylogon_chain_bodies_and_written_shell(scanner: YaraScanner, recorder: InProcessRecorder) -> None:
    reply = proxylogon_in_the_wild(recorder)
    assert reply.stage == "webshell.command"
    found = _scan(scanner, recorder)
    assert found["proxylogon.autodiscover"] == found["proxylogon.sid_leak"] == set()
    assert found["proxylogon.ecp_logon"] == {"HS_EXPL_ProxyLogon_ProxyLogonEcp_Sid"}
    assert found["proxylogon.oab_setobject_externalurl"] == {
        "HS_EXPL_ProxyLogon_OAB_ExternalUrl_Script", "HS_WEBSHELL_ChinaChopper_Jscript_ScriptBlock"}
    assert found["proxylogon.oab_reset_write"] == {
        "HS_EXPL_ProxyLogon_ResetOAB_FilePathName_Script_File",  # the request body
        "HS_WEBSHELL_OAB_VirtualDirectory_Dump_Script",  # the OAB dump written to the shell path...
        "HS_WEBSHELL_ChinaChopper_Jscript_ScriptBlock",  # ...with the shell in its ExternalUrl line
        "HS_IOC_MSTIC_Exchange_Mar21_WebShell_Path",  # ...owa\auth\OutlookZH.aspx is a MSTIC path
    }
    assert found["webshell.command"] == {"HS_EXPL_WebShell_Command_WScript_Shell"}


def test_proxyshell_chain_bodies_and_pst_encoded_shell(scanner: YaraScanner, recorder: InProcessRecorder) -> None:
    reply = proxyshell_dmaasland(recorder)
    assert reply.response.body.split(b"zzdel")[1] == b"nt authority\\system\r\n"
    found = _scan(scanner, recorder)
    assert found["proxyshell.ews_createitem"] == {
        "HS_EXPL_ProxyShell_EWS_Impersonated_CreateItem", "HS_EXPL_ProxyShell_PST_Encoded_Attachment",
        "HS_WEBSHELL_ProxyShell_PST_Encoded_Script"}  # the last one on the stored attachment
    assert found["proxyshell.role_assignment"] == {"HS_EXPL_ProxyShell_Mailbox_Import_Export_Role"}
    assert found["proxyshell.export_request"] == {
        "HS_EXPL_ProxyShell_MailboxExport_To_Script_File", "HS_WEBSHELL_ProxyShell_PST_Encoded_Script"}
    export = next(e for e in recorder.events if e.honeyscope.stage == "proxyshell.export_request")
    [detection] = [d for d in export.honeyscope.detections if d.rule_id.endswith("PST_Encoded_Script")]
    assert detection.cves == ["CVE-2021-31207"]
    assert detection.evidence[0].startswith("artifact webshell \\\\localhost\\c$\\inetpub\\wwwroot\\aspnet_client\\")


def test_a_legitimate_owa_logon_triggers_nothing(scanner: YaraScanner, recorder: InProcessRecorder) -> None:
    agent = ("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                           "Chrome/120.0 Safari/537.36")
    recorder.send("GET", "/owa/", [agent])
    recorder.send("GET", "/owa/auth/logon.aspx?url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=0", [agent])
    form = b"destination=https%3A%2F%2Fmail.contoso.com%2Fowa%2F&flags=4&forcedownlevel=0&username=CONTOSO%5Cj.doe" \
           b"&password=Winter2021%21&passwordText=&isUtf8=1"
    recorder.send("POST", "/owa/auth.owa", [agent, ("Content-Type", "application/x-www-form-urlencoded")], form)
    assert _scan(scanner, recorder) == {key: set() for key in _scan(scanner, recorder)}
    assert all(e.event.kind == "event" and not e.honeyscope.detections for e in recorder.events)


def test_scanning_twice_adds_nothing(scanner: YaraScanner, recorder: InProcessRecorder) -> None:
    proxylogon_in_the_wild(recorder)
    first = [len(scanner.scan_event(e, recorder.spool.directory)) for e in recorder.events]
    again = [len(scanner.scan_event(e, recorder.spool.directory)) for e in recorder.events]
    assert sum(first) > 0 and again == [0] * len(first)


def test_artifact_references_cannot_name_other_files(scanner: YaraScanner, recorder: InProcessRecorder,
                                                     tmp_path: Path) -> None:
    secret = tmp_path / "secret.aspx"
    secret.write_bytes(b'<%@ Page Language="Jscript"%><%eval(Request.Item["z"],"unsafe");%>')
    _, event = recorder.send("GET", "/owa/")
    assert isinstance(event, HttpRequestEvent)
    event.honeyscope.artifacts = [
        ArtifactRef(sha256="../../secret.aspx", size=1, kind="webshell"),
        ArtifactRef(sha256="ab" * 32, size=1, kind="webshell", name="C:\\missing.aspx"),  # not stored: skipped
    ]
    assert scanner.scan_event(event, tmp_path / "spool") == []
    assert scanner.scan_event(event, None) == []
