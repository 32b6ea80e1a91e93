"""The Exchange persona's own options (``[personas.exchange]`` in the configuration file)."""

from __future__ import annotations

import msgspec


class ExchangeSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Everything that makes one decoy Exchange server distinct. Names must agree with each other:
    ``identity.py`` derives every header, page path, NTLM field and certificate name from these."""

    #: Full four-part Exchange build. Default: Exchange 2016 CU19 (vulnerable to ProxyLogon, ProxyShell).
    build: str = "15.1.2176.2"
    #: NetBIOS name of the Exchange server (upper-case on the wire, e.g. X-FEServer).
    netbios_name: str = "EXCH01"
    #: Active Directory DNS domain (internal), e.g. the backend FQDN is ``exch01.contoso.local``.
    ad_domain: str = "contoso.local"
    #: NetBIOS domain name (NTLM TargetName / NbDomainName).
    netbios_domain: str = "CONTOSO"
    #: The public host name users type (OWA URL, certificate).
    public_host: str = "mail.contoso.com"
    #: Primary SMTP domain of the organisation.
    mail_domain: str = "contoso.com"
    #: Exchange organisation name (LegacyDN /o=...).
    organization: str = "First Organization"
    #: Domain SID prefix used for leaked user SIDs (S-1-5-21-a-b-c).
    domain_sid: str = "S-1-5-21-3556931835-2135714726-3216061193"
    #: Name of a mailbox that "exists" (autodiscover and SID leaks succeed for it; others are unknown).
    known_mailboxes: tuple[str, ...] = ("administrator", "exchange.admin", "helpdesk")
    #: Seed for deterministic per-installation values (GUIDs, canaries) so restarts look consistent.
    seed: str = "honeyscope"
