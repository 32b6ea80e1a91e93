"""Microsoft Exchange decoy persona (OWA, ECP, EWS, Autodiscover, MAPI, RPC, OAB, PowerShell, ActiveSync)."""

from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity
from honeyscope.sensor.personas.exchange.persona import ExchangePersona, build_persona
from honeyscope.sensor.personas.exchange.settings import ExchangeSettings

__all__ = ["ExchangeIdentity", "ExchangePersona", "ExchangeSettings", "build_persona"]
