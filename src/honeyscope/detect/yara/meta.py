"""What a YARA rule's metadata says about a match: title, severity, CVEs, ATT&CK techniques, stage.

Rule packs disagree on metadata keys. We read, in order:

* severity: ``severity`` (a Sigma level) or ``level``; else signature-base's ``score`` (0-100, THOR's
  scale: 75 when absent) mapped to low/medium/high/critical at 40/60/75/90;
* CVEs: ``cve``/``cves``; else CVE ids written in the rule name, description or tags
  (``CVE_2021_27065`` counts); else the CVEs of a well-known exploit named there (ProxyLogon,
  ProxyShell, ProxyNotShell, OWASSRF, ProxyToken) — signature-base's log rules name the exploit only;
* techniques: ``technique``/``techniques``/``mitre_attack``/``mitre_att``/``attack`` (``T1505.003``,
  ``t1505_003`` and ``attack.t1505.003`` forms);
* stage: ``stage``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

_CVE: Final = re.compile(r"CVE[-_](\d{4})[-_](\d{4,7})", re.IGNORECASE)
_TECHNIQUE: Final = re.compile(r"(?<![A-Za-z0-9])T(\d{4})(?:[._](\d{3}))?(?!\d)", re.IGNORECASE)
_LEVELS: Final = ("informational", "low", "medium", "high", "critical")
#: Exploit names → CVEs (exchange-facts.md B.1, B.6, B.7, B.9). Order matters: the longer names first.
_EXPLOIT_CVES: Final = (
    ("proxynotshell", ("CVE-2022-41040", "CVE-2022-41082")),
    ("proxynoshell", ("CVE-2022-41040", "CVE-2022-41082")),
    ("owassrf", ("CVE-2022-41080", "CVE-2022-41082")),
    ("proxyshell", ("CVE-2021-34473", "CVE-2021-34523", "CVE-2021-31207")),
    ("proxylogon", ("CVE-2021-26855", "CVE-2021-27065")),
    ("proxytoken", ("CVE-2021-33766",)),
)
#: signature-base leaves ``score`` out for rules at THOR's default.
_DEFAULT_SCORE: Final = 75

MetaValue = str | int | float | bool | bytes


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """The parts of a rule that go into every Detection it produces (computed once per rule)."""

    rule_id: str
    title: str
    severity: str
    cves: tuple[str, ...]
    techniques: tuple[str, ...]
    stage: str | None


def rule_info(namespace: str, identifier: str, metadata: Iterable[tuple[str, MetaValue]],
              tags: Iterable[str] = ()) -> RuleInfo:
    """Read a rule's metadata (a list of pairs: keys may repeat) into a ``RuleInfo``."""
    meta: dict[str, list[str]] = {}
    for key, value in metadata:
        meta.setdefault(key.lower(), []).append(_text(value))
    tag_text = " ".join(tags)
    description = _first(meta, "description") or ""
    return RuleInfo(
        rule_id=f"{namespace}:{identifier}",
        title=description or identifier,
        severity=_severity(meta),
        cves=_cves(meta, f"{identifier} {description} {tag_text}"),
        techniques=_techniques(meta, tag_text),
        stage=_first(meta, "stage"),
    )


def _text(value: MetaValue) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _first(meta: dict[str, list[str]], *keys: str) -> str | None:
    for key in keys:
        for value in meta.get(key, ()):
            if value.strip():
                return value.strip()
    return None


def _severity(meta: dict[str, list[str]]) -> str:
    level = (_first(meta, "severity", "level") or "").lower()
    if level in _LEVELS:
        return level
    score_text = _first(meta, "score")
    try:
        score = int(float(score_text)) if score_text else _DEFAULT_SCORE
    except ValueError:
        score = _DEFAULT_SCORE
    return _level_for_score(score)


def _level_for_score(score: int) -> str:
    if score >= 90:
        return "critical"
    if score >= 75:
        return "high"
    if score >= 60:
        return "medium"
    if score >= 40:
        return "low"
    return "informational"


def _cves(meta: dict[str, list[str]], text: str) -> tuple[str, ...]:
    explicit = " ".join(meta.get("cve", []) + meta.get("cves", []))
    found = _unique(f"CVE-{year}-{number}" for year, number in _CVE.findall(explicit))
    if found:
        return found
    found = _unique(f"CVE-{year}-{number}" for year, number in _CVE.findall(text))
    if found:
        return found
    lowered = text.lower()
    for name, cves in _EXPLOIT_CVES:
        if name in lowered:
            return cves
    return ()


def _techniques(meta: dict[str, list[str]], tag_text: str) -> tuple[str, ...]:
    keys = ("technique", "techniques", "mitre_attack", "mitre_att", "attack")
    text = " ".join(value for key in keys for value in meta.get(key, ())) + " " + tag_text
    return _unique(f"T{major}.{sub}" if sub else f"T{major}" for major, sub in _TECHNIQUE.findall(text))


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
