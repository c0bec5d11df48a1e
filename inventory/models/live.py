"""The live inventory's bookkeeping: one row per vCenter holding the watcher's lease (who watches,
until when) and what the watcher last confirmed; and the appliance's registration as a vCenter
extension. Liveness is read from here by the pages and the API, in one query."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class WatchState(models.TextChoices):
    IDLE = "idle", "Not watched"
    STARTING = "starting", "Reading the whole picture"
    LIVE = "live", "Live"
    RECOVERING = "recovering", "Recovering from a gap"


class InventoryWatch(models.Model):
    """The lease of the one watcher of a vCenter, and the picture's liveness.

    The lease is taken and renewed with compare-and-set updates (services/lease.py): a holder
    keeps it while it renews before expires_at; anyone may take it once it expired. `token` rises at
    every take-over and fences writes: a watcher writes the picture only in a transaction that
    finds its own holder and token still in this row."""

    vcenter = models.OneToOneField("inventory.VCenter", primary_key=True, on_delete=models.CASCADE, related_name="watch")
    holder = models.CharField(max_length=200, blank=True, help_text="host:pid:id of the watcher holding the lease")
    token = models.PositiveBigIntegerField(default=0, help_text="raised at every take-over (fencing)")
    expires_at = models.DateTimeField(null=True, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=WatchState.choices, default=WatchState.IDLE)
    live_since = models.DateTimeField(null=True, blank=True, help_text="the watcher's full picture stored; updates follow")
    confirmed_at = models.DateTimeField(null=True, blank=True, help_text="the watcher's last answer from vCenter")
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    full_syncs = models.PositiveIntegerField(default=0, help_text="full reads by watchers (start and gaps)")
    updates_applied = models.PositiveBigIntegerField(default=0)
    last_gap = models.TextField(blank=True, help_text="why the last watch ended and a full sync followed")
    resync_requested_at = models.DateTimeField(null=True, blank=True, help_text="a full sync asked of the watcher")

    def __str__(self) -> str:
        return f"watch of {self.vcenter_id}: {self.state}"

    @property
    def is_live(self) -> bool:
        now = timezone.now()
        fresh = now - timedelta(seconds=settings.VIO_INVENTORY_LIVE_SECONDS)
        return bool(self.state == WatchState.LIVE and self.holder and self.expires_at and self.expires_at > now
                    and self.confirmed_at and self.confirmed_at > fresh)


class ExtensionState(models.TextChoices):
    NOT_REGISTERED = "not_registered", "Not registered"
    REGISTERED = "registered", "Registered"
    FAILED = "failed", "Registration failed"


EXTENSION_UNKNOWN = frozenset({ExtensionState.NOT_REGISTERED, ExtensionState.FAILED})
