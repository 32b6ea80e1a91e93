"""A lenient, sans-io HTTP/1.x request parser that keeps every byte it is given.

We write our own instead of driving llhttp (httptools): a decoy must keep the exact raw head of every
pipelined request (order, case, duplicates, NULs, invalid UTF-8), decide *which* malformations to answer
with 400 the way http.sys does (not the way llhttp does), and never hold more than a bounded amount of
any one request in memory. httptools exposes neither byte offsets nor http.sys-compatible verdicts.

``HttpParser.feed(bytes)`` returns the requests completed by those bytes. A malformed request is still
returned (with ``error`` set) so that it is recorded; after a fatal error the parser ignores further input
because the connection is about to be closed, as http.sys closes it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from honeyscope.sensor.http.headers import Headers

_TOKEN: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_VERSION: Final = re.compile(rb"HTTP/(\d)\.(\d)\Z")
# Control characters other than horizontal tab are refused in field values by http.sys.
_CTL_IN_VALUE: Final = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_CTL_IN_TARGET: Final = re.compile(rb"[\x00-\x20\x7f]")
_DIGITS: Final = re.compile(rb"[0-9]{1,18}\Z")
# One pass over a whole well-formed header block; only blocks that fail it take the line-by-line path
# that names the exact problem. (Per-line regex calls were the parser's main cost.)
_CLEAN_BLOCK: Final = re.compile(rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*\r?\n)*\r?\n?\Z")
_HTTP2_PREFACE: Final = b"PRI * HTTP/2.0"
# The commonest head in one match: a token method, a target without controls or spaces, HTTP/1.x and
# well-formed header lines. Only heads that fail it take the step-by-step path that names the exact
# problem; so it may accept only heads that path accepts too, and must yield the same request.
_WHOLE_HEAD: Final = re.compile(
    rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\x00-\x20\x7f]+) (HTTP/1\.[0-9])\r?\n"
    rb"((?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*\r?\n)*)\r?\n\Z"
)
_CTL_IN_HOST: Final = re.compile(r"[\x00-\x20\x7f]")


class ParseLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Bounds on what one request may make the sensor hold or read.

    Defaults follow http.sys where it has one (16 KiB URL) and stay small enough that 10k hostile
    connections cannot exhaust memory.
    """

    max_request_line_bytes: int = 16384
    max_head_bytes: int = 65536
    max_header_count: int = 500
    body_store_bytes: int = 1024 * 1024
    max_body_bytes: int = 32 * 1024 * 1024


class ErrorKind:
    """Why a request was refused; each maps to the status http.sys/IIS would answer with."""

    HTTP09: Final = "http09_request"
    HTTP2_PREFACE: Final = "http2_preface"
    BAD_REQUEST_LINE: Final = "invalid_request_line"
    BAD_VERB: Final = "invalid_verb"
    BAD_URL: Final = "invalid_url"
    BAD_VERSION: Final = "unsupported_version"
    BAD_HEADER_NAME: Final = "invalid_header_name"
    BAD_HEADER_VALUE: Final = "invalid_header_value"
    BAD_HOST: Final = "invalid_hostname"
    BAD_CONTENT_LENGTH: Final = "invalid_content_length"
    BAD_TRANSFER_ENCODING: Final = "unsupported_transfer_encoding"
    BAD_CHUNK: Final = "invalid_chunk"
    REQUEST_LINE_TOO_LONG: Final = "request_line_too_long"
    HEAD_TOO_LARGE: Final = "head_too_large"
    TOO_MANY_HEADERS: Final = "too_many_headers"
    BODY_TOO_LARGE: Final = "body_too_large"
    INCOMPLETE: Final = "incomplete_request"
    NOT_TLS: Final = "plaintext_on_tls_port"


#: Parser errors that are limits of ours (reported as limit events too), not protocol violations.
LIMIT_ERRORS: Final = frozenset(
    {ErrorKind.REQUEST_LINE_TOO_LONG, ErrorKind.HEAD_TOO_LARGE, ErrorKind.TOO_MANY_HEADERS,
     ErrorKind.BODY_TOO_LARGE}
)


@dataclass(slots=True)
class RawRequest:
    """One request as received. ``error`` is None for a well-formed request."""

    head: bytes
    method: str = ""
    target: str = ""
    version: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    body_length: int = 0
    body_sha256: str = ""
    body_complete: bool = True
    chunked: bool = False
    error: str | None = None
    error_detail: str = ""
    #: For consumers to keep values computed from ``head`` alone: one dict shared by every request with
    #: the same head bytes (see ``HeadMemo``); None when the request is not shared.
    derived: dict[Hashable, Any] | None = None

    @property
    def keep_alive(self) -> bool:
        """Whether the client asked to keep the connection open after this request."""
        if self.error is not None:
            return False
        values = self.headers.index().get("connection")
        if not values:  # the common case, answered without building a string
            return self.version != "HTTP/1.0"
        tokens = ",".join(values).lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


