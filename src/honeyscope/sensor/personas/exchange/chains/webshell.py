"""Web shells a chain "wrote" for this attacker, and the emulated answers when they are used.

A chain that writes a file (ResetOABVirtualDirectory FilePathName, New-MailboxExportRequest -FilePath)
calls ``write_shell``; the file then exists for that attacker only. Requests to it get what the real
file would give: the OAB virtual-directory dump (exchange-facts.md B.4) or a PST export, preceded by
the output of the China-Chopper style code the attacker sent. That code is never evaluated: the
``...Exec("<command>")...`` text is pattern-matched and ``canned.run`` supplies plausible output.
Known HAFNIUM shell paths the attacker did not write are not here, so they stay 404/302 as usual.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import Artifact, PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.chains import canned
from honeyscope.sensor.personas.exchange.chains._common import bounded_put, make_reply
from honeyscope.sensor.personas.exchange.headers import exchange_headers
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

STATE_KEY = "webshells"

#: Folders the web server publishes, as (marker in the Windows path, URL prefix).
_WEB_ROOTS = (("\\frontend\\httpproxy\\", "/"), ("\\inetpub\\wwwroot\\", "/"))
_SCRIPT_BLOCK = re.compile(r"<script\b.*?</script>", re.IGNORECASE | re.DOTALL)
_JS_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''
_TOKEN = re.compile(
    rf"(?P<exec>\.exec\(\s*(?P<cmd>{_JS_STRING})\s*\)(?:\s*\.\s*stdout\s*\.\s*readall\(\s*\))?)"
    rf"|(?P<activex>activexobject\(\s*(?:{_JS_STRING})\s*\))"
    rf"|(?P<lit>{_JS_STRING})",
    re.IGNORECASE | re.DOTALL,
)
_WRITE = re.compile(r"response\s*\.\s*write\s*\(", re.IGNORECASE)
_JS_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "0": "\0"}


def url_for_path(windows_path: str) -> str | None:
    """The URL path a file written at ``windows_path`` is served under (UNC admin shares included),
    e.g. ``\\\\127.0.0.1\\c$\\...\\FrontEnd\\HttpProxy\\owa\\auth\\x.aspx`` → ``/owa/auth/x.aspx``."""
    normal = windows_path.replace("/", "\\")
    lowered = normal.lower()
    for marker, prefix in _WEB_ROOTS:
        index = lowered.find(marker)
        if index >= 0:
            rest = normal[index + len(marker):].strip("\\")
            return prefix + rest.replace("\\", "/") if rest else None
    return None


def write_shell(request: PersonaRequest, windows_path: str, kind: str, **details: str) -> str | None:
    """Remember that this attacker's chain wrote ``windows_path``; returns its URL if web-reachable.
    ``kind`` is ``oab`` (OAB dump, details ``external_url``/``internal_url``) or ``export`` (PST)."""
    url = url_for_path(windows_path)
    if url is None:
        return None
    shells = request.state.setdefault(STATE_KEY, {})
    bounded_put(shells, url.lower(), {"kind": kind, "url": url, "file": windows_path, **details})
    return url


def oab_dump(identity: ExchangeIdentity, external_url: str, internal_url: str | None = None) -> str:
    """Get-OabVirtualDirectory | Format-List, as ResetOABVirtualDirectory writes it."""
    name = identity.netbios_name
    major, minor, build, revision = identity.build.split(".")
    domain_dn = ",".join(f"DC={part}" for part in identity.ad_domain.split("."))
    fields: list[tuple[str, str]] = [
        ("Name", "OAB (Default Web Site)"), ("PollInterval", "480"), ("OfflineAddressBooks", ""),
        ("RequireSSL", "True"), ("BasicAuthentication", "False"), ("WindowsAuthentication", "True"),
        ("OAuthAuthentication", "False"), ("MetabasePath", f"IIS://{identity.backend_fqdn}/W3SVC/1/ROOT/OAB"),
        ("Path", "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\OAB"),
        ("ExtendedProtectionTokenChecking", "None"), ("ExtendedProtectionFlags", ""),
        ("ExtendedProtectionSPNList", ""),
        ("AdminDisplayVersion", f"Version {major}.{minor} (Build {build}.{revision})"),
        ("Server", name), ("InternalUrl", internal_url or f"https://{identity.backend_fqdn}/OAB"),
        ("InternalAuthenticationMethods", "WindowsIntegrated"), ("ExternalUrl", external_url),
        ("ExternalAuthenticationMethods", "WindowsIntegrated"), ("AdminDisplayName", ""),
        ("ExchangeVersion", "0.10 (14.0.100.0)"),
        ("DistinguishedName", f"CN=OAB (Default Web Site),CN=HTTP,CN=Protocols,CN={name},CN=Servers,"
         f"CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,"
         f"CN={identity.organization},CN=Microsoft Exchange,CN=Services,CN=Configuration,{domain_dn}"),
        ("Identity", f"{name}\\OAB (Default Web Site)"), ("Guid", identity.stable_guid("oab-vdir")),
        ("ObjectCategory", f"{identity.ad_domain}/Configuration/Schema/ms-Exch-OAB-Virtual-Directory"),
        ("ObjectClass", "top\r\n" + " " * 34 + "msExchVirtualDirectory\r\n" + " " * 34 + "msExchOABVirtualDirectory"),
        ("WhenChanged", "3/3/2021 11:58:12 AM"), ("WhenCreated", "9/14/2020 3:22:41 PM"),
        ("WhenChangedUTC", "3/3/2021 11:58:12 AM"), ("WhenCreatedUTC", "9/14/2020 3:22:41 PM"),
        ("OrganizationId", ""), ("Id", f"{name}\\OAB (Default Web Site)"),
        ("OriginatingServer", f"dc01.{identity.ad_domain}"), ("IsValid", "True"), ("ObjectState", "Unchanged"),
    ]
    return "\r\n" + "".join(f"{label:<32}: {value}\r\n" for label, value in fields) + "\r\n\r\n\r\n"


# -- using a shell -----------------------------------------------------------------------------------


def handle(request: PersonaRequest, identity: ExchangeIdentity) -> Reply | None:
    """Answer a request to a shell this attacker wrote; None for every other path."""
    shells = request.state.get(STATE_KEY)
    if not shells:
        return None
    shell = shells.get(request.decoded_path.lower())
    if shell is None:
        return None
    codes = _code_values(request)
    output, commands = _emulate(codes, identity)
    artifacts = [Artifact("command", shell["url"], command.encode()) for command in commands]
    if codes and not commands:
        artifacts.append(Artifact("payload", shell["url"], "\n".join(codes).encode()))
    body = _render(shell, identity, output)
    stage = "webshell.command" if codes else "webshell.probe"
    route = "webshell." + str(shell["kind"])
    return make_reply(Response(200, _headers(shell, identity), body), route, stage, artifacts=artifacts)


def _code_values(request: PersonaRequest) -> list[str]:
    """Parameter values that look like script sent to a one-line eval shell."""
    values = [value for _, value in request.query_params()] + list(request.form().values())
    return [value for value in values if value.strip()]


def _emulate(codes: list[str], identity: ExchangeIdentity) -> tuple[str, list[str]]:
    """Output of the ``Response.Write(...)`` parts and the commands seen, in order."""
    output: list[str] = []
    commands: list[str] = []
    for code in codes:
        # The REQ= shell strips padding "|" before eval; only undo it when the code is unreadable.
        text = code.replace("|", "") if ".exec(" not in code.lower() else code
        written, found = _evaluate(text, identity)
        output.append(written)
        commands.extend(found)
    return "".join(output), commands


def _evaluate(code: str, identity: ExchangeIdentity) -> tuple[str, list[str]]:
    """Concatenate the string literals and emulated ``Exec(...)`` results inside ``Response.Write``."""
    write = _WRITE.search(code)
    pieces: list[str] = []
    commands: list[str] = []
    for token in _TOKEN.finditer(code):
        if token.group("exec"):
            command = _unescape(token.group("cmd")[1:-1])
            commands.append(command)
            if write and token.start() > write.start():
                pieces.append(canned.run(command, identity))
        elif token.group("lit") and write and token.start() > write.start():
            pieces.append(_unescape(token.group("lit")[1:-1]))
    return "".join(pieces), commands


def _unescape(text: str) -> str:
    """JScript string escapes (MSF sends quotes as \\u0022)."""

    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape[0] in "ux" and len(escape) > 1:
            return chr(int(escape[1:], 16))
        return _SIMPLE_ESCAPES.get(escape, escape)

    return _JS_ESCAPE.sub(replace, text)


def _render(shell: dict[str, Any], identity: ExchangeIdentity, output: str) -> bytes:
    """The page: command output first (Page_Load runs before the literal content), then the file."""
    if shell["kind"] == "export":
        filler = hashlib.sha256(str(shell["url"]).encode()).digest() * 16
        return b"!BDN" + filler[:180] + output.encode("utf-8", "replace") + filler[180:420]
    external = str(shell.get("external_url", "http://f/"))
    executes = str(shell["url"]).lower().endswith((".aspx", ".ashx", ".asmx", ".asp"))
    if executes:
        external = _SCRIPT_BLOCK.sub("", external)
    return (output + oab_dump(identity, external, shell.get("internal_url"))).encode("utf-8", "replace")


def _headers(shell: dict[str, Any], identity: ExchangeIdentity) -> list[tuple[str, str]]:
    if str(shell["url"]).lower().endswith(".txt"):
        return [("Content-Type", "text/plain"), ("Accept-Ranges", "bytes"), ("Server", identity.server_header),
                ("X-Powered-By", "ASP.NET")]
    return exchange_headers(identity, backend=False)
