"""Hostile input over real sockets: the decoy answers as http.sys/IIS would, records every case with its
raw bytes, never names the software behind it, and keeps serving afterwards.

Each test ends by checking that an ordinary ``GET /`` is still answered (302 to /owa/, as Exchange does).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from honeyscope.testing.live import LiveSensor, live_sensor

HOSTILE_CONFIG = """
[sensor.limits]
header_timeout = 2.0
min_body_rate = 240.0
"""

HOST = b"Host: mail.contoso.com\r\n"


@pytest.fixture(scope="module")
def sensor(tmp_path_factory: pytest.TempPathFactory, https_port: int | None) -> Iterator[LiveSensor]:
    """One sensor for the module, with a short header timeout (2 s) so slow clients are cut quickly."""
    with live_sensor(tmp_path_factory.mktemp("hostile"), http=0, https=https_port,
                     config_text=HOSTILE_CONFIG) as live:
        yield live


def recorded(wire: SimpleNamespace, sensor: LiveSensor, reply: Any, sent: bytes, *, exact: bool = True) -> Any:
    """The one ``http.request`` event of the connection, with its raw head checked against ``sent``."""
    events = wire.requests_from(sensor, reply.port)
    assert len(events) == 1, f"expected one http.request event for this connection, got {len(events)}"
    event = events[0]
    head = event.honeyscope.request.head
    assert head, "raw head bytes not recorded"
    if exact:
        assert head == sent
    else:
        assert sent.startswith(head)
    return event


# -- malformed request lines and headers ---------------------------------------------------------------

MALFORMED = [
    # (id, bytes sent, status http.sys answers, error kind recorded)
    ("no-spaces", b"GARBAGE\r\n\r\n", 400, "invalid_request_line"),
    ("extra-token", b"GET /a b HTTP/1.1\r\n" + HOST + b"\r\n", 400, "invalid_url"),
    ("bad-verb", b"G<T / HTTP/1.1\r\n" + HOST + b"\r\n", 400, "invalid_verb"),
    ("bad-protocol", b"GET / FTP/1.1\r\n" + HOST + b"\r\n", 400, "invalid_request_line"),
    ("http-3", b"GET / HTTP/3.0\r\n" + HOST + b"\r\n", 505, "unsupported_version"),
    ("no-host", b"GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n", 400, "invalid_hostname"),
    ("two-hosts", b"GET / HTTP/1.1\r\n" + HOST + HOST + b"\r\n", 400, "invalid_hostname"),
    ("relative-target", b"GET owa HTTP/1.1\r\n" + HOST + b"\r\n", 400, "invalid_url"),
    ("url-too-long", b"GET /" + b"A" * 20000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414, "request_line_too_long"),
    ("nul-in-value", b"GET / HTTP/1.1\r\n" + HOST + b"X-Evil: a\x00b\r\n\r\n", 400, "invalid_header_value"),
    ("nul-in-name", b"GET / HTTP/1.1\r\n" + HOST + b"X-\x00Evil: a\r\n\r\n", 400, "invalid_header_name"),
    ("folded-header", b"GET / HTTP/1.1\r\n" + HOST + b"X-A: 1\r\n continued\r\n\r\n", 400, "invalid_header_name"),
    ("tls-hello-on-http", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)) + b"\r\n\r\n", 400,
     "invalid_request_line"),
    ("conflicting-length", b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400,
     "invalid_content_length"),
    ("http09", b"GET /\r\n", 400, "http09_request"),
    ("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "http2_preface"),
]


@pytest.mark.parametrize(("sent", "status", "error"), [case[1:] for case in MALFORMED],
                         ids=[case[0] for case in MALFORMED])
def test_malformed_request_is_refused_like_httpsys_and_recorded(
    wire: SimpleNamespace, sensor: LiveSensor, sent: bytes, status: int, error: str,
) -> None:
    reply = wire.talk(sensor.address(), sent)
    response, rest = wire.parse_response(reply.data)
    assert response.status == status
    assert response.header("Server") in ("Microsoft-HTTPAPI/2.0", "Microsoft-IIS/10.0")
    assert rest == b"" and reply.closed, "http.sys closes the connection after refusing a request"
    wire.assert_no_leak(reply.data)
    # The head is everything up to the blank line (the HTTP/2 preface's ``SM`` and bodies come after it).
    end = sent.find(b"\r\n\r\n")
    event = recorded(wire, sensor, reply, sent[:end + 4] if end >= 0 else sent)
    assert event.honeyscope.request.error == error
    assert event.http.response.status_code == status
    wire.assert_still_serving(sensor)


def test_invalid_utf8_in_headers_is_kept_byte_exact(wire: SimpleNamespace, sensor: LiveSensor) -> None:
    # Bytes >= 0x80 are legal obs-text in field values (RFC 9110 5.5): answered, and recorded exactly.
    sent = (b"GET /owa/ HTTP/1.1\r\n" + HOST + b"X-Bytes: \xc3\x28\xff\xfe\xed\xa0\x80\r\n"
            b"Cookie: s=\xe2\x82\r\nConnection: close\r\n\r\n")
    reply = wire.talk(sensor.address(), sent)
    response, _ = wire.parse_response(reply.data)
    assert response.status != 400
    wire.assert_no_leak(reply.data)
    event = recorded(wire, sensor, reply, sent)
    assert event.honeyscope.request.error is None
    assert ("X-Bytes", b"\xc3\x28\xff\xfe\xed\xa0\x80".decode("latin-1")) in event.honeyscope.request.headers
    wire.assert_still_serving(sensor)


def test_invalid_utf8_and_nul_in_url_are_recorded(wire: SimpleNamespace, sensor: LiveSensor) -> None:
    sent = b"GET /owa/\xff\xfe%00\x00x HTTP/1.1\r\n" + HOST + b"\r\n"
    reply = wire.talk(sensor.address(), sent)
    response, _ = wire.parse_response(reply.data)
    assert response.status == 400 and reply.closed
    wire.assert_no_leak(reply.data)
    event = recorded(wire, sensor, reply, sent)
    assert event.honeyscope.request.error == "invalid_url"
    wire.assert_still_serving(sensor)


# -- size limits ---------------------------------------------------------------------------------------

def _send_in_background(sock: socket.socket, data: bytes) -> threading.Thread:
    """Send while the caller reads: the server may answer (and close) before it has read everything."""

    def send() -> None:
        with contextlib.suppress(OSError):  # the server closed the connection mid-stream, as intended
            sock.sendall(data)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def _stream(address: tuple[str, int], data: bytes, timeout: float = 10.0) -> SimpleNamespace:
    """Stream ``data`` from a thread and read the answer; says whether the server closed first."""
    started = time.monotonic()
    with socket.create_connection(address, timeout=timeout) as sock:
        port = sock.getsockname()[1]
        sender = _send_in_background(sock, data)
        chunks, closed = [], False
        while time.monotonic() - started < timeout:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                closed = True
                break
            except TimeoutError:
                break
            if not chunk:
                closed = True
                break
            chunks.append(chunk)
        answered_after = time.monotonic() - started
        sender_done = not sender.is_alive()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sender.join(5)
    return SimpleNamespace(data=b"".join(chunks), closed=closed, port=port, seconds=answered_after,
                           sender_done=sender_done)


def test_100k_headers_in_one_stream_get_400_and_close(wire: SimpleNamespace, sensor: LiveSensor) -> None:
    token = wire.marker()
    head = f"GET /owa/{token} HTTP/1.1\r\n".encode() + HOST
    headers = b"".join(b"X-H-%06d: v\r\n" % i for i in range(100_000))  # 1.6 MB
    before = wire.rss(sensor)
    reply = _stream(sensor.address(), head + headers + b"\r\n")
    response, _ = wire.parse_response(reply.data)
    assert response.status == 400 and reply.closed
    assert response.header("Server") == "Microsoft-HTTPAPI/2.0"
    wire.assert_no_leak(reply.data)
    event = recorded(wire, sensor, reply, head + headers, exact=False)
    assert event.honeyscope.request.error in ("head_too_large", "too_many_headers")
    assert event.honeyscope.request.head.startswith(head)
    # Only a bounded prefix is kept (the configured max_head_bytes, 64 KiB by default) ...
    assert len(event.honeyscope.request.head) <= 65536
    # ... and the 1.6 MB never sat in the sensor's memory at once.
    assert wire.rss(sensor) - before < 16 * 2**20
    assert wire.limit_events(sensor, event.honeyscope.request.error)
    wire.assert_still_serving(sensor)


def test_declared_1gib_body_is_refused_before_reading_it(wire: SimpleNamespace, sensor: LiveSensor) -> None:
    token = wire.marker()
    head = (f"POST /ews/{token} HTTP/1.1\r\n".encode() + HOST
            + b"Content-Type: application/octet-stream\r\nContent-Length: 1073741824\r\n\r\n")
    before = wire.rss(sensor)
    # We keep sending body bytes (8 MiB, far more than socket buffers hold); IIS request filtering answers
    # 404.13 from the declared length alone and closes, without waiting for the body.
    reply = _stream(sensor.address(), head + b"\0" * (8 * 2**20))
    response, _ = wire.parse_response(reply.data)
    assert response.status == 404
    assert b"request filtering" in response.body and b"content length" in response.body
    assert response.header("Server") == "Microsoft-IIS/10.0"
    assert reply.closed and reply.seconds < 5
    wire.assert_no_leak(reply.data)
    event = recorded(wire, sensor, reply, head)
    assert event.honeyscope.request.error == "body_too_large"
    assert event.http.request.body.bytes < 8 * 2**20
    assert wire.rss(sensor) - before < 16 * 2**20
    assert wire.limit_events(sensor, "body_too_large")
    wire.assert_still_serving(sensor)


# -- slow clients --------------------------------------------------------------------------------------

def _trickle(address: tuple[str, int], first: bytes, drip: bytes, every: float, limit: float) -> SimpleNamespace:
    """Send ``first``, then ``drip`` one byte per ``every`` seconds until the server cuts us off (or
    ``limit`` seconds pass). Returns what we sent, what came back and when the cut happened."""
    sent = bytearray()
    received = bytearray()
    started = time.monotonic()
    cut_after = None
    with socket.create_connection(address, timeout=5) as sock:
        port = sock.getsockname()[1]
        sock.sendall(first)
        sent += first
        for byte in drip:
            if time.monotonic() - started > limit:
                break
            readable, _, _ = select.select([sock], [], [], every)
            if readable:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                received += chunk
                if not chunk:
                    cut_after = time.monotonic() - started
                    break
            try:
                sock.send(bytes([byte]))
            except OSError:
                cut_after = time.monotonic() - started
                break
            sent.append(byte)
    return SimpleNamespace(sent=bytes(sent), received=bytes(received), cut_after=cut_after, port=port)


def test_slowloris_head_is_cut_off_after_header_timeout(wire: SimpleNamespace, sensor: LiveSensor) -> None:
    token = wire.marker()
    line = f"GET /owa/{token} HTTP/1.1\r\n".encode() + HOST
    head = line + b"User-Agent: " + b"s" * 200
    result = _trickle(sensor.address(), line, head[len(line):], every=0.2, limit=10)
    assert result.cut_after is not None, "a head trickled for 10 s was never cut off (header_timeout = 2 s)"
    # header_timeout = 2 s, enforced by a once-a-second sweep.
    assert 1.9 <= result.cut_after <= 4.5
    assert result.received == b"", "http.sys drops a timed-out connection without an answer"
    event = recorded(wire, sensor, result, result.sent, exact=False)
    assert event.honeyscope.request.error == "incomplete_request"
    # Whatever had trickled in when the timeout struck (≈ 10 bytes at 0.2 s each), kept byte for byte.
    recorded_head = event.honeyscope.request.head
    assert len(recorded_head) > len(line) and head.startswith(recorded_head)
    limits = wire.limit_events(sensor, "header_timeout")
    assert limits and limits[-1].honeyscope.limit.configured == 2.0
    wire.assert_still_serving(sensor)


def test_slow_post_body_under_min_body_rate_is_cut_off(wire: SimpleNamespace, sensor: LiveSensor) -> None:
    token = wire.marker()
    head = (f"POST /owa/auth.owa?{token} HTTP/1.1\r\n".encode() + HOST
            + b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n")
    # About 5 bytes/s, far below the 240 bytes/s minimum.
    result = _trickle(sensor.address(), head, b"username=a&password=" + b"p" * 100, every=0.2, limit=10)
    assert result.cut_after is not None, "a 5 B/s upload was never cut off (min_body_rate = 240 B/s)"
    assert 1.9 <= result.cut_after <= 4.5
    assert result.received == b""
    event = recorded(wire, sensor, result, head)
    request = event.honeyscope.request
    assert request.error == "incomplete_request" and not request.body_complete
    assert result.sent[len(head):].startswith(request.body) and request.body.startswith(b"username=a")
    assert wire.limit_events(sensor, "min_body_rate")
    wire.assert_still_serving(sensor)


def test_binary_garbage_without_line_end_then_half_close_is_recorded(
    wire: SimpleNamespace, sensor: LiveSensor,
) -> None:
    sent = bytes(range(1, 256)).replace(b"\n", b"")
    reply = wire.talk(sensor.address(), sent, half_close=True)
    assert reply.closed
    wire.assert_no_leak(reply.data)
    event = recorded(wire, sensor, reply, sent)
    assert event.honeyscope.request.error == "incomplete_request"
    wire.assert_still_serving(sensor)


# -- many connections ----------------------------------------------------------------------------------

FLOOD_CONFIG = """
[sensor.limits]
max_connections = 2000
idle_timeout = 4.0
"""
FLOOD = 10_000


def test_10k_idle_connections_hit_max_connections_then_idle_timeout(
    wire: SimpleNamespace, tmp_path: Path,
) -> None:
    with wire.open_files_limit(FLOOD + 1000) as limit:
        if limit < FLOOD + 500:
            pytest.skip(f"RLIMIT_NOFILE hard limit {limit} is too low to hold {FLOOD} client sockets")
        with live_sensor(tmp_path, http=0, config_text=FLOOD_CONFIG) as sensor:
            _flood(wire, sensor)


def _flood(wire: SimpleNamespace, sensor: LiveSensor) -> None:
    address = sensor.address()
    wire.request(address)  # warm up: the first request loads the persona's pages
    idle_rss = wire.rss(sensor)
    flood = wire.ConnectionFlood()
    try:
        opened_at = time.monotonic()
        flood.open(address, FLOOD, deadline=opened_at + 30)
        assert len(flood.sockets) + flood.failed == FLOOD
        # max_connections: the sensor keeps 2000 and resets the rest at once.
        reset = wire.wait_for(lambda: flood.ended_by_server() >= len(flood.sockets) - 2000, 3.0)
        assert reset, "connections beyond max_connections = 2000 were not refused"
        held = len(flood.sockets) - flood.ended_by_server()
        assert 0 < held <= 2000
        # Measured: ~30 MB idle, +4 MB with 2000 held idle connections (~2 KB each). The bound allows
        # 20 KB per held connection; the project's target is < 200 MB with 10k connections.
        flooded_rss = wire.rss(sensor)
        assert flooded_rss - idle_rss < 40 * 2**20, f"RSS grew {(flooded_rss - idle_rss) / 2**20:.1f} MB"
        assert flooded_rss < 200 * 2**20
        refused = len(flood.sockets) - held
        # Hits are folded into one event per second; the fold is written when its window closes.
        assert wire.wait_for(lambda: _folded_count(wire, sensor, "max_connections") >= refused, 3.0), (
            f"{_folded_count(wire, sensor, 'max_connections')} max_connections hits recorded, {refused} refused")
        # idle_timeout = 4 s: the held connections are dropped, and the sensor answers fresh requests.
        everyone = wire.wait_for(lambda: flood.ended_by_server() == len(flood.sockets), 10.0, 0.25)
        assert everyone, "idle connections were not dropped after idle_timeout"
        assert time.monotonic() - opened_at >= 3.5
        wire.assert_still_serving(sensor)
        assert wire.wait_for(lambda: _folded_count(wire, sensor, "idle_timeout") >= held, 3.0)
    finally:
        flood.close()


def _folded_count(wire: SimpleNamespace, sensor: LiveSensor, limit: str) -> int:
    """Hits of ``limit`` in the spool (limit events are folded per second; ``count`` sums them)."""
    return sum(event.honeyscope.limit.count for event in wire.limit_events(sensor, limit))


# -- the HTTPS port ------------------------------------------------------------------------------------

TLS_MISSING = "honeyscope.sensor.tls.session is not importable yet (the TLS layer has not landed)"


@pytest.mark.parametrize("sent", [
    b"GET /owa/ HTTP/1.1\r\nHost: mail.contoso.com\r\n\r\n",
    b"\x16\x03\x01\x00\x30" + b"\xfe" * 48,
    b"\x16\x03\x03\x00\x08\x01\x00\x00\x04\x03\x03\x00\x00",
    bytes(range(256)) * 4,
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x11" * 40,
], ids=["plain-http", "hello-garbage", "malformed-hello", "binary-garbage", "hello-cut-short"])
def test_non_tls_bytes_on_https_port_are_dropped_and_recorded(
    wire: SimpleNamespace, sensor: LiveSensor, sent: bytes,
) -> None:
    if not wire.tls_available():
        pytest.skip(TLS_MISSING)
    reply = wire.talk(sensor.address("https"), sent, timeout=5, half_close=True)
    assert reply.closed, "the HTTPS listener kept a connection that cannot become TLS"
    assert b"HTTP/1." not in reply.data, "an HTTP answer in clear text on the HTTPS port"
    wire.assert_no_leak(reply.data)
    handshakes = wire.wait_for(lambda: wire.handshakes_from(sensor, reply.port), 3.0)
    assert handshakes, "no tls.handshake event for the failed handshake"
    assert not handshakes[0].tls.established and handshakes[0].honeyscope.tls.error
    # Every case is in the spool, bytes included: what a scanner sent to the wrong port is evidence.
    assert sent.startswith(handshakes[0].honeyscope.tls.initial_bytes[:64])
    assert handshakes[0].honeyscope.tls.initial_bytes
    if sent.startswith(b"\x16\x03\x01\x02\x00"):
        return  # a ClientHello cut short is TLS, not HTTP: its bytes are on the handshake event only
    events = wire.requests_from(sensor, reply.port, timeout=1.0)
    assert events, "the bytes sent to the HTTPS port are not in the spool (no http.request event)"
    assert sent.startswith(events[0].honeyscope.request.head[:64]) and events[0].honeyscope.request.error
    wire.assert_still_serving(sensor, "https")
    wire.assert_still_serving(sensor)


def test_https_request_after_tls_handshake_is_answered_and_recorded(
    wire: SimpleNamespace, sensor: LiveSensor,
) -> None:
    if not wire.tls_available():
        pytest.skip(TLS_MISSING)
    sent = b"GET /\r\n"  # HTTP/0.9 inside TLS
    reply = wire.talk(sensor.address("https"), sent, tls=True)
    response, _ = wire.parse_response(reply.data)
    assert response.status == 400
    wire.assert_no_leak(reply.data)
    event = recorded(wire, sensor, reply, sent)
    assert event.honeyscope.request.error == "http09_request"
    assert event.tls is not None and event.tls.established
    wire.assert_still_serving(sensor, "https")


def test_slow_tls_handshake_is_cut_off_after_header_timeout(wire: SimpleNamespace, sensor: LiveSensor) -> None:
    if not wire.tls_available():
        pytest.skip(TLS_MISSING)
    # A record announcing a 16000-byte ClientHello, then one byte every 0.2 s: slowloris before TLS.
    start = b"\x16\x03\x01\x3e\x80\x01\x00\x3e\x7c\x03\x03"
    result = _trickle(sensor.address("https"), start, bytes(64), every=0.2, limit=8)
    assert result.cut_after is not None, "a ClientHello trickled for 8 s was never cut off (header_timeout = 2 s)"
    assert 1.9 <= result.cut_after <= 4.5
    wire.assert_no_leak(result.received)
    handshakes = wire.wait_for(lambda: wire.handshakes_from(sensor, result.port), 3.0)
    assert handshakes and not handshakes[0].tls.established and handshakes[0].honeyscope.tls.error
    wire.assert_still_serving(sensor, "https")
