"""Sans-io parser for the TLS ClientHello a client sends first.

Python's :mod:`ssl` offers no hook that exposes the ClientHello, so the sensor
reads the first bytes of a connection itself, parses them here (for JA4 and
for the event record) and then hands the very same bytes to OpenSSL.

The parser is written for hostile input: every length field is checked
against the bytes that are really there, the total size is capped, and the
only exceptions that can escape are subclasses of :class:`ClientHelloError`.
A ClientHello may be split over several TLS records (record fragmentation is
legal and is used by DPI-evasion tools), so records are reassembled first.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "EXT_ALPN",
    "EXT_EC_POINT_FORMATS",
    "EXT_SERVER_NAME",
    "EXT_SIGNATURE_ALGORITHMS",
    "EXT_SUPPORTED_GROUPS",
    "EXT_SUPPORTED_VERSIONS",
    "MAX_CLIENT_HELLO_BYTES",
    "ClientHello",
    "ClientHelloAssembler",
    "ClientHelloError",
    "MalformedClientHello",
    "NotTlsError",
    "client_hello_length_needed",
    "parse_client_hello",
]

#: Upper bound on the raw bytes (record headers included) spent on one
#: ClientHello. Real ones are well under 4 KiB even with post-quantum key
#: shares; anything bigger is an attack on our memory, not a client.
MAX_CLIENT_HELLO_BYTES = 64 * 1024

EXT_SERVER_NAME = 0x0000
EXT_SUPPORTED_GROUPS = 0x000A
EXT_EC_POINT_FORMATS = 0x000B
EXT_SIGNATURE_ALGORITHMS = 0x000D
EXT_ALPN = 0x0010
EXT_SUPPORTED_VERSIONS = 0x002B

_CONTENT_TYPE_HANDSHAKE = 22
_HANDSHAKE_CLIENT_HELLO = 1
_RECORD_HEADER_LEN = 5
_HANDSHAKE_HEADER_LEN = 4
# RFC 8446 5.1 / RFC 5246 6.2.1: a plaintext record carries at most 2^14
# bytes; OpenSSL rejects larger ones with record_overflow, so do we.
_MAX_RECORD_PAYLOAD = 2**14
# legacy_version(2) + random(32) + three empty length-prefixed vectors.
_MIN_CLIENT_HELLO_BODY = 2 + 32 + 1 + 2 + 1
_MAX_SESSION_ID = 32


class ClientHelloError(ValueError):
    """The bytes cannot be a TLS ClientHello."""


class NotTlsError(ClientHelloError):
    """The first bytes are not a TLS handshake record (plain HTTP, noise...)."""


class MalformedClientHello(ClientHelloError):
    """TLS framing was recognised but the ClientHello is invalid or too large."""


class ClientHello(msgspec.Struct, frozen=True, kw_only=True):
    """The fields of a parsed ClientHello that the sensor records.

    Sequences are tuples (the struct is immutable) in wire order with GREASE
    values kept raw; fingerprinting code decides what to ignore.
    """

    #: Version in the first record header (usually 0x0301 for compatibility).
    record_version: int
    #: ``legacy_version`` of the ClientHello body (0x0303 for TLS 1.2 and 1.3).
    legacy_version: int
    cipher_suites: tuple[int, ...]
    compression_methods: bytes
    #: Extension types in wire order, duplicates kept.
    extensions: tuple[int, ...]
    #: First ``host_name`` of the SNI extension; non-ASCII bytes are shown
    #: as ``\\xNN`` escapes so hostile input is recorded, never mangled.
    server_name: str | None
    #: ALPN protocol names, escaped like ``server_name``.
    alpn: tuple[str, ...]
    #: The same ALPN names as raw bytes (JA4 needs the exact bytes).
    alpn_raw: tuple[bytes, ...]
    supported_versions: tuple[int, ...]
    signature_algorithms: tuple[int, ...]
    supported_groups: tuple[int, ...]
    ec_point_formats: tuple[int, ...]
    #: Bytes of the input spanned by the records that carried the ClientHello.
    length: int
    #: Length of the handshake message (4-byte header included).
    handshake_length: int


class _Reader:
    """Bounds-checked cursor over a byte string."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def take(self, count: int, field: str) -> bytes:
        if count > self.remaining():
            raise MalformedClientHello(f"{field}: needs {count} bytes, only {self.remaining()} left")
        chunk = self._data[self._pos : self._pos + count]
        self._pos += count
        return chunk

    def uint(self, size: int, field: str) -> int:
        return int.from_bytes(self.take(size, field), "big")

    def vector(self, length_size: int, field: str) -> _Reader:
        """Read a ``length_size``-byte length prefix and the bytes it covers."""
        return _Reader(self.take(self.uint(length_size, field), field))

    def rest(self) -> bytes:
        return self.take(self.remaining(), "rest")

    def uint16_list(self, field: str) -> tuple[int, ...]:
        data = self.rest()
        if len(data) % 2:
            raise MalformedClientHello(f"{field}: odd length {len(data)}")
        return tuple(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))

    def expect_end(self, field: str) -> None:
        if self.remaining():
            raise MalformedClientHello(f"{field}: {self.remaining()} trailing bytes")


