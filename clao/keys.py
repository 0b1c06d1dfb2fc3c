"""Self-signed development signing keys: made at first use, kept in VAR_DIR, never committed."""

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def ensure_keypair(directory: Path, common_name: str) -> tuple[str, str]:
    """Returns (certificate PEM, private key PEM), creating them the first time."""
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    if not (cert_file.exists() and key_file.exists()):
        directory.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = key_file.with_suffix(".tmp")
        tmp.write_bytes(key_pem)
        tmp.chmod(0o600)
        tmp.rename(key_file)
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_file.read_text(), key_file.read_text()
