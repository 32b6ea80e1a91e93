"""JA4 against published vectors and against real OpenSSL ClientHello bytes.

Published vectors (expected strings copied verbatim, inputs rebuilt as real
ClientHello bytes with GREASE sprinkled in so the whole parse path runs):

* FoxIO-LLC/ja4 technical_details/JA4.md example (also rust/ja4/src/tls.rs
  unit test and rust/ja4/src/snapshots/ja4__insta@tls3.pcapng.snap);
* FoxIO-LLC/ja4 python/test/testdata/sigalg-grease.pcapng.json (same JA4 in
  rust/ja4/src/snapshots/ja4__insta@sigalg-grease.pcapng.snap);
* a Chrome 143 record published by browserleaks.com (third party, four
  mutually consistent JA4 forms).
"""

from __future__ import annotations

from types import SimpleNamespace

import msgspec
import pytest

from honeyscope.sensor.tls.clienthello import ClientHello, parse_client_hello
from honeyscope.sensor.tls.ja4 import is_grease, ja4, ja4_r

CHROME_CIPHERS = [
    0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9,
    0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035,
]  # fmt: skip
CHROME_SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]


def _hello_bytes(
    hb: SimpleNamespace, ext_order: list[int], sigalgs: list[int], *, grease_sigalg: bool = False
) -> bytes:
    """Chrome-like ClientHello with the given extension order, GREASE included."""
    content = {
        0x0000: hb.sni_ext(b"example.com")[1],
        0x0010: hb.alpn_ext(b"h2", b"http/1.1")[1],
        0x002B: hb.versions_ext(hb.GREASE, 0x0304, 0x0303)[1],
        0x000D: hb.u16_list_ext(0x000D, ([0x1A1A] if grease_sigalg else []) + sigalgs)[1],
        0x000A: hb.u16_list_ext(0x000A, [0x2A2A, 0x001D, 0x0017, 0x0018])[1],
        0x000B: b"\x01\x00",
    }
    extensions = [hb.ext(0x3A3A)]
    extensions += [(t, content.get(t, b"")) for t in ext_order]
    extensions += [hb.ext(0x4A4A, b"\x00")]
    message = hb.handshake(ciphers=[0x5A5A, *CHROME_CIPHERS], extensions=extensions)
    return bytes(hb.records(message))


def _parse(data: bytes) -> ClientHello:
    hello = parse_client_hello(data)
    assert hello is not None
    return hello


SPEC_EXT_ORDER = [
    0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D,
    0x0005, 0x0023, 0x0012, 0x002B, 0xFF01, 0x000B, 0x000A, 0x0015,
]  # fmt: skip


def test_spec_example(hb: SimpleNamespace) -> None:
    hello = _parse(_hello_bytes(hb, SPEC_EXT_ORDER, CHROME_SIGALGS))
    assert ja4(hello) == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert ja4_r(hello) == (
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_"
        "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_"
        "0403,0804,0401,0503,0805,0501,0806,0601"
    )
    assert ja4(hello, original_order=True) == "t13d1516h2_acb858a92679_18f69afefd3d"
    assert ja4_r(hello, original_order=True) == (
        "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_"
        "001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015_"
        "0403,0804,0401,0503,0805,0501,0806,0601"
    )


def test_spec_example_without_signature_algorithms(hb: SimpleNamespace) -> None:
    # JA4.md: "If there are no signature algorithms in the hello packet, then
    # the string ends without an underscore" ... "= 6d807ffa2a79".
    hello = _parse(_hello_bytes(hb, SPEC_EXT_ORDER, []))
    assert ja4(hello) == "t13d1516h2_8daaf6152771_6d807ffa2a79"
    assert ja4_r(hello).endswith("_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01")


def test_foxio_sigalg_grease_pcap(hb: SimpleNamespace) -> None:
    order = [
        0xFE0D, 0x0010, 0x0017, 0x0033, 0x44CD, 0xFF01, 0x000A, 0x000D, 0x0023,
        0x002B, 0x000B, 0xCA34, 0x002D, 0x0000, 0x0005, 0x001B, 0x0012,
    ]  # fmt: skip
    sigalgs = [0x0904, 0x0905, 0x0906, *CHROME_SIGALGS]
    hello = _parse(_hello_bytes(hb, order, sigalgs, grease_sigalg=True))
    assert hello.signature_algorithms[0] == 0x1A1A  # GREASE kept by the parser...
    assert ja4(hello) == "t13d1517h2_8daaf6152771_cb7bf5808d99"  # ...and ignored by JA4
    assert ja4_r(hello) == (
        "t13d1517h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_"
        "0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,ca34,fe0d,ff01_"
        "0904,0905,0906,0403,0804,0401,0503,0805,0501,0806,0601"
    )
    assert ja4(hello, original_order=True) == "t13d1517h2_acb858a92679_88bf22a3e888"


