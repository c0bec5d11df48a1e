"""Inventory syncs: never two at once for one vCenter or NSX Manager; each replaces the stored
picture in one transaction, so readers see the old picture or the new one, never a mix."""

import logging
import ssl
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from inventory.choices import ConnectionStatus, SyncState
from inventory.clients.errors import ConnectionProblem, InvalidCredentials
from inventory.clients.tls import refusal
from inventory.models import NsxManager, SyncRecord, VCenter
from inventory.services import endpoints, snapshot_store

log = logging.getLogger(__name__)


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.VIO_SYNC_STALE_SECONDS)


def request_sync(endpoint) -> bool:
    """Queue a sync unless one is already queued or running. Returns whether one was queued."""
    from celery import current_app

    if not endpoint.is_pinned:
        return False
    model = type(endpoint)
    stale = _stale_before()
    queued = (
        model.objects.filter(pk=endpoint.pk)
        .filter(
            Q(sync_state=SyncState.IDLE)
            | Q(sync_state=SyncState.QUEUED, sync_requested_at__lt=stale)
            | Q(sync_state=SyncState.RUNNING, sync_started_at__lt=stale)
        )
        .update(sync_state=SyncState.QUEUED, sync_requested_at=timezone.now())
    )
    if queued:
        # By the task's name: the tasks module imports this one, not the other way round.
        task = "inventory.sync_vcenter" if model is VCenter else "inventory.sync_nsx_manager"
        transaction.on_commit(lambda: current_app.send_task(task, (endpoint.pk,)))
    endpoint.refresh_from_db(fields=["sync_state", "sync_requested_at"])
    return bool(queued)


def _claim(model, pk) -> bool:
    """Atomically move a queued (or abandoned) sync to running; False if another holds it."""
    return (
        model.objects.filter(pk=pk)
        .exclude(certificate_sha256="")
        .filter(Q(sync_state__in=[SyncState.IDLE, SyncState.QUEUED]) | Q(sync_state=SyncState.RUNNING, sync_started_at__lt=_stale_before()))
        .update(sync_state=SyncState.RUNNING, sync_started_at=timezone.now())
        == 1
    )


def _finish(endpoint, record: SyncRecord, error: str = "") -> None:
    now = timezone.now()
    record.finished_at, record.ok, record.error = now, not error, error
    record.save()
    endpoint.sync_state = SyncState.IDLE
    endpoint.last_sync_error = error
    fields = ["sync_state", "last_sync_error", "updated_at"]
    if not error:
        endpoint.last_synced_at = now
        endpoint.status, endpoint.status_code, endpoint.status_message = ConnectionStatus.CONNECTED, "", ""
        fields += ["last_synced_at", "status", "status_code", "status_message"]
    endpoint.save(update_fields=fields)


def _run(model, pk, read_and_store) -> SyncRecord | None:
    if not _claim(model, pk):
        log.info("%s %s: a sync is already running; this one is skipped", model.__name__, pk)
        return None
    endpoint = model.objects.get(pk=pk)
    record = SyncRecord.objects.create(started_at=timezone.now(), **{"vcenter" if model is VCenter else "nsx_manager": endpoint})
    try:
        read_and_store(endpoint, record)
    except ConnectionProblem as exc:
        endpoints.record_problem(endpoint, exc)
        endpoint.save(update_fields=["status", "status_code", "status_message", "presented_certificate", "updated_at"])
        _finish(endpoint, record, str(exc))
    except Exception as exc:
        log.exception("sync of %s failed", endpoint)
        _finish(endpoint, record, f"The sync failed unexpectedly ({exc.__class__.__name__}); see the worker log.")
        raise
    else:
        _finish(endpoint, record)
    return record


def sync_vcenter(vcenter_id: int) -> SyncRecord | None:
    return _run(VCenter, vcenter_id, _read_and_store_vcenter)


def _read_and_store_vcenter(vcenter: VCenter, record: SyncRecord) -> None:
    from pyVmomi import vim

    from inventory.clients import sessions
    from inventory.clients.vsphere import VCenterCredentials
    from inventory.clients.vsphere_inventory import read_inventory

    from inventory.services import extension, watcher

    if watcher.request_full_sync(vcenter.pk):
        # A live watcher keeps this picture: it does the full sync itself, between its updates.
        record.counts = {"by": "watcher (asked)"}
        return
    credentials = VCenterCredentials.of(vcenter)
    si = sessions.session_for(credentials)
    seen = _watch_token(vcenter)
    try:
        snapshot = read_inventory(si)
    except ssl.SSLError as exc:
        # A kept-alive session met a new (or unusable) certificate on a new connection: refuse, and say which.
        sessions.forget(credentials)
        raise refusal(vcenter.host, vcenter.port, vcenter.certificate_sha256, exc) from None
    except vim.fault.InvalidLogin:
        # Logging in again failed: the password was changed in vCenter.
        sessions.forget(credentials)
        raise InvalidCredentials(
            f"vCenter {vcenter.host} no longer accepts the password of '{vcenter.username}'. Update it here."
        ) from None
    record.round_trips = snapshot.round_trips
    try:
        record.counts = snapshot_store.store_vcenter_snapshot(vcenter, snapshot, fence=_not_overtaken(vcenter, seen))
    except Overtaken:
        # A watcher started while this sync read: its picture is newer than this one.
        record.counts = {"by": "watcher (overtook this sync)"}
        return
    extension.refresh(vcenter, si)


class Overtaken(Exception):
    pass


def _watch_token(vcenter) -> int:
    from inventory.models import InventoryWatch

    watch, _ = InventoryWatch.objects.get_or_create(vcenter=vcenter)
    return watch.token


def _not_overtaken(vcenter, token: int):
    """The fence of a sync from a Celery worker: write only while no watcher took the vCenter's
    lease since this sync began reading (the lease row locked, so the check holds until commit)."""
    from inventory.models import InventoryWatch

    def check():
        row = InventoryWatch.objects.select_for_update().filter(vcenter=vcenter).values_list("token", "holder", "expires_at").first()
        if row is not None and (row[0] != token or (row[1] and row[2] and row[2] > timezone.now())):
            raise Overtaken()

    return check


def sync_nsx_manager(manager_id: int) -> SyncRecord | None:
    return _run(NsxManager, manager_id, _read_and_store_nsx)


def _read_and_store_nsx(manager: NsxManager, record: SyncRecord) -> None:
    client = endpoints.nsx_client(manager)
    try:
        record.counts = snapshot_store.store_nsx_snapshot(manager, client)
        record.round_trips = client.requests_sent
    finally:
        client.close()


def sync_all() -> int:
    """Queue a sync of every connection whose certificate is pinned (beat, periodically). A vCenter
    whose picture a watcher keeps live is fully synced less often (VIO_INVENTORY_FULL_SYNC_MINUTES):
    the safety net under the watcher."""
    queued = 0
    safety_net = timezone.now() - timedelta(minutes=settings.VIO_INVENTORY_FULL_SYNC_MINUTES)
    for model in (VCenter, NsxManager):
        rows = model.objects.exclude(certificate_sha256="")
        if model is VCenter:
            rows = rows.select_related("watch")
        for endpoint in rows:
            if endpoint.is_live and endpoint.watch.last_full_sync_at and endpoint.watch.last_full_sync_at > safety_net:
                continue
            queued += request_sync(endpoint)
    return queued
