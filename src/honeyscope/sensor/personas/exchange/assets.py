"""Persona content loaded from ``data/`` once, and the static files IIS serves from it.

Static files (``/owa/auth/<build3>/themes/resources/…``, the favicons) carry IIS static-file headers:
ETag and Last-Modified are those of the files the Exchange setup laid down, so they are derived from the
build's release date and are the same for every file and every restart (a real server's are too).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from importlib.resources import files
from string import Template
from typing import Final

from honeyscope.sensor.auth.ntlm import filetime
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

_DATA: Final = files("honeyscope.sensor.personas.exchange") / "data"


@cache
def data_bytes(name: str) -> bytes:
    """The bytes of ``data/<name>`` (read once per process)."""
    return (_DATA / name).read_bytes()


@cache
def template(name: str) -> Template:
    """``data/<name>`` as a ``string.Template`` (UTF-8)."""
    return Template(data_bytes(name).decode("utf-8"))


@dataclass(frozen=True, slots=True)
class Asset:
    """One static file: its data file and MIME type."""

    data_name: str
    content_type: str


#: Files under ``/owa/auth/<build3>/themes/resources/`` (lower-case names; IIS matches paths without case).
THEME_RESOURCES: Final[dict[str, Asset]] = {
    "favicon.ico": Asset("favicon.ico", "image/x-icon"),
    "logon.css": Asset("logon.css", "text/css"),
    "owa_text_blue.png": Asset("owa_text_blue.png", "image/png"),
}

FAVICON: Final = THEME_RESOURCES["favicon.ico"]

# Release dates of common CUs (build3 → date) so file dates match the installed CU; others use the
# family's fallback. Source: Microsoft's build table as in CSS-Exchange Get-ExchangeBuildVersionInformation.
_RELEASED: Final[dict[str, datetime]] = {
    "15.0.1497": datetime(2019, 2, 12, tzinfo=UTC),
    "15.1.2106": datetime(2020, 9, 15, tzinfo=UTC),
    "15.1.2176": datetime(2020, 12, 15, tzinfo=UTC),
    "15.1.2242": datetime(2021, 3, 16, tzinfo=UTC),
    "15.1.2375": datetime(2021, 9, 28, tzinfo=UTC),
    "15.1.2507": datetime(2022, 4, 20, tzinfo=UTC),
    "15.2.721": datetime(2020, 9, 15, tzinfo=UTC),
    "15.2.792": datetime(2020, 12, 15, tzinfo=UTC),
    "15.2.858": datetime(2021, 3, 16, tzinfo=UTC),
    "15.2.986": datetime(2021, 9, 28, tzinfo=UTC),
    "15.2.1118": datetime(2022, 4, 20, tzinfo=UTC),
}
_FALLBACK: Final[dict[str, datetime]] = {
    "15.0": datetime(2019, 2, 12, tzinfo=UTC),
    "15.1": datetime(2021, 3, 16, tzinfo=UTC),
    "15.2": datetime(2021, 3, 16, tzinfo=UTC),
}


def files_written(identity: ExchangeIdentity) -> datetime:
    """When this build's files were compiled: a stable working-day time shortly before its release."""
    released = _RELEASED.get(identity.build3, _FALLBACK.get(identity.family, _FALLBACK["15.1"]))
    digest = hashlib.sha256(f"{identity.build}/files".encode()).digest()
    return released - timedelta(days=3 + digest[0] % 9, seconds=int.from_bytes(digest[1:4], "big") % 36000)


def static_validators(identity: ExchangeIdentity) -> tuple[str, str]:
    """(ETag without quotes, Last-Modified) as IIS derives them from the file time."""
    written = files_written(identity)
    return f"{filetime(written):x}:0", format_datetime(written, usegmt=True)
