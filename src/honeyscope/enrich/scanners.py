"""Known Internet scanners, from data: published address ranges and user-agent substrings.

The bundled list (``data/scanners.toml``) cites where each fact is published; users add their own files
in the same format (``enrich.scanner_files``, TOML or JSON)::

    [[scanner]]
    name = "Censys"
    kind = "organisation"            # or "tool": software anyone can run (zgrab, Nuclei, masscan)
    source = "https://…"             # where the ranges / user agents are published
    ranges = ["162.142.125.0/24", "2602:80d:1000::/48"]
    user_agents = ["CensysInspect/"] # case-insensitive substrings of User-Agent

A match by address beats a match by user agent (a user agent is trivially forged). Where ranges overlap
the most specific wins. A tool's label carries `` (tool)`` so nobody mistakes "ran Nuclei" for "is a
research scanner".
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Final, Literal

import msgspec

from honeyscope.config import ConfigError
from honeyscope.enrich.ranges import RangeTable, network_bounds

BUNDLED: Final = "data/scanners.toml"
_FORMAT_HELP: Final = "see docs/enrichment.md for the scanner list format"


class ScannerEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One scanner: who, what identifies it, and where that is published."""

    name: str
    kind: Literal["organisation", "tool"] = "organisation"
    source: str = ""
    ranges: tuple[str, ...] = ()
    user_agents: tuple[str, ...] = ()
    note: str = ""

    @property
    def label(self) -> str:
        """The value written to ``honeyscope.enrichment.scanner``."""
        return f"{self.name} (tool)" if self.kind == "tool" else self.name


class ScannerFile(msgspec.Struct, forbid_unknown_fields=True):
    """A scanner list file: ``[[scanner]]`` tables."""

    scanner: list[ScannerEntry] = msgspec.field(default_factory=list)


def _decode(data: bytes, origin: str, json: bool) -> list[ScannerEntry]:
    try:
        raw = msgspec.json.decode(data) if json else tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, msgspec.DecodeError) as error:
        raise ConfigError(f"{origin}: not valid {'JSON' if json else 'TOML'} ({error}) — fix the syntax "
                          "there") from None
    try:
        entries = msgspec.convert(raw, ScannerFile).scanner
    except msgspec.ValidationError as error:
        raise ConfigError(f"{origin}: {str(error).rstrip('.')} — {_FORMAT_HELP}") from None
    for entry in entries:
        _check(entry, origin)
    return entries


def _check(entry: ScannerEntry, origin: str) -> None:
    if not entry.name.strip():
        raise ConfigError(f"{origin}: a [[scanner]] has an empty name — give every scanner a name")
    if not entry.ranges and not entry.user_agents:
        raise ConfigError(f"{origin}: scanner {entry.name!r} has neither ranges nor user_agents — add at "
                          "least one")
    if any(not pattern.strip() for pattern in entry.user_agents):
        raise ConfigError(f"{origin}: scanner {entry.name!r} has an empty user_agents pattern (it would "
                          "match every request) — remove it")
    for text in entry.ranges:
        try:
            ipaddress.ip_network(text, strict=True)
        except ValueError as error:
            raise ConfigError(f"{origin}: scanner {entry.name!r}: {text!r} is not an address range "
                              f"({error}) — write it like 192.0.2.0/24, 192.0.2.7 or 2001:db8::/32") from None


def load_file(path: str | Path) -> list[ScannerEntry]:
    """Entries of a user's scanner file (``.json`` is read as JSON, anything else as TOML)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"enrich.scanner_files: {path}: file not found — fix the path or remove it from "
                          "the list") from None
    except OSError as error:
        raise ConfigError(f"enrich.scanner_files: {path}: cannot be read ({error.strerror}) — fix the "
                          "path or its permissions") from None
    return _decode(data, str(path), json=path.suffix.lower() == ".json")


def load_bundled() -> list[ScannerEntry]:
    """The list shipped with honeyscope."""
    data = resources.files("honeyscope.enrich").joinpath(BUNDLED).read_bytes()
    return _decode(data, f"honeyscope/enrich/{BUNDLED}", json=False)


class ScannerMatcher:
    """Finds the scanner behind an address key or a User-Agent."""

    def __init__(self, entries: Sequence[ScannerEntry]) -> None:
        self.entries = tuple(entries)
        ranges = []
        for entry in self.entries:
            for text in entry.ranges:
                first, last = network_bounds(ipaddress.ip_network(text))
                ranges.append((first, last, entry.label))
        self._ranges: RangeTable[str] = RangeTable(ranges)
        # First listed wins when two scanners claim the same substring.
        self._agents: dict[str, str] = {}
        for entry in self.entries:
            for pattern in entry.user_agents:
                self._agents.setdefault(pattern.casefold(), entry.label)
        # One alternation, longest first so a longer pattern is preferred where two overlap. The `re`
        # engine tries alternatives one by one: fine for tens of patterns; the enricher caches per UA.
        patterns = sorted(self._agents, key=len, reverse=True)
        self._agent_re = (re.compile("|".join(map(re.escape, patterns)), re.IGNORECASE)
                          if patterns else None)

    @classmethod
    def load(cls, extra_files: Sequence[str | Path] = ()) -> ScannerMatcher:
        """The bundled list plus the user's files (their entries come after the bundled ones)."""
        entries = load_bundled()
        for path in extra_files:
            entries.extend(load_file(path))
        return cls(entries)

    @property
    def ranges(self) -> RangeTable[str]:
        """Scanner label by address key (``by_address`` answers from it)."""
        return self._ranges

    def by_address(self, key: int) -> str | None:
        """The scanner whose published range holds the address key (see ``ranges.address_key``)."""
        return self._ranges.get(key)

    def by_user_agent(self, user_agent: str) -> str | None:
        """The scanner whose user-agent substring occurs in ``user_agent``."""
        if self._agent_re is None:
            return None
        match = self._agent_re.search(user_agent)
        return self._agents.get(match.group(0).casefold()) if match else None

