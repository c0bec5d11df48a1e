"""The live inventory: one watcher per vCenter keeps the stored picture up to date with
WaitForUpdatesEx (inventory/clients/vsphere_watch.py), under a lease (services/lease.py).

How it runs: `manage.py watch_inventory` is one long-lived process; its Supervisor takes the lease of
every watchable vCenter it can (pinned, synced once), runs a Watcher thread for each, renews the
leases every VIO_WATCH_RENEW_SECONDS and writes vCenter's last answer into them (the picture's
"confirmed at"). Run it on as many machines as you like: a vCenter is watched by the one process
holding its lease; the others take over within VIO_WATCH_LEASE_SECONDS when it dies.

A Watcher: log in (a session of its own), make the filter, take the whole state from the first
answer and store it in place (a full sync, recorded as a SyncRecord), mark the picture live, then
apply each answer's changes in a small transaction (fenced by the lease, raising the datacenters'
generation). Any gap — the session lost, the filter gone, InvalidCollectorVersion, vCenter
unreachable, an error — marks the picture "recovering" and starts over with a full sync, after a
pause that grows while the gaps repeat. A full sync asked for meanwhile (beat's safety net, "Sync
now") is done by the watcher itself, so no sync ever writes an older picture over a newer change.
"""

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import F
from django.utils import timezone

from inventory.models import InventoryWatch, SyncRecord, VCenter, WatchState
from inventory.services import lease, snapshot_store

log = logging.getLogger(__name__)

MAX_PAUSE_SECONDS = 30


class Restart(Exception):
    """Start over with a full sync (asked for; not an error)."""


class Watcher:
    """Keeps one vCenter's stored picture live while this process holds its lease."""

    def __init__(self, vcenter_id: int, holder: str, token: int, poll_seconds: int | None = None):
        self.vcenter_id, self.holder, self.token = vcenter_id, holder, token
        self.poll_seconds = poll_seconds or settings.VIO_WATCH_POLL_SECONDS
        self.stop = threading.Event()
        self.last_answer = None  # when vCenter last answered (written into the lease by the supervisor)
        self.why = ""  # why it ended
        self.round_trips = 0

    # --- the thread ---------------------------------------------------------------------------

    def run(self) -> None:
        pause = 1.0
        try:
            while not self.stop.is_set():
                close_old_connections()
                try:
                    self.watch_once()
                    pause = 1.0
                except Restart:
                    pause = 1.0
                except lease.LeaseLost as exc:
                    self.why = str(exc)
                    log.warning("vCenter %s: %s; this watcher stops", self.vcenter_id, exc)
                    return
                except VCenter.DoesNotExist:
                    self.why = "the vCenter was removed"
                    return
                except Exception as exc:  # every gap: record it, pause, full sync again
                    from inventory.clients.vsphere import describe_failure

                    why = describe_failure(exc)
                    log.warning("vCenter %s: the watch stopped (%s); a full sync follows", self.vcenter_id, why,
                                exc_info=log.isEnabledFor(logging.DEBUG))
                    self._mark(state=WatchState.RECOVERING, live_since=None, last_gap=why)
                    self.stop.wait(pause)
                    pause = min(pause * 2, MAX_PAUSE_SECONDS)
        finally:
            connection.close()

    def _mark(self, **changes) -> None:
        try:
            lease.update(self.vcenter_id, self.holder, self.token, **changes)
        except Exception:  # the database itself may be the gap
            log.debug("could not record the watch state", exc_info=True)

    # --- one watch: a full sync, then updates until a gap -------------------------------------

    def watch_once(self) -> None:
        from inventory.clients.vsphere import VCenterCredentials, connect_with, unreachable_reason
        from inventory.clients.vsphere_watch import InventoryWatch as Filter

        vcenter = VCenter.objects.get(pk=self.vcenter_id)
        # A socket timeout well above the long polls: an answer may take long to make (the first is
        # the whole inventory; the simulator re-collects its whole filter for every change), and the
        # picture's liveness never waits for it: it goes "not live" once vCenter's answers stop.
        si = connect_with(VCenterCredentials.of(vcenter), timeout=settings.VIO_WATCH_SOCKET_SECONDS)
        watch = None
        try:
            watch = Filter(si)
            self.full_sync(vcenter, watch)
            self.follow(vcenter, watch)
        except BaseException as exc:
            if unreachable_reason(exc):
                raise  # nothing to free on a vCenter that does not answer (and each try would wait)
            self._close(si, watch)
            raise
        self._close(si, watch)

    def _close(self, si, watch) -> None:
        from inventory.clients.vsphere import disconnect

        if watch is not None:
            self.round_trips += watch.round_trips
            watch.close()
        disconnect(si)

    def full_sync(self, vcenter: VCenter, watch) -> None:
        started = timezone.now()
        record = SyncRecord.objects.create(vcenter=vcenter, started_at=started)
        watch.next(self.poll_seconds)  # version "": the whole state
        self.last_answer = timezone.now()
        counts = snapshot_store.store_vcenter_snapshot(vcenter, watch.mirror.snapshot(),
                                                       fence=lease.fence(self.vcenter_id, self.holder, self.token))
        now = timezone.now()
        record.finished_at, record.ok, record.round_trips = now, True, watch.round_trips
        record.counts = {**counts, "by": "watcher"}
        record.save()
        VCenter.objects.filter(pk=vcenter.pk).update(last_synced_at=now, last_sync_error="", updated_at=now)
        self._mark(state=WatchState.LIVE, live_since=now, confirmed_at=now, last_full_sync_at=now,
                   full_syncs=F("full_syncs") + 1, resync_requested_at=None)
        log.info("vCenter %s is live (%s VMs, %s hosts) after %.1f s", vcenter.pk, counts["vms"], counts["hosts"],
                 (now - started).total_seconds())
        from inventory.services import extension

        extension.refresh(vcenter, si=watch.si)

    def follow(self, vcenter: VCenter, watch) -> None:
        fence = lease.fence(self.vcenter_id, self.holder, self.token)
        while not self.stop.is_set():
            changes = watch.next(self.poll_seconds)
            self.last_answer = timezone.now()
            close_old_connections()
            if changes:
                started = time.monotonic()
                if changes.others:  # hosts, clusters, rules, datastores, networks…: compared in place
                    snapshot_store.store_vcenter_snapshot(vcenter, watch.mirror.snapshot(), fence=fence)
                else:
                    snapshot_store.store_vm_changes(vcenter, watch.mirror.vm_rows(changes.vms),
                                                    sorted(changes.vms_gone), fence=fence)
                self._mark(updates_applied=F("updates_applied") + changes.objects)
                log.debug("vCenter %s: %d objects changed, stored in %.3f s", vcenter.pk, changes.objects,
                          time.monotonic() - started)
            asked = InventoryWatch.objects.filter(pk=self.vcenter_id).values_list("resync_requested_at", flat=True).first()
            if asked is not None:
                raise Restart("a full sync was asked for")


