"""Negative acceptance: a legitimate OWA user's session, replayed through the persona, triggers nothing —
neither our pack nor the SigmaHQ webserver rules — and background scanner noise stays quiet in our pack."""

from __future__ import annotations

from honeyscope.detect import Detector, RuleSet
from honeyscope.detect.corpus import legitimate_owa_session, scanner_noise
from honeyscope.detect.samples import replay


def test_a_legitimate_owa_session_triggers_nothing(pack_and_sigmahq: RuleSet) -> None:
    events = replay(legitimate_owa_session())
    assert len(events) >= 25
    routes = {event.honeyscope.route for event in events}
    assert {"owa.logon_page", "owa.auth_owa", "static.owa_resource"} <= routes
    assert any(c.username == "contoso\\jdoe" for e in events for c in e.honeyscope.credentials)
    Detector(pack_and_sigmahq).detect_batch(events)
    fired = [(e.url.original, d.title) for e in events for d in e.honeyscope.detections]
    assert fired == []
    assert all(e.event.kind == "event" and "intrusion_detection" not in e.event.category for e in events)


def test_scanner_noise_does_not_trigger_the_exchange_pack(pack: RuleSet) -> None:
    events = replay(scanner_noise())
    Detector(pack).detect_batch(events)
    assert [(e.url.original, d.title) for e in events for d in e.honeyscope.detections] == []
