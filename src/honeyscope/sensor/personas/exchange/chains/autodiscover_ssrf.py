"""POX Autodiscover answered by the back end reached through SSRF (exchange-facts.md B.3 step 2).

Tools need, for a mailbox that exists: 200, ``User/LegacyDN``, ``Account/Protocol[Type=EXCH]/Server``
(MSF, PRA), ``<AD>`` (Zeop) and ``Protocol[Type=WEB]/Internal/OWAUrl`` (MSF collector), all in the
``outlook/responseschema/2006a`` namespace. Unknown addresses get the real error (``ErrorCode`` 500).
"""

from __future__ import annotations

import re
import uuid
from xml.sax.saxutils import escape

from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

_EMAIL = re.compile(r"<(?:\w+:)?EMailAddress>\s*([^<\s]+)\s*</(?:\w+:)?EMailAddress>", re.IGNORECASE)
_OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
_ENVELOPE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"


def requested_email(body: str) -> str | None:
    """The ``EMailAddress`` of a POX request."""
    match = _EMAIL.search(body)
    return match.group(1) if match else None


def mailbox_server_id(identity: ExchangeIdentity) -> str:
    """The EXCH ``Server`` value: mailbox GUID @ SMTP domain (MSF sends it back as MailboxId)."""
    return f"{identity.mailbox_guid}@{identity.mail_domain}"


def pox_response(identity: ExchangeIdentity, email: str | None) -> bytes:
    """The POX body for ``email``: settings for a known mailbox, else the not-found error."""
    if email is None or not identity.is_known_mailbox(email):
        return _error_body(identity).encode()
    return _settings_body(identity, email).encode()


def _settings_body(identity: ExchangeIdentity, email: str) -> str:
    alias = email.split("@")[0]
    smtp = f"{alias.lower()}@{identity.mail_domain}"
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\r\n<Autodiscover xmlns="{_ENVELOPE_NS}">\r\n'
        f'  <Response xmlns="{_OUTLOOK_NS}">\r\n'
        f"    <User>\r\n      <DisplayName>{escape(alias.capitalize())}</DisplayName>\r\n"
        f"      <LegacyDN>{escape(identity.legacy_dn(alias))}</LegacyDN>\r\n"
        f"      <AutoDiscoverSMTPAddress>{escape(smtp)}</AutoDiscoverSMTPAddress>\r\n"
        f"      <DeploymentId>{identity.stable_guid('deployment')}</DeploymentId>\r\n    </User>\r\n"
        f"    <Account>\r\n      <AccountType>email</AccountType>\r\n      <Action>settings</Action>\r\n"
        f"      <MicrosoftOnline>False</MicrosoftOnline>\r\n"
        f"{_exch_protocol(identity)}{_expr_protocol(identity)}{_web_protocol(identity)}"
        f"    </Account>\r\n  </Response>\r\n</Autodiscover>"
    )


def _server_dn(identity: ExchangeIdentity) -> str:
    return (
        f"/o={identity.organization}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
        f"/cn=Configuration/cn=Servers/cn={identity.mailbox_guid}@{identity.mail_domain}"
    )


def _exch_protocol(identity: ExchangeIdentity) -> str:
    public = f"https://{identity.public_host}"
    version = f"{identity.encoded_server_version:08X}"
    db_guid = identity.stable_guid("database")
    return (
        "      <Protocol>\r\n        <Type>EXCH</Type>\r\n"
        f"        <Server>{mailbox_server_id(identity)}</Server>\r\n"
        f"        <ServerDN>{escape(_server_dn(identity))}</ServerDN>\r\n"
        f"        <ServerVersion>{version}</ServerVersion>\r\n"
        f"        <MdbDN>{escape(_server_dn(identity))}/cn=Microsoft Private MDB</MdbDN>\r\n"
        f"        <PublicFolderServer>{identity.public_host}</PublicFolderServer>\r\n"
        f"        <AD>dc01.{identity.ad_domain}</AD>\r\n"
        f"        <ASUrl>{public}/EWS/Exchange.asmx</ASUrl>\r\n"
        f"        <EwsUrl>{public}/EWS/Exchange.asmx</EwsUrl>\r\n"
        f"        <EmwsUrl>{public}/EWS/Exchange.asmx</EmwsUrl>\r\n"
        f"        <EcpUrl>{public}/ecp/</EcpUrl>\r\n"
        f"        <OOFUrl>{public}/EWS/Exchange.asmx</OOFUrl>\r\n"
        f"        <OABUrl>{public}/OAB/{db_guid}/</OABUrl>\r\n"
        "        <ServerExclusiveConnect>off</ServerExclusiveConnect>\r\n      </Protocol>\r\n"
    )


def _expr_protocol(identity: ExchangeIdentity) -> str:
    return (
        "      <Protocol>\r\n        <Type>EXPR</Type>\r\n"
        f"        <Server>{identity.public_host}</Server>\r\n        <SSL>On</SSL>\r\n"
        "        <AuthPackage>Basic</AuthPackage>\r\n"
        f"        <ServerExclusiveConnect>on</ServerExclusiveConnect>\r\n"
        f"        <CertPrincipalName>None</CertPrincipalName>\r\n      </Protocol>\r\n"
    )


def _web_protocol(identity: ExchangeIdentity) -> str:
    internal = f"https://{identity.backend_fqdn}"
    return (
        "      <Protocol>\r\n        <Type>WEB</Type>\r\n        <Internal>\r\n"
        f'          <OWAUrl AuthenticationMethod="Basic, Fba">{internal}/owa/</OWAUrl>\r\n'
        f"          <Protocol>\r\n            <Type>EXCH</Type>\r\n"
        f"            <ASUrl>{internal}/EWS/Exchange.asmx</ASUrl>\r\n          </Protocol>\r\n"
        "        </Internal>\r\n      </Protocol>\r\n"
    )


def _error_body(identity: ExchangeIdentity) -> str:
    error_id = uuid.uuid5(uuid.NAMESPACE_DNS, identity.backend_fqdn).int % 10**10
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\r\n<Autodiscover xmlns="{_ENVELOPE_NS}">\r\n'
        f'  <Response>\r\n    <Error Time="12:00:00.0000000" Id="{error_id}">\r\n'
        "      <ErrorCode>500</ErrorCode>\r\n      <Message>The email address can't be found.</Message>\r\n"
        "      <DebugData />\r\n    </Error>\r\n  </Response>\r\n</Autodiscover>"
    )
