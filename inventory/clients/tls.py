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
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

from inventory.clients.errors import (
    CertificateChanged, CertificateNotAcceptable, DnsFailure, HostUnreachable, TlsProblem, network_reason,
)

# OpenSSL's default security level (2) on Debian 12: keys of 112 bits of security at least.
MINIMUM_RSA_BITS = 2048
MINIMUM_EC_BITS = 224
WEAK_HASHES = (hashes.MD5, hashes.SHA1)
ALLOW_WEAK_SETTING = "VIO_TLS_ALLOW_WEAK_PINNED"


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

    @property
    def weaknesses(self) -> list[str]:
        """What makes TLS refuse this certificate at its default security level, in words: its key
        or signature (a setting can allow these for a pinned certificate)."""
        cert = x509.load_der_x509_certificate(self.der)
        found = []
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < MINIMUM_RSA_BITS:
            found.append(f"its RSA key has {key.key_size} bits, and TLS refuses keys under {MINIMUM_RSA_BITS} bits as too weak")
        elif isinstance(key, dsa.DSAPublicKey):
            found.append("its key is a DSA key, which TLS no longer accepts")
        elif isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < MINIMUM_EC_BITS:
            found.append(f"its elliptic-curve key has {key.curve.key_size} bits, under the {MINIMUM_EC_BITS} TLS requires")
        algorithm = cert.signature_hash_algorithm
        if isinstance(algorithm, WEAK_HASHES):
            found.append(f"it is signed with {algorithm.name.upper()}, which TLS refuses as too weak")
        return found

    @property
    def expiry_problems(self) -> list[str]:
        now = datetime.now(self.not_after.tzinfo)
        if self.not_after < now:
            return [f"it expired on {self.not_after:%Y-%m-%d}"]
        if self.not_before > now:
            return [f"it is valid only from {self.not_before:%Y-%m-%d}"]
        return []

    @property
    def problems(self) -> list[str]:
        """Everything that keeps TLS from using this certificate, in words (empty: usable)."""
        return self.weaknesses + self.expiry_problems


def format_fingerprint(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


def normalize_fingerprint(value: str) -> str:
    """Accept AA:BB:.., aa bb .. or aabb..; return the colon-separated upper-case SHA-256 form."""
    hexdigits = "".join(ch for ch in value if ch not in ": \t-").upper()
    if len(hexdigits) != 64 or any(ch not in "0123456789ABCDEF" for ch in hexdigits):
        raise ValueError("A SHA-256 fingerprint is 64 hexadecimal digits, e.g. 4F:1A:…:9C (32 pairs).")
    return ":".join(hexdigits[i : i + 2] for i in range(0, 64, 2))


def host_name_problem(host: str) -> str | None:
    """Why `host` cannot be a DNS name (in words), or None: the rules Python's IDNA codec applies
    before any lookup, said for people."""
    name = host[:-1] if host.endswith(".") else host
    if "\x00" in host:
        return "it contains a NUL character"
    if not name:
        return "it is empty"
    if len(name) > 253:
        return f"it is {len(name)} characters long; a host name has at most 253"
    for label in name.split("."):
        if not label:
            return "it has an empty label (two dots in a row, or a dot at the start)"
        if len(label) > 63:
            return f"its label {label[:20]}… is {len(label)} characters long; at most 63 are allowed between dots"
    try:
        name.encode("idna")
    except UnicodeError as exc:
        return f"it is not a valid internationalized name ({getattr(exc, 'reason', None) or exc})"
    return None


def fetch_certificate(host: str, port: int, timeout: float = 10.0) -> CertificateInfo:
    """Read the certificate the server presents, without trusting it."""
    problem = host_name_problem(host)
    if problem:  # refused before any lookup: nothing is asked of DNS for a name that cannot be one
        raise DnsFailure(f"{host!r} is not a valid host name: {problem}. Check the address.")
    try:
        socket.getaddrinfo(host, port)
    except socket.gaierror as exc:
        raise DnsFailure(f"The name {host} does not resolve ({exc.strerror}). Check the address and DNS.") from exc
    except (UnicodeError, ValueError) as exc:
        # Python's IDNA codec refuses an empty label (a.b.c..) or one over 63 characters with a UnicodeError
        # that may have no .reason; ValueError: a NUL in the name.
        raise DnsFailure(f"{host!r} is not a valid host name: {host_name_problem(host) or 'it cannot be encoded'}. "
                         "Check the address.") from None
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


def allow_weak_pinned() -> bool:
    """The administrator's choice (setting VIO_TLS_ALLOW_WEAK_PINNED) to use a pinned certificate whose
    key or signature TLS refuses by default."""
    from django.conf import settings

    return bool(getattr(settings, ALLOW_WEAK_SETTING, False))


def context_trusting(der: bytes, allow_weak: bool | None = None) -> ssl.SSLContext:
    """A client context whose only trust anchor is this one certificate. allow_weak (default: the
    setting) lowers OpenSSL's security level for this context only, so a weak key or signature of
    the pinned certificate is accepted; it stays the only certificate trusted."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if allow_weak if allow_weak is not None else allow_weak_pinned():
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
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


def refusal(host: str, port: int, pinned: str, exc: ssl.SSLError) -> TlsProblem:
    """Why a handshake with the pinned certificate failed, for people: another certificate is
    presented (CertificateChanged), or the accepted one cannot be used (CertificateNotAcceptable:
    weak, expired), or the TLS settings do not match."""
    presented = fetch_certificate(host, port)
    if presented.sha256 != normalize_fingerprint(pinned):
        return CertificateChanged(host, port, normalize_fingerprint(pinned), presented.sha256)
    weak, expired = presented.weaknesses, presented.expiry_problems
    if weak and not allow_weak_pinned():
        return CertificateNotAcceptable(
            host, port, presented.sha256, weak + expired,
            "Replace the server's certificate with one of 2048 bits or more signed with SHA-256 (for vCenter: "
            "vSphere Client, Administration, Certificates), then review and accept it; or set "
            f"{ALLOW_WEAK_SETTING}=1 to use this pinned certificate anyway (it stays the only one trusted).")
    if expired:
        return CertificateNotAcceptable(host, port, presented.sha256, expired,
                                        "Renew the server's certificate, then review and accept the new one.")
    reason = getattr(exc, "verify_message", "") or getattr(exc, "reason", "") or "the handshake failed"
    return TlsProblem(f"The TLS handshake with {host}:{port} failed although it presents the accepted certificate "
                      f"({reason}). Check its TLS settings (TLS 1.2 or later).")
