"""NTLM codec: what real clients send is parsed, our challenge has Windows's layout, garbage is refused
with NtlmError only."""

from __future__ import annotations

import base64
import contextlib
import struct
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from honeyscope.sensor.auth import basic_credentials, ntlm_token
from honeyscope.sensor.auth.ntlm import (
    ALWAYS_SIGN,
    EXTENDED_SESSIONSECURITY,
    NEGOTIATE_56,
    NEGOTIATE_128,
    NTLM,
    OEM,
    REQUEST_TARGET,
    TARGET_INFO,
    TARGET_TYPE_DOMAIN,
    UNICODE,
    VERSION,
    NtlmError,
    NtlmTarget,
    build_challenge,
    filetime,
    parse_authenticate,
    parse_challenge,
    parse_negotiate,
)

# Type-1 messages exactly as tools send them (exchange-facts.md A.6).
MSMAIL_TYPE1 = base64.b64decode("TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==")
MSF_PROXYLOGON_TYPE1 = b"NTLMSSP\x00\x01\x00\x00\x00\x05\x02\x88\xa0" + b"\x00" * 16
WRITEUP_TYPE1 = base64.b64decode("TlRMTVNTUAABAAAABQKIoAAAAAAAAAAAAAAAAAAAAAA=")
NMAP_TYPE1 = struct.pack("<8sIIQQ", b"NTLMSSP\x00", 1, 0x1 | 0x2 | 0x4 | 0x200 | 0x8000 | 0x80000
                         | 0x20000000 | 0x80000000, 0, 0)

TARGET = NtlmTarget("CONTOSO", "EXCH01", "contoso.local", "EXCH01.contoso.local", "contoso.local",
                    (10, 0, 14393))
WHEN = datetime(2021, 3, 3, 12, 0, tzinfo=UTC)


def authenticate_message(user: str, domain: str, workstation: str, *, unicode: bool = True,
                         nt_response: bytes = b"\x11" * 24) -> bytes:
    """A type-3 message laid out like Windows clients do (payload after a 72-byte header)."""
    codec = "utf-16-le" if unicode else "latin-1"
    names = [name.encode(codec) for name in (domain, user, workstation)]
    fields = [b"\x22" * 24, nt_response, *names, b""]
    offset, buffers, payload = 72, b"", b""
    for value in fields:
        buffers += struct.pack("<HHI", len(value), len(value), offset)
        payload += value
        offset += len(value)
    flags = (UNICODE if unicode else OEM) | NTLM | EXTENDED_SESSIONSECURITY
    return b"NTLMSSP\x00" + struct.pack("<I", 3) + buffers + struct.pack("<I", flags) + b"\x00" * 8 + payload


def test_parses_the_type1_messages_tools_send() -> None:
    msmail = parse_negotiate(MSMAIL_TYPE1)
    assert msmail.flags == 0xA2088207
    assert msmail.version == (6, 1, 7601)  # msmail claims to be Windows 7 SP1
    assert parse_negotiate(MSF_PROXYLOGON_TYPE1).flags == 0xA0880205
    assert parse_negotiate(WRITEUP_TYPE1).version is None
    assert parse_negotiate(NMAP_TYPE1).flags & UNICODE


def test_type1_reads_supplied_oem_names() -> None:
    payload_at = 40
    message = (b"NTLMSSP\x00" + struct.pack("<II", 1, UNICODE | 0x1000 | 0x2000)
               + struct.pack("<HHI", 4, 4, payload_at) + struct.pack("<HHI", 6, 6, payload_at + 4)
               + b"\x00" * 8 + b"CORPWKST01")
    negotiate = parse_negotiate(message)
    assert (negotiate.domain, negotiate.workstation) == ("CORP", "WKST01")


def test_challenge_has_the_windows_layout() -> None:
    message = build_challenge(TARGET, 0xA2088207, WHEN, b"\x01" * 8)
    assert message[:12] == b"NTLMSSP\x00\x02\x00\x00\x00"
    name_len, _, name_offset = struct.unpack_from("<HHI", message, 12)
    assert name_offset == 56  # TargetName directly after the Version field
    assert message[56:56 + name_len].decode("utf-16-le") == "CONTOSO"
    assert message[48:56] == bytes([10, 0]) + struct.pack("<H", 14393) + b"\x00\x00\x00\x0f"
    info_len, _, info_offset = struct.unpack_from("<HHI", message, 40)
    assert info_offset == 56 + name_len and info_offset + info_len == len(message)
    ids, position, info = [], 0, message[info_offset:]
    while position < len(info):
        av_id, length = struct.unpack_from("<HH", info, position)
        ids.append(av_id)
        position += 4 + length
    assert ids == [2, 1, 4, 3, 5, 7, 0]
    _, _, pairs = parse_challenge(message)
    assert pairs[7] == struct.pack("<Q", filetime(WHEN))
    assert pairs[3].decode("utf-16-le") == "EXCH01.contoso.local"


