"""The literal prefilter never hides a match: on any request, every rule that matches when evaluated
directly is among the detector's candidates (property test over requests built from rule literals)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honeyscope.detect import Detector, RuleSet, builtin_rule_paths, load_rules
from honeyscope.detect.fields import EventView
from honeyscope.detect.samples import SampleRequest, replay

RULES: RuleSet = load_rules(builtin_rule_paths())
DETECTOR = Detector(RULES)
LITERALS = sorted({literal for rule in RULES.rules for group in rule.requirement for _, literal in group})
PIECES = st.one_of(st.sampled_from(LITERALS), st.sampled_from(["/", "?", "&", "=", "@", "%40", "x", ".aspx",
                                                               "autodiscover.json", "Email=autodiscover/"]),
                   st.text(alphabet="abcXYZ019/-_.~", max_size=6))
TOKEN = st.lists(PIECES, max_size=6).map("".join).map(lambda s: s.replace(" ", "+").replace("\r", "").replace("\n", ""))


@st.composite
def requests(draw: st.DrawFn) -> SampleRequest:
    method = draw(st.sampled_from(["GET", "POST", "RPC_IN_DATA", "PUT"]))
    target = "/" + draw(TOKEN).lstrip("/")
    names = st.sampled_from(["Cookie", "User-Agent", "Authorization", "X-Up-Devcap-Post-Charset", "Referer"])
    headers = draw(st.lists(st.tuples(names, TOKEN.map(lambda s: s.replace(" ", "+"))), max_size=3))
    body = draw(TOKEN).encode("latin-1", "replace") if method != "GET" else b""
    return SampleRequest(method, target, tuple(headers), body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_every_matching_rule_is_a_candidate(request: SampleRequest) -> None:
    event = replay([request])[0]
    candidates = set(DETECTOR.candidates(event))
    matching = {index for index, rule in enumerate(RULES.rules) if rule.match(EventView(event))}
    assert matching <= candidates, [RULES.rules[i].meta.title for i in matching - candidates]
