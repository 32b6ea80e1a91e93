"""HTTP authentication schemes a decoy records: Basic and NTLM (also NTLM inside Negotiate).

``ntlm`` holds the NTLM codec; this module reads ``Authorization`` header values.
"""

from __future__ import annotations

import base64
import binascii

from honeyscope.sensor.auth.ntlm import SIGNATURE, NtlmError

__all__ = ["NtlmError", "basic_credentials", "ntlm_token"]


def _scheme_and_blob(header_value: str | None) -> tuple[str, str]:
    scheme, _, blob = (header_value or "").strip().partition(" ")
    return scheme.lower(), blob.strip()


def basic_credentials(header_value: str | None) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic`` value; None for other schemes or undecodable
    values. Decoded as UTF-8 with replacement, as the sensor's event recorder does, so both agree."""
    scheme, blob = _scheme_and_blob(header_value)
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(blob, validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def ntlm_token(header_value: str | None) -> tuple[str, bytes] | None:
    """(scheme as sent, raw NTLMSSP message) when the value is ``NTLM <b64>`` or ``Negotiate <b64>``
    carrying a raw NTLM message (not SPNEGO/Kerberos). None otherwise."""
    scheme, blob = _scheme_and_blob(header_value)
    if scheme not in ("ntlm", "negotiate") or not blob:
        return None
    try:
        message = base64.b64decode(blob, validate=False)
    except (binascii.Error, ValueError):
        return None
    if not message.startswith(SIGNATURE):
        return None
    sent = (header_value or "").strip().partition(" ")[0]
    return sent, message
