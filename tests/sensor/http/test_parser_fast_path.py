"""The parser's fast path (one match for a clean head) and its memo of heads give exactly what the
general, step-by-step path gives."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from honeyscope.sensor.http.parser import HeadMemo, HttpParser, ParseLimits, RawRequest

LIMITS = ParseLimits(max_request_line_bytes=64, max_head_bytes=512, max_header_count=4, body_store_bytes=8,
                     max_body_bytes=64)


class GeneralPathParser(HttpParser):
    """The parser with its fast path switched off: the reference the fast path must agree with."""

    def _parse_whole_head(self, head: bytes) -> RawRequest | None:
        return None


def observed(request: RawRequest) -> dict[str, Any]:
    """Everything a consumer of a parsed request can see."""
    names = {name.lower() for name, _ in request.headers.items}
    return {
        "head": request.head, "method": request.method, "target": request.target, "version": request.version,
        "items": request.headers.items, "values": {name: request.headers.get_all(name) for name in names},
        "body": request.body, "body_length": request.body_length, "body_sha256": request.body_sha256,
        "body_complete": request.body_complete, "chunked": request.chunked, "error": request.error,
        "error_detail": request.error_detail,
        "keep_alive": request.keep_alive,
    }


def parse(parser: HttpParser, data: bytes) -> tuple[list[dict[str, Any]], bool]:
    requests = parser.feed(data)
    last = parser.eof()
    return [observed(r) for r in [*requests, *([last] if last else [])]], parser.dead


def mostly(good: st.SearchStrategy[str], odd: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Usually well-formed (so that the fast path is taken), sometimes not (so that it must decline)."""
    return st.integers(0, 9).flatmap(lambda roll: odd if roll == 9 else good)


_METHOD = mostly(st.sampled_from(["GET", "HEAD", "POST", "OPTIONS"]),
                 st.sampled_from(["PRI", "G T", "G\x01T", "get", "X-Y!", ""]))
_TARGET = mostly(st.text(alphabet="abc/%?&=.~", max_size=20).map(lambda t: "/" + t),
                 st.sampled_from(["*", "http://h/x", "HTTPS://h", "nope", "", "/a b", "/\x00", "/\x7f", "/\xe9"]))
_VERSION = mostly(st.sampled_from(["HTTP/1.1", "HTTP/1.0"]),
                  st.sampled_from(["HTTP/2.0", "HTTP/1.x", "HTTX/1.1", "HTTP/1.1\r", "HTTP/1.1 "]))
_NAME = mostly(st.sampled_from(["Host", "host", "Connection", "X-A", "User-Agent", "Accept", "cookie"]),
               st.sampled_from(["Content-Length", "Transfer-Encoding", "Bad Name", "", "X(", " Host", "Host "]))
_VALUE = mostly(st.text(alphabet="abc ,:;=/\t\xe9\xff", max_size=12),
                st.sampled_from(["close", "keep-alive", "3", "chunked", "gzip", " 1 ", "-1", "a\x00b", "\x01"]))
_HOST = mostly(st.just("h:1"), st.sampled_from(["", "a b", "h\x00"]))
_EOL = st.sampled_from(["\r\n", "\r\n", "\r\n", "\n"])


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    eol = draw(_EOL)
    lines = [f"{draw(_METHOD)} {draw(_TARGET)} {draw(_VERSION)}"]
    if draw(st.integers(0, 4)):
        lines.append("Host: " + draw(_HOST))
    lines += [f"{draw(_NAME)}:{draw(_VALUE)}" for _ in range(draw(st.integers(0, 5)))]
    head = (eol.join(lines) + eol + draw(_EOL)).encode("latin-1")
    return head + draw(st.sampled_from([b"", b"", b"abc", b"3\r\nabc\r\n0\r\n\r\n", head]))


@settings(max_examples=400, deadline=None)
@given(heads())
def test_fast_path_and_memo_agree_with_the_general_path(data: bytes) -> None:
    expected = parse(GeneralPathParser(LIMITS), data)
    assert parse(HttpParser(LIMITS), data) == expected
    memo = HeadMemo(LIMITS)
    assert parse(HttpParser(LIMITS, memo), data) == expected
    assert parse(HttpParser(LIMITS, memo), data) == expected  # a second time: from the memo


WRK = (b"GET /owa/auth/logon.aspx HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Mozilla/5.0\r\n"
       b"Accept: */*\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n")


def test_identical_heads_share_their_derived_values() -> None:
    memo = HeadMemo(ParseLimits())
    (first,) = HttpParser(ParseLimits(), memo).feed(WRK)
    (second,) = HttpParser(ParseLimits(), memo).feed(WRK)
    assert first.derived is not None and second.derived is first.derived
    assert observed(second) == observed(first)
    second.headers.items.append(("X-Mine", "1"))  # each request has its own header list
    assert ("X-Mine", "1") not in first.headers.items
    (alone,) = HttpParser(ParseLimits()).feed(WRK)
    assert alone.derived is None


@pytest.mark.parametrize("data", [
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
    b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
])
def test_requests_with_a_body_or_an_error_are_not_shared(data: bytes) -> None:
    memo = HeadMemo(ParseLimits())
    (request,) = HttpParser(ParseLimits(), memo).feed(data)
    assert request.derived is None and len(memo) == 0


def test_the_memo_is_bounded() -> None:
    memo = HeadMemo(ParseLimits(), max_heads=4, max_head_bytes=100)
    for index in range(10):
        HttpParser(ParseLimits(), memo).feed(f"GET /{index} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
    assert len(memo) == 4
    HttpParser(ParseLimits(), memo).feed(b"GET /" + b"a" * 100 + b" HTTP/1.1\r\nHost: h\r\n\r\n")
    assert len(memo) == 4


def test_a_memo_made_for_other_limits_is_refused() -> None:
    with pytest.raises(ValueError, match="limits"):
        HttpParser(ParseLimits(max_header_count=3), HeadMemo(ParseLimits()))
