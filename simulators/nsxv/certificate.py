"""The emulator's self-signed TLS certificate: reused from --cert/--key when they exist, else made."""

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class CertificateFiles:
    cert_path: Path
    key_path: Path
    der: bytes

    @property
    def sha256(self) -> str:
        digest = hashes.Hash(hashes.SHA256())
        digest.update(self.der)
        return ":".join(f"{b:02X}" for b in digest.finalize())


def load_or_create(cert_path: Path, key_path: Path) -> CertificateFiles:
    """Reuse an existing pair (a stable fingerprint across restarts), or generate and write one."""
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        return CertificateFiles(cert_path, key_path, cert.public_bytes(serialization.Encoding.DER))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "nsxmanager.vio.local"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "VIO Manager NSX-v emulator"),
        ]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    # Create the key file 0600 from the start: it must never exist world-readable, even briefly.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_pem)
    os.chmod(key_path, 0o600)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CertificateFiles(cert_path, key_path, cert.public_bytes(serialization.Encoding.DER))
