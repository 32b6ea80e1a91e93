"""Server certificate for the sensor: generated on first start, or user-supplied.

The generated certificate imitates the self-signed one Exchange Setup
creates for IIS ("Microsoft Exchange"): subject ``CN=<NetBIOS name>``, SAN
listing the NetBIOS name and the FQDN, RSA 2048, SHA-256, server
authentication usage, valid for five years. Callers get that shape with::

    ensure_certificate(state, common_name="EXCH01",
                       dns_names=["EXCH01", "exch01.contoso.local"])

or put a public-looking name first (``CN=mail.contoso.com`` with the
autodiscover name in the SAN) to look like a properly named deployment.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import ssl
import tempfile
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CERT_FILENAME",
    "KEY_FILENAME",
    "CertificateConfigError",
    "KeyType",
    "ensure_certificate",
    "load_user_certificate",
]

CERT_FILENAME = "tls-cert.pem"
KEY_FILENAME = "tls-key.pem"

KeyType = Literal["rsa2048", "rsa3072", "rsa4096", "ec-p256"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# Exchange's self-signed certificate is valid for five years from creation.
_VALIDITY = dt.timedelta(days=5 * 365 + 1)
# Start a few days to weeks back, randomly, so a fresh sensor does not show
# a certificate minted minutes ago and no two sensors share the same offset.
_MIN_AGE_DAYS, _MAX_AGE_DAYS = 3, 45


class CertificateConfigError(ValueError):
    """A certificate or key file is unusable; the message says how to fix it."""


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))


def _subject(common_name: str, organization: str | None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _san(dns_names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in dns_names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _build_certificate(
    key: PrivateKey, common_name: str, dns_names: list[str], organization: str | None
) -> x509.Certificate:
    name = _subject(common_name, organization)
    age = dt.timedelta(days=secrets.randbelow(_MAX_AGE_DAYS - _MIN_AGE_DAYS) + _MIN_AGE_DAYS)
    not_before = (dt.datetime.now(dt.UTC) - age).replace(microsecond=0)
    key_usage = x509.KeyUsage(
        digital_signature=True,
        key_encipherment=isinstance(key, rsa.RSAPrivateKey),
        content_commitment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        # Windows uses 16 random bytes; keep the top bit clear so the DER
        # INTEGER stays positive without a padding byte.
        .serial_number(secrets.randbits(127) | 1)
        .not_valid_before(not_before)
        .not_valid_after(not_before + _VALIDITY)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_san(dns_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    # Write-then-rename so a crash never leaves a truncated key behind, and
    # create with the final mode so the key is never world-readable.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _names_match(cert_path: Path, common_name: str, dns_names: list[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    names = [str(v) for v in san.get_values_for_type(x509.DNSName)]
    names += [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    return [a.value for a in cn] == [common_name] and sorted(names) == sorted(dns_names)


def ensure_certificate(
    state_dir: Path,
    *,
    common_name: str,
    dns_names: list[str],
    organization: str | None = None,
    key_type: KeyType = "rsa2048",
) -> tuple[Path, Path]:
    """Return ``(cert_path, key_path)`` in ``state_dir``, creating them if needed.

    An existing pair is reused as long as it still loads, matches and names
    the same host: a persona rename gets a new certificate rather than
    keeping one that contradicts the new name. The key file is mode 0600.
    """
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_path, key_path = state_dir / CERT_FILENAME, state_dir / KEY_FILENAME
    if cert_path.exists() and key_path.exists() and _names_match(cert_path, common_name, dns_names):
        try:
            return load_user_certificate(cert_path, key_path)
        except CertificateConfigError:
            pass  # damaged: it is ours, so regenerate it
    key = _new_key(key_type)
    cert = _build_certificate(key, common_name, dns_names, organization)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomic(key_path, key_pem, 0o600)
    _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_path, key_path


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CertificateConfigError(
            f"TLS {what} file {path} does not exist: fix the path, "
            "or unset it to use a generated self-signed certificate"
        ) from None
    except OSError as exc:
        raise CertificateConfigError(
            f"TLS {what} file {path} cannot be read ({exc.strerror}): make it readable by the sensor user"
        ) from None


def _load_cert(path: Path) -> x509.Certificate:
    data = _read(path, "certificate")
    try:
        # A chain file is fine; the first certificate is the server's own.
        return x509.load_pem_x509_certificates(data)[0]
    except ValueError:
        raise CertificateConfigError(
            f"TLS certificate file {path} is not a PEM certificate: "
            f"convert it, e.g. `openssl x509 -in {path} -out cert.pem`"
        ) from None


def _load_key(path: Path) -> PrivateKeyTypes:
    data = _read(path, "key")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise CertificateConfigError(
            f"TLS key file {path} is password-protected: decrypt it with `openssl pkey -in {path} -out key.pem`"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateConfigError(
            f"TLS key file {path} is not a PEM private key: supply the key in PEM form (-----BEGIN PRIVATE KEY-----)"
        ) from None


def _public_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_user_certificate(cert: Path, key: Path) -> tuple[Path, Path]:
    """Check a user-supplied certificate/key pair and return it unchanged.

    Raises :class:`CertificateConfigError` with one line naming the problem
    and the fix: missing or unreadable file, not PEM, encrypted key, key not
    matching the certificate, or a pair OpenSSL refuses to load.
    """
    certificate = _load_cert(cert)
    private_key = _load_key(key)
    if _public_der(certificate.public_key()) != _public_der(private_key.public_key()):
        raise CertificateConfigError(
            f"TLS key {key} does not belong to certificate {cert}: supply the key the certificate was issued for"
        )
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise CertificateConfigError(
            f"OpenSSL refuses TLS certificate {cert} with key {key} ({exc.reason or exc}): "
            "use an RSA or ECDSA certificate"
        ) from None
    return cert, key
