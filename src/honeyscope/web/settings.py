"""Settings of the dashboard and JSON API (``[web]``), and the access-token rules derived from them.

One secret opens the dashboard: an access token (a long random string, used as ``Authorization: Bearer`` by
scripts and typed into the login form by people). It is configured only as a salted scrypt hash — in the
settings, in a file, or as the token itself in the ``HONEYSCOPE_WEB_TOKEN`` environment variable (hashed in
memory at start) — and is never logged. ``honeyscope web --hash-token`` prints the hash of a token.

Bound to a non-loopback address the app refuses to start without a token; on loopback it may run open
(``allow_open_loopback``, default true), and is then only served to ``Host`` names that are loopback
(a DNS-rebinding page cannot read it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec

# ``honeyscope.config`` imports this module for ``[web]``: take nothing from it at import time.

#: Environment variable holding the access token itself (hashed in memory; never written anywhere).
TOKEN_ENV: Final = "HONEYSCOPE_WEB_TOKEN"  # noqa: S105 — the variable's name, not a secret
#: scrypt cost: ~50 ms per check on our 2-core machine (only login and first use of a bearer token pay it).
_SCRYPT_N: Final = 2**14
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1
_HASH_PREFIX: Final = "scrypt"


class TaxiiSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``[web.taxii]``: the read-only TAXII 2.1 server the dashboard serves at ``/taxii2/`` (same token)."""

    #: Serve TAXII 2.1 at ``/taxii2/``.
    enabled: bool = True
    #: Name of the sensor network's STIX ``identity`` (the producer of every object) and of the server.
    network_name: str = "honeyscope sensor network"
    #: TLP 2.0 marking of every object: ``clear``, ``green``, ``amber``, ``amber+strict`` or ``red``.
    tlp: str = "amber"
    #: Whole UTC days of events in the collection, ending at the newest event (0: every event).
    days: int = 30
    #: Seconds one export is reused (a client paging through the collection reads one export).
    cache_seconds: float = 60.0
    #: Only events that matched a detection rule.
    only_detected: bool = False
    #: Minutes attribution (campaigns ``attributed-to`` intrusion sets with a confidence, as ``honeyscope
    #: export stix`` adds) is reused before it is recomputed in the background (0: no attribution).
    attribution_minutes: float = 15.0
    #: Extra intel files or directories for that attribution (as ``export stix --intel``).
    intel: tuple[str, ...] = ()


class WebSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``[web]``: where the dashboard listens and who may read it."""

    #: ``host:port`` the dashboard listens on (``[::1]:8000`` for IPv6).
    bind: str = "127.0.0.1:8000"
    #: scrypt hash of the access token (``honeyscope web --hash-token`` prints one).
    token_hash: str | None = None
    #: A file whose first line is such a hash (kept out of the settings file, e.g. mode 0600).
    token_hash_file: str | None = None
    #: Serve without a token when bound to loopback and no token is configured.
    allow_open_loopback: bool = True
    #: Shown in the page header and title.
    title: str = "honeyscope"
    #: Hours a login lasts.
    session_hours: float = 12.0
    #: PEM certificate and key: serve HTTPS directly (otherwise put a TLS proxy in front on non-loopback).
    tls_certificate: str | None = None
    tls_key: str | None = None
    #: Days of events (ending at the newest event) that sessions, actors and the live views analyse.
    analysis_days: int = 7
    #: Most events one session/actor analysis reads; a larger window is cut (the page says so).
    max_analysis_events: int = 200_000
    #: Seconds an analysis result (sessions, clusters, attribution, trends) is reused before recomputing.
    analysis_cache_seconds: float = 60.0
    #: ``[web.taxii]``: the TAXII 2.1 server at ``/taxii2/``.
    taxii: TaxiiSettings = msgspec.field(default_factory=TaxiiSettings)


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """What the settings mean for requests: whether a token is required, and how to check one."""

    host: str
    port: int
    loopback: bool
    #: ``None`` when the dashboard is open (loopback, no token configured).
    token_hash: str | None
    tls: bool

    @property
    def open(self) -> bool:
        return self.token_hash is None

    @property
    def secure_cookies(self) -> bool:
        """Secure cookies over TLS and whenever reachable from other hosts (a TLS proxy is then expected)."""
        return self.tls or not self.loopback


def is_loopback(host: str) -> bool:
    """Whether a bind or ``Host`` name is loopback: ``localhost``, 127.0.0.0/8, ::1."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def access_policy(settings: WebSettings, environ: dict[str, str] | None = None) -> AccessPolicy:
    """Decide from the settings whether a token is required; refuse what would expose the dashboard.

    Raises ``ConfigError`` (one line) for a non-loopback bind without a token, a loopback bind with
    ``allow_open_loopback = false`` and no token, an unreadable hash file, a malformed hash, or a TLS key
    without its certificate."""
    from honeyscope.config import ConfigError, parse_address

    env = os.environ if environ is None else environ
    host, port = parse_address(settings.bind)
    loopback = is_loopback(host)
    token_hash = _configured_hash(settings, env)
    if token_hash is None and not loopback:
        raise ConfigError(f"web.bind {settings.bind} is not a loopback address, so the dashboard needs an access "
                          f"token — set {TOKEN_ENV}, or web.token_hash / web.token_hash_file (make one with "
                          "'honeyscope web --hash-token'), or bind to 127.0.0.1")
    if token_hash is None and not settings.allow_open_loopback:
        raise ConfigError("web.allow_open_loopback is false but no access token is configured — set "
                          f"{TOKEN_ENV} or web.token_hash(_file), or allow the open loopback dashboard")
    if bool(settings.tls_certificate) != bool(settings.tls_key):
        raise ConfigError("web.tls_certificate and web.tls_key go together — set both (PEM files) or neither")
    return AccessPolicy(host=host, port=port, loopback=loopback, token_hash=token_hash,
                        tls=bool(settings.tls_certificate))