class Supervisor:
    """Takes, renews and gives up leases; runs a Watcher thread per vCenter it holds."""

    def __init__(self, vcenter_ids: list[int] | None = None, holder: str | None = None):
        self.only = set(vcenter_ids or [])
        self.holder = holder or lease.new_holder()
        self.watchers: dict[int, tuple[Watcher, threading.Thread]] = {}

    def candidates(self) -> list[int]:
        """vCenters to watch: pinned and synced once (the first full sync came from the connection)."""
        rows = VCenter.objects.exclude(certificate_sha256="").filter(last_synced_at__isnull=False)
        if self.only:
            rows = rows.filter(pk__in=self.only)
        return list(rows.values_list("pk", flat=True))

    def tick(self) -> None:
        close_old_connections()
        for vcenter_id, (watcher, thread) in list(self.watchers.items()):
            if not thread.is_alive():
                lease.release(vcenter_id, self.holder, watcher.token, watcher.why)
                del self.watchers[vcenter_id]
            elif not lease.renew(vcenter_id, self.holder, watcher.token, watcher.last_answer):
                log.warning("vCenter %s: the lease was taken over; stopping this watcher", vcenter_id)
                watcher.stop.set()
                del self.watchers[vcenter_id]
        for vcenter_id in self.candidates():
            if vcenter_id in self.watchers:
                continue
            token = lease.acquire(vcenter_id, self.holder)
            if token is None:
                continue
            watcher = Watcher(vcenter_id, self.holder, token)
            thread = threading.Thread(target=watcher.run, name=f"watch-vcenter-{vcenter_id}", daemon=True)
            self.watchers[vcenter_id] = (watcher, thread)
            thread.start()
            log.info("watching vCenter %s (lease token %s, holder %s)", vcenter_id, token, self.holder)

    def run(self, stop: threading.Event) -> None:
        log.info("inventory watcher %s started", self.holder)
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except Exception:  # the database away for a moment: the leases run out, others take over
                    log.exception("the watcher supervisor's round failed")
                stop.wait(settings.VIO_WATCH_RENEW_SECONDS)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        for watcher, _ in self.watchers.values():
            watcher.stop.set()
        for vcenter_id, (watcher, thread) in self.watchers.items():
            thread.join(watcher.poll_seconds + 10)
            try:
                lease.release(vcenter_id, self.holder, watcher.token, "the watcher process stopped")
            except Exception:
                log.debug("could not release a lease", exc_info=True)
        self.watchers.clear()
        connection.close()
        log.info("inventory watcher %s stopped", self.holder)


def request_full_sync(vcenter_id: int) -> bool:
    """Ask the live watcher of this vCenter for a full sync; False when none is live (sync yourself)."""
    watch = InventoryWatch.objects.filter(pk=vcenter_id).first()
    if watch is None or not watch.is_live:
        return False
    return InventoryWatch.objects.filter(pk=vcenter_id, holder=watch.holder, token=watch.token).update(
        resync_requested_at=timezone.now()) == 1
