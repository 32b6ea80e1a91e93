"""Shared helpers for the TLS tests: a ClientHello byte builder and real hellos."""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from honeyscope.sensor.tls.certs import ensure_certificate

GREASE = 0x0A0A


def _u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def _vec(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def _u16s(values: Sequence[int]) -> bytes:
    return b"".join(_u16(v) for v in values)


def ext(ext_type: int, data: bytes = b"") -> tuple[int, bytes]:
    return ext_type, data


def sni_ext(name: bytes) -> tuple[int, bytes]:
    return 0x0000, _vec(b"\x00" + _vec(name, 2), 2)


def alpn_ext(*names: bytes) -> tuple[int, bytes]:
    return 0x0010, _vec(b"".join(_vec(n, 1) for n in names), 2)


def versions_ext(*versions: int) -> tuple[int, bytes]:
    return 0x002B, _vec(_u16s(versions), 1)


def u16_list_ext(ext_type: int, values: Sequence[int]) -> tuple[int, bytes]:
    return ext_type, _vec(_u16s(values), 2)


def handshake(
    *,
    ciphers: Sequence[int],
    extensions: Sequence[tuple[int, bytes]] | None,
    legacy_version: int = 0x0303,
    session_id: bytes = b"",
    compression: bytes = b"\x00",
) -> bytes:
    """A ClientHello handshake message (type + 3-byte length + body)."""
    body = _u16(legacy_version) + bytes(range(32)) + _vec(session_id, 1)
    body += _vec(_u16s(ciphers), 2) + _vec(compression, 1)
    if extensions is not None:
        body += _vec(b"".join(_u16(t) + _vec(d, 2) for t, d in extensions), 2)
    return b"\x01" + _vec(body, 3)


def records(message: bytes, sizes: Sequence[int] = (), *, version: int = 0x0301) -> bytes:
    """Wrap a handshake message in TLS records, split at ``sizes`` then 16 KiB."""
    out, pos = b"", 0
    chunks = list(sizes)
    while pos < len(message):
        size = chunks.pop(0) if chunks else 2**14
        out += b"\x16" + _u16(version) + _vec(message[pos : pos + size], 2)
        pos += size
    return out


def refragment(record_bytes: bytes, sizes: Sequence[int]) -> bytes:
    """Re-split the handshake carried in ``record_bytes`` into new records."""
    payload, pos = b"", 0
    while pos < len(record_bytes):
        length = int.from_bytes(record_bytes[pos + 3 : pos + 5], "big")
        payload += record_bytes[pos + 5 : pos + 5 + length]
        pos += 5 + length
    return records(payload, sizes)


def client_context(
    *, alpn: Sequence[str] = ("h2", "http/1.1"), maximum: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    if maximum is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 clients
            ctx.maximum_version = maximum
            ctx.minimum_version = min(maximum, ctx.minimum_version)
    if maximum is not None and maximum < ssl.TLSVersion.TLSv1_2:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def first_flight(ctx: ssl.SSLContext, server_hostname: str | None) -> bytes:
    """The bytes a real Python/OpenSSL client sends first: its ClientHello."""
    obj = ctx.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


@pytest.fixture(scope="session")
def hb() -> SimpleNamespace:
    """ClientHello building helpers, as one namespace."""
    return SimpleNamespace(
        GREASE=GREASE,
        ext=ext,
        sni_ext=sni_ext,
        alpn_ext=alpn_ext,
        versions_ext=versions_ext,
        u16_list_ext=u16_list_ext,
        handshake=handshake,
        records=records,
        refragment=refragment,
        client_context=client_context,
        first_flight=first_flight,
        REAL_TLS13=REAL_TLS13_SNI_ALPN,
        REAL_TLS12=REAL_TLS12_IP_NOALPN,
    )


@pytest.fixture(scope="session")
def cert_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One generated Exchange-style certificate for the whole test session."""
    state = tmp_path_factory.mktemp("tls-state")
    return ensure_certificate(
        state, common_name="EXCH01", dns_names=["EXCH01", "mail.contoso.com", "autodiscover.contoso.com"]
    )


# Real ClientHellos captured from Python 3.11 / OpenSSL 3.0 clients through a
# MemoryBIO (see first_flight): TLS 1.3 with SNI mail.contoso.com and ALPN
# h2,http/1.1; and TLS 1.2-only with no SNI and no ALPN.
REAL_TLS13_SNI_ALPN = bytes.fromhex(
    "1603010200010001fc0303e7f68bc7217b099bc7a5db0c7a222ca9f90153669d61bcd96d46324640583c5c20f21e5d00"
    "6fa656e49805fa833fd981a3a025c77ec377783f0810c149d5cc6fff0024130213031301c02cc030c02bc02fcca9cca8"
    "c024c028c023c027009f009e006b006700ff0100018f0000001500130000106d61696c2e636f6e746f736f2e636f6d00"
    "0b000403000102000a00160014001d0017001e0019001801000101010201030104002300000010000e000c0268320868"
    "7474702f312e310016000000170000000d002a0028040305030603080708080809080a080b0804080508060401050106"
    "01030303010302040205020602002b00050403040303002d00020101003300260024001d00206e55add8f679f0aa6fff"
    "36b01f69d8627ebfb7584bec82c47823b86ad28ea20f001500cb00000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000000000000000000"
)
REAL_TLS12_IP_NOALPN = bytes.fromhex(
    "160301009d010000990303520db6b5a4991381cf93ab40bdbbd9f9da1511dbeada633eeba0c6b78ad5d32300001ec02c"
    "c030c02bc02fcca9cca8c024c028c023c027009f009e006b006700ff01000052000b000403000102000a000c000a001d"
    "0017001e00190018002300000016000000170000000d002a0028040305030603080708080809080a080b080408050806"
    "040105010601030303010302040205020602"
)
