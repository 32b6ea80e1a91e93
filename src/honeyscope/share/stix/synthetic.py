"""Synthetic events for exporter tests and benchmarks: an Exchange campaign, and hostile strings.

``campaign_events`` plays a ProxyLogon-style campaign: every source probes the OWA logon page; some send the
SSRF request (CVE-2021-26855, T1190) and some write a web shell (CVE-2021-27065, T1505.003, with the shell
stored as an artifact). Sources come from 198.18.0.0/15 (RFC 2544, not routed) and are enriched as public
addresses with a country and AS, as the collector would for real ones. Events are in time order.

``hafnium_chain`` records the ProxyLogon chain as seen in March 2021 through the real Exchange persona, from an
address Volexity published for HAFNIUM, with the built-in rules' detections: what attribution names HAFNIUM.

``hostile_events`` carries what attackers put in requests to break the tools that show them: script tags,
event handlers, ``javascript:`` URLs, CSV formulas, ANSI escapes, NULs, invalid UTF-8 (decoded latin-1),
odd header names and very long values.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, NamedTuple

from honeyscope.events.schema import (
    ArtifactRef,
    AsOrganization,
    AutonomousSystem,
    Detection,
    Endpoint,
    EventMeta,
    Geo,
    Honeyscope,
    HsConnection,
    HsEnrichment,
    HsRequest,
    Http,
    HttpBody,
    HttpRequestEvent,
    HttpRequestMeta,
    Observer,
    Tls,
    Url,
    UserAgent,
)

__all__ = ["CAMPAIGN_START", "HAFNIUM_ADDRESS", "PROXYLOGON_SSRF", "WEBSHELL_WRITE", "Origin", "campaign_events",
           "hafnium_chain", "hostile_events", "request"]

CAMPAIGN_START: Final = datetime(2021, 3, 3, 0, 0, tzinfo=UTC)
#: Published for HAFNIUM by Volexity (Operation Exchange Marauder indicators), in honeyscope's intel.
HAFNIUM_ADDRESS: Final = "104.140.114.110"
_NETWORK: Final = ipaddress.ip_network("198.18.0.0/15")


class Origin(NamedTuple):
    """Where the collector's enrichment places a source: country code, AS number and AS name."""

    country: str | None
    asn: int | None
    as_org: str | None


_ORIGINS: Final = (Origin("CN", 4134, "CHINANET-BACKBONE"), Origin("US", 14061, "DIGITALOCEAN-ASN"),
                   Origin("NL", 60781, "LeaseWeb Netherlands B.V."),
                   Origin("RU", 49505, "OOO Network of data-centers Selectel"))

PROXYLOGON_SSRF: Final = Detection(
    rule_id="hs-exchange-proxylogon-ssrf", title="ProxyLogon SSRF via X-BEResource cookie", severity="critical",
    cves=["CVE-2021-26855"], techniques=["T1190"], stage="proxylogon.ssrf",
    evidence=["cs-cookie: X-BEResource=localhost~1942062522"])
WEBSHELL_WRITE: Final = Detection(
    rule_id="hs-exchange-oab-webshell", title="Web shell written through OAB virtual directory", severity="critical",
    cves=["CVE-2021-27065"], techniques=["T1505.003", "T1190"], stage="proxylogon.webshell_write",
    evidence=["cs-uri-query: /ecp/DDI/DDIService.svc/SetObject"])


def request(ip: str, at: datetime, *, number: int, method: str = "GET", target: str = "/owa/",
            user_agent: str | None = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
            headers: list[tuple[str, str]] | None = None, detections: list[Detection] | None = None,
            artifacts: list[ArtifactRef] | None = None, origin: Origin | None = None, public: bool = True,
            scanner: str | None = None, body: bytes = b"") -> HttpRequestEvent:
    """One enriched ``http.request`` event as the collector stores it (event id from ``number``)."""
    path, _, query = target.partition("?")
    country, asn, as_org = origin or (None, None, None)
    names = headers if headers is not None else [("Host", "mail.contoso.com")] + (
        [("User-Agent", user_agent)] if user_agent is not None else [])
    autonomous = AutonomousSystem(number=asn, organization=AsOrganization(name=as_org)) if asn or as_org else None
    return HttpRequestEvent(
        timestamp=at, event=EventMeta(id=str(uuid.UUID(int=number)), kind="alert" if detections else "event"),
        observer=Observer(name="decoy-1"),
        source=Endpoint(ip=ip, port=40000 + number % 20000, geo=Geo(country_iso_code=country) if country else None,
                        as_=autonomous),
        destination=Endpoint(ip="10.0.0.5", port=443),
        http=Http(version="1.1", request=HttpRequestMeta(method=method, body=HttpBody(bytes=len(body)))),
        url=Url(original=target, path=path, query=query or None, domain="mail.contoso.com"),
        user_agent=UserAgent(original=user_agent) if user_agent is not None else None,
        tls=Tls(established=True, version="1.2"),
        honeyscope=Honeyscope(
            persona="exchange", route="ecp" if path.startswith("/ecp") else "owa",
            connection=HsConnection(id=f"c{number}", request_index=1),
            request=HsRequest(target=target, headers=names, body=body,
                              body_sha256=hashlib.sha256(body).hexdigest() if body else ""),
            artifacts=artifacts or [], detections=detections or [],
            enrichment=HsEnrichment(network="public" if public else "private", scanner=scanner,
                                    scanner_evidence="ip_range" if scanner else None, geo_source="synthetic"),
        ),
    )


