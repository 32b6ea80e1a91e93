"""TlsServerSession with a real ssl client over memory BIOs, in-process."""

from __future__ import annotations

import ssl
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honeyscope.sensor.tls.clienthello import parse_client_hello
from honeyscope.sensor.tls.ja4 import ja4
from honeyscope.sensor.tls.session import TlsServerSession, make_server_context

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Client:
    """A real OpenSSL client whose network is two MemoryBIOs."""

    def __init__(self, ctx: ssl.SSLContext, server_hostname: str | None = "mail.contoso.com") -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname=server_hostname)
        self.sent: list[bytes] = []

    def take(self) -> bytes:
        data = self.outgoing.read()
        self.sent.append(data)
        return data

    def read_all(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            try:
                chunk = self.tls.read(65536)
            except ssl.SSLWantReadError:
                return b"".join(chunks)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def run_handshake(session: TlsServerSession, client: Client, chunk: int | None = None) -> None:
    """Shuttle bytes until both ends finish (or the server fails)."""
    client_done = False
    for _ in range(20):
        if not client_done:
            try:
                client.tls.do_handshake()
                client_done = True
            except ssl.SSLWantReadError:
                pass
        data = client.take()
        pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)] if chunk else [data]
        for piece in pieces:
            assert session.feed(piece) == b""
        client.incoming.write(session.outgoing())
        if session.failed or (client_done and session.handshake_done):
            return
    raise AssertionError("handshake did not converge")


@pytest.fixture(scope="module")
def server_ctx(cert_pair: tuple[Path, Path]) -> ssl.SSLContext:
    return make_server_context(*cert_pair)


def test_tls13_handshake_records_what_the_client_offered(server_ctx: ssl.SSLContext, hb: SimpleNamespace) -> None:
    session = TlsServerSession(server_ctx)
    client = Client(hb.client_context(alpn=("h2", "http/1.1")))
    run_handshake(session, client)
    assert session.handshake_done and not session.failed
    assert session.error is None
    assert session.sni == "mail.contoso.com"
    assert session.alpn_offered == ("h2", "http/1.1")
    assert session.alpn_selected == "http/1.1" == client.tls.selected_alpn_protocol()
    assert session.tls_version == "1.3"
    negotiated = client.tls.cipher()
    assert negotiated is not None
    assert session.cipher == negotiated[0]
    hello = parse_client_hello(client.sent[0])
    assert hello is not None
    assert session.client_hello == hello
    assert session.initial_bytes == client.sent[0]
    assert session.ja4 == ja4(hello)
    assert session.ja4 is not None and session.ja4.startswith("t13d")
    assert session.ja4_r is not None and session.ja4_r.startswith(session.ja4[:10] + "_")


