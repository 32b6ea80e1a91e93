"""The optimised detector gives the same detections as the straightforward reading of the rules.

The reference below evaluates every rule on every event with a plain recursive interpreter over the rule's
tree (no literal prefilter, no batched automaton pass, no memo, none of the fused ``or`` tests) and builds
each detection's evidence from the documented witness (every leaf of an ``and``, the first true alternative
of an ``or``, nothing under a ``not``). ``Detector.detect_batch`` must produce exactly the same
``Detection`` values — rule, order and evidence — over a varied corpus: the benchmark's mix, every
sample of the pack, requests built from the literals of the pack and SigmaHQ (random case, latin-1 and
control bytes, several events per batch), events without a raw head, and bodies large enough to split a
batch into several automaton passes. Correlations are checked batch against event by event."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honeyscope.detect import Detector, RuleSet, builtin_rule_paths, load_rules
from honeyscope.detect.compiler import Leaf, Node, Tree
from honeyscope.detect.corpus import exploit_steps, legitimate_owa_session, scanner_noise
from honeyscope.detect.engine import EVIDENCE_ITEMS, SCAN_CHUNK_BYTES, _detection, _excerpt, _unique
from honeyscope.detect.fields import EventView
from honeyscope.detect.samples import SampleRequest, load_samples, replay, samples_path
from honeyscope.events import decode_event, encode_event
from honeyscope.events.schema import Detection, HttpRequestEvent

SIGMAHQ = Path(__file__).resolve().parents[3] / "shared" / "data" / "sigmahq"

# -- the straightforward path ------------------------------------------------------------------------------


def holds(tree: Tree, view: EventView) -> bool:
    """Whether ``tree`` is true on the event, read off the tree (Sigma: a field matches when any value does)."""
    if isinstance(tree, Leaf):
        if tree.values_test is not None:
            return tree.values_test(view)
        assert tree.value_test is not None
        values = view.lowered(tree.field) if tree.lowered else view.values(tree.field)
        return any(tree.value_test(value) for value in values)
    if tree.kind == "not":
        return not holds(tree.children[0], view)
    if tree.kind == "and":
        return all(holds(child, view) for child in tree.children)
    return any(holds(child, view) for child in tree.children)


def reference_witness(tree: Tree, view: EventView) -> list[Leaf]:
    if isinstance(tree, Leaf):
        return [tree]
    if tree.kind == "not":
        return []
    if tree.kind == "and":
        return [leaf for child in tree.children for leaf in reference_witness(child, view)]
    return next((reference_witness(child, view) for child in tree.children if holds(child, view)), [])


def reference_value(leaf: Leaf, view: EventView) -> str | None:
    if leaf.values_test is not None:
        return ", ".join(view.values(leaf.field)) if leaf.values_test(view) else None
    assert leaf.value_test is not None
    tested = view.lowered(leaf.field) if leaf.lowered else view.values(leaf.field)
    return next((view.values(leaf.field)[i] for i, value in enumerate(tested) if leaf.value_test(value)), None)


def reference_detections(rules: RuleSet, event: HttpRequestEvent) -> list[Detection]:
    """Every rule evaluated on the event (no correlations), in rule order."""
    view = EventView(event)
    found = []
    for rule in rules.rules:
        if not rule.generate or not holds(rule.tree, view):
            continue
        evidence: dict[str, None] = {}
        for leaf in reference_witness(rule.tree, view):
            value = reference_value(leaf, view)
            if value is not None:
                evidence[f"{leaf.field}: {_excerpt(value, leaf)}"] = None
            if len(evidence) >= EVIDENCE_ITEMS:
                break
        found.append(_detection(rule.meta, list(evidence)))
    return _unique(found)


def batch_detections(rules: RuleSet, events: list[HttpRequestEvent]) -> list[list[Detection]]:
    copies = [_copy(event) for event in events]
    Detector(rules).detect_batch(copies)
    return [[d for d in event.honeyscope.detections if d.engine == "sigma"] for event in copies]


def _copy(event: HttpRequestEvent) -> HttpRequestEvent:
    copy = decode_event(encode_event(event))
    assert isinstance(copy, HttpRequestEvent)
    return copy


def without_correlations(rules: RuleSet) -> RuleSet:
    return RuleSet(rules=rules.rules, files=rules.files)


# -- the corpus ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rules(pack: RuleSet) -> RuleSet:
    """Our pack plus the SigmaHQ webserver rules when the snapshot is there (the pack alone otherwise)."""
    if not SIGMAHQ.is_dir():
        return pack
    web = sorted(path for path in SIGMAHQ.rglob("*.yml") if "category: webserver" in path.read_text("utf-8"))
    return load_rules([*builtin_rule_paths(), *web])


def literals(rules: RuleSet) -> list[str]:
    return sorted({literal for rule in rules.rules for group in rule.requirement for _, literal in group})


def sample_requests(pack: RuleSet) -> list[SampleRequest]:
    requests: list[SampleRequest] = []
    for rule_file in pack.files:
        for sample in load_samples(samples_path(rule_file)).samples:
            requests.extend(sample.requests[:3])
    return requests


def scrambled(text: str, rng: random.Random) -> str:
    """``text`` with random letters upper-cased (rules are case-insensitive unless ``cased``)."""
    return "".join(c.upper() if rng.random() < 0.3 else c for c in text)


def literal_requests(rules: RuleSet, seed: int = 7) -> list[SampleRequest]:
    """Requests carrying the rules' literals where each kind of field reads them."""
    rng = random.Random(seed)
    words = literals(rules)
    requests = []
    for index, word in enumerate(words):
        safe = word.encode("latin-1", "replace").decode("latin-1").replace("\r", "").replace("\n", "")
        other = words[(index * 7 + 3) % len(words)]
        spot = index % 4
        target = "/" + (scrambled(safe, rng) if spot == 0 else f"owa/auth/x.aspx?q={other}").lstrip("/")
        headers = [("User-Agent", scrambled(safe, rng) if spot == 1 else "Mozilla/5.0 (X11)"),
                   ("Cookie", f"X-BEResource={safe if spot == 2 else other}; a=b")]
        body = (scrambled(safe, rng) if spot == 3 else other).encode("latin-1", "replace")
        requests.append(SampleRequest("POST" if index % 3 else "GET", target.replace(" ", "+"), tuple(headers), body))
    return requests


