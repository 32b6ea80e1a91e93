"""What a rule matches: Sigma value semantics on our events, the detection a match produces, and
detect_batch's behaviour on hostile input."""

from __future__ import annotations

import base64
import logging
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from honeyscope.detect import Detector, load_rules
from honeyscope.detect.samples import SampleRequest, replay
from honeyscope.events.schema import (
    Detection,
    Endpoint,
    EventMeta,
    Honeyscope,
    HsConnection,
    HttpRequestEvent,
    Observer,
)

WriteRule = Callable[..., Path]


def rule_text(detection: str, **extra: str) -> str:
    header = "\n".join(f"{key}: {value}" for key, value in extra.items())
    return (f"title: Test rule\nid: 5d6c1e4e-1b2a-4c3d-9e8f-0a1b2c3d4e5f\nlogsource:\n    category: webserver\n"
            f"detection:\n{textwrap.indent(textwrap.dedent(detection).strip(), '    ')}\nlevel: high\n{header}\n")


def fires(write_rule: WriteRule, detection: str, *requests: SampleRequest) -> list[bool]:
    """Whether the rule fires on each request (each its own client)."""
    rules = load_rules([write_rule(rule_text(detection))])
    assert rules.errors == [], rules.errors
    detector = Detector(rules)
    return [bool(detector.detect(replay([request])[0])) for request in requests]


def get(target: str, *headers: tuple[str, str], method: str = "GET", body: bytes = b"") -> SampleRequest:
    return SampleRequest(method, target, headers, body)


def test_contains_startswith_endswith_exact_are_case_insensitive(write_rule: WriteRule) -> None:
    detection = """
        contains:
            cs-uri-query|contains: '/ECP/Default'
        starts:
            cs-uri-stem|startswith: '/owa/AUTH/'
        ends:
            cs-uri-stem|endswith: '.ASPX'
        exact:
            cs-method: 'get'
        condition: contains or (starts and ends and exact)
    """
    assert fires(write_rule, detection, get("/ecp/default.aspx?x=1"), get("/owa/auth/x.aspx"),
                 get("/owa/auth/x.aspx", method="POST"), get("/owa/auth/x.js")) == [True, True, False, False]


def test_cased_and_wildcards(write_rule: WriteRule) -> None:
    detection = """
        cased:
            cs-uri-query|cased|contains: 'X-Rps-CAT'
        glob:
            cs-uri-query: '/autodiscover/*.json?*@*'
        single:
            cs-uri-stem: '/ecp/?.js'
        condition: 1 of them
    """
    assert fires(write_rule, detection, get("/a?X-Rps-CAT=1"), get("/a?x-rps-cat=1"),
                 get("/Autodiscover/autodiscover.json?a@b"), get("/autodiscover/x.json?nothing"),
                 get("/ecp/y.js"), get("/ecp/yy.js")) == [True, False, True, False, True, False]


def test_regex_is_case_sensitive_unless_i(write_rule: WriteRule) -> None:
    assert fires(write_rule, "sel:\n    cs-uri-stem|re: '^/ecp/[a-z]{1,3}\\.js$'\ncondition: sel",
                 get("/ecp/ab.js"), get("/ecp/AB.js")) == [True, False]
    assert fires(write_rule, "sel:\n    cs-uri-stem|re|i: '^/ecp/[a-z]{1,3}\\.js$'\ncondition: sel",
                 get("/ecp/AB.js")) == [True]


def test_keywords_search_request_line_headers_body_and_status(write_rule: WriteRule) -> None:
    detection = "keywords:\n    - 'evil-marker'\ncondition: keywords"
    assert fires(write_rule, detection, get("/x?evil-marker"), get("/", ("X-Note", "EVIL-MARKER")),
                 get("/", method="POST", body=b"a=evil-marker"), get("/nothing")) == [True, True, True, False]
    assert fires(write_rule, "keywords:\n    '|all':\n        - 'POST'\n        - 404\ncondition: keywords",
                 get("/nope", method="POST", body=b"x"), get("/owa/auth/logon.aspx", method="POST")) == [True, False]


def test_user_agent_matches_in_raw_and_iis_spelling(write_rule: WriteRule) -> None:
    detection = """
        iis:
            cs-user-agent: 'Mozilla/5.0+(compatible;+Baiduspider/2.0)'
        raw:
            cs-user-agent|contains: 'Exchange check'
        condition: iis or raw
    """
    assert fires(write_rule, detection, get("/", ("User-Agent", "Mozilla/5.0 (compatible; Baiduspider/2.0)")),
                 get("/", ("User-Agent", "Mozilla/5.0 (Exchange check)")), get("/")) == [True, True, False]


def test_headers_cookies_null_exists_and_numbers(write_rule: WriteRule) -> None:
    detection = """
        cookie:
            http.request.cookies.x-beresource|startswith: 'localhost'
        header:
            http.request.headers.x-up-devcap-post-charset: 'IBM037'
        no_referer:
            cs-referer: null
        has_auth:
            http.request.headers.authorization|exists: true
        status:
            sc-status|gte: 500
        condition: (cookie and status) or (header and no_referer) or (has_auth and status)
    """
    assert fires(write_rule, detection,
                 get("/owa/auth/x.js", ("Cookie", "a=b; X-BEResource=localhost~1942062522")),
                 get("/", ("X-Up-Devcap-Post-Charset", "ibm037")),
                 get("/", ("X-Up-Devcap-Post-Charset", "IBM037"), ("Referer", "https://x/")),
                 get("/owa/auth/x.js", ("Authorization", "Basic eDp5"), ("Cookie", "X-BEResource=localhost~1")),
                 get("/owa/")) == [True, True, False, True, False]


