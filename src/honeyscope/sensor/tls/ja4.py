"""JA4 TLS client fingerprint, implemented from FoxIO's JA4 specification.

JA4 (https://github.com/FoxIO-LLC/ja4, technical_details/JA4.md) is
BSD-3-Clause licensed. Only JA4 itself lives here: the other JA4+ methods
(JA4S, JA4H, JA4X, ...) are under a different licence and deliberately absent.

Shape: ``t13d1516h2_8daaf6152771_e5627efa2ab1``

* ``a``: transport, TLS version, ``d``/``i`` (SNI present or not), cipher
  count, extension count, first and last character of the first ALPN value;
* ``b``: truncated SHA-256 of the sorted cipher list;
* ``c``: truncated SHA-256 of the sorted extension list (SNI and ALPN
  removed) followed by the signature algorithms in wire order.

GREASE values (RFC 8701) are ignored everywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from honeyscope.sensor.tls.clienthello import EXT_ALPN, EXT_SERVER_NAME, ClientHello

__all__ = ["TRANSPORTS", "is_grease", "ja4", "ja4_r"]

#: JA4 transport markers: TLS over TCP, QUIC, DTLS.
TRANSPORTS = frozenset({"t", "q", "d"})

_VERSIONS = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}
_EMPTY_HASH = "000000000000"


def is_grease(value: int) -> bool:
    """True for the 16 GREASE code points 0x0a0a, 0x1a1a ... 0xfafa."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


def _without_grease(values: Iterable[int]) -> list[int]:
    return [value for value in values if not is_grease(value)]


def _version(hello: ClientHello) -> str:
    # supported_versions wins over legacy_version, which TLS 1.3 clients pin
    # to 0x0303; the record-layer version is never used.
    offered = _without_grease(hello.supported_versions)
    version = max(offered) if offered else hello.legacy_version
    return _VERSIONS.get(version, "00")


def _is_alphanumeric(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _alpn(hello: ClientHello) -> str:
    first = hello.alpn_raw[0] if hello.alpn_raw else b""
    if not first:
        return "00"
    if _is_alphanumeric(first[0]) and _is_alphanumeric(first[-1]):
        # A one-byte value yields that character twice, per the spec.
        return chr(first[0]) + chr(first[-1])
    # JA4.md's rule for non-alphanumeric ends: first and last hex digit of the
    # whole value. (Some implementations, FoxIO's own tools included, print
    # a non-ASCII end as "9" instead; we follow the written spec. They agree
    # whenever the value starts and ends alphanumerically, as h2 and
    # http/1.1 do.)
    as_hex = first.hex()
    return as_hex[0] + as_hex[-1]


def _hex_list(values: Iterable[int]) -> str:
    return ",".join(f"{value:04x}" for value in values)


def _truncated_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12]


def _check_transport(transport: str) -> None:
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of 't', 'q', 'd', not {transport!r}")


def _parts(hello: ClientHello, transport: str, original_order: bool) -> tuple[str, str, str]:
    """The three JA4 sections, ``b`` and ``c`` still unhashed."""
    _check_transport(transport)
    ciphers = _without_grease(hello.cipher_suites)
    extensions = _without_grease(hello.extensions)
    sni = "d" if EXT_SERVER_NAME in extensions else "i"
    part_a = f"{transport}{_version(hello)}{sni}{min(len(ciphers), 99):02d}{min(len(extensions), 99):02d}{_alpn(hello)}"
    if not original_order:
        # Sorted form drops SNI and ALPN: they are already in part a, and this
        # keeps c stable whether the client dials a name or an IP address.
        ciphers = sorted(ciphers)
        extensions = sorted(e for e in extensions if e not in (EXT_SERVER_NAME, EXT_ALPN))
    part_c = _hex_list(extensions)
    signature_algorithms = _without_grease(hello.signature_algorithms)
    if signature_algorithms:
        part_c += "_" + _hex_list(signature_algorithms)
    return part_a, _hex_list(ciphers), part_c


def ja4(hello: ClientHello, *, transport: str = "t", original_order: bool = False) -> str:
    """Return the JA4 fingerprint of ``hello``.

    ``transport`` is ``"t"`` (TLS over TCP), ``"q"`` (QUIC) or ``"d"`` (DTLS).
    ``original_order=True`` gives the spec's ``ja4_o`` variant (wire order,
    SNI and ALPN kept in the extension list).
    """
    part_a, ciphers, extensions = _parts(hello, transport, original_order)
    cipher_hash = _truncated_sha256(ciphers) if ciphers else _EMPTY_HASH
    extension_hash = _truncated_sha256(extensions) if extensions else _EMPTY_HASH
    return f"{part_a}_{cipher_hash}_{extension_hash}"


def ja4_r(hello: ClientHello, *, transport: str = "t", original_order: bool = False) -> str:
    """Return the raw (unhashed) JA4 string, ``ja4_r`` / ``ja4_ro``, for debugging."""
    return "_".join(_parts(hello, transport, original_order))