def _configured_hash(settings: WebSettings, env: dict[str, str] | os._Environ[str]) -> str | None:
    from honeyscope.config import ConfigError

    token = env.get(TOKEN_ENV)
    if token:
        check_token_strength(token, TOKEN_ENV)
        return hash_token(token)
    text = settings.token_hash
    where = "web.token_hash"
    if settings.token_hash_file:
        where = f"web.token_hash_file {settings.token_hash_file}"
        try:
            text = Path(settings.token_hash_file).read_text(encoding="utf-8").strip().splitlines()[0]
        except (OSError, IndexError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "empty or unreadable"
            raise ConfigError(f"{where}: cannot read the token hash ({reason}) — write the output of "
                              "'honeyscope web --hash-token' into it") from None
    if text is None:
        return None
    if not _parse_hash(text.strip()):
        raise ConfigError(f"{where}: not a token hash made by 'honeyscope web --hash-token' (expected "
                          f"'{_HASH_PREFIX}$N$r$p$salt$digest') — make one and paste it there")
    return text.strip()


def check_token_strength(token: str, where: str) -> None:
    """Tokens guard an internet-facing dashboard: refuse short ones (brute force) with a clear line."""
    from honeyscope.config import ConfigError

    if len(token) < 16:
        raise ConfigError(f"{where}: the access token is shorter than 16 characters — use a long random one, "
                          "e.g. 'honeyscope web --new-token'")


def new_token() -> str:
    """A fresh access token (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str, *, salt: bytes | None = None) -> str:
    """The storable form of a token: ``scrypt$N$r$p$<salt b64>$<digest b64>``."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(token.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return "$".join([_HASH_PREFIX, str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)])


def verify_token(token: str, stored: str) -> bool:
    """Whether ``token`` matches the stored hash (digests compared in constant time)."""
    parsed = _parse_hash(stored)
    if parsed is None:
        return False
    n, r, p, salt, digest = parsed
    candidate = hashlib.scrypt(token.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p,
                               dklen=len(digest), maxmem=256 * 1024 * 1024)
    return hmac.compare_digest(candidate, digest)


def _parse_hash(text: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != _HASH_PREFIX:
        return None
    try:
        n, r, p = (int(value) for value in parts[1:4])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return None
    if n < 2 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16 or len(salt) < 8 or len(digest) < 16:
        return None
    return n, r, p, salt, digest


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as error:
        raise ValueError(str(error)) from None


__all__ = [
    "TOKEN_ENV",
    "AccessPolicy",
    "WebSettings",
    "access_policy",
    "check_token_strength",
    "hash_token",
    "is_loopback",
    "new_token",
    "verify_token",
]
