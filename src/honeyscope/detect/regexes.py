"""Rule regular expressions that cannot hang the collector: they run on RE2.

RE2 (google-re2, already a pySigma dependency) matches in time linear in the input: there is no
backtracking, so catastrophic patterns like ``(a+)+$`` cost the same as any other. pySigma 2.0's default
(safe) policy already refuses, at load, any ``re`` value RE2 cannot compile (look-around,
back-references); whatever reaches us is compiled again here with RE2, never with Python's ``re``.

Rules only ask *whether* a pattern occurs, so the predicate calls RE2's matcher directly on the UTF-8
bytes (``_re2.RE2.Match``, the call ``re2.search`` makes) instead of going through ``re2.search``, whose
pure-Python wrapper builds a generator, maps byte offsets back to characters and a ``Match`` object on every
call (≈ 2 µs against ≈ 0.4 µs). The same RE2 program runs either way; ``test_sigma_regex.py`` checks that
both answer alike. Should a google-re2 release drop that entry point, the wrapper is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import re2  # type: ignore[import-untyped]

Search = Callable[[str], bool]


class RegexRefused(ValueError):
    """A pattern RE2 cannot run; the message says why and what to do."""


def compile_search(pattern: str, *, ignore_case: bool, multiline: bool, dot_all: bool) -> Search:
    """A ``search`` predicate for ``pattern`` (RE2: linear time in the input)."""
    compiled = compile_pattern(pattern, ignore_case=ignore_case, multiline=multiline, dot_all=dot_all)
    return direct_search(compiled) or wrapper_search(compiled)


def compile_pattern(pattern: str, *, ignore_case: bool, multiline: bool, dot_all: bool) -> Any:
    """``pattern`` compiled by google-re2's ``re2.compile`` (``RegexRefused`` when RE2 cannot run it)."""
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    options.case_sensitive = not ignore_case
    options.dot_nl = dot_all
    try:
        return re2.compile(("(?m)" if multiline else "") + pattern, options)
    except re2.error as error:
        reason = error.args[0].decode("utf-8", "replace") if error.args and isinstance(error.args[0], bytes) \
            else str(error)
        raise RegexRefused(f"regular expression {pattern!r} cannot run on RE2 ({reason}): rewrite it without "
                           "look-around or back-references") from None


def wrapper_search(compiled: Any) -> Search:
    """The predicate through google-re2's public ``search`` (the reference the direct call must equal)."""
    return lambda text: compiled.search(text) is not None


def direct_search(compiled: Any) -> Search | None:
    """The predicate calling the compiled RE2 program on the text's UTF-8 bytes, or None when this
    google-re2 has no such entry point."""
    program = getattr(compiled, "_regexp", None)
    match = getattr(program, "Match", None)
    anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
    if match is None or anchor is None:
        return None

    def search(text: str) -> bool:
        data = text.encode("utf-8")  # as re2.search does (it also raises on lone surrogates)
        start: int = match(anchor, data, 0, len(data))[0][0]  # the whole match's span; (-1, -1): none
        return start >= 0
    return search