def test_challenge_flags_follow_the_negotiation() -> None:
    flags, _, _ = parse_challenge(build_challenge(TARGET, 0xA2088207, WHEN))
    # What IIS answers msmail's type-1 with: the familiar "BYKJog" (0xA2898205).
    assert flags == 0xA2898205
    assert flags & (UNICODE | NTLM | TARGET_TYPE_DOMAIN | TARGET_INFO | VERSION | NEGOTIATE_128 | NEGOTIATE_56)
    without_ess, _, _ = parse_challenge(build_challenge(TARGET, UNICODE | NTLM, WHEN))
    assert not without_ess & (EXTENDED_SESSIONSECURITY | ALWAYS_SIGN | REQUEST_TARGET | NEGOTIATE_128)


def test_oem_only_client_gets_an_oem_target_name() -> None:
    message = build_challenge(TARGET, OEM | NTLM, WHEN)
    flags, name, _ = parse_challenge(message)
    assert flags & OEM and not flags & UNICODE
    assert name == "CONTOSO" and message[56:63] == b"CONTOSO"


def test_parses_type3_unicode_and_oem() -> None:
    unicode = parse_authenticate(authenticate_message("alice", "CONTOSO", "WKS-7"))
    assert unicode is not None
    assert (unicode.user, unicode.domain, unicode.workstation) == ("alice", "CONTOSO", "WKS-7")
    assert unicode.nt_response == b"\x11" * 24 and not unicode.anonymous
    oem = parse_authenticate(authenticate_message("bob", "CORP", "PC", unicode=False))
    assert oem is not None and (oem.user, oem.domain, oem.workstation) == ("bob", "CORP", "PC")


def test_type3_parser_returns_none_for_other_types_and_flags_anonymous() -> None:
    assert parse_authenticate(MSMAIL_TYPE1) is None
    anonymous = parse_authenticate(authenticate_message("", "", "", nt_response=b""))
    assert anonymous is not None and anonymous.anonymous


@pytest.mark.parametrize("message", [
    b"", b"NTLMSSP\x00", b"NTLMSSQ\x00\x03\x00\x00\x00" + b"\x00" * 60, b"NTLMSSP\x00\x09\x00\x00\x00",
    b"NTLMSSP\x00\x03\x00\x00\x00" + b"\x00" * 10,
    b"NTLMSSP\x00\x03\x00\x00\x00" + b"\x00" * 24 + struct.pack("<HHI", 10, 10, 0xFFFFFFF0) + b"\x00" * 30,
])
def test_malformed_messages_raise_ntlm_error(message: bytes) -> None:
    with pytest.raises(NtlmError):
        parse_authenticate(message)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([1, 3]))
def test_any_input_raises_only_ntlm_error(tail: bytes, kind: int) -> None:
    message = b"NTLMSSP\x00" + struct.pack("<I", kind) + tail
    for parse in (parse_negotiate, parse_authenticate):
        with contextlib.suppress(NtlmError):
            parse(message)


def test_basic_credentials() -> None:
    value = "Basic " + base64.b64encode("CONTOSO\\jdoe:pä:ss".encode()).decode()
    assert basic_credentials(value) == ("CONTOSO\\jdoe", "pä:ss")
    assert basic_credentials("Basic !!!") is None
    assert basic_credentials("Basic " + base64.b64encode(b"nocolon").decode()) is None
    assert basic_credentials("NTLM TlRMTVNTUAABAAAA") is None
    assert basic_credentials(None) is None


def test_ntlm_token_accepts_raw_ntlm_in_either_scheme_only() -> None:
    blob = base64.b64encode(MSMAIL_TYPE1).decode()
    assert ntlm_token(f"NTLM {blob}") == ("NTLM", MSMAIL_TYPE1)
    assert ntlm_token(f"Negotiate {blob}") == ("Negotiate", MSMAIL_TYPE1)
    spnego = base64.b64encode(b"\x60\x28\x06\x06\x2b\x06\x01\x05\x05\x02").decode()
    assert ntlm_token(f"Negotiate {spnego}") is None
    assert ntlm_token("Basic dXNlcjpwYXNz") is None