class _BodyReader:
    """Accumulates a body: keeps a bounded prefix, hashes and counts everything."""

    __slots__ = ("_hash", "_limit", "_parts", "_stored", "length")

    def __init__(self, store_limit: int) -> None:
        self._hash = hashlib.sha256()
        self._limit = store_limit
        self._parts: list[bytes] = []
        self._stored = 0
        self.length = 0

    def add(self, data: bytes) -> None:
        self._hash.update(data)
        self.length += len(data)
        room = self._limit - self._stored
        if room > 0:
            kept = data[:room]
            self._parts.append(kept)
            self._stored += len(kept)

    def finish(self, request: RawRequest, *, complete: bool) -> RawRequest:
        request.body = b"".join(self._parts)
        request.body_length = self.length
        request.body_sha256 = self._hash.hexdigest()
        request.body_complete = complete
        return request


_EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()


class _Parsed:
    """What the fast path made of one head."""

    __slots__ = ("derived", "index", "items", "method", "target", "version")

    def __init__(self, request: RawRequest) -> None:
        self.method = request.method
        self.target = request.target
        self.version = request.version
        self.items = tuple(request.headers.items)
        self.index = request.headers.index()
        self.derived: dict[Hashable, Any] = {}

    def request(self, head: bytes) -> RawRequest:
        return RawRequest(head=head, method=self.method, target=self.target, version=self.version,
                          headers=Headers.indexed(list(self.items), self.index), body_sha256=_EMPTY_SHA256,
                          derived=self.derived)


class HeadMemo:
    """Clean heads already parsed, shared by the parsers of one listener.

    Scanners and clients send the same head bytes over and over, and parsing a head was a quarter of the
    cost of a request. Only heads of the fast path (well-formed, no body) up to ``max_head_bytes`` are
    kept, at most ``max_heads`` of them, the oldest forgotten first: hostile variety costs a bounded
    amount of memory (about 3 × 256 × 2 KiB) and otherwise only the misses.
    """

    def __init__(self, limits: ParseLimits, *, max_heads: int = 256, max_head_bytes: int = 2048) -> None:
        self.limits = limits
        self.max_heads = max_heads
        self.max_head_bytes = max_head_bytes
        self._heads: dict[bytes, _Parsed] = {}

    def get(self, head: bytes) -> RawRequest | None:
        """A new request for ``head`` if it was parsed before."""
        parsed = self._heads.get(head)
        return parsed.request(head) if parsed is not None else None

    def put(self, request: RawRequest) -> None:
        """Remember a request the fast path parsed (it then shares ``derived`` with later ones)."""
        if len(request.head) > self.max_head_bytes:
            return
        heads = self._heads
        if len(heads) >= self.max_heads:
            del heads[next(iter(heads))]
        parsed = _Parsed(request)
        heads[request.head] = parsed
        request.derived = parsed.derived

    def __len__(self) -> int:
        return len(self._heads)


