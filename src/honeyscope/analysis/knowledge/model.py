"""The knowledge base as attribution reads it: actor profiles, their indicators and where each came from."""

from __future__ import annotations

import ipaddress
import re
from datetime import date
from typing import Final, Literal

import msgspec

#: What an indicator describes, as a decoy can observe it.
IndicatorKind = Literal["ip", "cidr", "domain", "url", "sha256", "sha1", "md5", "user_agent", "request_path",
                        "webshell_path", "webshell_name", "shell_key"]
INDICATOR_KINDS: Final[tuple[str, ...]] = ("ip", "cidr", "domain", "url", "sha256", "sha1", "md5", "user_agent",
                                           "request_path", "webshell_path", "webshell_name", "shell_key")
#: How a path indicator matches: the whole path, a prefix, or a shell-style pattern (``/ecp/?.js``).
MatchMode = Literal["exact", "prefix", "glob"]
#: ``actor`` (a named group), ``activity`` (a cluster a vendor tracks without naming a group), ``malware``.
ProfileKind = Literal["actor", "activity", "malware"]

_HEX: Final = {"sha256": 64, "sha1": 40, "md5": 32}
_HOST: Final = re.compile(r"(?=.{1,253}$)(?!-)[a-z0-9_\-]{1,63}(?:\.[a-z0-9_\-]{1,63})+")


class Source(msgspec.Struct, frozen=True, kw_only=True):
    """A public source: where to read it, and who published what when."""

    url: str
    publication: str


class Indicator(msgspec.Struct, frozen=True, kw_only=True):
    """One observable tied to a profile. ``value`` is normalised (see ``normalize``)."""

    kind: IndicatorKind
    value: str
    source: Source
    match: MatchMode = "exact"
    note: str = ""
    #: The value as the source wrote it, when we translated it (e.g. a Windows path into a URL path).
    original: str = ""
    #: Set when the indicator belongs to a multi-actor campaign list rather than to this profile alone.
    campaign: str | None = None


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """A period the profile was reported active in a campaign; either end may be open."""

    name: str
    start: date | None = None
    end: date | None = None
    source: Source

    def contains(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    """A CVE, technique or exploit chain a profile is reported to use, with its source."""

    value: str
    source: Source


class ActorProfile(msgspec.Struct, frozen=True, kw_only=True):
    """One hypothesis attribution can name."""

    id: str
    name: str
    kind: ProfileKind = "actor"
    synonyms: list[str] = msgspec.field(default_factory=list)
    #: Country the galaxy (or our file) gives for the actor — weak context, never attribution by itself.
    country: str | None = None
    description: str = ""
    techniques: list[Claim] = msgspec.field(default_factory=list)
    cves: list[Claim] = msgspec.field(default_factory=list)
    #: Exploit-chain stages in the order the actor is reported to run them.
    chain: list[str] = msgspec.field(default_factory=list)
    chain_source: Source | None = None
    windows: list[Window] = msgspec.field(default_factory=list)
    indicators: list[Indicator] = msgspec.field(default_factory=list)
    #: MISP galaxy cluster ids (threat-actor / mitre-intrusion-set uuid) merged into this profile.
    galaxy: list[str] = msgspec.field(default_factory=list)
    refs: list[str] = msgspec.field(default_factory=list)
    #: Whether an intel file of ours describes it (else it comes from the galaxy alone).
    curated: bool = False


class KnowledgeBase(msgspec.Struct, frozen=True, kw_only=True):
    """Every profile, by id, and what was read to build it."""

    actors: dict[str, ActorProfile]
    #: Intel files read (paths), and the galaxy version, for the report's provenance line.
    files: list[str] = msgspec.field(default_factory=list)
    galaxy_version: str | None = None

    def find(self, name: str) -> ActorProfile | None:
        """A profile by id, name or synonym (case-insensitive)."""
        wanted = name.casefold()
        if wanted in self.actors:
            return self.actors[wanted]
        for profile in self.actors.values():
            if profile.name.casefold() == wanted or any(s.casefold() == wanted for s in profile.synonyms):
                return profile
        return None


def refang(value: str) -> str:
    """Undo the usual defanging of published indicators: ``1.2.3[.]4``, ``hxxp://``."""
    text = value.strip().replace("[.]", ".").replace("(.)", ".").replace("[:]", ":")
    return re.sub(r"^hxxp", "http", text, flags=re.IGNORECASE)


def normalize(kind: str, value: str) -> str:
    """The form an observable is compared in; raises ValueError naming what is wrong with ``value``."""
    text = refang(value) if kind in {"ip", "cidr", "domain", "url"} else value.strip()
    if not text:
        raise ValueError("empty value")
    if kind == "ip":
        return str(ipaddress.ip_address(text))
    if kind == "cidr":
        return str(ipaddress.ip_network(text, strict=False))
    if kind == "domain":
        host = text.lower().rstrip(".")
        if not _HOST.fullmatch(host):
            raise ValueError(f"{value!r} is not a host name")
        return host
    if kind == "url":
        if not re.match(r"(?i)^(https?|ftp)://[^/\s]+", text):
            raise ValueError(f"{value!r} is not an http(s)/ftp URL")
        return text
    if kind in _HEX:
        if not re.fullmatch(rf"[0-9a-fA-F]{{{_HEX[kind]}}}", text):
            raise ValueError(f"{value!r} is not {_HEX[kind]} hex digits")
        return text.lower()
    if kind == "user_agent":
        return normalize_user_agent(text)
    if kind in {"request_path", "webshell_path"}:
        if not text.startswith("/"):
            raise ValueError(f"{value!r} is not a URL path (it must start with /)")
        return text.lower()
    if kind == "webshell_name":
        if "/" in text or "\\" in text:
            raise ValueError(f"{value!r} is a path, not a file name (use webshell_path)")
        return text.lower()
    if kind == "shell_key":
        return text[:128]
    raise ValueError(f"unknown indicator kind {kind!r}")


def normalize_user_agent(user_agent: str) -> str:
    """User agents compare with IIS's ``+`` for space undone, whitespace collapsed, case folded."""
    return " ".join(user_agent.replace("+", " ").split()).casefold()
