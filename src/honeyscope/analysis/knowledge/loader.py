"""Build the knowledge base: galaxy actors, then our intel files (``honeyscope/intel``) and the user's.

A curated actor file that names a galaxy actor (``galaxy: HAFNIUM``) or ATT&CK group (``intrusion_set:
G0125``) takes that actor's synonyms, country and techniques and replaces it; every other galaxy actor stays a
profile of its own (names, synonyms, country, techniques — no indicators).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Final

import msgspec

from honeyscope.analysis.knowledge.files import (
    ActorFile,
    CampaignFile,
    IndicatorsFile,
    IntelError,
    LoadedFile,
    at,
    claims,
    read_intel_file,
    resolve_source,
)
from honeyscope.analysis.knowledge.galaxy import GALAXY_SOURCE_URL, GalaxyActor, load_galaxy
from honeyscope.analysis.knowledge.model import ActorProfile, Claim, KnowledgeBase, Source

_SUFFIXES: Final = (".yaml", ".yml")


def builtin_intel_dir() -> Path:
    """Our curated intel files, shipped as package data."""
    return Path(str(files("honeyscope").joinpath("intel")))


def intel_files(paths: Iterable[Path]) -> list[Path]:
    """YAML files named, and under directories named, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise IntelError(f"{path}: no such intel file or directory — pass an existing path with --intel")
    return found


def load_knowledge(extra: Sequence[Path] = (), *, builtin: bool = True, galaxy: bool = True) -> KnowledgeBase:
    """Read and check every intel file; raises ``IntelError`` on the first problem."""
    paths = intel_files([*([builtin_intel_dir()] if builtin else []), *extra])
    loaded = [read_intel_file(path) for path in paths]
    actor_files = _unique_actor_files(loaded)
    pool = load_galaxy().actors if galaxy else []
    absorbed: dict[str, str] = {}
    profiles: dict[str, ActorProfile] = {}
    for file in actor_files:
        matches = _galaxy_matches(file, pool)
        for actor in matches:
            if actor.name in absorbed:
                raise IntelError(f"{at(file.path, file.lines, 'galaxy')}: galaxy actor {actor.name!r} is already "
                                 f"extended by {absorbed[actor.name]} — keep one profile per galaxy actor")
            absorbed[actor.name] = file.path
        profile = _curated(file, matches)
        profiles[profile.id] = profile
    for actor in pool:
        if actor.name not in absorbed:
            profile = _from_galaxy(actor, taken=profiles)
            profiles[profile.id] = profile
    for file in loaded:
        if isinstance(file.content, IndicatorsFile | CampaignFile):
            _attach(file, profiles)
    version = load_galaxy().version if galaxy else None
    return KnowledgeBase(actors=dict(sorted(profiles.items())), files=[f.path for f in loaded],
                         galaxy_version=version)


def _unique_actor_files(loaded: list[LoadedFile]) -> list[LoadedFile]:
    seen: dict[str, str] = {}
    actor_files = []
    for file in loaded:
        content = file.content
        if not isinstance(content, ActorFile):
            continue
        if not re.fullmatch(r"[a-z0-9][a-z0-9\-]{0,63}", content.id):
            raise IntelError(f"{at(file.path, file.lines, 'id')}: id {content.id!r} must be lower-case letters, "
                             "digits and '-' — rename it")
        if content.id in seen:
            raise IntelError(f"{at(file.path, file.lines, 'id')}: actor id {content.id!r} is also defined in "
                             f"{seen[content.id]} — rename one, or use 'type: indicators' to add to it")
        seen[content.id] = file.path
        actor_files.append(file)
    return actor_files