class HttpParser:
    """Incremental request parser for one connection (pipelining supported).

    ``memo`` (shared by the parsers of one listener, made with the same ``limits``) skips parsing heads
    seen before.
    """

    def __init__(self, limits: ParseLimits | None = None, memo: HeadMemo | None = None) -> None:
        self.limits = limits or ParseLimits()
        if memo is not None and memo.limits != self.limits:
            raise ValueError("a HeadMemo must be made with the parser's own limits")
        self._memo = memo
        self._buffer = bytearray()
        self._scan_from = 0
        self._current: RawRequest | None = None
        self._body: _BodyReader | None = None
        self._remaining = 0  # bytes left in a Content-Length body or in the current chunk
        self._chunk_state = ""  # "", "size", "data", "data_end", "trailer"
        self.dead = False

    @property
    def in_progress(self) -> bool:
        """True while part of a request has arrived but not all of it."""
        return bool(self._buffer) or self._current is not None

    @property
    def receiving_body(self) -> bool:
        """True once a head is complete and its body is still arriving."""
        return self._current is not None

    def feed(self, data: bytes) -> list[RawRequest]:
        """Consume bytes; return every request they completed, in order."""
        if self.dead:
            return []
        if not self._buffer and self._current is None and data.endswith(b"\r\n\r\n"):
            # Fast path for the commonest case: exactly one whole head arrived (a GET) and nothing is
            # pending; skip the buffer copies. Anything else takes the general path below.
            end = data.find(b"\r\n\r\n")
            if end + 4 == len(data) and not data.startswith((b"\r", b"\n")):
                request = self._parse_head(data)
                if request is not None and self._current is None:
                    return [request]
                return [request] if request is not None else []
        self._buffer += data
        done: list[RawRequest] = []
        while not self.dead:
            request = self._step()
            if request is None:
                break
            done.append(request)
        return done

    def eof(self) -> RawRequest | None:
        """The connection closed: return what arrived of an unfinished request, if anything."""
        if self.dead or not self.in_progress:
            return None
        self.dead = True
        if self._current is not None and self._body is not None:
            request = self._body.finish(self._current, complete=False)
        else:
            request = RawRequest(head=bytes(self._buffer), body_sha256=_EMPTY_SHA256)
            self._fill_request_line(request)
        request.error = request.error or ErrorKind.INCOMPLETE
        request.error_detail = "connection closed before the request was complete"
        self._buffer.clear()
        self._current = None
        return request

    # -- head ------------------------------------------------------------------------------------

    def _step(self) -> RawRequest | None:
        if self._current is not None:
            return self._step_body()
        return self._step_head()

    def _step_head(self) -> RawRequest | None:
        buffer = self._buffer
        if not buffer:
            return None
        if self._scan_from == 0:
            # Tolerate CRLFs between pipelined requests, as RFC 9112 section 2.2 allows.
            stripped = len(buffer) - len(buffer.lstrip(b"\r\n"))
            if stripped:
                del buffer[:stripped]
        end = self._find_head_end()
        if end < 0:
            return self._check_partial_head()
        head = bytes(buffer[:end])
        del buffer[:end]
        self._scan_from = 0
        return self._parse_head(head)

    def _find_head_end(self) -> int:
        start = max(0, self._scan_from - 3)
        crlf = self._buffer.find(b"\r\n\r\n", start)
        lf = self._buffer.find(b"\n\n", start)
        self._scan_from = len(self._buffer)
        candidates = [i + 4 for i in (crlf,) if i >= 0] + [i + 2 for i in (lf,) if i >= 0]
        return min(candidates) if candidates else -1

    def _check_partial_head(self) -> RawRequest | None:
        """Refuse early what can never become a valid head (HTTP/0.9, oversize), to bound memory."""
        buffer = self._buffer
        line_end = buffer.find(b"\n")
        first_line = bytes(buffer[: line_end if line_end >= 0 else len(buffer)]).rstrip(b"\r")
        if len(first_line) > self.limits.max_request_line_bytes:
            return self._fail_head(ErrorKind.REQUEST_LINE_TOO_LONG, "request line exceeds the limit")
        if line_end >= 0 and len(first_line.split(b" ")) == 2 and not first_line.startswith(_HTTP2_PREFACE):
            return self._fail_head(ErrorKind.HTTP09, "HTTP/0.9 request line (no version)")
        if len(buffer) > self.limits.max_head_bytes:
            return self._fail_head(ErrorKind.HEAD_TOO_LARGE, "request head exceeds the limit")
        return None

    def _fail_head(self, kind: str, detail: str) -> RawRequest:
        keep = self.limits.max_head_bytes
        request = RawRequest(head=bytes(self._buffer[:keep]), body_sha256=_EMPTY_SHA256)
        self._fill_request_line(request)
        return self._die(request, kind, detail)

    def _die(self, request: RawRequest, kind: str, detail: str) -> RawRequest:
        request.error = kind
        request.error_detail = detail
        self.dead = True
        self._buffer.clear()
        self._current = None
        self._body = None
        return request

    @staticmethod
    def _fill_request_line(request: RawRequest) -> None:
        """Best-effort method/target/version from a head that may be malformed."""
        line = request.head.split(b"\n", 1)[0].rstrip(b"\r")
        parts = line.split(b" ", 2)
        request.method = parts[0][:64].decode("latin-1")
        if len(parts) > 1:
            request.target = parts[1].decode("latin-1")
        if len(parts) > 2:
            request.version = parts[2][:64].decode("latin-1")

    def _parse_head(self, head: bytes) -> RawRequest | None:
        request = self._parse_whole_head(head)
        if request is not None:
            return request
        request = RawRequest(head=head, body_sha256=_EMPTY_SHA256)
        line_end = head.find(b"\n")
        request_line = head[:line_end].rstrip(b"\r")
        failure = self._parse_request_line(request, request_line)
        if failure is not None:
            return self._die(request, *failure)
        block = head[line_end + 1 :]
        if _CLEAN_BLOCK.match(block) and block.count(b"\n") <= self.limits.max_header_count + 1:
            failure = _parse_clean_headers(request, block)
        else:
            failure = self._parse_header_lines(request, block.split(b"\n"))
        if failure is not None:
            return self._die(request, *failure)
        return self._start_body(request)

    def _parse_whole_head(self, head: bytes) -> RawRequest | None:
        """The fast path (about a third of the cost of the general one): a clean head of a request
        without a body. None sends the head down the general path, which gives the same result for
        anything this accepts and handles everything else (bodies, odd framing, errors)."""
        memo = self._memo
        if memo is not None:
            known = memo.get(head)
            if known is not None:
                return known
        match = _WHOLE_HEAD.match(head)
        if match is None:
            return None
        method, target, version, block = match.group(1, 2, 3, 4)
        limits = self.limits
        if match.end(3) > limits.max_request_line_bytes or not _target_form_ok(target, method):
            return None
        if block.count(b"\n") > limits.max_header_count:
            return None
        headers = _clean_headers(block.decode("latin-1"))
        index = headers.index()
        if "content-length" in index or "transfer-encoding" in index:
            return None
        version_text = version.decode("latin-1")
        if version_text == "HTTP/1.1":
            hosts = index.get("host")
            if hosts is None or len(hosts) != 1 or _CTL_IN_HOST.search(hosts[0]):
                return None
        request = RawRequest(head=head, method=method.decode("latin-1"), target=target.decode("latin-1"),
                             version=version_text, headers=headers, body_sha256=_EMPTY_SHA256)
        if memo is not None:
            memo.put(request)
        return request

    def _parse_request_line(self, request: RawRequest, line: bytes) -> tuple[str, str] | None:
        if len(line) > self.limits.max_request_line_bytes:
            self._fill_request_line(request)
            return ErrorKind.REQUEST_LINE_TOO_LONG, "request line exceeds the limit"
        if line.startswith(_HTTP2_PREFACE):
            self._fill_request_line(request)
            return ErrorKind.HTTP2_PREFACE, "HTTP/2 connection preface on an HTTP/1.1 listener"
        parts = line.split(b" ")
        if len(parts) == 2:
            self._fill_request_line(request)
            return ErrorKind.HTTP09, "HTTP/0.9 request line (no version)"
        self._fill_request_line(request)
        if len(parts) != 3:
            return ErrorKind.BAD_URL if len(parts) > 3 else ErrorKind.BAD_REQUEST_LINE, "malformed request line"
        method, target, version = parts
        if not _TOKEN.match(method):
            return ErrorKind.BAD_VERB, "method is not a token"
        match = _VERSION.match(version)
        if match is None:
            return ErrorKind.BAD_REQUEST_LINE, "malformed HTTP version"
        if match.group(1) != b"1":
            return ErrorKind.BAD_VERSION, "HTTP version not supported"
        if not target or _CTL_IN_TARGET.search(target) or not _target_form_ok(target, method):
            return ErrorKind.BAD_URL, "malformed request target"
        return None

    def _parse_header_lines(self, request: RawRequest, lines: list[bytes]) -> tuple[str, str] | None:
        items: list[tuple[str, str]] = []
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line:
                continue
            if line[0] in b" \t":
                return ErrorKind.BAD_HEADER_NAME, "obsolete line folding"
            name, colon, value = line.partition(b":")
            if not colon or not _TOKEN.match(name):
                return ErrorKind.BAD_HEADER_NAME, "header line without a valid name"
            value = value.strip(b" \t")
            items.append((name.decode("latin-1"), value.decode("latin-1")))
            if _CTL_IN_VALUE.search(value):
                request.headers = Headers(items)
                return ErrorKind.BAD_HEADER_VALUE, f"control character in header {name[:64]!r}"
            if len(items) > self.limits.max_header_count:
                request.headers = Headers(items)
                return ErrorKind.TOO_MANY_HEADERS, "more headers than the limit"
        request.headers = Headers(items)
        return _check_framing_headers(request)

    # -- body ------------------------------------------------------------------------------------

    def _start_body(self, request: RawRequest) -> RawRequest | None:
        headers = request.headers
        if "transfer-encoding" in headers:
            request.chunked = True
            self._chunk_state = "size"
        else:
            length = int(headers.get("content-length") or "0")
            if length == 0:
                return request
            if length > self.limits.max_body_bytes:
                return self._die(request, ErrorKind.BODY_TOO_LARGE, f"declared body of {length} bytes")
            self._remaining = length
        self._current = request
        self._body = _BodyReader(self.limits.body_store_bytes)
        return self._step_body()

    def _step_body(self) -> RawRequest | None:
        if self._current is None or self._body is None:
            return None
        finished = self._read_chunked() if self._current.chunked else self._read_length()
        if self.dead or not finished:
            return self._current if self.dead else None
        request = self._body.finish(self._current, complete=True)
        self._current = None
        self._body = None
        return request

    def _read_length(self) -> bool:
        assert self._body is not None
        take = min(self._remaining, len(self._buffer))
        if take:
            self._body.add(bytes(self._buffer[:take]))
            del self._buffer[:take]
            self._remaining -= take
        return self._remaining == 0

    def _read_chunked(self) -> bool:
        """Decode chunked framing; returns True once the last chunk and trailers have arrived."""
        assert self._body is not None and self._current is not None
        while True:
            state = self._chunk_state
            if state == "data":
                if not self._read_length():
                    return False
                self._chunk_state = "data_end"
            elif state in ("size", "data_end", "trailer"):
                line = self._take_line()
                if line is None:
                    return False
                if not self._on_chunk_line(state, line):
                    return self._chunk_state == "done"

    def _take_line(self) -> bytes | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > 4096:
                self._fail_body(ErrorKind.BAD_CHUNK, "chunk line too long")
            return None
        line = bytes(self._buffer[:end]).rstrip(b"\r")
        del self._buffer[: end + 1]
        return line

    def _on_chunk_line(self, state: str, line: bytes) -> bool:
        """Advance the chunk state machine by one line; False stops the loop (done or failed)."""
        assert self._body is not None
        if state == "data_end":
            self._chunk_state = "size"
            return True
        if state == "trailer":
            if line:
                return True
            self._chunk_state = "done"
            return False
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            self._fail_body(ErrorKind.BAD_CHUNK, "chunk size is not hexadecimal")
            return False
        if size == 0:
            self._chunk_state = "trailer"
            return True
        if self._body.length + size > self.limits.max_body_bytes:
            self._fail_body(ErrorKind.BODY_TOO_LARGE, "chunked body exceeds the limit")
            return False
        self._remaining = size
        self._chunk_state = "data"
        return True

    def _fail_body(self, kind: str, detail: str) -> None:
        assert self._current is not None and self._body is not None
        request = self._body.finish(self._current, complete=False)
        self._die(request, kind, detail)
        self._current = request  # _step_body returns it once as the failed request