def odd_events() -> list[HttpRequestEvent]:
    """Latin-1 and control bytes, letters whose lower case is ASCII (K, ſ are not latin-1: İ, µ are), repeated
    headers, a raw head missing (the rebuilt-head path), and a body larger than one automaton pass."""
    big = b"x" * (SCAN_CHUNK_BYTES // 2) + b" cmd.exe /c whoami " + b"y" * 1000
    requests = [
        SampleRequest("GET", "/OWA/AUTH/\xc4\xd6.ASPX?\x00=\x7f", (("User-Agent", "\xb5\xc0 Mozilla"),)),
        SampleRequest("POST", "/ecp/DDI/DDIService.svc/SetObject", (("Cookie", "a=1"), ("Cookie", "X-BEResource=x~1"),
                                                                     ("X-Weird", "\x01\x1b[31m"))),
        SampleRequest("POST", "/aspnet_client/shell.aspx", (), big),
        SampleRequest("POST", "/owa/auth/x.js", (), big + b"Response.Write(new ActiveXObject(\"WScript.Shell\"))"),
        SampleRequest("GET", "/autodiscover/autodiscover.json?@zdi/Powershell&Email=autodiscover/autodiscover.json"),
    ]
    events = replay(requests)
    headless = [_copy(event) for event in events]
    for event in headless:
        event.honeyscope.request.head = b""
    return [*events, *headless]


@pytest.fixture(scope="module")
def corpus(rules: RuleSet, pack: RuleSet) -> list[HttpRequestEvent]:
    return [*replay(legitimate_owa_session()), *replay(scanner_noise()), *replay(exploit_steps()),
            *replay(sample_requests(pack)), *replay(literal_requests(rules)), *odd_events()]


# -- the checks ---------------------------------------------------------------------------------------------


def test_batch_detections_equal_the_reference_on_a_varied_corpus(rules: RuleSet, corpus: list[HttpRequestEvent]):
    plain = without_correlations(rules)
    got = batch_detections(plain, corpus)
    expected = [reference_detections(plain, event) for event in corpus]
    assert sum(1 for found in expected if found) > len(corpus) // 4  # the corpus does fire rules
    assert len({d.rule_id for found in expected for d in found}) > len(rules.rules) // 2
    mismatches = [(event.url.original, [d.rule_id for d in mine], [d.rule_id for d in theirs])
                  for event, mine, theirs in zip(corpus, got, expected, strict=True) if mine != theirs]
    assert mismatches == []


def test_detect_equals_detect_batch_with_correlations(rules: RuleSet, corpus: list[HttpRequestEvent]):
    spray = replay([SampleRequest("POST", "/owa/auth.owa", (), f"username=u{i}&password=x".encode(), at=i * 5.0)
                    for i in range(12)])
    events = [*corpus, *spray, *spray]
    one_by_one = Detector(rules)
    expected = [one_by_one.detect(_copy(event)) for event in events]
    assert any(d.rule_id in {c.meta.rule_id for c in rules.correlations} for found in expected for d in found)
    assert batch_detections(rules, events) == expected


def test_a_batch_split_over_several_passes_finds_each_events_own_literals(pack: RuleSet):
    quiet = SampleRequest("POST", "/owa/x", (), b"z" * (SCAN_CHUNK_BYTES - 100))
    loud = SampleRequest("POST", "/owa/x", (), b"q" * 50 + b" new ActiveXObject(\"WScript.Shell\") ")
    events = replay([quiet, loud, quiet, quiet, loud])
    expected = [reference_detections(without_correlations(pack), event) for event in events]
    assert [bool(found) for found in expected] == [False, True, False, False, True]
    assert batch_detections(without_correlations(pack), events) == expected


TOKENS = st.sampled_from(["/", "?", "&", "=", "@", "%40", ".aspx", "autodiscover.json", "Email=autodiscover/", "\xe9",
                          "\x00", "K", "POST", "../", ";", "+"])


@st.composite
def batches(draw: st.DrawFn, words: list[str]) -> list[SampleRequest]:
    pieces = st.one_of(st.sampled_from(words), st.sampled_from(words).map(str.upper), TOKENS,
                       st.text(alphabet="abcXYZ019/-_.~", max_size=6))
    token = st.lists(pieces, max_size=5).map("".join).map(
        lambda s: s.encode("latin-1", "replace").decode("latin-1").replace(" ", "+").translate({13: None, 10: None}))
    names = st.sampled_from(["Cookie", "User-Agent", "Authorization", "X-Up-Devcap-Post-Charset", "Referer",
                             "Content-Type"])
    result = []
    for _ in range(draw(st.integers(1, 6))):
        method = draw(st.sampled_from(["GET", "POST", "RPC_IN_DATA", "PUT", "HEAD"]))
        headers = tuple(draw(st.lists(st.tuples(names, token), max_size=3)))
        body = draw(token).encode("latin-1") if method != "GET" else b""
        result.append(SampleRequest(method, "/" + draw(token).lstrip("/"), headers, body))
    return result


def test_random_requests_built_from_rule_literals(rules: RuleSet):
    plain = without_correlations(rules)
    words = literals(rules)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(batches(words))
    def check(requests: list[SampleRequest]) -> None:
        events = replay(requests)
        assert batch_detections(plain, events) == [reference_detections(plain, event) for event in events]
    check()


def test_tree_shapes_are_what_the_reference_reads(rules: RuleSet):
    """The reference interprets ``Leaf``/``Node`` trees; every compiled rule is one."""
    def walk(tree: Tree) -> bool:
        return isinstance(tree, Leaf) or (isinstance(tree, Node) and tree.kind in ("and", "or", "not")
                                          and all(walk(child) for child in tree.children))
    assert all(walk(rule.tree) for rule in rules.rules)

