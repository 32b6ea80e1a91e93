"""TLS layer of the sensor: ClientHello parsing, JA4, certificates, sessions.

The sensor reads the raw ClientHello itself (Python's ``ssl`` has no
ClientHello callback), fingerprints it, then replays the same bytes into
OpenSSL through memory BIOs. Everything here is sans-io.
"""

from honeyscope.sensor.tls.certs import CertificateConfigError, ensure_certificate, load_user_certificate
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
from honeyscope.sensor.tls.ja4 import ja4, ja4_r
from honeyscope.sensor.tls.session import TlsServerSession, make_server_context

__all__ = [
    "MAX_CLIENT_HELLO_BYTES",
    "CertificateConfigError",
    "ClientHello",
    "ClientHelloAssembler",
    "ClientHelloError",
    "MalformedClientHello",
    "NotTlsError",
    "TlsServerSession",
    "client_hello_length_needed",
    "ensure_certificate",
    "ja4",
    "ja4_r",
    "load_user_certificate",
    "make_server_context",
    "parse_client_hello",
]
