"""Catastrophic-backtracking patterns are bounded: rule regexes run on RE2 (linear time)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from honeyscope.detect import Detector, load_rules
from honeyscope.detect.regexes import RegexRefused, compile_search
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
