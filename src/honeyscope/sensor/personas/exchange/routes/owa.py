"""Outlook on the web (``/owa``): forms-based sign-in, its redirects, and the 440 of FBA."""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Final

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import Credential, PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.assets import template
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity
from honeyscope.sensor.personas.exchange.routes import static
from honeyscope.sensor.personas.exchange.routes.common import (
    absolute_url,
    client_id_cookie,
    directory_redirect,
    html_headers,
    http_date,
    logon_url,
    redirect,
    request_host,
)
from honeyscope.sensor.personas.exchange.routes.errors import (
    bad_request,
    login_timeout,
    method_not_allowed,
    not_found,
)

#: FbaModule's LogonReason values (facts A.1): None=0, InvalidCredentials=2.
REASON_NONE: Final = 0
REASON_INVALID_CREDENTIALS: Final = 2

#: Form fields FbaModule requires before it even tries the credentials (missing → 400).
_REQUIRED_FIELDS: Final = ("destination", "flags", "username", "password")
_PAGE_VERBS: Final = frozenset({"GET", "HEAD", "POST"})
_AUTH_POST_PATHS: Final = frozenset({"/owa/auth.owa", "/owa/auth/owaauth.dll"})
_BAD_CREDENTIALS: Final = "The user name or password you entered isn't correct. Try entering it again."


def handle(request: PersonaRequest, identity: ExchangeIdentity, path: str) -> Reply:
    """Every request under ``/owa``."""
    if path == "/owa":
        return directory_redirect(request, identity, "/owa/")
    if path == "/owa/auth/logon.aspx":
        return logon_page(request, identity) if request.method in _PAGE_VERBS else method_not_allowed(identity)
    if path in _AUTH_POST_PATHS:
        return sign_in(request, identity)
    if path == "/owa/auth/errorfe.aspx":
        return error_page(request, identity)
    if path.startswith("/owa/auth/") or path == "/owa/favicon.ico":
        return static.owa_file(request, identity, path) or not_found(identity)
    route = "owa.service" if path.startswith("/owa/service") else "owa.redirect_to_logon"
    return protected(request, identity, route)


def protected(request: PersonaRequest, identity: ExchangeIdentity, route: str) -> Reply:
    """An FBA-protected URL without a session: GET goes to the sign-in page, anything else gets 440."""
    if request.method not in ("GET", "HEAD"):
        return login_timeout(request, identity, "owa.login_timeout")
    # X-OWA-Version on this redirect is what RIG's ms-exchange-version.nse (method 1) and MSF's
    # /owa/service probe read; whether real servers send it here is not verified (facts E.2) [?].
    response = redirect(request, identity, logon_url(request, absolute_url(request), REASON_NONE),
                        owa_version=True, cookies=(client_id_cookie(request),))
    return Reply(response, route=route)


def _query_value(request: PersonaRequest, name: str) -> str | None:
    if not request.query:  # most requests: nothing to parse
        return None
    lowered = name.lower()
    return next((value for key, value in request.query_params() if key.lower() == lowered), None)


def _is_ecp(destination: str) -> bool:
    path = destination.lower().split("?", 1)[0]
    return path.endswith("/ecp") or "/ecp/" in path


def render_logon(request: PersonaRequest, identity: ExchangeIdentity, *, destination: str, reason: int) -> bytes:
    """The sign-in page; with an ECP destination it is titled for the Exchange Admin Center."""
    return _render_logon(identity.build3, destination, reason == REASON_INVALID_CREDENTIALS)


# The page is the hottest response of the decoy: substituting a 10 KB template costs more than the
# rest of a request together, so renderings are cached (bounded: the destination is attacker input).
@lru_cache(maxsize=256)
def _render_logon(build3: str, destination: str, failed: bool) -> bytes:
    header = "Exchange Admin Center" if _is_ecp(destination) else "Outlook"
    page = template("logon.html").substitute(
        build3=build3,
        destination=html.escape(destination, quote=True),
        header_text=header,
        product_text=header,
        error_text=_BAD_CREDENTIALS if failed else "",
        error_style="" if failed else "display: none",
    )
    return page.encode("utf-8")


def logon_page(request: PersonaRequest, identity: ExchangeIdentity) -> Reply:
    """``/owa/auth/logon.aspx``: 200 with the sign-in form (facts A.1)."""
    destination = _query_value(request, "url") or f"https://{request_host(request)}/owa/"
    reason_text = _query_value(request, "reason") or "0"
    reason = int(reason_text) if reason_text.isdigit() and len(reason_text) < 3 else REASON_NONE
    body = render_logon(request, identity, destination=destination, reason=reason)
    headers = html_headers(identity, owa_version=True, extra=(("X-Frame-Options", "SAMEORIGIN"),))
    return Reply(Response(200, headers, body), route="owa.logon_page", reusable=True)


def sign_in(request: PersonaRequest, identity: ExchangeIdentity) -> Reply:
    """``POST /owa/auth.owa``: record the credential, then fail it (every password is wrong)."""
    if request.method in ("GET", "HEAD"):
        # [?] a GET of the form target restarts sign-in like any protected OWA URL.
        return protected(request, identity, "owa.auth_owa")
    if request.method != "POST":
        return login_timeout(request, identity, "owa.auth_owa")
    form = request.form()
    if any(name not in form for name in _REQUIRED_FIELDS):
        return bad_request(identity, "owa.auth_owa")
    credential = Credential(scheme="form", username=form["username"], password=form["password"])
    location = logon_url(request, form["destination"], REASON_INVALID_CREDENTIALS)
    response = redirect(request, identity, location)
    return Reply(response, route="owa.auth_owa", credentials=[credential])


def error_page(request: PersonaRequest, identity: ExchangeIdentity) -> Reply:
    """``/owa/auth/errorFE.aspx?httpCode=NNN``: OWA's front-end error page [?] (status 200 assumed)."""
    code = _query_value(request, "httpCode") or "500"
    message = {
        "404": "The page you're looking for couldn't be found.",
        "503": "The service is temporarily unavailable. Please try again in a few minutes.",
    }.get(code, "An unexpected error occurred and your request couldn't be handled.")
    body = template("error_fe.html").substitute(
        build3=identity.build3, build=identity.build, fe_server=identity.netbios_name, message=message,
        date=http_date(request.now),
    ).encode("utf-8")
    headers = html_headers(identity, owa_version=True)
    return Reply(Response(200, headers, body), route="owa.error_fe")
