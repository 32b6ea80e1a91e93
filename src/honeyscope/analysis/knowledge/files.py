"""Intel files: YAML documents describing an actor, a multi-actor campaign, or extra indicators for an actor.

Every claim names a source by key; ``sources`` maps each key to a URL and a publication. Problems come back
as one ``IntelError`` line: ``file:line: where: problem — fix``. docs/attribution.md shows the format.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Final

import msgspec
import yaml

from honeyscope.analysis.knowledge.model import (
    INDICATOR_KINDS,
    Claim,
    Indicator,
    IndicatorKind,
    MatchMode,
    ProfileKind,
    Source,
    Window,
    normalize,
)
from honeyscope.config import ConfigError

_PATH_KINDS: Final = frozenset({"request_path", "webshell_path"})
#: libyaml's loader when PyYAML was built with it (about 10× faster); node marks give line numbers either way.
_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class IntelError(ConfigError):
    """An intel file cannot be used: one line with file, line, what is wrong and how to fix it."""


class SourceEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    url: str
    publication: str


class IndicatorEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    kind: IndicatorKind
    value: str
    source: str
    match: MatchMode = "exact"
    note: str = ""
    original: str = ""


class ClaimEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    value: str
    source: str


class ChainEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    stages: list[str]
    source: str


class WindowEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str
    source: str
    start: date | None = None
    end: date | None = None


class _File(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    sources: dict[str, SourceEntry]
    indicators: list[IndicatorEntry] = msgspec.field(default_factory=list)


class ActorFile(_File, frozen=True, tag="actor", tag_field="type", kw_only=True):
    """One actor (or activity cluster, or malware family) and what is published about it."""

    id: str
    name: str
    kind: ProfileKind = "actor"
    #: The MISP galaxy threat-actor cluster value and MITRE intrusion-set id this profile extends.
    galaxy: str | None = None
    intrusion_set: str | None = None
    synonyms: list[str] = msgspec.field(default_factory=list)
    country: str | None = None
    description: str = ""
    cves: list[ClaimEntry] = msgspec.field(default_factory=list)
    techniques: list[ClaimEntry] = msgspec.field(default_factory=list)
    chain: ChainEntry | None = None
    windows: list[WindowEntry] = msgspec.field(default_factory=list)


class CampaignFile(_File, frozen=True, tag="campaign", tag_field="type", kw_only=True):
    """Indicators published for a campaign several actors took part in: each listed actor shares them."""

    id: str
    name: str
    actors: list[str]
    description: str = ""


class IndicatorsFile(_File, frozen=True, tag="indicators", tag_field="type", kw_only=True):
    """More indicators for one existing actor profile (e.g. imported from a MISP event or STIX bundle)."""

    actor: str
    name: str = ""


IntelFile = ActorFile | CampaignFile | IndicatorsFile


class LoadedFile(msgspec.Struct, frozen=True, kw_only=True):
    """A validated intel file with its claims resolved to sources."""

    path: str
    content: IntelFile
    indicators: list[Indicator]
    lines: dict[str, int]


def read_intel_file(path: Path) -> LoadedFile:
    """Parse and validate one file; raises ``IntelError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise IntelError(f"{path}: cannot read the file ({error}) — check the path and that it is UTF-8") from None
    try:
        loader = _LOADER(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise IntelError(f"{path}{line}: not valid YAML ({getattr(error, 'problem', error)}) — fix the syntax "
                         "there") from None
    if not isinstance(data, dict):
        raise IntelError(f"{path}: expected a mapping with 'type: actor|campaign|indicators' at the top — "
                         "see docs/attribution.md for the format")
    lines = _lines(node)
    try:
        content = msgspec.convert(data, IntelFile)
    except msgspec.ValidationError as error:
        raise _explain(path, error, lines) from None
    return LoadedFile(path=str(path), content=content, indicators=_indicators(path, content, lines), lines=lines)


def resolve_source(path: Path | str, content: IntelFile, key: str, where: str, lines: dict[str, int]) -> Source:
    entry = content.sources.get(key)
    if entry is None:
        known = ", ".join(sorted(content.sources)) or "none defined"
        raise IntelError(f"{at(path, lines, where)}: source {key!r} is not defined under 'sources' ({known}) — "
                         "add it there with url and publication")
    return Source(url=entry.url, publication=entry.publication)


def claims(path: str, content: ActorFile, lines: dict[str, int]) -> tuple[list[Claim], list[Claim], list[Window]]:
    """CVEs, techniques and activity windows of an actor file, each with its source."""
    cves = [Claim(value=c.value.upper(), source=resolve_source(path, content, c.source, f"cves[{i}]", lines))
            for i, c in enumerate(content.cves)]
    techniques = [Claim(value=t.value.upper(),
                        source=resolve_source(path, content, t.source, f"techniques[{i}]", lines))
                  for i, t in enumerate(content.techniques)]
    windows = []
    for i, w in enumerate(content.windows):
        if w.start and w.end and w.start > w.end:
            raise IntelError(f"{at(path, lines, f'windows[{i}]')}: start {w.start} is after end {w.end} — swap them")
        windows.append(Window(name=w.name, start=w.start, end=w.end,
                              source=resolve_source(path, content, w.source, f"windows[{i}]", lines)))
    return cves, techniques, windows


def _indicators(path: Path, content: IntelFile, lines: dict[str, int]) -> list[Indicator]:
    found = []
    for i, entry in enumerate(content.indicators):
        where = f"indicators[{i}]"
        if entry.match != "exact" and entry.kind not in _PATH_KINDS:
            raise IntelError(f"{at(path, lines, where + '.match')}: {where}.match: {entry.match!r} is only for "
                             "request_path and webshell_path — remove it or use match: exact")
        try:
            value = normalize(entry.kind, entry.value)
        except ValueError as error:
            raise IntelError(f"{at(path, lines, where + '.value')}: {where}.value: {entry.kind}: {error} — correct "
                             "the value (or its kind)") from None
        found.append(Indicator(kind=entry.kind, value=value, match=entry.match, note=entry.note,
                               original=entry.original,
                               source=resolve_source(path, content, entry.source, where, lines)))
    return found


def _explain(path: Path, error: msgspec.ValidationError, lines: dict[str, int]) -> IntelError:
    text = str(error)
    message, _, where = text.partition(" - at `$")
    where = where.rstrip("`").lstrip(".")
    if "Invalid enum value" in message and where.endswith("kind") and where.startswith("indicators"):
        message += f" (kinds: {', '.join(INDICATOR_KINDS)})"
    elif "type" in message and not where:
        message += " (the top-level 'type' must be actor, campaign or indicators)"
    return IntelError(f"{at(path, lines, where)}: {where or 'top level'}: {message.rstrip('.')} — correct it "
                      "(see docs/attribution.md for the format)")


def at(path: Path | str, lines: dict[str, int], where: str) -> str:
    """``file:line`` for a dotted location like ``indicators[3].value`` (the nearest enclosing one we know)."""
    key = where
    while key and key not in lines:
        key = key.rsplit(".", 1)[0] if "." in key else key.rsplit("[", 1)[0] if "[" in key else ""
    line = lines.get(key)
    return f"{path}:{line}" if line else str(path)


def _lines(node: Any, prefix: str = "", out: dict[str, int] | None = None) -> dict[str, int]:
    """Line (1-based) of every mapping key and sequence item, by dotted path (``indicators[3].kind``)."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            out[path] = key_node.start_mark.line + 1
            _lines(value_node, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            path = f"{prefix}[{index}]"
            out[path] = item.start_mark.line + 1
            _lines(item, path, out)
    return out
