"""ATT&CK technique names and tactics, offline, from the MISP galaxy's ``mitre-attack-pattern`` cluster.

Detections carry technique ids (``T1190``); STIX attack-patterns need a name, and MISP galaxy tags need the
cluster's exact value (``Exploit Public-Facing Application - T1190``). The cluster file ships with
``pymispgalaxies`` (≈ ATT&CK v17, CC0/BSD) and is read directly (≈ 70 ms), as ``analysis.knowledge.galaxy``
does. An id the galaxy does not know keeps its id as its name and gets no galaxy tag.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Final, NamedTuple

__all__ = ["Technique", "cve_id", "technique", "technique_id", "technique_url"]

_TECHNIQUE: Final = re.compile(r"T\d{4}(?:\.\d{3})?")
_CVE: Final = re.compile(r"CVE-\d{4}-\d{4,}")


class Technique(NamedTuple):
    """One ATT&CK technique: ``T1505.003``, ``Web Shell``, its galaxy value and tactics (``persistence``)."""

    id: str
    name: str
    galaxy_value: str | None
    tactics: tuple[str, ...]


def technique_id(text: str) -> str | None:
    """``t1190`` / ``attack.t1505.003`` → ``T1190`` / ``T1505.003``; ``None`` when it is no technique id."""
    candidate = text.strip().upper().removeprefix("ATTACK.")
    return candidate if _TECHNIQUE.fullmatch(candidate) else None


def cve_id(text: str) -> str | None:
    """``cve.2021-26855`` / ``CVE-2021-26855`` → ``CVE-2021-26855``; ``None`` when it is no CVE id."""
    candidate = text.strip().upper().replace("CVE.", "CVE-")
    return candidate if _CVE.fullmatch(candidate) else None


def technique(technique_id: str) -> Technique:
    """What the galaxy knows of ``technique_id`` (an upper-case ``Txxxx[.yyy]``)."""
    return _catalogue().get(technique_id) or Technique(technique_id, technique_id, None, ())


def technique_url(technique_id: str) -> str:
    """``https://attack.mitre.org/techniques/T1505/003/`` for ``T1505.003``."""
    return f"https://attack.mitre.org/techniques/{technique_id.replace('.', '/')}/"


@functools.cache
def _catalogue() -> dict[str, Technique]:
    try:
        from honeyscope.analysis.knowledge.galaxy import galaxy_clusters_dir

        path = galaxy_clusters_dir() / "mitre-attack-pattern.json"
        values = json.loads(path.read_text(encoding="utf-8"))["values"]
    except (RuntimeError, OSError, ValueError, KeyError):
        return {}  # without the galaxy, techniques are named by their ids
    found: dict[str, Technique] = {}
    for value in values:
        meta = value.get("meta") or {}
        tid, name = meta.get("external_id"), str(value.get("value", ""))
        if not isinstance(tid, str) or not _TECHNIQUE.fullmatch(tid) or tid in found:
            continue
        tactics = tuple(dict.fromkeys(str(p).split(":", 1)[1] for p in meta.get("kill_chain", [])
                                      if str(p).startswith("attack-") and ":" in str(p)))
        found[tid] = Technique(tid, name.removesuffix(f" - {tid}"), name, tactics)
    return found
