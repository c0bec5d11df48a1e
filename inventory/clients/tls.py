"""Trust on first use: read a server's certificate, show it, and later trust exactly that certificate.

Nothing here turns verification off. fetch_certificate() only reads the certificate the server
presents (to show its fingerprint, or to compare it with the pinned one); every connection that
carries credentials or data uses pinned_context(), which trusts that single certificate and no CA.
"""

import hashlib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from inventory.clients.errors import CertificateChanged, DnsFailure, HostUnreachable, TlsProblem, network_reason


@dataclass(frozen=True)
class CertificateInfo:
    der: bytes
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime

    @property
    def sha256(self) -> str:
        return format_fingerprint(hashlib.sha256(self.der).digest())

    @property
    def pem(self) -> str:
        return ssl.DER_cert_to_PEM_cert(self.der)


def format_fingerprint(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


def normalize_fingerprint(value: str) -> str:
    """Accept AA:BB:.., aa bb .. or aabb..; return the colon-separated upper-case SHA-256 form."""
    hexdigits = "".join(ch for ch in value if ch not in ": \t-").upper()
    if len(hexdigits) != 64 or any(ch not in "0123456789ABCDEF" for ch in hexdigits):
        raise ValueError("A SHA-256 fingerprint is 64 hexadecimal digits, e.g. 4F:1A:…:9C (32 pairs).")
    return ":".join(hexdigits[i : i + 2] for i in range(0, 64, 2))


def fetch_certificate(host: str, port: int, timeout: float = 10.0) -> CertificateInfo:
    """Read the certificate the server presents, without trusting it."""
    try:
        socket.getaddrinfo(host, port)
    except socket.gaierror as exc:
        raise DnsFailure(f"The name {host} does not resolve ({exc.strerror}). Check the address and DNS.") from exc
    except UnicodeError as exc:  # a label over 63 characters fails Python's IDNA codec
        raise DnsFailure(f"{host} is not a valid host name: {exc.reason}. Check the address.") from exc
    try:
        pem = ssl.get_server_certificate((host, port), timeout=timeout)
    except (ConnectionRefusedError, TimeoutError, socket.timeout) as exc:
        reason = network_reason(exc, timeout)
        raise HostUnreachable(f"Nothing answers on {host}:{port}: {reason}. Check the address, the port and that "
                              "the appliance can reach it.", host=host, port=port, reason=reason) from exc
    except ssl.SSLError as exc:
        raise TlsProblem(f"{host}:{port} does not speak TLS ({exc.reason or exc}). Is this the HTTPS port?") from exc
    except OSError as exc:
        reason = network_reason(exc, timeout)
        raise HostUnreachable(f"Cannot connect to {host}:{port}: {reason}.", host=host, port=port, reason=reason) from exc
    der = ssl.PEM_cert_to_DER_cert(pem)
    cert = x509.load_der_x509_certificate(der)
    return CertificateInfo(
        der=der,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def context_trusting(der: bytes) -> ssl.SSLContext:
    """A client context whose only trust anchor is this one certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # The pinned certificate is the server's identity; vCenter certificates often name another host.
    context.check_hostname = False
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # a self-signed, non-CA leaf as anchor
    context.load_verify_locations(cadata=ssl.DER_cert_to_PEM_cert(der))
    return context


def pinned_certificate(host: str, port: int, fingerprint: str, timeout: float = 10.0) -> CertificateInfo:
    """The certificate the server presents, refused (CertificateChanged) unless it is the pinned one."""
    accepted = normalize_fingerprint(fingerprint)
    presented = fetch_certificate(host, port, timeout)
    if presented.sha256 != accepted:
        raise CertificateChanged(host, port, accepted, presented.sha256)
    return presented


def pinned_context(host: str, port: int, fingerprint: str, timeout: float = 10.0) -> ssl.SSLContext:
    """A context for host:port that only completes a handshake with the accepted certificate.

    Reads the presented certificate, refuses it unless its SHA-256 matches the pin, then trusts
    exactly it: the handshake itself proves the server holds that certificate's private key.
    """
    return context_trusting(pinned_certificate(host, port, fingerprint, timeout).der)