def test_base64_windash_cidr_and_wide_bodies(write_rule: WriteRule) -> None:
    secret = base64.b64encode(b"\x00\x01<S N=\"Cmd\">New-MailboxExportRequest</S>").decode()
    detection = """
        offset:
            http.request.body.content|base64offset|contains: 'New-MailboxExportRequest'
        dash:
            http.request.body.content|windash|contains: ' -enc '
        net:
            c-ip|cidr: '203.0.113.0/24'
        wide:
            http.request.body.content|wide|contains: 'whoami'
        condition: offset or dash or wide or (net and dash)
    """
    utf16 = "cmd /c whoami".encode("utf-16-le")
    assert fires(write_rule, detection, get("/", method="POST", body=f"<a>{secret}</a>".encode()),
                 get("/", method="POST", body=b"powershell /enc AAAA"),
                 get("/", method="POST", body=utf16), get("/", method="POST", body=b"whoami")) == \
        [True, True, True, False]
    assert fires(write_rule, "sel:\n    c-ip|cidr: '198.51.100.0/24'\ncondition: sel",
                 SampleRequest("GET", "/", source_ip="198.51.100.9"), get("/")) == [True, False]


def test_a_match_produces_a_full_detection(write_rule: WriteRule) -> None:
    path = write_rule(rule_text("sel:\n    cs-uri-query|contains: '__VIEWSTATE='\ncondition: sel",
                                honeyscope_stage="cve_2020_0688.viewstate",
                                tags="\n    - attack.t1190\n    - cve.2020-0688"))
    detector = Detector(load_rules([path]))
    event = replay([get("/ecp/default.aspx?__VIEWSTATE=" + "A" * 400)])[0]
    [detection] = detector.detect(event)
    assert (detection.rule_id, detection.title, detection.engine, detection.severity) == (
        "5d6c1e4e-1b2a-4c3d-9e8f-0a1b2c3d4e5f", "Test rule", "sigma", "high")
    assert (detection.cves, detection.techniques, detection.stage) == (
        ["CVE-2020-0688"], ["T1190"], "cve_2020_0688.viewstate")
    [evidence] = detection.evidence
    assert evidence.startswith("url.original: /ecp/default.aspx?__VIEWSTATE=AAAA") and evidence.endswith("…")
    assert len(evidence) < 200


def test_detect_batch_marks_alerts_and_keeps_other_engines(write_rule: WriteRule) -> None:
    detector = Detector(load_rules([write_rule(rule_text("sel:\n    cs-uri-stem: '/bad'\ncondition: sel"))]))
    events = replay([get("/bad"), get("/good")])
    yara = Detection(rule_id="y1", title="YARA", engine="yara")
    events[0].honeyscope.detections = [yara, Detection(rule_id="old", title="stale sigma")]
    detector.detect_batch([*events, "not an event"])
    bad, good = events
    assert [d.rule_id for d in bad.honeyscope.detections] == ["y1", "5d6c1e4e-1b2a-4c3d-9e8f-0a1b2c3d4e5f"]
    assert bad.event.kind == "alert" and bad.event.category == ["web", "network", "intrusion_detection"]
    assert good.honeyscope.detections == [] and good.event.kind == "event"
    detector.detect_batch([bad])
    assert bad.event.category.count("intrusion_detection") == 1


def test_binary_huge_and_hostile_requests_never_raise(pack_and_sigmahq: object, caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    detector = Detector(pack_and_sigmahq)  # type: ignore[arg-type]
    hostile = [
        get("/upload", ("Content-Type", "application/octet-stream"), method="POST",
            body=bytes(range(256)) * 64 + b"\xff\xfe\x00\x00${jndi:ldap://x/a}"),
        get("/" + "%" * 4000, ("User-Agent", ("\u202e\u0130\u03a3" * 500).encode().decode("latin-1"))),
        get("/big", method="POST", body=b"A" * (2 << 20)),
        get("/a" * 2000 + "?" + "b=" * 3000, ("Cookie", "X-BEResource=" + "[:[@" * 1000)),
    ]
    events = replay(hostile)
    detector.detect_batch(events)
    assert "web.log4shell" in {d.stage for d in events[0].honeyscope.detections}
    broken = HttpRequestEvent(
        timestamp=datetime(2021, 3, 3, tzinfo=UTC), event=EventMeta(id="x"), observer=Observer(name="s"),
        source=Endpoint(ip="203.0.113.7", port=1), destination=Endpoint(ip="192.0.2.1", port=443),
        honeyscope=Honeyscope(persona="exchange", connection=HsConnection(id="c")))
    broken.http = None  # type: ignore[assignment]  # what a buggy upstream stage might hand over
    with caplog.at_level(logging.ERROR, logger="honeyscope.detect.engine"):
        detector.detect_batch([broken, events[1]])
    assert "detection failed on event x" in caplog.text
    assert broken.honeyscope.detections == []


def test_events_without_a_raw_head_are_matched_on_the_rebuilt_request(write_rule: WriteRule) -> None:
    detector = Detector(load_rules([write_rule(rule_text("keywords:\n    - 'x-marker'\ncondition: keywords"))]))
    event = replay([get("/", ("X-Note", "x-marker"))])[0]
    event.honeyscope.request.head = b""
    assert [d.title for d in detector.detect(event)] == ["Test rule"]