def test_tls12_uses_iis_cipher_preference(server_ctx: ssl.SSLContext, hb: SimpleNamespace) -> None:
    session = TlsServerSession(server_ctx)
    ctx = hb.client_context(alpn=(), maximum=ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
    client = Client(ctx, server_hostname=None)
    run_handshake(session, client)
    assert session.tls_version == "1.2"
    # The client prefers AES128-SHA; the server's (IIS) order must win.
    assert session.cipher == "ECDHE-RSA-AES256-GCM-SHA384"
    assert session.sni is None
    assert session.alpn_offered == ()
    assert session.alpn_selected is None
    assert session.ja4 is not None and session.ja4.startswith("t12i")


def test_tls12_only_server(cert_pair: tuple[Path, Path], hb: SimpleNamespace) -> None:
    ctx = make_server_context(*cert_pair, maximum_version=ssl.TLSVersion.TLSv1_2, alpn=())
    session = TlsServerSession(ctx)
    run_handshake(session, Client(hb.client_context()))
    assert session.tls_version == "1.2"
    assert session.alpn_selected is None
    assert session.ja4 is not None and session.ja4.startswith("t13d")  # what the client offered


def test_application_data_round_trip(server_ctx: ssl.SSLContext, hb: SimpleNamespace) -> None:
    session = TlsServerSession(server_ctx)
    client = Client(hb.client_context())
    run_handshake(session, client)
    request = b"POST /owa/auth.owa HTTP/1.1\r\nHost: mail.contoso.com\r\n\r\n" + b"x" * 100_000
    client.tls.write(request)
    assert session.feed(client.take()) == request
    response = b"HTTP/1.1 302 Found\r\n\r\n" + bytes(range(256)) * 300
    session.send(response)
    client.incoming.write(session.outgoing())
    assert client.read_all() == response


def test_hello_trickled_byte_by_byte(server_ctx: ssl.SSLContext, hb: SimpleNamespace) -> None:
    session = TlsServerSession(server_ctx)
    client = Client(hb.client_context())
    run_handshake(session, client, chunk=1)
    assert session.handshake_done
    assert session.sni == "mail.contoso.com"


def test_hello_fragmented_into_records(server_ctx: ssl.SSLContext, hb: SimpleNamespace) -> None:
    session = TlsServerSession(server_ctx)
    client = Client(hb.client_context())
    with pytest.raises(ssl.SSLWantReadError):
        client.tls.do_handshake()
    # DPI-evasion style: the single ClientHello record re-split into four.
    assert session.feed(hb.refragment(client.take(), [1, 40, 200])) == b""
    client.incoming.write(session.outgoing())
    client.tls.do_handshake()
    session.feed(client.take())
    assert session.handshake_done
    assert session.sni == "mail.contoso.com"


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: mail.contoso.com\r\n\r\n",
        b"\x00\xff\x13\x37" * 50,
        b"SSH-2.0-libssh\r\n",
    ],
)
def test_garbage_fails_cleanly(server_ctx: ssl.SSLContext, garbage: bytes) -> None:
    session = TlsServerSession(server_ctx)
    assert session.feed(garbage) == b""
    assert session.failed
    assert session.error == "not TLS"
    assert not session.handshake_done
    assert session.outgoing() == b""
    assert session.feed(b"more") == b""  # ignored, no exception
    assert session.client_hello is None and session.ja4 is None
    assert session.initial_bytes == garbage  # kept as evidence


def test_initial_bytes_span_chunks_and_are_capped(server_ctx: ssl.SSLContext) -> None:
    session = TlsServerSession(server_ctx, max_hello_bytes=4096)
    hello_start = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc"
    assert session.feed(hello_start) == b""
    assert session.initial_bytes == b""  # still waiting for the hello
    session.feed(b"\x03\x03" + bytes(40) + b"\x00\x10" + bytes(10_000))
    assert session.failed
    assert session.initial_bytes.startswith(hello_start)
    assert len(session.initial_bytes) == 4096


def test_malformed_hello_fails_cleanly(server_ctx: ssl.SSLContext) -> None:
    session = TlsServerSession(server_ctx)
    session.feed(b"\x16\x03\x01\x00\x30\x02")
    assert session.failed
    assert session.error is not None and session.error.startswith("malformed ClientHello:")


def test_oversized_hello_is_refused_before_buffering(server_ctx: ssl.SSLContext) -> None:
    session = TlsServerSession(server_ctx, max_hello_bytes=4096)
    session.feed(b"\x16\x03\x01\x40\x00\x01\x00\x3f\xfc")
    assert session.failed
    assert session.error is not None and "exceeds 4096" in session.error


