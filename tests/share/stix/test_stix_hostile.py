"""Attacker strings in a STIX export: the bundle stays valid JSON and valid STIX, control characters become
visible escapes, huge values are cut with a marker, and the rest (script tags, formulas) is kept as data."""

from __future__ import annotations

import json
from typing import Any

from honeyscope.share.stix.synthetic import hostile_events
from honeyscope.share.stix.text import clean, is_clean

FORMULA = "=cmd|' /C calc'!A0"


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in [*_strings(key), *_strings(value)]]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


def test_hostile_requests_give_a_valid_bundle(stix):
    bundle = stix.export(hostile_events())
    result = stix.validate(bundle)
    assert result.is_valid, [str(e) for e in result.errors]
    assert len(stix.of_type(bundle, "sighting")) >= 3


def test_no_control_characters_and_no_unbounded_strings_reach_the_bundle(stix):
    bundle = stix.export(hostile_events())
    strings = _strings(bundle)
    assert not [s for s in strings if any((ord(c) < 0x20 and c not in "\t\n\r") or c == "\x7f" for c in s)]
    assert max(len(s) for s in strings) < 2048 + 100
    assert len(json.dumps(bundle)) < 200_000  # the events carry over 1 MB of attacker text


def test_attacker_text_is_kept_as_data_with_controls_made_visible(stix):
    bundle = stix.export(hostile_events())
    traffic = next(o for o in stix.of_type(bundle, "network-traffic")
                   if "Cookie" in o["extensions"]["http-request-ext"].get("request_header", {}))
    request = traffic["extensions"]["http-request-ext"]
    headers = request["request_header"]
    assert headers["User-Agent"] == ["<script>alert(document.domain)</script>" + FORMULA
                                     + "\\x1b[2J\\x1b[31mPWNED\\x1b[0m\\x00"]
    assert headers["Cookie"] == [f"X-BEResource={FORMULA}\\x00;onerror=alert(1)"]
    assert headers["Referer"] == ["javascript:alert(1)//"]
    assert headers["X-Weird_Header___"] == ["value"]  # STIX dictionary keys: [a-zA-Z0-9_-] only
    assert headers["Authorization"] == ["Basic [credentials removed]"]
    assert headers["X-Long"][0].endswith("…[truncated: 197952 more characters]")
    assert len(headers) == 32  # 200 flooding headers: the first 32 names are kept
    assert "cafÃ( ÿþ \x80\x81'\"\\<img src=x onerror=alert(1)>" in request["request_value"]


def test_a_method_with_nul_and_markup_is_escaped_and_lower_cased(stix):
    bundle = stix.export(hostile_events())
    methods = {o["extensions"]["http-request-ext"]["request_method"] for o in stix.of_type(bundle, "network-traffic")}
    assert "p\\x00st<svg/onload=alert(1)>" in methods


def test_paths_that_would_need_cutting_or_escaping_make_no_indicator(stix):
    bundle = stix.export(hostile_events())
    names = [o["name"] for o in stix.of_type(bundle, "indicator")]
    assert any("<img src=x onerror=alert(1)>" in name for name in names)  # printable: its pattern matches
    assert not any("lone.js" in name or "AAAA" in name for name in names)  # NUL / 200k characters: none


def test_clean_escapes_controls_replaces_surrogates_and_marks_cuts():
    assert clean("a\x00b\x1b[0m\tc\r\n\x7f") == "a\\x00b\\x1b[0m\tc\r\n\\x7f"
    assert clean("x\ud800y\udfff") == "x\ufffdy\ufffd"
    assert clean("é" * 10, 4) == "éééé…[truncated: 6 more characters]"
    assert is_clean("/ecp/y.js") and not is_clean("/a\x00") and not is_clean("/" * 3000)
