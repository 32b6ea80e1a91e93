"""Sans-io TLS server session that fingerprints the client before OpenSSL runs.

The caller owns the socket: it passes received bytes to
:meth:`TlsServerSession.feed`, sends whatever :meth:`TlsServerSession.outgoing`
returns, and queues responses with :meth:`TlsServerSession.send`. Until the
ClientHello is complete the session only buffers; it then parses it (JA4,
SNI, ALPN) and replays the identical bytes into an ``ssl.SSLObject`` over
memory BIOs. Nothing a peer sends makes ``feed`` raise: failures set
:attr:`TlsServerSession.failed` and :attr:`TlsServerSession.error`.
"""

from __future__ import annotations

import enum
import ssl
import warnings
from collections.abc import Sequence
from pathlib import Path

from honeyscope.sensor.tls.clienthello import (
    MAX_CLIENT_HELLO_BYTES,
    ClientHello,
    ClientHelloAssembler,
    ClientHelloError,
    NotTlsError,
)
from honeyscope.sensor.tls.ja4 import TRANSPORTS
from honeyscope.sensor.tls.ja4 import ja4 as compute_ja4
from honeyscope.sensor.tls.ja4 import ja4_r as compute_ja4_r

__all__ = ["IIS_TLS12_CIPHERS", "TlsServerSession", "make_server_context"]

#: TLS 1.2 suites in the server-preference order of Windows Server 2016/2019
#: SChannel (OpenSSL names). DHE suites are listed for fidelity but OpenSSL
#: only picks them if DH parameters are configured, as on a stock IIS box
#: where clients practically always get ECDHE.
IIS_TLS12_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-SHA384",
        "ECDHE-ECDSA-AES128-SHA256",
        "ECDHE-RSA-AES256-SHA384",
        "ECDHE-RSA-AES128-SHA256",
        "ECDHE-ECDSA-AES256-SHA",
        "ECDHE-ECDSA-AES128-SHA",
        "ECDHE-RSA-AES256-SHA",
        "ECDHE-RSA-AES128-SHA",
        "AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
        "AES256-SHA256",
        "AES128-SHA256",
        "AES256-SHA",
        "AES128-SHA",
    ]
)

_READ_CHUNK = 16 * 1024
# OpenSSL spells TLS 1.0 "TLSv1"; events use the bare dotted number.
_VERSION_NAMES = {"TLSv1": "1.0", "TLSv1.1": "1.1", "TLSv1.2": "1.2", "TLSv1.3": "1.3"}