def test_handshake_failure_reports_reason_and_alert(server_ctx: ssl.SSLContext, hb: SimpleNamespace) -> None:
    ctx = hb.client_context(maximum=ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("ECDHE-RSA-CHACHA20-POLY1305")  # not in the IIS list
    session = TlsServerSession(server_ctx)
    client = Client(ctx)
    with pytest.raises(ssl.SSLWantReadError):
        client.tls.do_handshake()
    assert session.feed(client.take()) == b""
    assert session.failed
    assert session.error == "TLS handshake failed: NO_SHARED_CIPHER"
    assert session.ja4 is not None  # fingerprint kept for the event
    alert = session.outgoing()
    assert alert[:1] == b"\x15"  # a TLS alert record for the peer
    client.incoming.write(alert)
    with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
        client.tls.do_handshake()


def test_garbage_after_handshake(server_ctx: ssl.SSLContext, hb: SimpleNamespace) -> None:
    session = TlsServerSession(server_ctx)
    run_handshake(session, Client(hb.client_context()))
    assert session.feed(b"\x17\x03\x03\x00\x20" + bytes(32)) == b""
    assert session.failed
    assert session.error is not None and session.error.startswith("TLS error:")
    assert session.handshake_done and session.tls_version == "1.3"  # still reported for the event
    session.send(b"dropped")  # no exception once failed


def test_send_before_handshake_is_a_caller_bug(server_ctx: ssl.SSLContext) -> None:
    with pytest.raises(RuntimeError):
        TlsServerSession(server_ctx).send(b"early")


def test_server_close_notify(server_ctx: ssl.SSLContext, hb: SimpleNamespace) -> None:
    session = TlsServerSession(server_ctx)
    client = Client(hb.client_context())
    run_handshake(session, client)
    session.close_notify()
    assert session.closed and not session.failed
    client.incoming.write(session.outgoing())
    assert client.tls.read(10) == b""  # how CPython reports a received close_notify
    session.send(b"after close")
    assert session.outgoing() == b""


def test_peer_close_notify(server_ctx: ssl.SSLContext, hb: SimpleNamespace) -> None:
    session = TlsServerSession(server_ctx)
    client = Client(hb.client_context())
    run_handshake(session, client)
    client.tls.write(b"bye")
    with pytest.raises(ssl.SSLWantReadError):
        client.tls.unwrap()
    assert session.feed(client.take()) == b"bye"
    assert session.peer_closed and session.closed
    assert session.handshake_done


def test_legacy_minimum_version(cert_pair: tuple[Path, Path], hb: SimpleNamespace) -> None:
    server = make_server_context(*cert_pair, minimum_version=ssl.TLSVersion.TLSv1)
    ctx = hb.client_context(maximum=ssl.TLSVersion.TLSv1)
    session = TlsServerSession(server)
    run_handshake(session, Client(ctx))
    assert session.error is None
    assert session.tls_version == "1.0"
    assert session.ja4 is not None and session.ja4.startswith("t10d")


def test_default_server_refuses_tls10(server_ctx: ssl.SSLContext, hb: SimpleNamespace) -> None:
    ctx = hb.client_context(maximum=ssl.TLSVersion.TLSv1)
    session = TlsServerSession(server_ctx)
    run_handshake(session, Client(ctx))
    assert session.failed
    assert session.error == "TLS handshake failed: UNSUPPORTED_PROTOCOL"


@FUZZ
@given(chunks=st.lists(st.binary(max_size=300), max_size=5))
def test_fuzz_session_never_raises_on_random_input(server_ctx: ssl.SSLContext, chunks: list[bytes]) -> None:
    session = TlsServerSession(server_ctx)
    for chunk in chunks:
        assert isinstance(session.feed(chunk), bytes)
        session.outgoing()
    assert session.failed == (session.error is not None)


@FUZZ
@given(data=st.data())
def test_fuzz_session_mutated_hello(server_ctx: ssl.SSLContext, hb: SimpleNamespace, data: st.DataObject) -> None:
    raw = bytearray(hb.REAL_TLS13)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    raw += data.draw(st.binary(max_size=64))
    session = TlsServerSession(server_ctx)
    session.feed(bytes(raw))
    session.outgoing()
    assert session.failed == (session.error is not None)
    assert not session.handshake_done


def test_unknown_transport_is_rejected(server_ctx: ssl.SSLContext) -> None:
    with pytest.raises(ValueError, match="transport"):
        TlsServerSession(server_ctx, transport="u")