def _galaxy_matches(file: LoadedFile, pool: list[GalaxyActor]) -> list[GalaxyActor]:
    content = file.content
    assert isinstance(content, ActorFile)
    matches: list[GalaxyActor] = []
    if not pool:
        return matches
    if content.galaxy:
        wanted = content.galaxy.casefold()
        actor = next((a for a in pool if a.name.casefold() == wanted), None) or \
            next((a for a in pool if wanted in (s.casefold() for s in a.synonyms)), None)
        if actor is None:
            raise IntelError(f"{at(file.path, file.lines, 'galaxy')}: galaxy: {content.galaxy!r} is not a "
                             "threat actor in the MISP galaxy — check the spelling or remove the key")
        matches.append(actor)
    if content.intrusion_set:
        actor = next((a for a in pool if content.intrusion_set.upper() in a.groups), None)
        if actor is None:
            raise IntelError(f"{at(file.path, file.lines, 'intrusion_set')}: intrusion_set: "
                             f"{content.intrusion_set!r} is not an ATT&CK group in the MISP galaxy — use an id "
                             "like G0125 or remove the key")
        if actor not in matches:
            matches.append(actor)
    return matches


def _curated(file: LoadedFile, matches: list[GalaxyActor]) -> ActorProfile:
    content = file.content
    assert isinstance(content, ActorFile)
    cves, techniques, windows = claims(file.path, content, file.lines)
    claimed = {t.value for t in techniques}
    for actor in matches:
        source = _technique_source(actor)
        techniques += [Claim(value=t, source=source) for t in actor.techniques if t not in claimed]
        claimed.update(actor.techniques)
    synonyms = [*content.synonyms, *(a.name for a in matches), *(s for a in matches for s in a.synonyms)]
    chain = content.chain
    return ActorProfile(
        id=content.id, name=content.name, kind=content.kind,
        synonyms=list(dict.fromkeys(s for s in synonyms if s.casefold() != content.name.casefold())),
        country=content.country or next((a.country for a in matches if a.country), None),
        description=content.description or next((a.description for a in matches), ""),
        techniques=techniques, cves=cves, chain=list(chain.stages) if chain else [],
        chain_source=resolve_source(file.path, content, chain.source, "chain", file.lines) if chain else None,
        windows=windows, indicators=list(file.indicators), galaxy=[u for a in matches for u in a.uuids],
        refs=[r for a in matches for r in a.refs], curated=True,
    )


def _from_galaxy(actor: GalaxyActor, *, taken: dict[str, ActorProfile]) -> ActorProfile:
    slug = re.sub(r"[^a-z0-9]+", "-", actor.name.casefold()).strip("-") or "actor"
    base, number = slug, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    source = _technique_source(actor)
    return ActorProfile(id=slug, name=actor.name, synonyms=list(actor.synonyms), country=actor.country,
                        description=actor.description, techniques=[Claim(value=t, source=source)
                                                                   for t in actor.techniques],
                        galaxy=list(actor.uuids), refs=list(actor.refs))


def _technique_source(actor: GalaxyActor) -> Source:
    if actor.groups:
        group = actor.groups[0]
        return Source(url=f"https://attack.mitre.org/groups/{group}/",
                      publication=f"MITRE ATT&CK group {group} ({actor.name}), via the MISP galaxy "
                                  "mitre-intrusion-set cluster")
    return Source(url=GALAXY_SOURCE_URL, publication=f"MISP galaxy threat-actor cluster: {actor.name}")


def _attach(file: LoadedFile, profiles: dict[str, ActorProfile]) -> None:
    """Add an indicators file's or a campaign's indicators to the profiles they name."""
    content = file.content
    if isinstance(content, IndicatorsFile):
        targets, campaign, where = [content.actor], None, "actor"
    else:
        assert isinstance(content, CampaignFile)
        targets, campaign, where = content.actors, content.id, "actors"
    for index, target in enumerate(targets):
        profile = profiles.get(target)
        if profile is None:
            location = at(file.path, file.lines, f"{where}[{index}]" if campaign else where)
            raise IntelError(f"{location}: {target!r} is not the id of any actor profile — use an id from an "
                             "actor file (e.g. hafnium) or a galaxy actor's id")
        added = [msgspec.structs.replace(i, campaign=campaign) for i in file.indicators] if campaign \
            else list(file.indicators)
        profiles[target] = msgspec.structs.replace(profile, indicators=[*profile.indicators, *added])
