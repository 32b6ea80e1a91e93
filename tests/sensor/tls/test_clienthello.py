"""ClientHello parser: real bytes, record reassembly, rejection, fuzzing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honeyscope.sensor.tls.clienthello import (
    MAX_CLIENT_HELLO_BYTES,
    ClientHello,
    ClientHelloAssembler,
    ClientHelloError,
    MalformedClientHello,
    NotTlsError,
    client_hello_length_needed,
    parse_client_hello,
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _parse(data: bytes) -> ClientHello:
    hello = parse_client_hello(data)
    assert hello is not None
    return hello


def test_real_tls13_hello_fields(hb: SimpleNamespace) -> None:
    hello = _parse(hb.REAL_TLS13)
    assert hello.record_version == 0x0301
    assert hello.legacy_version == 0x0303
    assert hello.server_name == "mail.contoso.com"
    assert hello.alpn == ("h2", "http/1.1")
    assert hello.alpn_raw == (b"h2", b"http/1.1")
    assert hello.supported_versions == (0x0304, 0x0303)
    assert hello.cipher_suites[:3] == (0x1302, 0x1303, 0x1301)
    assert hello.cipher_suites[-1] == 0x00FF
    assert len(hello.cipher_suites) == 18
    assert hello.extensions == (0, 11, 10, 35, 16, 22, 23, 13, 43, 45, 51, 21)
    assert hello.supported_groups[:2] == (0x001D, 0x0017)
    assert hello.ec_point_formats == (0, 1, 2)
    assert hello.signature_algorithms[:2] == (0x0403, 0x0503)
    assert hello.compression_methods == b"\x00"
    assert hello.length == len(hb.REAL_TLS13) == 517
    assert hello.handshake_length == 512


def test_real_tls12_hello_without_sni_and_alpn(hb: SimpleNamespace) -> None:
    hello = _parse(hb.REAL_TLS12)
    assert hello.server_name is None
    assert hello.alpn == ()
    assert hello.supported_versions == ()
    assert 0x0000 not in hello.extensions


def test_live_openssl_client_hello(hb: SimpleNamespace) -> None:
    data = hb.first_flight(hb.client_context(alpn=("http/1.1",)), "autodiscover.contoso.com")
    hello = _parse(data)
    assert hello.server_name == "autodiscover.contoso.com"
    assert hello.alpn == ("http/1.1",)


def test_trailing_bytes_are_not_consumed(hb: SimpleNamespace) -> None:
    ccs = b"\x14\x03\x03\x00\x01\x01"
    hello = _parse(hb.REAL_TLS13 + ccs)
    assert hello.length == len(hb.REAL_TLS13)


@pytest.mark.parametrize("sizes", [[1], [3, 1], [100, 100, 100], [4], [511]])
def test_hello_split_over_records(hb: SimpleNamespace, sizes: list[int]) -> None:
    data = hb.refragment(hb.REAL_TLS13, sizes)
    hello = _parse(data)
    reference = _parse(hb.REAL_TLS13)
    assert hello.length == len(data) > len(hb.REAL_TLS13)
    assert (hello.cipher_suites, hello.extensions, hello.server_name) == (
        reference.cipher_suites,
        reference.extensions,
        reference.server_name,
    )


def test_every_strict_prefix_needs_more(hb: SimpleNamespace) -> None:
    data = hb.refragment(hb.REAL_TLS13, [7, 60])
    for end in range(len(data)):
        assert parse_client_hello(data[:end]) is None
        needed = client_hello_length_needed(data[:end])
        assert needed is not None
        assert end < needed <= len(data)
    assert client_hello_length_needed(data) is None


def test_assembler_byte_by_byte(hb: SimpleNamespace) -> None:
    data = hb.REAL_TLS13 + b"\x17\x03\x03"
    assembler = ClientHelloAssembler()
    results = [assembler.feed(data[i : i + 1]) for i in range(len(data))]
    first_done = next(i for i, r in enumerate(results) if r is not None)
    assert first_done == len(hb.REAL_TLS13) - 1
    assert assembler.client_hello is results[-1]
    assert assembler.total_needed() is None
    # Stored up to completion only; later bytes are the caller's to forward.
    assert assembler.data == hb.REAL_TLS13


def test_assembler_keeps_bytes_after_hello_in_same_chunk(hb: SimpleNamespace) -> None:
    ccs = b"\x14\x03\x03\x00\x01\x01"
    assembler = ClientHelloAssembler()
    assert assembler.feed(hb.REAL_TLS13[:100]) is None
    assert assembler.feed(hb.REAL_TLS13[100:] + ccs) is not None
    assert assembler.data == hb.REAL_TLS13 + ccs


def test_hello_without_extensions(hb: SimpleNamespace) -> None:
    hello = _parse(hb.records(hb.handshake(ciphers=[0x002F], extensions=None, legacy_version=0x0301)))
    assert hello.extensions == ()
    assert hello.legacy_version == 0x0301


def test_non_ascii_sni_is_escaped_not_lost(hb: SimpleNamespace) -> None:
    message = hb.handshake(ciphers=[0x1301], extensions=[hb.sni_ext(b"ex\xffmple")])
    assert _parse(hb.records(message)).server_name == "ex\\xffmple"


def test_duplicate_extension_keeps_both_types_first_content(hb: SimpleNamespace) -> None:
    extensions = [hb.sni_ext(b"first.example"), hb.sni_ext(b"second.example")]
    hello = _parse(hb.records(hb.handshake(ciphers=[0x1301], extensions=extensions)))
    assert hello.extensions == (0, 0)
    assert hello.server_name == "first.example"


def test_empty_sni_extension_is_tolerated(hb: SimpleNamespace) -> None:
    hello = _parse(hb.records(hb.handshake(ciphers=[0x1301], extensions=[hb.ext(0x0000)])))
    assert hello.server_name is None
    assert hello.extensions == (0,)


@pytest.mark.parametrize(
    "data",
    [
        b"G",
        b"GET / HTTP/1.1\r\nHost: mail.contoso.com\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"\x16\x02",
        b"\x16\x03\x09",
        b"\x80\x2e\x01\x00\x02",  # SSLv2-format hello
        b"\x00" * 64,
    ],
)
def test_not_tls(data: bytes) -> None:
    with pytest.raises(NotTlsError):
        parse_client_hello(data)


def _body_with(hb: SimpleNamespace, tail: bytes, *, ciphers: bytes = b"\x00\x02\x13\x01") -> bytes:
    """Records around a hand-made body: version, random, empty session id, then ``tail``."""
    body = b"\x03\x03" + bytes(32) + b"\x00" + ciphers + b"\x01\x00" + tail
    return bytes(hb.records(b"\x01" + len(body).to_bytes(3, "big") + body))


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("zero_length_record", "record length"),
        ("oversized_record", "record length"),
        ("server_hello", "handshake type 2"),
        ("too_short_message", "too short"),
        ("huge_declared_length", "exceeds"),
        ("alert_in_the_middle", "not handshake"),
        ("odd_cipher_length", "odd length"),
        ("long_session_id", "session_id"),
        ("extension_overruns_block", "extension 0x0000"),
        ("trailing_bytes", "trailing"),
        ("alpn_overrun", "ALPN"),
        ("versions_odd", "supported_versions"),
    ],
)
def test_malformed(hb: SimpleNamespace, case: str, match: str) -> None:
    real = hb.REAL_TLS13
    data = {
        "zero_length_record": b"\x16\x03\x01\x00\x00",
        "oversized_record": b"\x16\x03\x01\x40\x01",
        "server_hello": b"\x16\x03\x03\x00\x30\x02",
        "too_short_message": b"\x16\x03\x01\x00\x04\x01\x00\x00\x00",
        "huge_declared_length": b"\x16\x03\x01\x00\x04\x01\x01\x00\x00",
        "alert_in_the_middle": hb.refragment(real, [10])[:15] + b"\x15\x03\x03\x00\x02\x02\x28",
        "odd_cipher_length": _body_with(hb, b"", ciphers=b"\x00\x03\x13\x01\x13"),
        "long_session_id": hb.records(hb.handshake(ciphers=[0x1301], extensions=[], session_id=bytes(33))),
        "extension_overruns_block": _body_with(hb, b"\x00\x04\x00\x00\x00\x09"),
        "trailing_bytes": _body_with(hb, b"\x00\x00\xff"),
        "alpn_overrun": _body_with(hb, b"\x00\x07\x00\x10\x00\x03\x00\x01\x05"),
        "versions_odd": _body_with(hb, b"\x00\x06\x00\x2b\x00\x02\x01\x03"),
    }[case]
    with pytest.raises(MalformedClientHello, match=match):
        parse_client_hello(data)


def test_size_cap_counts_record_headers(hb: SimpleNamespace) -> None:
    # A legal ~40 KiB message split into 1-byte records needs ~240 KiB on the wire.
    message = hb.handshake(ciphers=[0x1301], extensions=[hb.ext(0x0015, bytes(40_000))])
    with pytest.raises(MalformedClientHello, match="exceeds"):
        parse_client_hello(hb.records(message, [1] * len(message)))
    assert len(message) < MAX_CLIENT_HELLO_BYTES
    assert _parse(hb.records(message)).extensions == (0x0015,)


def test_buffer_stays_bounded_while_waiting(hb: SimpleNamespace) -> None:
    assembler = ClientHelloAssembler(max_bytes=1000)
    message = hb.handshake(ciphers=[0x1301], extensions=[hb.ext(0x0015, bytes(2000))])
    data = hb.records(message, [10] * 300)
    with pytest.raises(MalformedClientHello):
        for i in range(0, len(data), 7):
            assembler.feed(data[i : i + 7])
            assert len(assembler.data) <= 1000 + 5


def _check_parse(data: bytes) -> ClientHello | None:
    try:
        return parse_client_hello(data)
    except ClientHelloError:
        return None


@FUZZ
@given(data=st.binary(max_size=600))
def test_fuzz_random_bytes(data: bytes) -> None:
    _check_parse(data)
    _check_parse(b"\x16\x03\x01" + data)
    _check_parse(b"\x16\x03\x01" + len(data).to_bytes(2, "big") + b"\x01" + data)


@FUZZ
@given(data=st.data())
def test_fuzz_mutated_real_hello(hb: SimpleNamespace, data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from([hb.REAL_TLS13, hb.REAL_TLS12])))
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip":
            raw[pos] = data.draw(st.integers(0, 255))
        elif action == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del raw[pos]
        else:
            del raw[pos:]
        if not raw:
            return
    _check_parse(bytes(raw))


@FUZZ
@given(data=st.data())
def test_fuzz_chunking_does_not_change_result(hb: SimpleNamespace, data: st.DataObject) -> None:
    raw = data.draw(st.sampled_from([hb.REAL_TLS13, hb.refragment(hb.REAL_TLS12, [5, 50])]))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=10)))
    assembler = ClientHelloAssembler()
    result = None
    for start, end in zip([0, *cuts], [*cuts, len(raw)], strict=True):
        result = assembler.feed(raw[start:end])
    assert result == parse_client_hello(raw)