def _escape(raw: bytes) -> str:
    return raw.decode("ascii", errors="backslashreplace")


def _parse_server_name(data: bytes) -> str | None:
    # RFC 6066 3. An empty extension is what servers echo back; tolerate it
    # from clients too rather than losing the fingerprint of an odd scanner.
    if not data:
        return None
    outer = _Reader(data)
    names = outer.vector(2, "server_name list")
    outer.expect_end("server_name extension")
    first: str | None = None
    while names.remaining():
        name_type = names.uint(1, "server_name type")
        name = names.vector(2, "server_name").rest()
        if name_type == 0 and first is None:
            first = _escape(name)
    return first


def _parse_alpn(data: bytes) -> tuple[bytes, ...]:
    outer = _Reader(data)
    protocols = outer.vector(2, "ALPN list")
    outer.expect_end("ALPN extension")
    names: list[bytes] = []
    while protocols.remaining():
        names.append(protocols.vector(1, "ALPN protocol").rest())
    return tuple(names)


def _parse_u16_vector(data: bytes, length_size: int, field: str) -> tuple[int, ...]:
    outer = _Reader(data)
    values = outer.vector(length_size, field).uint16_list(field)
    outer.expect_end(field)
    return values


def _parse_ec_point_formats(data: bytes) -> tuple[int, ...]:
    outer = _Reader(data)
    formats = outer.vector(1, "ec_point_formats").rest()
    outer.expect_end("ec_point_formats")
    return tuple(formats)


class _Extensions:
    """Extension types in order plus the decoded content of the ones we use."""

    def __init__(self) -> None:
        self.types: list[int] = []
        self.server_name: str | None = None
        self.alpn: tuple[bytes, ...] = ()
        self.supported_versions: tuple[int, ...] = ()
        self.signature_algorithms: tuple[int, ...] = ()
        self.supported_groups: tuple[int, ...] = ()
        self.ec_point_formats: tuple[int, ...] = ()

    def add(self, ext_type: int, data: bytes) -> None:
        # Duplicates are illegal (RFC 8446 4.2) but OpenSSL will reject them
        # itself; we keep every type for the fingerprint and decode the first.
        first = ext_type not in self.types
        self.types.append(ext_type)
        if not first:
            return
        if ext_type == EXT_SERVER_NAME:
            self.server_name = _parse_server_name(data)
        elif ext_type == EXT_ALPN:
            self.alpn = _parse_alpn(data)
        elif ext_type == EXT_SUPPORTED_VERSIONS:
            self.supported_versions = _parse_u16_vector(data, 1, "supported_versions")
        elif ext_type == EXT_SIGNATURE_ALGORITHMS:
            self.signature_algorithms = _parse_u16_vector(data, 2, "signature_algorithms")
        elif ext_type == EXT_SUPPORTED_GROUPS:
            self.supported_groups = _parse_u16_vector(data, 2, "supported_groups")
        elif ext_type == EXT_EC_POINT_FORMATS:
            self.ec_point_formats = _parse_ec_point_formats(data)


