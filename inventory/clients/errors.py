"""Errors a vSphere administrator can act on: each says what happened and what to do."""


class ConnectionProblem(Exception):
    """Base class: a connection to vCenter or NSX Manager failed for a reason the user can fix."""

    code = "connection_failed"


class DnsFailure(ConnectionProblem):
    code = "dns_failure"


class HostUnreachable(ConnectionProblem):
    code = "host_unreachable"


class TlsProblem(ConnectionProblem):
    code = "tls_failed"


class CertificateChanged(TlsProblem):
    """The server now presents a different certificate from the one the administrator accepted."""

    code = "certificate_changed"

    def __init__(self, host: str, port: int, accepted: str, presented: str):
        self.accepted, self.presented = accepted, presented
        super().__init__(
            f"The certificate of {host}:{port} changed: it was accepted with SHA-256 fingerprint "
            f"{accepted}, and now presents {presented}. If the certificate was replaced on purpose, "
            "review and accept the new one; otherwise something is intercepting the connection."
        )


class InvalidCredentials(ConnectionProblem):
    code = "invalid_credentials"


class NotAVCenter(ConnectionProblem):
    code = "not_a_vcenter"