def test_browserleaks_chrome_143(hb: SimpleNamespace) -> None:
    order = [
        0x002D, 0x0033, 0x0010, 0xFE0D, 0x0017, 0x44CD, 0x0000, 0x000B,
        0x000A, 0x002B, 0xFF01, 0x0023, 0x0012, 0x0005, 0x000D, 0x001B,
    ]  # fmt: skip
    hello = _parse(_hello_bytes(hb, order, CHROME_SIGALGS))
    assert ja4(hello) == "t13d1516h2_8daaf6152771_d8a2da3f94cd"
    assert ja4(hello, original_order=True) == "t13d1516h2_acb858a92679_f96a17c57971"


# Real OpenSSL bytes: independent cross-check. These expected values were
# also produced by the separate `ja4plus` 1.4.0 implementation (run once,
# out of tree) from the same bytes.
def test_real_openssl_tls13_hello(hb: SimpleNamespace) -> None:
    hello = _parse(hb.REAL_TLS13)
    assert ja4(hello) == "t13d1812h2_85036bcba153_d41ae481755e"
    assert ja4(hello, original_order=True) == "t13d1812h2_a2fb288ce784_958d92f00bb5"
    assert ja4_r(hello) == (
        "t13d1812h2_0067,006b,009e,009f,00ff,1301,1302,1303,c023,c024,c027,c028,c02b,c02c,c02f,c030,"
        "cca8,cca9_000a,000b,000d,0015,0016,0017,0023,002b,002d,0033_0403,0503,0603,0807,0808,0809,"
        "080a,080b,0804,0805,0806,0401,0501,0601,0303,0301,0302,0402,0502,0602"
    )


def test_real_openssl_tls12_hello_without_sni_or_alpn(hb: SimpleNamespace) -> None:
    hello = _parse(hb.REAL_TLS12)
    assert ja4(hello) == "t12i150600_d68b136fe8d9_e7e480e5a997"
    assert ja4(hello, original_order=True) == "t12i150600_e1783e63e222_de96c9571173"


def _hello(**changes: object) -> ClientHello:
    base = ClientHello(
        record_version=0x0301,
        legacy_version=0x0303,
        cipher_suites=(0x1301,),
        compression_methods=b"\x00",
        extensions=(0x000A,),
        server_name=None,
        alpn=(),
        alpn_raw=(),
        supported_versions=(),
        signature_algorithms=(),
        supported_groups=(),
        ec_point_formats=(),
        length=0,
        handshake_length=0,
    )
    return msgspec.structs.replace(base, **changes)


@pytest.mark.parametrize(
    ("first_alpn", "expected"),
    [
        (b"h2", "h2"),
        (b"http/1.1", "h1"),
        (b"x", "xx"),  # one character is both first and last
        (b"", "00"),
        # JA4.md's hex rule for non-alphanumeric first/last bytes:
        (b"\xab", "ab"),
        (b"\xab\xcd", "ad"),
        (b"\x30\xab", "3b"),
        (b"\x30\x31\xab\xcd", "3d"),
        (b"\x30\xab\xcd\x31", "01"),
        (b"h/", "6f"),  # '/' is not alphanumeric: hex of "h/" is 682f
    ],
)
def test_alpn_characters(first_alpn: bytes, expected: str) -> None:
    hello = _hello(alpn_raw=(first_alpn, b"h2"))
    assert ja4(hello)[8:10] == expected


def test_no_alpn_is_00() -> None:
    assert ja4(_hello())[8:10] == "00"


@pytest.mark.parametrize(
    ("supported", "legacy", "expected"),
    [
        ((0x0A0A, 0x0304, 0x0303), 0x0303, "13"),
        ((0x0303, 0xFAFA), 0x0303, "12"),
        ((0x0302, 0x0304, 0x0303), 0x0303, "13"),  # highest, not first
        ((), 0x0302, "11"),
        ((), 0x0301, "10"),
        ((), 0x0300, "s3"),
        ((), 0x0002, "s2"),
        ((0xFEFD,), 0xFEFD, "d2"),
        ((0x1A1A,), 0x0303, "12"),  # only GREASE offered: fall back to legacy_version
        ((), 0x7F1C, "00"),
    ],
)
def test_version(supported: tuple[int, ...], legacy: int, expected: str) -> None:
    assert ja4(_hello(supported_versions=supported, legacy_version=legacy))[1:3] == expected


def test_counts_cap_at_99_and_skip_grease() -> None:
    hello = _hello(cipher_suites=(0x0A0A, *range(1, 121)), extensions=(0xEAEA, 0x0000, 0x0010))
    assert ja4(hello)[3:8] == "d9902"


def test_empty_lists_hash_to_zeros() -> None:
    # Only SNI and ALPN: the sorted extension list is empty after removing them.
    hello = _hello(cipher_suites=(0x2A2A,), extensions=(0x0000, 0x0010), alpn_raw=(b"h2",))
    assert ja4(hello) == "t12d0002h2_000000000000_000000000000"
    assert ja4_r(hello) == "t12d0002h2__"


def test_transport_marker() -> None:
    assert ja4(_hello(), transport="q").startswith("q12")
    assert ja4(_hello(), transport="d").startswith("d12")
    with pytest.raises(ValueError, match="transport"):
        ja4(_hello(), transport="x")


def test_is_grease() -> None:
    grease = {v for v in range(0x10000) if is_grease(v)}
    assert grease == {0x0A0A + 0x1010 * i for i in range(16)}