def make_server_context(
    cert: Path,
    key: Path,
    *,
    alpn: Sequence[str] = ("http/1.1",),
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    maximum_version: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
    ciphers: str = IIS_TLS12_CIPHERS,
) -> ssl.SSLContext:
    """Build the server ``SSLContext`` for :class:`TlsServerSession`.

    Defaults accept TLS 1.2 and 1.3 with IIS's TLS 1.2 cipher order. Real
    Exchange on Windows Server 2016/2019 stops at TLS 1.2 (SChannel gained
    TLS 1.3 in Server 2022), so a persona imitating those should pass
    ``maximum_version=ssl.TLSVersion.TLSv1_2``. Going below TLS 1.2 lowers
    OpenSSL's security level, which TLS 1.0/1.1 (SHA-1 signatures) need.
    Raises ``ssl.SSLError`` / ``OSError`` for an unusable cert or key.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        # Python deprecates TLS 1.0/1.1; a decoy may still want to accept
        # them on purpose, so an explicit request is not worth a warning.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = minimum_version
        context.maximum_version = maximum_version
    legacy = minimum_version not in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
    context.set_ciphers(ciphers + (":@SECLEVEL=0" if legacy else ""))
    # SChannel picks suites in its own order; renegotiation is refused because
    # this session has no state machine for a second handshake.
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_COMPRESSION
    if alpn:
        context.set_alpn_protocols(list(alpn))
    context.load_cert_chain(cert, key)
    return context


class _State(enum.Enum):
    AWAIT_HELLO = "await_hello"
    HANDSHAKE = "handshake"
    ESTABLISHED = "established"
    CLOSED = "closed"
    FAILED = "failed"


class TlsServerSession:
    """One server-side TLS connection driven entirely through byte buffers.

    Pre-handshake buffering is capped at ``max_hello_bytes``. After the
    handshake, ``feed`` returns all plaintext it could decrypt, so only one
    partial record is ever held inside; flushing :meth:`outgoing` is the
    caller's job.
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        *,
        transport: str = "t",
        max_hello_bytes: int = MAX_CLIENT_HELLO_BYTES,
    ) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of 't', 'q', 'd', not {transport!r}")
        self._context = context
        self._transport = transport
        self._max_hello_bytes = max_hello_bytes
        self._assembler: ClientHelloAssembler | None = ClientHelloAssembler(max_hello_bytes)
        self._initial_bytes = b""
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl: ssl.SSLObject | None = None
        self._state = _State.AWAIT_HELLO
        self._hello: ClientHello | None = None
        self._ja4: str | None = None
        self._error: str | None = None
        self._peer_closed = False
        self._handshake_complete = False
        # Snapshotted at handshake end: OpenSSL stops reporting them after
        # a fatal error, but the event record still wants them.
        self._tls_version: str | None = None
        self._cipher: str | None = None
        self._alpn_selected: str | None = None

    # -- byte interface -------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """Take bytes from the peer; return the application data now readable.

        Never raises because of what the peer sent; check :attr:`failed`.
        """
        if self._state is _State.AWAIT_HELLO:
            return self._feed_hello(data)
        if self._ssl is None or self._state in (_State.FAILED, _State.CLOSED):
            return b""
        self._incoming.write(data)
        return self._pump()

    def outgoing(self) -> bytes:
        """Return (and forget) the bytes to send to the peer."""
        return self._outgoing.read()

    def send(self, plaintext: bytes) -> None:
        """Encrypt ``plaintext`` for the peer; collect it with :meth:`outgoing`.

        Silently dropped once the session has failed or closed (the peer is
        gone or misbehaved). Raises ``RuntimeError`` before the handshake.
        """
        if self._state in (_State.FAILED, _State.CLOSED):
            return
        if self._ssl is None or self._state is not _State.ESTABLISHED:
            raise RuntimeError("TLS handshake not complete")
        try:
            self._ssl.write(plaintext)
        except ssl.SSLError as exc:
            self._fail(f"TLS error: {_reason(exc)}")

    def close_notify(self) -> None:
        """Queue a close_notify alert; the session then accepts no more data."""
        if self._ssl is not None and self._state is _State.ESTABLISHED:
            try:
                self._ssl.unwrap()
            except ssl.SSLWantReadError:
                pass  # our alert is queued; we do not wait for the peer's
            except ssl.SSLError as exc:
                self._fail(f"TLS error: {_reason(exc)}")
                return
        if self._state is not _State.FAILED:
            self._state = _State.CLOSED

    # -- internals --------------------------------------------------------

    def _feed_hello(self, data: bytes) -> bytes:
        assert self._assembler is not None
        try:
            hello = self._assembler.feed(data)
        except NotTlsError:
            self._keep_initial_bytes()
            self._fail("not TLS")
            return b""
        except ClientHelloError as exc:
            self._keep_initial_bytes()
            self._fail(f"malformed ClientHello: {exc}")
            return b""
        if hello is None:
            return b""
        self._hello = hello
        self._ja4 = compute_ja4(hello, transport=self._transport)
        self._incoming.write(self._assembler.data)
        self._keep_initial_bytes()
        self._assembler = None  # its copy of the bytes is no longer needed
        self._ssl = self._context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._state = _State.HANDSHAKE
        return self._pump()

    def abandon(self, reason: str = "connection closed during the TLS handshake") -> None:
        """The peer went away before the handshake finished: fail with ``reason``, keeping any
        ClientHello bytes received so far in ``initial_bytes``. No effect once finished or failed."""
        if self._state not in (_State.AWAIT_HELLO, _State.HANDSHAKE):
            return
        if self._assembler is not None:
            self._keep_initial_bytes()
        self._fail(reason)

    def _keep_initial_bytes(self) -> None:
        assert self._assembler is not None
        self._initial_bytes = self._assembler.data[: self._max_hello_bytes]

    def _pump(self) -> bytes:
        assert self._ssl is not None
        if self._state is _State.HANDSHAKE and not self._handshake():
            return b""
        chunks: list[bytes] = []
        while self._state is _State.ESTABLISHED:
            try:
                chunk = self._ssl.read(_READ_CHUNK)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                chunk = b""
            except ssl.SSLError as exc:
                self._fail(f"TLS error: {_reason(exc)}")
                break
            if not chunk:
                # CPython reports the peer's close_notify as an empty read
                # (older builds raise SSLZeroReturnError, handled the same).
                self._peer_closed = True
                self._state = _State.CLOSED
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def _handshake(self) -> bool:
        assert self._ssl is not None
        try:
            self._ssl.do_handshake()
        except ssl.SSLWantReadError:
            return False
        except ssl.SSLError as exc:
            self._fail(f"TLS handshake failed: {_reason(exc)}")
            return False
        self._state = _State.ESTABLISHED
        self._handshake_complete = True
        version = self._ssl.version()
        self._tls_version = _VERSION_NAMES.get(version, version) if version else None
        cipher = self._ssl.cipher()
        self._cipher = cipher[0] if cipher else None
        self._alpn_selected = self._ssl.selected_alpn_protocol()
        return True

    def _fail(self, reason: str) -> None:
        self._state = _State.FAILED
        self._error = reason
        self._assembler = None

    # -- what was observed --------------------------------------------

    @property
    def handshake_done(self) -> bool:
        """True once the TLS handshake completed (stays True after close or a later error)."""
        return self._handshake_complete

    @property
    def failed(self) -> bool:
        """True if the peer sent something unusable; see :attr:`error`."""
        return self._state is _State.FAILED

    @property
    def closed(self) -> bool:
        """True after :meth:`close_notify` or the peer's close_notify."""
        return self._state is _State.CLOSED

    @property
    def peer_closed(self) -> bool:
        """True if the peer sent a close_notify alert."""
        return self._peer_closed

    @property
    def error(self) -> str | None:
        """Why the session failed: ``"not TLS"``, ``"malformed ClientHello: ..."``,
        ``"TLS handshake failed: <OpenSSL reason>"`` or ``"TLS error: ..."``."""
        return self._error

    @property
    def initial_bytes(self) -> bytes:
        """Raw bytes received before TLS took over, at most ``max_hello_bytes``.

        Once the ClientHello is complete or the session failed before the
        handshake: the hello's records, or whatever non-TLS bytes the peer
        sent (plain HTTP, scanner probes), kept as evidence. Empty before.
        """
        return self._initial_bytes

    @property
    def client_hello(self) -> ClientHello | None:
        """The parsed ClientHello, once received (kept after a failure)."""
        return self._hello

    @property
    def ja4(self) -> str | None:
        """JA4 fingerprint of the ClientHello."""
        return self._ja4

    @property
    def ja4_r(self) -> str | None:
        """Raw JA4 string, for debugging a fingerprint."""
        if self._hello is None:
            return None
        return compute_ja4_r(self._hello, transport=self._transport)

    @property
    def sni(self) -> str | None:
        """Server name the client asked for, if any."""
        return self._hello.server_name if self._hello else None

    @property
    def alpn_offered(self) -> tuple[str, ...]:
        """ALPN protocols the client offered, in its order."""
        return self._hello.alpn if self._hello else ()

    @property
    def alpn_selected(self) -> str | None:
        """ALPN protocol agreed on, if any."""
        return self._alpn_selected

    @property
    def tls_version(self) -> str | None:
        """Negotiated version: ``"1.0"`` ... ``"1.3"``."""
        return self._tls_version

    @property
    def cipher(self) -> str | None:
        """Negotiated cipher suite (OpenSSL name)."""
        return self._cipher


def _reason(exc: ssl.SSLError) -> str:
    # ``reason`` is OpenSSL's short code (e.g. NO_SHARED_CIPHER): stable
    # across versions and free of object addresses, so it groups well.
    return str(exc.reason or exc.strerror or exc)
