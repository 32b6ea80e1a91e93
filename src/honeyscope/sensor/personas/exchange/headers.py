"""Response header sets of an Exchange front end (IIS + ASP.NET + HttpProxy), in IIS's order.

Order and names follow real responses quoted in exchange-facts.md A.2 (ProxyShell SSRF to /mapi/nspi on
2016 CU19; 401 from an autodiscover vdir on 2019 CU11): Cache-Control, Content-Type, Vary, Server,
request-id, X-CalculatedBETarget, X-ServerApplication, X-DiagInfo, X-BEServer, X-AspNet-Version,
Set-Cookie, WWW-Authenticate, X-Powered-By, X-FEServer; the sensor appends Date and Content-Length.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

Header = tuple[str, str]


_RANDOM = random.Random()


def new_request_id() -> str:
    """A fresh request-id GUID (Exchange sends one per request), formatted as a version-4 UUID.

    Built from a seeded Mersenne Twister rather than ``uuid.uuid4()`` (which reads os.urandom and
    builds a UUID object): this runs on every response, and the value needs to look random, not be secret.
    """
    value = _RANDOM.getrandbits(128) & ~(0xF000 << 64) | (0x4000 << 64)
    value = value & ~(0xC000 << 48) | (0x8000 << 48)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


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
    headers: list[Header] = []
    if cache_control:
        headers.append(("Cache-Control", cache_control))
    if content_type:
        headers.append(("Content-Type", content_type))
    headers.extend(leading)
    headers.append(("Server", identity.server_header))
    headers.append(("request-id", new_request_id()))
    if backend:
        headers.append(("X-CalculatedBETarget", backend_target or identity.backend_fqdn))
        headers.append(("X-ServerApplication", identity.server_application))
        headers.append(("X-DiagInfo", identity.netbios_name))
        headers.append(("X-BEServer", identity.netbios_name))
    if owa_version:
        headers.append(("X-OWA-Version", identity.build))
    headers.extend(extra)
    if aspnet:
        headers.append(("X-AspNet-Version", "4.0.30319"))
    headers.extend(("Set-Cookie", cookie) for cookie in set_cookies)
    headers.extend(("WWW-Authenticate", value) for value in www_authenticate)
    if aspnet:
        headers.append(("X-Powered-By", "ASP.NET"))
    headers.append(("X-FEServer", identity.netbios_name))
    return headers


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
