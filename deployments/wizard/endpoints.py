"""Registering a vCenter or an NSX Manager from inside the wizard: the certificate is shown on the
step, accepted (pinned), then the inventory is synced at once so the next pickers can be filled."""

from inventory.choices import ConnectionStatus
from inventory.models import VCenter
from inventory.services import endpoints, sync
from inventory.services.errors import ServiceError


def register(model, form):
    """The endpoint awaiting certificate review, or None with the form's errors set. An address
    registered before but never accepted is taken up again (its certificate read anew)."""
    existing = _pending_at(model, form)
    if existing is not None:
        try:
            endpoints.refresh_presented_certificate(existing)
        except ServiceError as exc:
            form.is_valid()
            form.add_error("host", exc.message)
            return None
        return existing
    if not form.is_valid():
        return None
    try:
        return endpoints.register(model, **form.changes())
    except ServiceError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None


def _pending_at(model, form):
    host = (form.data.get(form.add_prefix("host")) or "").strip()
    try:
        port = int(form.data.get(form.add_prefix("port")) or 443)
    except ValueError:
        return None
    return model.objects.filter(host=host, port=port, certificate_sha256="").first() if host else None


def accept_and_sync(endpoint, fingerprint: str) -> str | None:
    """Pin the reviewed certificate, check the login, sync the inventory; an error message, or None."""
    try:
        endpoint = endpoints.accept_certificate(endpoint, fingerprint)
    except ServiceError as exc:
        return exc.message
    if endpoint.status != ConnectionStatus.CONNECTED:
        return f"The certificate is accepted, but logging in failed: {endpoint.status_message}"
    return sync_now(endpoint)


def sync_now(endpoint) -> str | None:
    """Sync synchronously (well under a second on a lab's inventory); an error message, or None."""
    run = sync.sync_vcenter if isinstance(endpoint, VCenter) else sync.sync_nsx_manager
    record = run(endpoint.pk)
    if record is None:
        return f"A sync of {endpoint.name} is already running; continue in a moment."
    if not record.ok:
        return f"The inventory sync of {endpoint.name} failed: {record.error}"
    return None


def needs_sync(endpoint, asked: bool) -> bool:
    return asked or endpoint.last_synced_at is None or endpoint.is_stale