def _parse_extensions(reader: _Reader) -> _Extensions:
    extensions = _Extensions()
    # Extensions are optional: a pre-TLS-1.2 style hello simply ends here.
    if not reader.remaining():
        return extensions
    block = reader.vector(2, "extensions")
    reader.expect_end("ClientHello")
    while block.remaining():
        ext_type = block.uint(2, "extension type")
        extensions.add(ext_type, block.vector(2, f"extension 0x{ext_type:04x}").rest())
    return extensions


def _parse_body(body: bytes, *, record_version: int, length: int, handshake_length: int) -> ClientHello:
    reader = _Reader(body)
    legacy_version = reader.uint(2, "legacy_version")
    reader.take(32, "random")
    if len(reader.vector(1, "session_id").rest()) > _MAX_SESSION_ID:
        raise MalformedClientHello("session_id longer than 32 bytes")
    cipher_suites = reader.vector(2, "cipher_suites").uint16_list("cipher_suites")
    compression_methods = reader.vector(1, "compression_methods").rest()
    ext = _parse_extensions(reader)
    return ClientHello(
        record_version=record_version,
        legacy_version=legacy_version,
        cipher_suites=cipher_suites,
        compression_methods=compression_methods,
        extensions=tuple(ext.types),
        server_name=ext.server_name,
        alpn=tuple(_escape(name) for name in ext.alpn),
        alpn_raw=ext.alpn,
        supported_versions=ext.supported_versions,
        signature_algorithms=ext.signature_algorithms,
        supported_groups=ext.supported_groups,
        ec_point_formats=ext.ec_point_formats,
        length=length,
        handshake_length=handshake_length,
    )


def _check_record_header(header: bytes, *, first: bool) -> None:
    """Validate the (possibly partial) 5-byte record header in ``header``.

    Called as soon as any byte is present, so plain HTTP or noise is
    rejected on its first byte instead of after buffering a whole "record".
    """
    error = NotTlsError if first else MalformedClientHello
    if header[:1] and header[0] != _CONTENT_TYPE_HANDSHAKE:
        raise error(f"record type {header[0]} is not handshake (22)")
    # SSL 3.0 .. TLS 1.3 all use major version 3 in the record header.
    if header[1:2] and header[1] != 3:
        raise error(f"record version major {header[1]} is not 3")
    if header[2:3] and header[2] > 4:
        raise error(f"record version 0x03{header[2]:02x} is unknown")
    if len(header) >= _RECORD_HEADER_LEN:
        length = int.from_bytes(header[3:5], "big")
        if not 0 < length <= _MAX_RECORD_PAYLOAD:
            raise MalformedClientHello(f"record length {length} out of range")


