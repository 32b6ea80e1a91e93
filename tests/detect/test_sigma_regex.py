"""Catastrophic-backtracking patterns are bounded: rule regexes run on RE2 (linear time)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from honeyscope.detect import Detector, load_rules
from honeyscope.detect.regexes import RegexRefused, compile_pattern, compile_search, direct_search, wrapper_search
from honeyscope.detect.samples import SampleRequest, replay

WriteRule = Callable[..., Path]


def test_nested_quantifier_on_a_long_hostile_value_is_fast(write_rule: WriteRule) -> None:
    rule = write_rule("""
        title: Catastrophic regex
        logsource:
            category: webserver
        detection:
            sel:
                http.request.body.content|re: '^(a+)+$'
            condition: sel
        """)
    rules = load_rules([rule])
    assert rules.errors == []
    detector = Detector(rules)
    # With Python's backtracking engine, 'a' * 40 + '!' alone would take minutes on this pattern.
    hostile, matching = replay([SampleRequest("POST", "/", (), b"a" * 200_000 + b"!"),
                                SampleRequest("POST", "/", (), b"a" * 1000)])
    started = time.perf_counter()
    assert detector.detect(hostile) == []
    assert [d.title for d in detector.detect(matching)] == ["Catastrophic regex"]
    assert time.perf_counter() - started < 2.0


def test_patterns_re2_cannot_run_are_refused() -> None:
    search = compile_search("(x+x+)+y", ignore_case=False, multiline=False, dot_all=False)
    assert search("x" * 5000) is False
    with pytest.raises(RegexRefused, match="cannot run on RE2"):
        compile_search(r"(a)\1", ignore_case=False, multiline=False, dot_all=False)


PATTERNS = [r"(?i)^/ecp/[0-9a-z]{1,3}\.js$", r'"(External|Internal)Url"\s*:\s*"[^"]', r"^(?:.*autodiscover\.json.@.*)$",
            r"^$", r"a|", r"(?m)^x-rps-cat=", r"\bcmd(\.exe)?\s+/c\b", r"é+", r"[\x00-\x1f]", r"(a+)+$", r"$"]
TEXTS = ["", "x", "/ecp/Ab.js", "/ECP/abcd.js", '{"ExternalUrl": "http://x"}', "a\nX-Rps-CAT=1", "ééé", "\x00",
         "cmd.exe /c whoami", "CMD /C dir", "a" * 5000 + "!", "autodiscover.json?@x", "line1\nautodiscover.json!@"]


@pytest.mark.parametrize("ignore_case", [False, True])
@pytest.mark.parametrize("dot_all", [False, True])
def test_the_direct_re2_call_answers_as_re2_search(ignore_case: bool, dot_all: bool) -> None:
    """``compile_search`` calls RE2's matcher directly; ``re2.search`` (the wrapper) is the reference."""
    answers = set()
    for pattern in PATTERNS:
        compiled = compile_pattern(pattern, ignore_case=ignore_case, multiline=False, dot_all=dot_all)
        direct = direct_search(compiled)
        assert direct is not None
        reference = wrapper_search(compiled)
        expected = [reference(text) for text in TEXTS]
        assert [direct(text) for text in TEXTS] == expected, pattern
        answers.update(expected)
    assert answers == {True, False}
