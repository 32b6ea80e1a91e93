"""Attacker strings made safe to share: valid Unicode, no control characters, bounded length.

Everything an event holds beyond our own fields was written by an attacker (paths, headers, user agents,
bodies, decoded latin-1 from invalid UTF-8). JSON can carry all of it, and stix2-validator accepts NULs,
but consumers store indicators in databases and show them in terminals: PostgreSQL refuses ``\\u0000`` in
text, and ANSI escapes repaint terminals. So C0 controls (except tab, newline, carriage return) and DEL
become the visible text ``\\xNN``, lone surrogates become U+FFFD, and values longer than the limit are cut
with a marker saying how much was dropped. The original bytes stay in the store.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["MAX_TEXT", "clean", "is_clean"]

#: Characters kept of one attacker string by default.
MAX_TEXT: Final = 2048

_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` with controls escaped, surrogates replaced and at most ``limit`` characters (+ marker)."""
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    if _CONTROL.search(text):
        text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if len(text) > limit:
        return f"{text[:limit]}…[truncated: {len(text) - limit} more characters]"
    return text


def is_clean(text: str, limit: int = MAX_TEXT) -> bool:
    """Whether ``clean`` leaves ``text`` unchanged (patterns are only built from such values)."""
    return len(text) <= limit and not _CONTROL.search(text) and not _SURROGATE.search(text)
