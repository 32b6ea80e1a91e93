"""EWS reached as SYSTEM through the ProxyShell SSRF: ResolveNames (address and SID discovery) and
CreateItem (the draft whose attachment the mailbox export later writes as a web shell)."""

from __future__ import annotations

import base64
import binascii
import re
from xml.sax.saxutils import escape

from honeyscope.sensor.personas.base import Artifact, PersonaRequest
from honeyscope.sensor.personas.exchange.chains._common import body_text, bounded_put, chain_state
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

STATE_KEY = "ews"
_SUBJECT = re.compile(r"<(?:\w+:)?Subject>([^<]*)</", re.IGNORECASE)
_ATTACHMENT = re.compile(r"<(?:\w+:)?FileAttachment>(.*?)</(?:\w+:)?FileAttachment>", re.IGNORECASE | re.DOTALL)
_NAME = re.compile(r"<(?:\w+:)?Name>([^<]*)</", re.IGNORECASE)
_CONTENT = re.compile(r"<(?:\w+:)?Content>([A-Za-z0-9+/=\s]*)</", re.IGNORECASE)
_UNRESOLVED = re.compile(r"<(?:\w+:)?UnresolvedEntry>([^<]*)</", re.IGNORECASE)
_ENVELOPE = (
    '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
    '<s:Header><h:ServerVersionInfo MajorVersion="{major}" MinorVersion="{minor}" MajorBuildNumber="{build}" '
    'MinorBuildNumber="{revision}" Version="V2017_07_11" '
    'xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" '
    'xmlns="http://schemas.microsoft.com/exchange/services/2006/types" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
    '</s:Header><s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema">{body}</s:Body></s:Envelope>'
)
_M = 'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" ' \
     'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"'


def _first(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    return match.group(1) if match else ""


def operation(body: str) -> str:
    """``resolvenames``, ``createitem`` or another EWS operation name (lower-case)."""
    match = re.search(r"<(?:\w+:)?Body\b[^>]*>\s*<(?:\w+:)?(\w+)", body, re.IGNORECASE)
    return match.group(1).lower() if match else ""


def envelope(identity: ExchangeIdentity, body: str) -> bytes:
    major, minor, build, revision = identity.build.split(".")
    return _ENVELOPE.format(major=major, minor=minor, build=build, revision=revision, body=body).encode()


def resolve_names(request: PersonaRequest, identity: ExchangeIdentity) -> bytes:
    """Every known mailbox matching the unresolved entry (``SMTP:`` lists them all)."""
    entry = _first(_UNRESOLVED, body_text(request)).lower()
    needle = entry.removeprefix("smtp:").split("@")[0]
    matches = [m for m in identity.settings.known_mailboxes if needle in m.lower()]
    resolutions = "".join(_resolution(identity, mailbox) for mailbox in matches)
    body = (
        f"<m:ResolveNamesResponse {_M}><m:ResponseMessages><m:ResolveNamesResponseMessage ResponseClass="
        '"Success"><m:ResponseCode>NoError</m:ResponseCode>'
        f'<m:ResolutionSet TotalItemsInView="{len(matches)}" IncludesLastItemInRange="true">{resolutions}'
        "</m:ResolutionSet></m:ResolveNamesResponseMessage></m:ResponseMessages></m:ResolveNamesResponse>"
    )
    if not matches:
        body = (f"<m:ResolveNamesResponse {_M}><m:ResponseMessages><m:ResolveNamesResponseMessage "
                'ResponseClass="Error"><m:MessageText>No results were found.</m:MessageText>'
                "<m:ResponseCode>ErrorNameResolutionNoResults</m:ResponseCode><m:DescriptiveLinkKey>0"
                "</m:DescriptiveLinkKey></m:ResolveNamesResponseMessage></m:ResponseMessages>"
                "</m:ResolveNamesResponse>")
    return envelope(identity, body)


def _resolution(identity: ExchangeIdentity, mailbox: str) -> str:
    smtp = f"{mailbox}@{identity.mail_domain}"
    display = escape(mailbox.replace(".", " ").title())
    return (
        f"<t:Resolution><t:Mailbox><t:Name>{display}</t:Name><t:EmailAddress>{escape(smtp)}</t:EmailAddress>"
        "<t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox>"
        f"<t:Contact><t:DisplayName>{display}</t:DisplayName><t:EmailAddresses>"
        f'<t:Entry Key="EmailAddress1">SMTP:{escape(smtp)}</t:Entry>'
        f'<t:Entry Key="EmailAddress2">X500:{escape(identity.legacy_dn(mailbox))}</t:Entry>'
        "</t:EmailAddresses><t:ContactSource>ActiveDirectory</t:ContactSource></t:Contact></t:Resolution>"
    )


def create_item(request: PersonaRequest, identity: ExchangeIdentity) -> tuple[bytes, list[Artifact]]:
    """Save the draft: its attachments are recorded (base64 text decoded to bytes, nothing else) and
    kept by subject so a later mailbox export can write them."""
    text = body_text(request)
    subject = _first(_SUBJECT, text)
    artifacts = []
    for index, attachment in enumerate(_ATTACHMENT.findall(text)[:8]):
        name = _first(_NAME, attachment) or f"attachment{index}"
        content = "".join(_first(_CONTENT, attachment).split())
        artifacts.append(Artifact("payload", f"ews:CreateItem/{subject}/{name}", _decode(content)))
        drafts = chain_state(request, STATE_KEY).setdefault("attachments", {})
        bounded_put(drafts, subject, content[:1_000_000])
    item_id = identity.stable_guid(f"item/{request.source_ip}/{subject}").replace("-", "")
    body = (
        f"<m:CreateItemResponse {_M}><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass=\"Success\">"
        "<m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Message>"
        f'<t:ItemId Id="AAMkA{item_id}AAA=" ChangeKey="CQAAABYAAA{item_id[:20]}"/>'
        "</t:Message></m:Items></m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse>"
    )
    return envelope(identity, body), artifacts


def _decode(content: str) -> bytes:
    try:
        return base64.b64decode(content)
    except (binascii.Error, ValueError):
        return content.encode()
