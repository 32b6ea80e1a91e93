"""Actors from the MISP galaxy, offline (PyPI ``pymispgalaxies``): names, synonyms, country, ATT&CK techniques.

We read the cluster JSON files ``pymispgalaxies`` ships rather than importing it: its import pulls in
``jsonschema`` and ``rfc3987_syntax``, which take 5–7 s to import on our machines; the three files we need
parse in about 0.3 s.

The ``threat-actor`` cluster gives names, synonyms and country; ``mitre-intrusion-set`` gives the ATT&CK
group (``G0125``) and, through its ``uses`` relations to ``mitre-attack-pattern``, the techniques. An
intrusion set is merged into the threat actor that lists its group id as a synonym, else the one named
like it, else the first whose name is one of its synonyms; intrusion sets that match none stand alone.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any, Final

import msgspec

#: Galaxy data is CC0/BSD (MISP project); the licence and the clusters' own references travel with it.
GALAXY_SOURCE_URL: Final = "https://github.com/MISP/misp-galaxy"


class GalaxyActor(msgspec.Struct, frozen=True, kw_only=True):
    """One actor as the galaxy describes it (threat actor and intrusion sets merged)."""

    name: str
    uuids: list[str]
    synonyms: list[str]
    country: str | None
    description: str
    refs: list[str]
    #: ATT&CK group ids (``G0125``) and their techniques (``T1190``), sorted.
    groups: list[str]
    techniques: list[str]


class Galaxy(msgspec.Struct, frozen=True, kw_only=True):
    actors: list[GalaxyActor]
    version: str


@functools.cache
def load_galaxy() -> Galaxy:
    """Every galaxy actor (≈ 0.5 s the first time; cached for the process)."""
    threat_actors = _cluster("threat-actor")
    intrusion_sets = _cluster("mitre-intrusion-set")
    technique_of = {v["uuid"]: _meta(v).get("external_id") for v in _cluster("mitre-attack-pattern")["values"]}
    merged: dict[str, dict[str, Any]] = {}
    names: dict[str, list[str]] = {}
    for value in sorted(threat_actors["values"], key=lambda v: str(v["value"])):
        meta, name = _meta(value), str(value["value"])
        merged[name] = {"name": name, "uuids": [value["uuid"]], "synonyms": list(meta.get("synonyms", [])),
                        "country": meta.get("country"), "description": value.get("description") or "",
                        "refs": list(meta.get("refs", [])), "groups": set(), "techniques": set()}
        for alias in [name, *meta.get("synonyms", [])]:
            names.setdefault(str(alias).casefold(), []).append(name)
    for value in sorted(intrusion_sets["values"], key=lambda v: str(v["value"])):
        meta, name = _meta(value), str(value["value"])
        group = meta.get("external_id")
        techniques = {technique_of.get(r.get("dest-uuid")) for r in value.get("related") or []
                      if r.get("type") == "uses"}
        target = _owner(name, group, meta.get("synonyms", []), names)
        if target is None:
            base = _base_name(name)
            target = base if base not in merged else name
            merged[target] = {"name": base, "uuids": [], "synonyms": [], "country": None,
                              "description": value.get("description") or "", "refs": [], "groups": set(),
                              "techniques": set()}
        entry = merged[target]
        entry["uuids"].append(value["uuid"])
        entry["synonyms"] = _unique([*entry["synonyms"], *meta.get("synonyms", [])])
        entry["refs"] = _unique([*entry["refs"], *meta.get("refs", [])])
        entry["groups"].update({group} if group else set())
        entry["techniques"].update(t for t in techniques if t)
    actors = [GalaxyActor(name=e["name"], uuids=e["uuids"], synonyms=_unique(s for s in e["synonyms"]
                                                                            if s != e["name"]),
                          country=e["country"], description=e["description"], refs=e["refs"],
                          groups=sorted(e["groups"]), techniques=sorted(e["techniques"]))
              for e in merged.values()]
    version = f"threat-actor v{threat_actors.get('version')}, mitre-intrusion-set v{intrusion_sets.get('version')}"
    return Galaxy(actors=sorted(actors, key=lambda a: a.name.casefold()), version=version)


def galaxy_clusters_dir() -> Path:
    """Where ``pymispgalaxies`` keeps the galaxy's cluster files (found without importing it)."""
    spec = importlib.util.find_spec("pymispgalaxies")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the MISP galaxy data is missing — install pymispgalaxies (pip install pymispgalaxies)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "misp-galaxy" / "clusters"


def _cluster(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((galaxy_clusters_dir() / f"{name}.json").read_text(encoding="utf-8"))
    return data


def _meta(value: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = value.get("meta") or {}
    return meta


def _owner(name: str, group: str | None, synonyms: list[str], names: dict[str, list[str]]) -> str | None:
    """The threat actor an intrusion set belongs to (see the module docstring for the order)."""
    candidates = [group] if group else []
    candidates += [_base_name(name), *synonyms]
    for candidate in candidates:
        owners = names.get(str(candidate).casefold())
        if owners:
            return sorted(owners)[0]
    return None


def _base_name(name: str) -> str:
    """``HAFNIUM - G0125`` → ``HAFNIUM``."""
    return re.sub(r"\s+-\s+G\d{4}$", "", name)


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values if v))
