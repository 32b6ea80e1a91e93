"""ProxyToken (CVE-2021-33766): a ``SecurityToken`` cookie makes the front end skip authentication and
the back-end ECP acts for the mailbox in the URL (exchange-facts.md B.9). An unknown mailbox fails
with ObjectNotFoundException on ECP's 403 error page, which is what nuclei checks."""

from __future__ import annotations

import re

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import Artifact, PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.chains._common import make_reply
from honeyscope.sensor.personas.exchange.headers import exchange_headers
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

_PATH = re.compile(r"^/ecp/([^/]+@[^/]+)/(.*)$", re.IGNORECASE)
_CVE = "CVE-2021-33766"
_NOT_FOUND = "Microsoft.Exchange.Data.Storage.ObjectNotFoundException"


def handle(request: PersonaRequest, identity: ExchangeIdentity) -> Reply | None:
    """Claim ``/ecp/<mailbox>/...`` requests that carry a ``SecurityToken`` cookie."""
    match = _PATH.match(request.decoded_path)
    if match is None or "SecurityToken" not in request.cookies:
        return None
    mailbox, rest = match.groups()
    backend_cookie = f"X-BEResource={identity.backend_fqdn}~{identity.encoded_server_version}; path=/ecp; " \
                     "secure; HttpOnly"
    if not identity.is_known_mailbox(mailbox):
        extra = [("X-ECP-ERROR", _NOT_FOUND)]
        headers = exchange_headers(identity, extra=extra, set_cookies=[backend_cookie])
        body = _error_page(identity, mailbox).encode()
        return make_reply(Response(403, headers, body), "backend.ecp.error", "proxytoken.probe", tags=[_CVE])
    artifacts = [Artifact("payload", f"/ecp/{mailbox}/{rest}", request.body)] if request.body else []
    headers = exchange_headers(identity, content_type="application/json; charset=utf-8", set_cookies=[backend_cookie])
    body = b'{"d":{"__type":"PowerShellResults:ECP","Cmdlets":[],"Informations":[],"IsDDIEnabled":false,' \
           b'"Warnings":[],"Output":[]}}'
    stage = "proxytoken.inbox_rule" if "inboxrules" in rest.lower() else "proxytoken.access"
    return make_reply(Response(200, headers, body), "backend.ecp.delegated", stage, tags=[_CVE], artifacts=artifacts)


def _error_page(identity: ExchangeIdentity, mailbox: str) -> str:
    """ECP's error page for a 403 (short form; the sign-out script is what tools match)."""
    return (
        '<!DOCTYPE html>\r\n<html>\r\n<head>\r\n<meta http-equiv="X-UA-Compatible" content="IE=10" />\r\n'
        "<title>403 - Access is denied</title>\r\n<script type=\"text/javascript\">\r\n"
        "function signOut() {\r\n    window.location.href = \"/ecp/logoff.aspx\";\r\n}\r\n</script>\r\n"
        "</head>\r\n<body class=\"errorBody\">\r\n<div class=\"errorHeader\">\r\n"
        '<span id="msgCode">403</span>\r\n<span id="msgTitle">Access is denied</span>\r\n</div>\r\n'
        '<div class="errorContent"><span id="msgText">The operation couldn\'t be performed because object '
        f"'{mailbox}' couldn't be found on '{identity.backend_fqdn}'.</span></div>\r\n"
        '<div class="errorFooter"><a href="javascript:signOut()">sign out</a></div>\r\n</body>\r\n</html>'
    )
