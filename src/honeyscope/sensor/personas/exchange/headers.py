"""Response header sets of an Exchange front end (IIS + ASP.NET + HttpProxy), in IIS's order.

Order and names follow real responses quoted in exchange-facts.md A.2 (ProxyShell SSRF to /mapi/nspi on
2016 CU19; 401 from an autodiscover vdir on 2019 CU11): Cache-Control, Content-Type, Vary, Server,
request-id, X-CalculatedBETarget, X-ServerApplication, X-DiagInfo, X-BEServer, X-AspNet-Version,
Set-Cookie, WWW-Authenticate, X-Powered-By, X-FEServer; the sensor appends Date and Content-Length.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Final

from honeyscope.sensor.http.response import HeaderTemplate
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

Header = tuple[str, str]


_RANDOM = random.Random()

#: Argument combinations of ``exchange_headers`` remembered per identity, oldest forgotten first (they
#: may carry attacker input, e.g. a Location of ~50 KB).
_MEMO_LIMIT = 64


def new_request_id() -> str:
    """A fresh request-id GUID (Exchange sends one per request), formatted as a version-4 UUID.

    Made from a seeded Mersenne Twister rather than ``uuid.uuid4()`` (which reads os.urandom and builds a
    UUID object) and formatted 256 at a time from one block of random bytes: this runs on every
    response, and the value needs to look random, not be secret.
    """
    if not _REQUEST_IDS:
        text = _RANDOM.randbytes(16 * 256).hex()
        _REQUEST_IDS.extend(
            f"{text[i:i + 8]}-{text[i + 8:i + 12]}-4{text[i + 13:i + 16]}-{_VARIANT[text[i + 16]]}"
            f"{text[i + 17:i + 20]}-{text[i + 20:i + 32]}"
            for i in range(0, len(text), 32)
        )
    return _REQUEST_IDS.pop()


_REQUEST_IDS: list[str] = []
#: The RFC 4122 variant: the top two bits of the 17th hex digit are 10 (digit 8, 9, a or b).
_VARIANT: Final = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def exchange_headers(
    identity: ExchangeIdentity,
    *,
    content_type: str | None = "text/html; charset=utf-8",
    cache_control: str | None = "private",
    backend: bool = True,
    backend_target: str | None = None,
    owa_version: bool = False,
    set_cookies: Iterable[str] = (),
    www_authenticate: Iterable[str] = (),
    extra: Iterable[Header] = (),
    aspnet: bool = True,
    leading: Iterable[Header] = (),
) -> list[Header]:
    """Headers of a response that went through Exchange's HttpProxy (front end → back end).

    ``backend`` adds the headers a proxied request carries (X-CalculatedBETarget, X-ServerApplication,
    X-DiagInfo, X-BEServer); ``backend_target`` overrides the calculated target (ProxyLogon SSRF echoes
    the attacker's host there). ``extra`` goes after the back-end headers; ``leading`` goes before
    ``Server`` where ASP.NET puts Pragma, Expires and Location.
    """
    cookies, challenges = tuple(set_cookies), tuple(www_authenticate)
    key = (content_type, cache_control, backend, backend_target, owa_version, cookies, challenges, tuple(extra),
           aspnet, tuple(leading))
    if cookies or challenges:
        # Often made per response (ClientId, session ids, NTLM challenges): remembering them would only
        # push out the sets that do repeat.
        return HeaderTemplate(*_halves(identity, *key), fresh=new_request_id).stamp()
    # Only request-id differs between two calls with the same arguments: the template (whose serialised
    # form is prepared on first use) is remembered per identity.
    memo = identity.header_memo
    template = memo.get(key)
    if template is None:
        template = HeaderTemplate(*_halves(identity, *key), fresh=new_request_id)
        if len(memo) >= _MEMO_LIMIT:  # arguments may carry attacker input (Location): stay bounded
            del memo[next(iter(memo))]
        memo[key] = template
    return template.stamp()


def _halves(
    identity: ExchangeIdentity, content_type: str | None, cache_control: str | None, backend: bool,
    backend_target: str | None, owa_version: bool, set_cookies: tuple[str, ...], www_authenticate: tuple[str, ...],
    extra: tuple[Header, ...], aspnet: bool, leading: tuple[Header, ...],
) -> tuple[tuple[Header, ...], str, tuple[Header, ...]]:
    """The headers before request-id, its name, and the headers after it, in IIS's order."""
    before: list[Header] = []
    if cache_control:
        before.append(("Cache-Control", cache_control))
    if content_type:
        before.append(("Content-Type", content_type))
    before.extend(leading)
    before.append(("Server", identity.server_header))
    after: list[Header] = []
    if backend:
        after.append(("X-CalculatedBETarget", backend_target or identity.backend_fqdn))
        after.append(("X-ServerApplication", identity.server_application))
        after.append(("X-DiagInfo", identity.netbios_name))
        after.append(("X-BEServer", identity.netbios_name))
    if owa_version:
        after.append(("X-OWA-Version", identity.build))
    after.extend(extra)
    if aspnet:
        after.append(("X-AspNet-Version", "4.0.30319"))
    after.extend(("Set-Cookie", cookie) for cookie in set_cookies)
    after.extend(("WWW-Authenticate", value) for value in www_authenticate)
    if aspnet:
        after.append(("X-Powered-By", "ASP.NET"))
    after.append(("X-FEServer", identity.netbios_name))
    return tuple(before), "request-id", tuple(after)


def iis_static_headers(identity: ExchangeIdentity, content_type: str, *, etag: str, last_modified: str) -> list[Header]:
    """Headers IIS's static file handler sends (no ASP.NET, no HttpProxy)."""
    return [
        ("Content-Type", content_type),
        ("Last-Modified", last_modified),
        ("Accept-Ranges", "bytes"),
        ("ETag", f'"{etag}"'),
        ("Server", identity.server_header),
        ("X-Powered-By", "ASP.NET"),
    ]
