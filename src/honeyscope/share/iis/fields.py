"""The IIS W3C extended log format: default fields, the header block, and how values are written.

IIS 7.5-10 default ``#Fields`` (verified against IIS 10 logs and Microsoft's field tables):
``date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer)
sc-status sc-substatus sc-win32-status time-taken``; date and time are UTC; an empty value is ``-``.

Writing a value (one log line per request, whatever the client sent):

* a space becomes ``+`` (what IIS does in ``cs(User-Agent)``, ``cs(Referer)``, ``cs(Cookie)``), so a
  literal ``+`` and a space look alike, exactly as in real IIS logs;
* the file is UTF-8 (IIS's default); bytes that are not valid UTF-8 are written ``%XX``;
* control characters (CR, LF, TAB, NUL, DEL, C1), other white space and line separators are written as
  ``%XX`` of their UTF-8 bytes: HTTP.sys would have refused such a request (it lands in the HTTPERR log,
  not in W3C); a decoy answers it, and its line must still be one line;
* a value longer than ``max_chars`` is cut (our bound; the cut is not marked).

Reading undoes ``+`` → space for the user-agent, referer and cookie fields only; ``%XX`` escapes are
kept as they are (IIS logs URL stems and queries as sent).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

DEFAULT_FIELDS: Final = (
    "date", "time", "s-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "s-port", "cs-username", "c-ip",
    "cs(User-Agent)", "cs(Referer)", "sc-status", "sc-substatus", "sc-win32-status", "time-taken",
)
#: Fields where IIS writes spaces as ``+``.
PLUS_FIELDS: Final = frozenset({"cs(user-agent)", "cs(referer)", "cs(cookie)"})
_CLEAN: Final = re.compile(r"[\x21-\x7e]*\Z")
_ESCAPE_CATEGORIES: Final = frozenset({"Cc", "Cs", "Zl", "Zp", "Zs", "Cf"})


def header_block(iis_version: str, first: str, fields: tuple[str, ...] = DEFAULT_FIELDS) -> str:
    """The directives IIS writes at the top of a log file (``first``: ``YYYY-MM-DD HH:MM:SS``)."""
    return (f"#Software: Microsoft Internet Information Services {iis_version}\r\n#Version: 1.0\r\n"
            f"#Date: {first}\r\n#Fields: {' '.join(fields)}\r\n")


def wire_bytes(text: str) -> bytes:
    """The bytes behind an event string: event text is latin-1 decoded wire bytes (schema rule); text
    from elsewhere (imports) may hold other characters and is taken as UTF-8."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def field_value(text: str | None, max_chars: int = 16384) -> str:
    """One field as IIS would write it (``-`` when empty); never contains white space or a line break."""
    if not text:
        return "-"
    if len(text) > max_chars:
        text = text[:max_chars]
    if _CLEAN.match(text):
        return text
    return "".join(_escape_char(ch) for ch in wire_bytes(text).decode("utf-8", "surrogateescape"))


def _escape_char(ch: str) -> str:
    if ch == " ":
        return "+"
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not valid UTF-8 (surrogateescape)
        return f"%{code - 0xDC00:02X}"
    if 0x21 <= code <= 0x7E or unicodedata.category(ch) not in _ESCAPE_CATEGORIES:
        return ch
    return "".join(f"%{byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))


def read_value(name: str, value: str) -> str | None:
    """A field read back: ``-`` is empty; ``+`` is a space in the fields where IIS writes it so."""
    if value == "-":
        return None
    if name.lower() in PLUS_FIELDS:
        return value.replace("+", " ")
    return value