def _parse_clean_headers(request: RawRequest, block: bytes) -> tuple[str, str] | None:
    """Split a header block already known to be well-formed (see ``_CLEAN_BLOCK``)."""
    request.headers = _clean_headers(block.decode("latin-1"))
    return _check_framing_headers(request)


def _clean_headers(block: str) -> Headers:
    """Headers of a block known to be well-formed, with their case-insensitive index built in the same
    pass (every request needs it: framing checks and the persona look headers up by name)."""
    items: list[tuple[str, str]] = []
    index: dict[str, list[str]] = {}
    for line in block.split("\n"):
        name, colon, value = line.partition(":")
        if colon:
            value = value.strip(" \t\r")
            items.append((name, value))
            key = name.lower()
            values = index.get(key)
            if values is None:
                index[key] = [value]
            else:
                values.append(value)
    return Headers.indexed(items, index)


def _target_form_ok(target: bytes, method: bytes) -> bool:
    if target.startswith(b"/"):
        return True
    if target == b"*":
        return method == b"OPTIONS"
    lowered = target[:8].lower()
    return lowered.startswith((b"http://", b"https://"))


def _check_framing_headers(request: RawRequest) -> tuple[str, str] | None:
    headers = request.headers
    if request.version == "HTTP/1.1":
        hosts = headers.get_all("host")
        if len(hosts) != 1 or _CTL_IN_TARGET.search(hosts[0].encode("latin-1")):
            return ErrorKind.BAD_HOST, "HTTP/1.1 request without exactly one valid Host header"
    lengths = {value.strip() for value in headers.get_all("content-length")}
    if len(lengths) > 1 or any(not _DIGITS.match(value.encode("latin-1")) for value in lengths):
        return ErrorKind.BAD_CONTENT_LENGTH, "invalid or conflicting Content-Length"
    encodings = headers.get_all("transfer-encoding")
    if encodings:
        if lengths:
            return ErrorKind.BAD_CONTENT_LENGTH, "both Content-Length and Transfer-Encoding"
        if ",".join(encodings).strip().lower() != "chunked":
            return ErrorKind.BAD_TRANSFER_ENCODING, "transfer coding other than chunked"
    return None
