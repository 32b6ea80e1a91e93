"""NTLM (MS-NLMP) messages as an HTTP server sees them: parse NEGOTIATE (type 1) and AUTHENTICATE
(type 3), build CHALLENGE (type 2).

Generic on purpose (no persona imports): the sensor core parses every ``Authorization: NTLM`` header it
records, and any Windows persona builds its challenge here from its own names.

Parsing is defensive: every offset and length is bounds-checked and any malformed input raises
``NtlmError`` (a ``ValueError``) and nothing else. The challenge layout follows what Windows sends,
because naive tools depend on it (exchange-facts.md A.6): TargetName directly after the Version field,
AV pairs in the order 2,1,4,3,5,7,0, Version = major, minor, build (LE16), three zero bytes, 0x0F.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

SIGNATURE: Final = b"NTLMSSP\x00"
NEGOTIATE: Final = 1
CHALLENGE: Final = 2
AUTHENTICATE: Final = 3

# NegotiateFlags (MS-NLMP 2.2.2.5), the ones this module reads or sets.
UNICODE: Final = 0x00000001
OEM: Final = 0x00000002
REQUEST_TARGET: Final = 0x00000004
SIGN: Final = 0x00000010
SEAL: Final = 0x00000020
NTLM: Final = 0x00000200
OEM_DOMAIN_SUPPLIED: Final = 0x00001000
OEM_WORKSTATION_SUPPLIED: Final = 0x00002000
ALWAYS_SIGN: Final = 0x00008000
TARGET_TYPE_DOMAIN: Final = 0x00010000
EXTENDED_SESSIONSECURITY: Final = 0x00080000
TARGET_INFO: Final = 0x00800000
VERSION: Final = 0x02000000
NEGOTIATE_128: Final = 0x20000000
KEY_EXCH: Final = 0x40000000
NEGOTIATE_56: Final = 0x80000000

#: Flags a Windows server echoes back when the client asked for them.
_ECHOED: Final = REQUEST_TARGET | SIGN | SEAL | ALWAYS_SIGN | EXTENDED_SESSIONSECURITY | NEGOTIATE_128 \
    | KEY_EXCH | NEGOTIATE_56
#: Flags a Windows domain member always sets in its challenge.
_ALWAYS: Final = NTLM | TARGET_TYPE_DOMAIN | TARGET_INFO | VERSION

# AV pair ids (MS-NLMP 2.2.2.1).
AV_EOL: Final = 0
AV_NB_COMPUTER_NAME: Final = 1
AV_NB_DOMAIN_NAME: Final = 2
AV_DNS_COMPUTER_NAME: Final = 3
AV_DNS_DOMAIN_NAME: Final = 4
AV_DNS_TREE_NAME: Final = 5
AV_TIMESTAMP: Final = 7

_FILETIME_EPOCH_OFFSET: Final = 11644473600  # seconds from 1601-01-01 to 1970-01-01
_CHALLENGE_HEADER: Final = 56  # fixed part of a type-2 message, Version included
_NTLM_REVISION_CURRENT: Final = 0x0F


class NtlmError(ValueError):
    """The bytes are not a well-formed NTLM message of the expected type."""


@dataclass(frozen=True, slots=True)
class NtlmNegotiate:
    """A type-1 message: what the client asks for, and the names/OS it volunteers."""

    flags: int
    domain: str = ""
    workstation: str = ""
    #: (major, minor, build) of the client's Windows, when it sent a Version field.
    version: tuple[int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class NtlmAuthenticate:
    """A type-3 message: who the client claims to be, and its responses to our challenge."""

    flags: int
    user: str
    domain: str
    workstation: str
    lm_response: bytes = b""
    nt_response: bytes = b""

    @property
    def anonymous(self) -> bool:
        """An anonymous (null session) authentication: no user and no NT response."""
        return not self.user and not self.nt_response


@dataclass(frozen=True, slots=True)
class NtlmTarget:
    """The server names a challenge discloses (all as Windows would send them)."""

    netbios_domain: str
    netbios_name: str
    dns_domain: str
    dns_computer_name: str
    dns_tree: str
    #: (major, minor, build) of the server's Windows, e.g. (10, 0, 14393) for Server 2016.
    windows_version: tuple[int, int, int]


# -- parsing -------------------------------------------------------------------------------------


def message_type(message: bytes) -> int:
    """The MessageType of an NTLMSSP message (1, 2 or 3)."""
    if len(message) < 12 or not message.startswith(SIGNATURE):
        raise NtlmError("not an NTLMSSP message")
    kind: int = struct.unpack_from("<I", message, 8)[0]
    if kind not in (NEGOTIATE, CHALLENGE, AUTHENTICATE):
        raise NtlmError(f"unknown NTLM message type {kind}")
    return kind


def _field(message: bytes, offset: int) -> bytes:
    """The payload a security buffer (length, max length, offset) at ``offset`` points to."""
    if offset + 8 > len(message):
        raise NtlmError("security buffer header is truncated")
    length, _max, start = struct.unpack_from("<HHI", message, offset)
    if length == 0:
        return b""
    if start > len(message) or start + length > len(message):
        raise NtlmError("security buffer points outside the message")
    return message[start:start + length]


def _text(data: bytes, unicode: bool) -> str:
    # OEM strings are decoded as latin-1 so the original bytes stay recoverable.
    return data.decode("utf-16-le", "replace") if unicode else data.decode("latin-1")


def _version(message: bytes, offset: int) -> tuple[int, int, int] | None:
    if offset + 8 > len(message):
        return None
    major, minor, build = struct.unpack_from("<BBH", message, offset)
    return (major, minor, build)


def parse_negotiate(message: bytes) -> NtlmNegotiate:
    """Parse a type-1 message (the OEM domain and workstation names are read when supplied)."""
    if message_type(message) != NEGOTIATE:
        raise NtlmError("not an NTLM NEGOTIATE message")
    if len(message) < 16:
        raise NtlmError("NEGOTIATE message is truncated")
    flags: int = struct.unpack_from("<I", message, 12)[0]
    # Old clients send only signature, type and flags; the optional fields follow only when present.
    domain = _text(_field(message, 16), False) if flags & OEM_DOMAIN_SUPPLIED else ""
    workstation = _text(_field(message, 24), False) if flags & OEM_WORKSTATION_SUPPLIED else ""
    version = _version(message, 32) if flags & VERSION else None
    return NtlmNegotiate(flags, domain, workstation, version)


def parse_authenticate(message: bytes) -> NtlmAuthenticate | None:
    """Parse a type-3 message. ``None`` for a well-formed NTLM message of another type (a type 1 in an
    Authorization header is normal); ``NtlmError`` for anything malformed."""
    if message_type(message) != AUTHENTICATE:
        return None
    if len(message) < 52:
        raise NtlmError("AUTHENTICATE message is truncated")
    # Flags sit at 60 when the message has a session-key buffer; the oldest clients omit both.
    flags: int = struct.unpack_from("<I", message, 60)[0] if len(message) >= 64 else UNICODE
    unicode = bool(flags & UNICODE)
    return NtlmAuthenticate(
        flags=flags,
        user=_text(_field(message, 36), unicode),
        domain=_text(_field(message, 28), unicode),
        workstation=_text(_field(message, 44), unicode),
        lm_response=_field(message, 12),
        nt_response=_field(message, 20),
    )


# -- the challenge -------------------------------------------------------------------------------


def challenge_flags(client_flags: int) -> int:
    """NegotiateFlags of the challenge a Windows server answers ``client_flags`` with."""
    charset = UNICODE if client_flags & UNICODE or not client_flags & OEM else OEM
    return _ALWAYS | charset | (client_flags & _ECHOED)


def filetime(moment: datetime) -> int:
    """A Windows FILETIME (100 ns ticks since 1601-01-01 UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int((aware.timestamp() + _FILETIME_EPOCH_OFFSET) * 10_000_000)


def _av_pairs(target: NtlmTarget, timestamp: datetime) -> bytes:
    pairs = [
        (AV_NB_DOMAIN_NAME, target.netbios_domain.encode("utf-16-le")),
        (AV_NB_COMPUTER_NAME, target.netbios_name.encode("utf-16-le")),
        (AV_DNS_DOMAIN_NAME, target.dns_domain.encode("utf-16-le")),
        (AV_DNS_COMPUTER_NAME, target.dns_computer_name.encode("utf-16-le")),
        (AV_DNS_TREE_NAME, target.dns_tree.encode("utf-16-le")),
        (AV_TIMESTAMP, struct.pack("<Q", filetime(timestamp))),
        (AV_EOL, b""),
    ]
    return b"".join(struct.pack("<HH", av_id, len(value)) + value for av_id, value in pairs)


def server_challenge() -> bytes:
    """Eight random bytes for a challenge.

    No byte is 0x0F: MSF's msmail finds the TargetName by scanning for the first 0x0F (the end of the
    Version field); a 0x0F earlier in the message corrupts what it reads, on real servers too. Losing one
    value of 256 per byte is not observable.
    """
    return bytes(b if b != _NTLM_REVISION_CURRENT else 0x8F for b in os.urandom(8))


def build_challenge(
    target: NtlmTarget, client_flags: int, timestamp: datetime, challenge: bytes | None = None,
) -> bytes:
    """A type-2 message answering a type-1 with ``client_flags``, as a Windows domain member sends it."""
    flags = challenge_flags(client_flags)
    realm = _text_bytes(target.netbios_domain, unicode=bool(flags & UNICODE))
    info = _av_pairs(target, timestamp)
    nonce = server_challenge() if challenge is None else challenge
    if len(nonce) != 8:
        raise NtlmError("the server challenge must be 8 bytes")
    major, minor, build = target.windows_version
    info_offset = _CHALLENGE_HEADER + len(realm)
    header = struct.pack(
        "<8sI HHI I 8s 8x HHI BBH3xB",
        SIGNATURE, CHALLENGE,
        len(realm), len(realm), _CHALLENGE_HEADER,
        flags, nonce,
        len(info), len(info), info_offset,
        major, minor, build, _NTLM_REVISION_CURRENT,
    )
    return header + realm + info


def _text_bytes(text: str, *, unicode: bool) -> bytes:
    return text.encode("utf-16-le") if unicode else text.encode("latin-1", "replace")


def parse_challenge(message: bytes) -> tuple[int, str, dict[int, bytes]]:
    """(flags, target name, raw AV pairs by id) of a type-2 message; used to check our own output."""
    if message_type(message) != CHALLENGE or len(message) < 48:
        raise NtlmError("not an NTLM CHALLENGE message")
    flags: int = struct.unpack_from("<I", message, 20)[0]
    name = _text(_field(message, 12), bool(flags & UNICODE))
    info = _field(message, 40)
    pairs: dict[int, bytes] = {}
    position = 0
    while position + 4 <= len(info):
        av_id, length = struct.unpack_from("<HH", info, position)
        if av_id == AV_EOL:
            break
        value = info[position + 4:position + 4 + length]
        if len(value) != length:
            raise NtlmError("AV pair runs past the TargetInfo buffer")
        pairs[av_id] = value
        position += 4 + length
    return flags, name, pairs
