"""The lenient parser keeps every byte and refuses exactly what http.sys refuses."""

from __future__ import annotations

import hashlib

import pytest

from honeyscope.sensor.http.parser import ErrorKind, HttpParser, ParseLimits


def feed_all(data: bytes, limits: ParseLimits | None = None, step: int | None = None) -> list:
    parser = HttpParser(limits)
    if step is None:
        return parser.feed(data)
    out = []
    for i in range(0, len(data), step):
        out += parser.feed(data[i : i + step])
    return out


def test_head_bytes_kept_exactly_with_order_case_and_duplicates() -> None:
    head = b"GET /owa/ HTTP/1.1\r\nhOsT: a\r\nX-Dup: 1\r\nx-dup: 2\r\nCookie: a=1\r\n\r\n"
    (request,) = feed_all(head)
    assert request.head == head
    assert request.headers.items == [("hOsT", "a"), ("X-Dup", "1"), ("x-dup", "2"), ("Cookie", "a=1")]
    assert request.headers.get_all("X-DUP") == ["1", "2"]
    assert request.error is None


def test_pipelined_requests_come_out_in_order_even_byte_by_byte() -> None:
    data = b"".join(
        f"POST /r{i} HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nab{i}".encode() for i in range(5)
    )
    for step in (None, 1, 7):
        requests = feed_all(data, step=step)
        assert [r.target for r in requests] == [f"/r{i}" for i in range(5)]
        assert [r.body for r in requests] == [f"ab{i}".encode() for i in range(5)]


def test_invalid_utf8_in_header_value_is_accepted_and_recoverable() -> None:
    (request,) = feed_all(b"GET / HTTP/1.1\r\nHost: h\r\nX-Bin: \xff\xfe\xc3\r\n\r\n")
    assert request.error is None
    assert request.headers.get("x-bin").encode("latin-1") == b"\xff\xfe\xc3"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-Nul: a\x00b\r\n\r\n", ErrorKind.BAD_HEADER_VALUE),
        (b"GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n", ErrorKind.BAD_HEADER_NAME),
        (b"GET / HTTP/1.1\r\nHost: h\r\nno colon here\r\n\r\n", ErrorKind.BAD_HEADER_NAME),
        (b"GET / HTTP/1.1\r\n\r\n", ErrorKind.BAD_HOST),
        (b"G\x01T / HTTP/1.1\r\nHost: h\r\n\r\n", ErrorKind.BAD_VERB),
        (b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", ErrorKind.BAD_URL),
        (b"GET nope HTTP/1.1\r\nHost: h\r\n\r\n", ErrorKind.BAD_URL),
        (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", ErrorKind.BAD_VERSION),
        (b"GET / HTTX/1.1\r\nHost: h\r\n\r\n", ErrorKind.BAD_REQUEST_LINE),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ErrorKind.HTTP2_PREFACE),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", ErrorKind.BAD_CONTENT_LENGTH),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", ErrorKind.BAD_CONTENT_LENGTH),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", ErrorKind.BAD_TRANSFER_ENCODING),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
         ErrorKind.BAD_CONTENT_LENGTH),
    ],
)
def test_malformed_requests_are_returned_with_their_bytes_and_a_verdict(data: bytes, error: str) -> None:
    parser = HttpParser()
    (request,) = parser.feed(data)
    assert request.error == error
    assert data.startswith(request.head[:16])
    assert parser.dead
    assert parser.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n") == []


def test_http09_is_answered_without_waiting_for_a_blank_line() -> None:
    (request,) = feed_all(b"GET /\r\n")
    assert request.error == ErrorKind.HTTP09
    assert request.method == "GET" and request.target == "/"


def test_declared_huge_body_is_refused_without_reading_it() -> None:
    limits = ParseLimits(max_body_bytes=1024)
    parser = HttpParser(limits)
    (request,) = parser.feed(b"POST /owa/auth.owa HTTP/1.1\r\nHost: h\r\nContent-Length: 1073741824\r\n\r\nxx")
    assert request.error == ErrorKind.BODY_TOO_LARGE
    assert request.body == b""


def test_body_is_stored_up_to_the_limit_but_hashed_and_counted_in_full() -> None:
    body = bytes(range(256)) * 40
    data = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    (request,) = feed_all(data, ParseLimits(body_store_bytes=100), step=333)
    assert request.body == body[:100]
    assert request.body_length == len(body)
    assert request.body_sha256 == hashlib.sha256(body).hexdigest()


def test_chunked_body_with_extensions_and_trailers() -> None:
    data = (b"POST /ews HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n")
    for step in (None, 1, 5):
        first, second = feed_all(data, step=step)
        assert first.chunked and first.body == b"Wikipedia" and first.error is None
        assert second.target == "/next"


def test_bad_chunk_size_is_an_error_with_the_partial_body() -> None:
    (request,) = feed_all(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n")
    assert request.error == ErrorKind.BAD_CHUNK
    assert request.body == b"abc"


def test_oversized_head_is_refused_and_memory_bounded() -> None:
    limits = ParseLimits(max_head_bytes=4096)
    parser = HttpParser(limits)
    results = parser.feed(b"GET / HTTP/1.1\r\nHost: h\r\n")
    for _ in range(1000):
        results += parser.feed(b"X-A: " + b"a" * 100 + b"\r\n")
        if results:
            break
    (request,) = results
    assert request.error == ErrorKind.HEAD_TOO_LARGE
    assert len(request.head) <= 4096


def test_too_many_headers() -> None:
    data = b"GET / HTTP/1.1\r\nHost: h\r\n" + b"A: b\r\n" * 600 + b"\r\n"
    (request,) = feed_all(data)
    assert request.error == ErrorKind.TOO_MANY_HEADERS


def test_request_line_too_long_is_414_kind() -> None:
    (request,) = feed_all(b"GET /" + b"a" * 20000)
    assert request.error == ErrorKind.REQUEST_LINE_TOO_LONG


def test_eof_mid_request_returns_what_arrived() -> None:
    parser = HttpParser()
    assert parser.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc") == []
    request = parser.eof()
    assert request is not None
    assert request.error == ErrorKind.INCOMPLETE and request.body == b"abc" and not request.body_complete
    half = HttpParser()
    half.feed(b"GET /half HTTP/1.1\r\nHo")
    partial = half.eof()
    assert partial is not None and partial.head == b"GET /half HTTP/1.1\r\nHo" and partial.target == "/half"


def test_keep_alive_semantics() -> None:
    (a,) = feed_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    (b,) = feed_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    (c,) = feed_all(b"GET / HTTP/1.0\r\n\r\n")
    (d,) = feed_all(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
    assert (a.keep_alive, b.keep_alive, c.keep_alive, d.keep_alive) == (True, False, False, True)


def test_bare_lf_line_endings_are_tolerated() -> None:
    (request,) = feed_all(b"GET /lf HTTP/1.1\nHost: h\n\n")
    assert request.error is None and request.target == "/lf"
