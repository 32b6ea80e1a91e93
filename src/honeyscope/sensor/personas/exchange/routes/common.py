"""Small helpers every route module shares: URL handling as IIS/ASP.NET do it, and reply builders."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Final
from uuid import uuid4

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.headers import Header, exchange_headers
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity
from honeyscope.sensor.personas.iis import iis_error

# Characters System.Web.HttpUtility.UrlEncode leaves alone; everything else becomes %xx (lower-case hex)
# and a space becomes "+" (facts A.1: url=https%3a%2f%2f...).
_URLENCODE_SAFE: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!*()")

#: ASP.NET's headers that forbid caching (redirects and the sign-in page).
NO_CACHE: Final = "no-cache"


def dotnet_url_encode(text: str) -> str:
    """``HttpUtility.UrlEncode``: UTF-8, lower-case %xx, space as ``+``."""
    out: list[str] = []
    for byte in text.encode("utf-8", "surrogateescape"):
        if byte in _URLENCODE_SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02x}")
    return "".join(out)


def normalized_path(request: PersonaRequest) -> str:
    """The path as IIS maps it: percent-decoded, backslashes as slashes, compared without case."""
    return request.decoded_path.replace("\\", "/").lower()


def request_host(request: PersonaRequest) -> str:
    """The host a redirect names: the Host header, else the local address (HTTP/1.0 without Host makes
    IIS disclose its own IP this way, facts A.1)."""
    return request.host.strip() or request.local_ip


def host_name(request: PersonaRequest, identity: ExchangeIdentity) -> str:
    """The Host header without port (IIS's default Basic realm), else the public host name."""
    host = request.host.strip()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if host.count(":") == 1 else (host or identity.public_host)


def absolute_url(request: PersonaRequest, target: str | None = None) -> str:
    """``https://<host><target>``: Exchange redirects always name https (its vdirs require SSL)."""
    return f"https://{request_host(request)}{request.target if target is None else target}"


def logon_url(request: PersonaRequest, destination: str, reason: int) -> str:
    """FbaModule's redirect to the sign-in page (facts A.1: path, url=UrlEncode(original), reason)."""
    return absolute_url(request, f"/owa/auth/logon.aspx?url={dotnet_url_encode(destination)}&reason={reason}")


def http_date(moment: datetime) -> str:
    """An RFC 7231 date (naive datetimes are taken as UTC)."""
    return format_datetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC), usegmt=True)


def cookie_date(moment: datetime) -> str:
    """A Set-Cookie ``expires`` date the way ASP.NET writes it."""
    return moment.strftime("%a, %d-%b-%Y %H:%M:%S GMT")


def client_id_cookie(request: PersonaRequest) -> str:
    """OWA's ClientId cookie (32 upper-case hex digits, valid a year; facts A.2/A.4)."""
    expires = cookie_date(request.now + timedelta(days=365))
    return f"ClientId={new_client_id()}; expires={expires}; path=/; secure; HttpOnly"


def new_client_id() -> str:
    """A fresh ClientId value."""
    return uuid4().hex.upper()


def redirect(
    request: PersonaRequest, identity: ExchangeIdentity, location: str, *, status: int = 302,
    owa_version: bool = False, cookies: tuple[str, ...] = (), reason: str | None = None,
) -> Response:
    """An ASP.NET/HttpProxy redirect: no-cache, empty body, Location before Server."""
    headers = exchange_headers(
        identity, content_type=None, cache_control=NO_CACHE, backend=False, owa_version=owa_version,
        set_cookies=cookies, leading=(("Pragma", NO_CACHE), ("Location", location)),
    )
    return Response(status, headers, b"", reason=reason)


def html_headers(identity: ExchangeIdentity, *, extra: tuple[Header, ...] = (), owa_version: bool = False,
                 backend: bool = False) -> list[Header]:
    """Headers of an HTML page ASP.NET generated that must not be cached."""
    return exchange_headers(
        identity, cache_control="no-cache, no-store", backend=backend, owa_version=owa_version,
        leading=(("Pragma", NO_CACHE), ("Expires", "-1")), extra=extra,
    )


def iis_reply(identity: ExchangeIdentity, status: int, route: str, *, allow: tuple[str, ...] = ()) -> Reply:
    """IIS's own error page (404, 403, 405 ...)."""
    return Reply(iis_error(status, identity.server_header, allow=allow), route=route, reusable=True)


def directory_redirect(request: PersonaRequest, identity: ExchangeIdentity, directory: str) -> Reply:
    """IIS's courtesy redirect from a directory name to the directory (``/owa`` → ``/owa/``) [?]."""
    query = f"?{request.query}" if request.query else ""
    location = absolute_url(request, directory + query)
    body = (f'<head><title>Document Moved</title></head>\r\n<body><h1>Object Moved</h1>This document may be '
            f'found <a HREF="{html.escape(location)}">here</a></body>').encode("utf-8", "replace")
    headers = [("Content-Type", "text/html; charset=UTF-8"), ("Location", location),
               ("Server", identity.server_header), ("X-Powered-By", "ASP.NET")]
    return Reply(Response(301, headers, body), route="iis.directory_redirect")
