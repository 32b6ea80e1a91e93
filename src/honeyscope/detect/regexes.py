"""Rule regular expressions that cannot hang the collector: they run on RE2.

RE2 (google-re2, already a pySigma dependency) matches in time linear in the input: there is no
backtracking, so catastrophic patterns like ``(a+)+$`` cost the same as any other. pySigma 2.0's default
(safe) policy already refuses, at load, any ``re`` value RE2 cannot compile (look-around,
back-references); whatever reaches us is compiled again here with RE2, never with Python's ``re``.
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
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    options.case_sensitive = not ignore_case
    options.dot_nl = dot_all
    try:
        compiled: Any = re2.compile(("(?m)" if multiline else "") + pattern, options)
    except re2.error as error:
        reason = error.args[0].decode("utf-8", "replace") if error.args and isinstance(error.args[0], bytes) \
            else str(error)
        raise RegexRefused(f"regular expression {pattern!r} cannot run on RE2 ({reason}): rewrite it without "
                           "look-around or back-references") from None
    return lambda text: compiled.search(text) is not None
