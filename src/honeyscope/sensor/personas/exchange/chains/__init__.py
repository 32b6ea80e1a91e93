"""Stateful emulation of the Exchange exploit chains (section B of exchange-facts.md).

Each handler looks at a request and returns a ``Reply`` if the request belongs to its chain, else None.
Handlers run in order before the ordinary routes. Stage names (``Reply.stage``):

- ``proxylogon.*``: ssrf_probe, autodiscover, sid_leak, ecp_logon, ecp_about, oab_getlist,
  oab_getobject, oab_setobject_externalurl, oab_reset_write, oab_setobject_cleanup, ddi_denied, mapi_nspi
- ``proxyshell.*`` / ``proxynotshell.*``: ssrf, mapi_nspi, autodiscover, sid_leak, ews_resolvenames,
  ews_createitem, powershell, wsman_create, wsman_command, wsman_receive, wsman_signal, wsman_delete,
  role_assignment, export_request, rce_payload
- ``owassrf.*``: the wsman steps; ``proxytoken.probe``/``inbox_rule``/``access``;
  ``cve_2020_0688.ecp_page``/``viewstate``; ``webshell.probe``/``command``.
"""

from __future__ import annotations

from collections.abc import Callable

from honeyscope.sensor.personas.base import PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.chains import (
    cve_2020_0688,
    owassrf,
    proxylogon,
    proxynotshell,
    proxyshell,
    proxytoken,
    webshell,
)
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

ChainHandler = Callable[[PersonaRequest, ExchangeIdentity], Reply | None]

#: ProxyNotShell before ProxyShell: both use the autodiscover.json cut, the former is the narrower form.
CHAIN_HANDLERS: tuple[ChainHandler, ...] = (
    proxylogon.handle,
    proxynotshell.handle,
    proxyshell.handle,
    owassrf.handle,
    proxytoken.handle,
    cve_2020_0688.handle,
    webshell.handle,
)

__all__ = ["CHAIN_HANDLERS", "ChainHandler"]