class ClientHelloAssembler:
    """Incremental ClientHello reader: feed bytes until it returns the hello.

    Keeps the bytes fed up to completion (see :attr:`data`) so the caller
    can pass the untouched stream on to the TLS library. Work is linear in
    the input however it is chunked, and input is capped at ``max_bytes``.
    """

    def __init__(self, max_bytes: int = MAX_CLIENT_HELLO_BYTES) -> None:
        self._max_bytes = max_bytes
        self._buffer = bytearray()
        self._handshake = bytearray()
        self._next_record = 0  # offset in _buffer of the next record header
        self._record_version: int | None = None
        self._message_length: int | None = None  # incl. the 4-byte header
        self._hello: ClientHello | None = None

    @property
    def data(self) -> bytes:
        """Every byte fed up to completion, including any after the ClientHello."""
        return bytes(self._buffer)

    @property
    def client_hello(self) -> ClientHello | None:
        """The parsed ClientHello once complete, else None."""
        return self._hello

    def feed(self, data: bytes) -> ClientHello | None:
        """Add bytes; return the ClientHello once complete, else None.

        Raises :class:`NotTlsError` or :class:`MalformedClientHello`; after
        an error the assembler must be discarded. Once the hello is complete
        further bytes are not stored: send them straight to the TLS library.
        """
        if self._hello is not None:
            return self._hello
        # No size check needed here: _take_records raises as soon as a record
        # would end past max_bytes, so between calls the buffer stays bounded.
        self._buffer += data
        self._hello = self._take_records()
        return self._hello

    def total_needed(self) -> int | None:
        """Lower bound on the total stream length a complete hello needs.

        None once the ClientHello is complete. A caller may safely wait for
        that many bytes before feeding again.
        """
        if self._hello is not None:
            return None
        have = len(self._handshake)
        want = self._message_length or _HANDSHAKE_HEADER_LEN + _MIN_CLIENT_HELLO_BODY
        pos = self._next_record
        header = self._buffer[pos : pos + _RECORD_HEADER_LEN]
        if len(header) < _RECORD_HEADER_LEN:
            return pos + _RECORD_HEADER_LEN + (want - have)
        record_end = pos + _RECORD_HEADER_LEN + int.from_bytes(header[3:5], "big")
        still_missing = want - have - (record_end - pos - _RECORD_HEADER_LEN)
        if still_missing > 0:
            return record_end + _RECORD_HEADER_LEN + still_missing
        return record_end

    def _take_records(self) -> ClientHello | None:
        while True:
            pos = self._next_record
            first = pos == 0
            header = bytes(self._buffer[pos : pos + _RECORD_HEADER_LEN])
            _check_record_header(header, first=first)
            if len(header) < _RECORD_HEADER_LEN:
                return None
            record_end = pos + _RECORD_HEADER_LEN + int.from_bytes(header[3:5], "big")
            if record_end > self._max_bytes:
                raise MalformedClientHello(f"ClientHello exceeds {self._max_bytes} bytes")
            if first:
                self._record_version = int.from_bytes(header[1:3], "big")
            start = pos + _RECORD_HEADER_LEN
            if len(self._handshake) < _HANDSHAKE_HEADER_LEN:
                # Reject a wrong handshake type before the record completes.
                head = self._buffer[start : min(record_end, start + _HANDSHAKE_HEADER_LEN)]
                self._check_handshake_header(bytes(self._handshake + head))
            if record_end > len(self._buffer):
                return None  # copy nothing until the record is whole: stays linear
            self._handshake += self._buffer[start:record_end]
            self._next_record = record_end
            hello = self._try_parse()
            if hello is not None:
                return hello

    def _check_handshake_header(self, prefix: bytes) -> None:
        if prefix[:1] and prefix[0] != _HANDSHAKE_CLIENT_HELLO:
            raise MalformedClientHello(f"handshake type {prefix[0]} is not ClientHello (1)")
        if len(prefix) >= _HANDSHAKE_HEADER_LEN:
            length = _HANDSHAKE_HEADER_LEN + int.from_bytes(prefix[1:4], "big")
            if length > self._max_bytes:
                raise MalformedClientHello(f"ClientHello length {length} exceeds {self._max_bytes} bytes")
            if length < _HANDSHAKE_HEADER_LEN + _MIN_CLIENT_HELLO_BODY:
                raise MalformedClientHello(f"ClientHello length {length} too short")
            self._message_length = length

    def _try_parse(self) -> ClientHello | None:
        if self._message_length is None or len(self._handshake) < self._message_length:
            return None
        assert self._record_version is not None
        return _parse_body(
            bytes(self._handshake[_HANDSHAKE_HEADER_LEN : self._message_length]),
            record_version=self._record_version,
            length=self._next_record,
            handshake_length=self._message_length,
        )


def parse_client_hello(data: bytes) -> ClientHello | None:
    """Parse the ClientHello at the start of ``data``.

    Returns None while more bytes are needed, the :class:`ClientHello` once
    its records are complete (bytes after them are ignored), and raises
    :class:`NotTlsError` / :class:`MalformedClientHello` on anything else.
    """
    return ClientHelloAssembler().feed(data)


def client_hello_length_needed(data: bytes) -> int | None:
    """Total stream length needed before ``data`` can hold a full ClientHello.

    Returns None if ``data`` already holds it, otherwise a lower bound
    (always more than ``len(data)`` and at most about
    :data:`MAX_CLIENT_HELLO_BYTES`). Raises like :func:`parse_client_hello`.
    """
    assembler = ClientHelloAssembler()
    assembler.feed(data)
    return assembler.total_needed()