def campaign_events(*, sources: int = 50, days: int = 1, start: datetime = CAMPAIGN_START,
                    exploit_every: int = 3, shell_every: int = 10) -> Iterator[HttpRequestEvent]:
    """Each day, each source probes OWA; every ``exploit_every``-th sends the SSRF request and every
    ``shell_every``-th writes a web shell. Events are spread over the day in time order."""
    if not 0 < sources <= _NETWORK.num_addresses:
        raise ValueError(f"sources must be 1..{_NETWORK.num_addresses}")
    number = 0
    step = timedelta(seconds=86_400 / (sources * 3 + 1))
    for day in range(days):
        moment = start + timedelta(days=day)
        for index in range(sources):
            ip = str(_NETWORK[index])
            origin = _ORIGINS[index % len(_ORIGINS)]
            number += 1
            moment += step
            yield request(ip, moment, number=number, target="/owa/auth/logon.aspx?replaceCurrent=1", origin=origin)
            if index % exploit_every == 0:
                number += 1
                moment += step
                yield request(ip, moment, number=number, method="POST", target="/ecp/y.js",
                              user_agent="ExchangeServicesClient/0.0.0.0", detections=[PROXYLOGON_SSRF],
                              headers=[("Host", "mail.contoso.com"), ("User-Agent", "ExchangeServicesClient/0.0.0.0"),
                                       ("Cookie", "X-BEResource=localhost~1942062522")], origin=origin)
            if index % shell_every == 0:
                number += 1
                moment += step
                shell = f'<script language="JScript" runat="server">eval(Request["k{index % 7}"])</script>'.encode()
                artifact = ArtifactRef(sha256=hashlib.sha256(shell).hexdigest(), size=len(shell), kind="webshell",
                                       name=r"\inetpub\wwwroot\aspnet_client\shell.aspx")
                yield request(ip, moment, number=number, method="POST", target="/ecp/DDI/DDIService.svc/SetObject"
                              "?schema=ResetOABVirtualDirectory", detections=[WEBSHELL_WRITE], artifacts=[artifact],
                              body=shell, origin=origin)


def hostile_events(start: datetime = CAMPAIGN_START) -> list[HttpRequestEvent]:
    """Requests whose every attacker-controlled string is hostile (all from one public-enriched source)."""
    script = "<script>alert(document.domain)</script>"
    formula = "=cmd|' /C calc'!A0"
    ansi = "\x1b[2J\x1b[31mPWNED\x1b[0m"
    latin1 = b"caf\xc3\x28 \xff\xfe \x80\x81".decode("latin-1")
    huge = "A" * 200_000
    odd_headers = [("Host", "mail.contoso.com"), ("User-Agent", f"{script}{formula}{ansi}\x00"),
                   ("X-Weird Header: \u00fc", "value"), ("Referer", "javascript:alert(1)//"),
                   ("Cookie", f"X-BEResource={formula}\x00;onerror=alert(1)"), ("", "empty name"),
                   ("Authorization", "Basic YWRtaW5pc3RyYXRvcjpQQHNzdzByZA=="), ("X-Long", huge),
                   *[(f"X-Flood-{i}", str(i)) for i in range(200)]]
    shell = b"<%@ Page Language=\"Jscript\"%><%eval(Request.Item[\"\x00\"],\"unsafe\");%>"
    artifact = ArtifactRef(sha256=hashlib.sha256(shell).hexdigest(), size=len(shell), kind="webshell",
                           name=f"{script}\x00.aspx")
    target = f"/ecp/{latin1}'\"\\<img src=x onerror=alert(1)>.js?q={script}&f={formula}"
    ip, origin = "198.18.0.66", Origin("CN", 4134, f"{script}{ansi}")
    return [
        request(ip, start, number=9001, target=target, headers=odd_headers, detections=[PROXYLOGON_SSRF],
                origin=origin),
        request(ip, start + timedelta(seconds=1), number=9002, method="P\x00ST<svg/onload=alert(1)>",
                target="/ecp/\x00lone.js", user_agent="\u202e\ufeff" + latin1 + huge,
                detections=[WEBSHELL_WRITE], artifacts=[artifact], body=shell, origin=origin),
        request(ip, start + timedelta(seconds=2), number=9003, target="/" + huge,
                user_agent=f"{formula}{ansi}", detections=[PROXYLOGON_SSRF], origin=origin),
    ]


def hafnium_chain(spool: Path, *, start: datetime = datetime(2021, 2, 27, 10, 0, tzinfo=UTC),
                  source_ip: str = HAFNIUM_ADDRESS) -> list[HttpRequestEvent]:
    """The in-the-wild ProxyLogon chain played through the Exchange persona (recorded into ``spool``), with
    the built-in Sigma rules' detections set as the collector sets them."""
    from honeyscope.detect import Detector, builtin_rule_paths, load_rules
    from honeyscope.sensor.personas.exchange import ExchangePersona
    from honeyscope.testing.record import InProcessRecorder, proxylogon_in_the_wild

    recorder = InProcessRecorder(ExchangePersona(), spool, source_ip=source_ip, start=start)
    proxylogon_in_the_wild(recorder, shell="OutlookZH.aspx")  # noqa: S604 - a web shell file name, no subprocess
    recorder.close()
    Detector(load_rules(builtin_rule_paths())).detect_batch(recorder.events)
    return recorder.events
