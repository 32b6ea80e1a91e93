"""Add indicators to an actor profile from a MISP event (feed JSON) or a STIX 2.1 bundle.

Both become an ``indicators`` intel file (``type: indicators``) naming the actor and citing the event or
bundle as its source, so imported data is checked and loaded like everything else. Imported kinds: IP
addresses, domains and host names, URLs, file hashes (SHA-256, SHA-1, MD5) and user agents; anything else is
counted as skipped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final

import msgspec
import yaml

from honeyscope.analysis.knowledge.files import IndicatorEntry, IndicatorsFile, IntelError, SourceEntry
from honeyscope.analysis.knowledge.model import normalize

#: MISP attribute type → our indicator kind (composite ``a|b`` types are split first).
_MISP_KINDS: Final = {"ip-src": "ip", "ip-dst": "ip", "ip": "ip", "domain": "domain", "hostname": "domain",
                      "url": "url", "sha256": "sha256", "sha1": "sha1", "md5": "md5", "user-agent": "user_agent"}
#: STIX object path → our indicator kind.
_STIX_PATHS: Final = {
    "ipv4-addr:value": "ip", "ipv6-addr:value": "ip", "domain-name:value": "domain", "url:value": "url",
    "file:hashes.'sha-256'": "sha256", "file:hashes.sha256": "sha256", "file:hashes.'sha256'": "sha256",
    "file:hashes.'sha-1'": "sha1", "file:hashes.sha1": "sha1", "file:hashes.md5": "md5", "file:hashes.'md5'": "md5",
    "network-traffic:extensions.'http-request-ext'.request_header.'user-agent'": "user_agent",
}
_COMPARISON: Final = re.compile(r"([a-z0-9\-]+:[A-Za-z0-9_.'\-]+)\s*=\s*'((?:[^'\\]|\\.){1,2048})'")


class ImportResult(msgspec.Struct, frozen=True, kw_only=True):
    """What an import produced: the intel file's content, and how many entries were not usable."""

    content: IndicatorsFile
    skipped: int


def import_misp_event(path: Path, actor: str, *, source_url: str | None = None) -> ImportResult:
    """Indicators of a MISP event JSON file (``{"Event": {...}}``, as a MISP feed stores each event)."""
    event = _json(path).get("Event")
    if not isinstance(event, dict):
        raise IntelError(f"{path}: no top-level 'Event' object — pass a MISP event JSON file (one event of a feed)")
    attributes = list(event.get("Attribute") or [])
    for obj in event.get("Object") or []:
        attributes += list(obj.get("Attribute") or []) if isinstance(obj, dict) else []
    pairs: list[tuple[str, str]] = []
    skipped = 0
    for attribute in attributes:
        found = _misp_pairs(attribute) if isinstance(attribute, dict) else []
        skipped += 0 if found else 1
        pairs += found
    org = (event.get("Orgc") or {}).get("name", "unknown organisation")
    uuid = str(event.get("uuid", "no-uuid"))
    publication = f"MISP event {uuid}: {event.get('info', '')} ({org}, {event.get('date', 'undated')})"
    return _result(path, actor, pairs, skipped, source_url or f"urn:misp:event:{uuid}", publication)


def import_stix_bundle(path: Path, actor: str, *, source_url: str | None = None) -> ImportResult:
    """Indicators of a STIX 2.1 bundle: ``indicator`` patterns (equality comparisons) and bare observables."""
    bundle = _json(path)
    if bundle.get("type") != "bundle" or not isinstance(bundle.get("objects"), list):
        raise IntelError(f"{path}: not a STIX 2.1 bundle (expected type 'bundle' with 'objects') — pass a bundle "
                         "JSON file")
    pairs: list[tuple[str, str]] = []
    skipped = 0
    reference = None
    for obj in bundle["objects"]:
        if not isinstance(obj, dict):
            skipped += 1
            continue
        found = _stix_pairs(obj)
        skipped += 0 if found or obj.get("type") in {"identity", "report", "marking-definition", "relationship"} \
            else 1
        pairs += found
        reference = reference or next((r.get("url") for r in obj.get("external_references") or []
                                       if isinstance(r, dict) and r.get("url")), None)
    publication = f"STIX 2.1 bundle {bundle.get('id', 'without id')}"
    return _result(path, actor, pairs, skipped, source_url or reference or f"urn:stix:{bundle.get('id')}",
                   publication)


def write_indicators_file(result: ImportResult, directory: Path, stem: str) -> Path:
    """Write the imported indicators as ``<directory>/<stem>.yaml`` (an intel file the loader reads)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', stem)}.yaml"
    data = msgspec.to_builtins(result.content)
    text = "# Imported by honeyscope; edit freely (the loader checks it).\n" + yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, width=120)
    target.write_text(text, encoding="utf-8")
    return target


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise IntelError(f"{path}: cannot read the file ({error}) — check the path") from None
    except json.JSONDecodeError as error:
        raise IntelError(f"{path}:{error.lineno}: not valid JSON ({error.msg}) — pass a JSON file") from None
    if not isinstance(data, dict):
        raise IntelError(f"{path}: expected a JSON object at the top — pass a MISP event or STIX bundle")
    return data


def _misp_pairs(attribute: dict[str, Any]) -> list[tuple[str, str]]:
    kind, value = str(attribute.get("type", "")), str(attribute.get("value", ""))
    if "|" in kind:
        parts = list(zip(kind.split("|"), value.split("|"), strict=False))
        return [(_MISP_KINDS[k], v) for k, v in parts if k in _MISP_KINDS]
    return [(_MISP_KINDS[kind], value)] if kind in _MISP_KINDS else []


def _stix_pairs(obj: dict[str, Any]) -> list[tuple[str, str]]:
    kind = obj.get("type")
    if kind == "indicator" and obj.get("pattern_type", "stix") == "stix":
        pattern = str(obj.get("pattern", ""))
        return [(_STIX_PATHS[path.lower()], value.replace("\\'", "'").replace("\\\\", "\\"))
                for path, value in _COMPARISON.findall(pattern) if path.lower() in _STIX_PATHS]
    if kind in {"ipv4-addr", "ipv6-addr"} and obj.get("value"):
        return [("ip", str(obj["value"]))]
    if kind == "domain-name" and obj.get("value"):
        return [("domain", str(obj["value"]))]
    if kind == "url" and obj.get("value"):
        return [("url", str(obj["value"]))]
    if kind == "file" and isinstance(obj.get("hashes"), dict):
        names = {"sha-256": "sha256", "sha256": "sha256", "sha-1": "sha1", "sha1": "sha1", "md5": "md5"}
        return [(names[k.lower()], str(v)) for k, v in obj["hashes"].items() if k.lower() in names]
    return []


def _result(path: Path, actor: str, pairs: list[tuple[str, str]], skipped: int, url: str,
            publication: str) -> ImportResult:
    entries: dict[tuple[str, str], IndicatorEntry] = {}
    for kind, value in pairs:
        try:
            normal = normalize(kind, value)
        except ValueError:
            skipped += 1
            continue
        entries.setdefault((kind, normal), IndicatorEntry(kind=kind, value=value.strip(),  # type: ignore[arg-type]
                                                          source="imported"))
    if not entries:
        raise IntelError(f"{path}: no usable indicators (IP, domain, URL, hash, user agent) found — check that "
                         "this is the right file")
    content = IndicatorsFile(actor=actor, name=f"imported from {path.name}", indicators=list(entries.values()),
                             sources={"imported": SourceEntry(url=url, publication=publication)})
    return ImportResult(content=content, skipped=skipped)
