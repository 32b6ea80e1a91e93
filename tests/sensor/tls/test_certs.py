"""Self-signed certificate generation and user certificate validation."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from honeyscope.sensor.tls.certs import (
    CertificateConfigError,
    ensure_certificate,
    load_user_certificate,
)

NAMES = ["EXCH01", "exch01.contoso.local"]


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_generates_exchange_style_certificate(tmp_path: Path) -> None:
    state = tmp_path / "state"
    cert_path, key_path = ensure_certificate(state, common_name="EXCH01", dns_names=NAMES)
    cert = _cert(cert_path)
    assert cert.subject.rfc4514_string() == "CN=EXCH01"
    assert cert.issuer == cert.subject
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == NAMES
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    public_key = cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 2048
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


def test_validity_starts_in_the_past_and_lasts_five_years(tmp_path: Path) -> None:
    cert = _cert(ensure_certificate(tmp_path, common_name="EXCH01", dns_names=NAMES)[0])
    now = dt.datetime.now(dt.UTC)
    age = now - cert.not_valid_before_utc
    assert dt.timedelta(days=3) <= age <= dt.timedelta(days=45)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=5 * 365) <= lifetime <= dt.timedelta(days=5 * 366)


def test_organization_and_public_name(tmp_path: Path) -> None:
    names = ["mail.contoso.com", "autodiscover.contoso.com", "EXCH01"]
    cert_path, _ = ensure_certificate(
        tmp_path, common_name="mail.contoso.com", dns_names=names, organization="Contoso Ltd"
    )
    cert = _cert(cert_path)
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Contoso Ltd"
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "mail.contoso.com"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == names


def test_ec_key_type(tmp_path: Path) -> None:
    cert_path, _ = ensure_certificate(tmp_path, common_name="EXCH01", dns_names=NAMES, key_type="ec-p256")
    public_key = _cert(cert_path).public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"


def test_reuses_existing_pair(tmp_path: Path) -> None:
    cert_path, key_path = ensure_certificate(tmp_path, common_name="EXCH01", dns_names=NAMES)
    before = cert_path.read_bytes(), key_path.read_bytes()
    again = ensure_certificate(tmp_path, common_name="EXCH01", dns_names=list(reversed(NAMES)))
    assert again == (cert_path, key_path)
    assert (cert_path.read_bytes(), key_path.read_bytes()) == before


def test_regenerates_when_persona_name_changes(tmp_path: Path) -> None:
    cert_path, _ = ensure_certificate(tmp_path, common_name="EXCH01", dns_names=NAMES)
    old = cert_path.read_bytes()
    ensure_certificate(tmp_path, common_name="EXCH02", dns_names=["EXCH02"])
    assert cert_path.read_bytes() != old
    assert _cert(cert_path).subject.rfc4514_string() == "CN=EXCH02"


def test_regenerates_damaged_pair(tmp_path: Path) -> None:
    cert_path, key_path = ensure_certificate(tmp_path, common_name="EXCH01", dns_names=NAMES)
    key_path.write_text("garbage")
    ensure_certificate(tmp_path, common_name="EXCH01", dns_names=NAMES)
    assert load_user_certificate(cert_path, key_path) == (cert_path, key_path)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return ensure_certificate(tmp_path / "a", common_name="EXCH01", dns_names=NAMES, key_type="ec-p256")


def _config_error(cert: Path, key: Path) -> str:
    with pytest.raises(CertificateConfigError) as info:
        load_user_certificate(cert, key)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_valid_user_pair(pair: tuple[Path, Path]) -> None:
    assert load_user_certificate(*pair) == pair


def test_chain_file_is_accepted(pair: tuple[Path, Path], tmp_path: Path) -> None:
    other, _ = ensure_certificate(tmp_path / "b", common_name="CA", dns_names=["CA"], key_type="ec-p256")
    chain = tmp_path / "chain.pem"
    chain.write_bytes(pair[0].read_bytes() + other.read_bytes())
    assert load_user_certificate(chain, pair[1]) == (chain, pair[1])


def test_missing_file(pair: tuple[Path, Path], tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    message = _config_error(missing, pair[1])
    assert str(missing) in message
    assert "does not exist" in message
    assert "does not exist" in _config_error(pair[0], missing)


def test_directory_instead_of_file(pair: tuple[Path, Path], tmp_path: Path) -> None:
    assert "cannot be read" in _config_error(tmp_path, pair[1])


def test_der_certificate_is_not_pem(pair: tuple[Path, Path], tmp_path: Path) -> None:
    der = tmp_path / "cert.der"
    der.write_bytes(_cert(pair[0]).public_bytes(serialization.Encoding.DER))
    message = _config_error(der, pair[1])
    assert "not a PEM certificate" in message
    assert "openssl x509" in message


def test_key_that_is_not_a_key(pair: tuple[Path, Path]) -> None:
    # Passing the certificate as the key is a classic mix-up.
    assert "not a PEM private key" in _config_error(pair[0], pair[0])


def test_encrypted_key(pair: tuple[Path, Path], tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(pair[1].read_bytes(), password=None)
    encrypted = tmp_path / "enc.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    message = _config_error(pair[0], encrypted)
    assert "password-protected" in message
    assert "openssl pkey" in message


def test_key_does_not_match(pair: tuple[Path, Path], tmp_path: Path) -> None:
    _, other_key = ensure_certificate(tmp_path / "b", common_name="X", dns_names=["X"], key_type="ec-p256")
    message = _config_error(pair[0], other_key)
    assert "does not belong" in message
    assert str(other_key) in message
