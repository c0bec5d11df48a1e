"""Errors a vSphere administrator can act on: each says what happened and what to do."""


class ConnectionProblem(Exception):
    """Base class: a connection to vCenter or NSX Manager failed for a reason the user can fix."""

    code = "connection_failed"


class DnsFailure(ConnectionProblem):
    code = "dns_failure"


class HostUnreachable(ConnectionProblem):
    """Nothing answers at the address; `reason` says how it failed, in words (see network_reason)."""

    code = "host_unreachable"

    def __init__(self, message: str, *, host: str = "", port: int | None = None, reason: str = ""):
        super().__init__(message)
        self.host, self.port, self.reason = host, port, reason


def network_reason(exc: BaseException, timeout: float | None = None) -> str:
    """Why a connection failed, for people: refused, no answer, closed, no route, unknown name."""
    import errno
    import http.client
    import socket
    import ssl

    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused (the server is down or restarting, or the port is closed)"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"it did not answer within {timeout:g} s" if timeout else "it did not answer in time"
    if isinstance(exc, socket.gaierror):
        return "its name does not resolve (check DNS)"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected, ConnectionAbortedError)):
        return "it closed the connection (it may be restarting)"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "there is no network route to it"
    if isinstance(exc, ssl.SSLError):
        return "the TLS connection broke off"
    return "the connection failed"


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


class CertificateNotAcceptable(TlsProblem):
    """The server presents the certificate the administrator accepted, but TLS refuses to use it
    (a weak key, a weak signature, expired): not a changed certificate, and not fixed by accepting
    it again."""

    code = "certificate_not_acceptable"

    def __init__(self, host: str, port: int, fingerprint: str, problems: list[str], advice: str):
        self.fingerprint, self.problems = fingerprint, problems
        super().__init__(
            f"The certificate of {host}:{port} is the one you accepted (SHA-256 {fingerprint}), but it cannot be "
            f"used: {'; '.join(problems)}. {advice}"
        )


class InvalidCredentials(ConnectionProblem):
    code = "invalid_credentials"


class NotAVCenter(ConnectionProblem):
    code = "not_a_vcenter"


# --- NSX-v Manager ------------------------------------------------------------------------------


class NotAnNsxManager(ConnectionProblem):
    code = "not_an_nsx_manager"


class UnsupportedNsxVersion(ConnectionProblem):
    code = "unsupported_nsx_version"


class NsxUnsafeXml(NotAnNsxManager):
    """An answer in XML with a DTD or entity declarations: NSX never sends one; it is refused unparsed."""

    code = "nsx_unsafe_xml"


class NsxPermissionDenied(ConnectionProblem):
    """NSX Manager accepted the credentials but refuses this user what the product needs to read."""

    code = "nsx_permission_denied"


class NsxApiError(ConnectionProblem):
    """NSX Manager answered a request with an error: its status, NSX's own code, module and details."""

    code = "nsx_api_error"

    def __init__(self, status: int, error_code: int | None, module: str | None, details: str, *, action: str, host: str):
        self.status, self.error_code, self.module, self.details = status, error_code, module, details
        self.action, self.host = action, host
        if error_code is None:
            origin = "without an NSX error body"
        else:
            origin = f"NSX error {error_code}" + (f" ({module})" if module else "")
        super().__init__(f"{action} from NSX Manager {host} failed with HTTP {status}, {origin}: {details} {self.advice()}")

    def advice(self) -> str:
        if self.status == 403:
            return "The NSX user lacks the permission: give it the Enterprise Administrator role, or use another user."
        if self.status == 404:
            return "The object does not exist on this NSX Manager: check the ID, or re-read the inventory."
        if 400 <= self.status < 500:
            return "Check the values sent; NSX's details above say which one it refused."
        return "NSX Manager could not serve the request: check its health (appliance management UI) and retry."
