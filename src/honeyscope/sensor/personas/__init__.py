"""Decoy personas: pure functions from a request to a response plus what to record.

A persona never touches sockets, files or the clock directly: the sensor hands it a ``PersonaRequest``
(with the time and the attacker's bounded state) and writes whatever ``Reply`` it returns.
"""

from honeyscope.sensor.personas.base import (
    Artifact,
    AttackerStates,
    Credential,
    Persona,
    PersonaRequest,
    Reply,
)
from honeyscope.sensor.personas.registry import available_personas, load_persona

__all__ = [
    "Artifact",
    "AttackerStates",
    "Credential",
    "Persona",
    "PersonaRequest",
    "Reply",
    "available_personas",
    "load_persona",
]
