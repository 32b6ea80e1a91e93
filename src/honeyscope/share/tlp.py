"""Traffic Light Protocol 2.0 markings for STIX 2.1 and MISP.

STIX: the five marking-definition objects are fixed, published objects — the TLP 2.0 extension of the OASIS
CTI TC, ``oasis-open/cti-stix-common-objects``, ``extension-definition-specifications/tlp-2.0/``
(extension ``extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d``; its JSON schema pins each id and
name). They are copied here verbatim so a bundle carries the definition it references. MISP: the ``tlp``
taxonomy's tags (``tlp:clear``, ``tlp:green``, ``tlp:amber``, ``tlp:amber+strict``, ``tlp:red``).

TLP 1.0's ``white`` is accepted as input and becomes ``clear`` (FIRST TLP 2.0 renamed it).
"""

from __future__ import annotations

from typing import Any, Final, Literal, get_args

from honeyscope.config import ConfigError

__all__ = ["TLP_EXTENSION_ID", "TLP_LEVELS", "TLP_MARKING_IDS", "Tlp", "marking_definition", "misp_tag", "parse_tlp"]

#: A TLP 2.0 level, as the STIX extension spells it.
Tlp = Literal["clear", "green", "amber", "amber+strict", "red"]
TLP_LEVELS: Final[tuple[Tlp, ...]] = get_args(Tlp)

#: The STIX 2.1 extension that defines TLP 2.0 marking definitions.
TLP_EXTENSION_ID: Final = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

#: Official marking-definition ids (OASIS cti-stix-common-objects, tlp-2.0 extension schema).
TLP_MARKING_IDS: Final[dict[Tlp, str]] = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

#: ``created`` of every TLP 2.0 marking definition, as published.
_CREATED: Final = "2022-10-01T00:00:00.000Z"


def parse_tlp(text: str) -> Tlp:
    """``amber``, ``TLP:AMBER``, ``tlp:amber+strict``, ``white`` (→ ``clear``) …; raises ``ConfigError``."""
    level = text.strip().lower().removeprefix("tlp:").replace("_", "+")
    level = "clear" if level == "white" else level
    for known in TLP_LEVELS:
        if level == known:
            return known
    raise ConfigError(f"TLP level {text!r} is not TLP 2.0 — use one of {', '.join(TLP_LEVELS)}")


def marking_definition(level: Tlp) -> dict[str, Any]:
    """The published STIX 2.1 marking-definition object of ``level`` (a fresh dict)."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP_MARKING_IDS[level],
        "created": _CREATED,
        "name": f"TLP:{level.upper()}",
        "extensions": {TLP_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": level}},
    }


def misp_tag(level: Tlp) -> str:
    """The MISP ``tlp`` taxonomy tag of ``level``, e.g. ``tlp:amber+strict``."""
    return f"tlp:{level}"
