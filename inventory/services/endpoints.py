"""Registering vCenter and NSX Manager connections: trust on first use, then pinned.

Adding a connection reads the certificate the server presents and stores it for review; nothing
is trusted and no password is sent until the administrator accepts that exact fingerprint.
"""

import logging

from django.db import transaction
from django.utils import timezone

from inventory.choices import ConnectionStatus
from inventory.clients.errors import CertificateChanged, ConnectionProblem, TlsProblem
from inventory.clients.tls import CertificateInfo, fetch_certificate, normalize_fingerprint
from inventory.models import NsxManager, VCenter
from inventory.services.errors import CertificateNotReviewed, ServiceError

log = logging.getLogger(__name__)


def certificate_summary(info: CertificateInfo) -> dict:
    return {
        "sha256": info.sha256,
        "subject": info.subject,
        "issuer": info.issuer,
        "not_before": info.not_before.isoformat(),
        "not_after": info.not_after.isoformat(),
        "fetched_at": timezone.now().isoformat(),
        # What will keep TLS from using it, said before it is accepted (a weak key, expired).
        "problems": info.problems,
        "weak": bool(info.weaknesses),
    }


def _fetch(host: str, port: int) -> CertificateInfo:
    try:
        return fetch_certificate(host, port)
    except ConnectionProblem as exc:
        raise ServiceError(str(exc), code=exc.code, field="host") from None


def register(model, *, name: str, host: str, port: int, username: str, password: str, **extra):
    """Create a vCenter or NSX Manager connection awaiting review of its certificate."""
    certificate = _fetch(host, port)
    endpoint = model(name=name, host=host, port=port, username=username, password=password, **extra)
    endpoint.presented_certificate = certificate_summary(certificate)
    endpoint.status = ConnectionStatus.CERTIFICATE_PENDING
    endpoint.status_message = "Review the certificate and accept it to connect."
    endpoint.save()
    log.info("registered %s %s (%s:%s), certificate %s to review", model.__name__, name, host, port, certificate.sha256)
    return endpoint


def refresh_presented_certificate(endpoint) -> dict:
    """Read the certificate the server presents now, for (re-)review."""
    endpoint.presented_certificate = certificate_summary(_fetch(endpoint.host, endpoint.port))
    endpoint.save(update_fields=["presented_certificate", "updated_at"])
    return endpoint.presented_certificate


def accept_certificate(endpoint, fingerprint: str):
    """Pin the certificate the administrator reviewed, then check the connection with it.

    `fingerprint` is what the administrator saw: if the server presents another certificate now,
    nothing is pinned and the new one is shown for review instead.
    """
    try:
        reviewed = normalize_fingerprint(fingerprint)
    except ValueError as exc:
        raise ServiceError(str(exc), code="invalid_fingerprint", field="fingerprint") from None
    presented = _fetch(endpoint.host, endpoint.port)
    if presented.sha256 != reviewed:
        endpoint.presented_certificate = certificate_summary(presented)
        endpoint.save(update_fields=["presented_certificate", "updated_at"])
        raise CertificateNotReviewed(
            f"{endpoint.host}:{endpoint.port} now presents a certificate with fingerprint {presented.sha256}, "
            f"not the {reviewed} you reviewed. Review the new certificate before accepting it.",
            code="certificate_not_reviewed",
            field="fingerprint",
        )
    endpoint.certificate_sha256 = reviewed
    endpoint.presented_certificate = certificate_summary(presented)
    endpoint.save(update_fields=["certificate_sha256", "presented_certificate", "updated_at"])
    log.info("pinned %s for %s", reviewed, endpoint)
    endpoint = check_connection(endpoint)
    if isinstance(endpoint, VCenter) and endpoint.status == ConnectionStatus.CONNECTED:
        from inventory.services import extension

        extension.refresh(endpoint)  # the appliance listed among the vCenter's solutions
    return endpoint


def record_problem(endpoint, exc: ConnectionProblem) -> None:
    endpoint.status_code = exc.code
    endpoint.status_message = str(exc)
    endpoint.status = ConnectionStatus.CERTIFICATE_CHANGED if isinstance(exc, CertificateChanged) else ConnectionStatus.ERROR
    if isinstance(exc, TlsProblem):  # the review page shows what is presented now, never a stale one
        try:
            endpoint.presented_certificate = certificate_summary(fetch_certificate(endpoint.host, endpoint.port))
        except ConnectionProblem:
            pass


def check_connection(endpoint):
    """Log in with the pinned certificate and record what happened (never raises for a
    connection problem: the status says it)."""
    if not endpoint.is_pinned:
        raise ServiceError("Accept the server's certificate first.", code="certificate_pending")
    try:
        if isinstance(endpoint, VCenter):
            endpoint.about = _vcenter_about(endpoint)
        else:
            endpoint.version = _nsx_version(endpoint)
    except ConnectionProblem as exc:
        record_problem(endpoint, exc)
    else:
        endpoint.status, endpoint.status_code, endpoint.status_message = ConnectionStatus.CONNECTED, "", ""
    endpoint.checked_at = timezone.now()
    endpoint.save()
    return endpoint


def _vcenter_about(vcenter: VCenter) -> dict:
    from inventory.clients.vsphere import connect, disconnect

    si = connect(vcenter.host, vcenter.port, vcenter.username, vcenter.password.reveal(), vcenter.certificate_sha256)
    try:
        about = si.content.about
        return {"full_name": about.fullName, "version": about.version, "build": about.build,
                "api_version": about.apiVersion, "instance_uuid": about.instanceUuid}
    finally:
        disconnect(si)


def nsx_client(manager: NsxManager):
    from inventory.clients.nsx import NsxClient

    return NsxClient(manager.host, manager.port, manager.username, manager.password.reveal(), manager.certificate_sha256)


def _nsx_version(manager: NsxManager) -> str:
    client = nsx_client(manager)
    try:
        return client.version().number
    finally:
        client.close()


@transaction.atomic
def update(endpoint, **changes):
    """Change a connection. A new address needs its certificate reviewed again; an empty or
    missing password keeps the stored one."""
    password = changes.pop("password", None)
    moved = any(name in changes and changes[name] != getattr(endpoint, name) for name in ("host", "port"))
    for name, value in changes.items():
        setattr(endpoint, name, value)
    if password:
        endpoint.password = password
    if moved:
        endpoint.certificate_sha256 = ""
        endpoint.presented_certificate = certificate_summary(_fetch(endpoint.host, endpoint.port))
        endpoint.status = ConnectionStatus.CERTIFICATE_PENDING
        endpoint.status_message = "The address changed: review the certificate and accept it to connect."
    endpoint.save()
    return endpoint
