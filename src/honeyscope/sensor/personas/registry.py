"""Which personas exist: built-ins listed here, third-party ones via the ``honeyscope.personas``
entry-point group (a callable taking the persona's options mapping)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, cast

from honeyscope.sensor.personas.base import Persona, PersonaFactory

_BUILTIN: dict[str, str] = {
    "exchange": "honeyscope.sensor.personas.exchange:build_persona",
}


class UnknownPersonaError(ValueError):
    """Raised for a persona name nobody provides."""


def available_personas() -> list[str]:
    """Names of every persona this installation can serve."""
    names = set(_BUILTIN)
    names.update(ep.name for ep in entry_points(group="honeyscope.personas"))
    return sorted(names)


def load_persona(name: str, options: Mapping[str, Any] | None = None) -> Persona:
    """Build the named persona with its options (validated by the persona itself)."""
    target = _BUILTIN.get(name)
    if target is not None:
        module_name, _, attribute = target.partition(":")
        factory = cast(PersonaFactory, getattr(importlib.import_module(module_name), attribute))
    else:
        found = [ep for ep in entry_points(group="honeyscope.personas") if ep.name == name]
        if not found:
            known = ", ".join(available_personas())
            raise UnknownPersonaError(f"unknown persona {name!r}: choose one of {known}")
        factory = cast(PersonaFactory, found[0].load())
    return factory(options or {})
