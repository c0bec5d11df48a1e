from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from inventory.choices import SYNC_ACTIVE, ConnectionStatus, SyncState
from inventory.models.live import ExtensionState
from vio_manager.crypto import EncryptedTextField


class Endpoint(models.Model):
    """A server we log in to over certificate-pinned HTTPS: vCenter or NSX Manager."""

    name = models.CharField(max_length=100, unique=True, help_text="A name for this connection, e.g. 'vcsa-prod'.")
    host = models.CharField(max_length=255, help_text="DNS name or IP address.")
    port = models.PositiveIntegerField(default=443, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    username = models.CharField(max_length=255)
    password = EncryptedTextField()
    certificate_sha256 = models.CharField(
        max_length=95, blank=True, help_text="The SHA-256 fingerprint the administrator accepted (pinned)."
    )
    presented_certificate = models.JSONField(
        default=dict, blank=True, help_text="The certificate last presented: subject, issuer, validity, sha256."
    )
    status = models.CharField(max_length=32, choices=ConnectionStatus.choices, default=ConnectionStatus.CERTIFICATE_PENDING)
    status_code = models.CharField(max_length=64, blank=True, help_text="Machine-readable reason of an error.")
    status_message = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    sync_state = models.CharField(max_length=16, choices=SyncState.choices, default=SyncState.IDLE)
    sync_requested_at = models.DateTimeField(null=True, blank=True)
    sync_started_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_sync_error = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_pinned(self) -> bool:
        return bool(self.certificate_sha256)

    @property
    def is_syncing(self) -> bool:
        return self.sync_state in SYNC_ACTIVE

    @property
    def is_live(self) -> bool:
        """Kept live by a watcher (vCenter only; an NSX Manager is synced, never watched)."""
        watch = getattr(self, "watch", None) if isinstance(self, VCenter) else None
        return bool(watch is not None and watch.is_live)

    @property
    def is_stale(self) -> bool:
        """No successful sync within two sync periods: the picture may no longer be true."""
        if self.last_synced_at is None:
            return True
        if self.is_live:
            return False
        period = timedelta(minutes=settings.VIO_INVENTORY_SYNC_MINUTES)
        return timezone.now() - self.last_synced_at > 2 * period


class VCenter(Endpoint):
    about = models.JSONField(default=dict, blank=True, help_text="vCenter's About: fullName, version, instanceUuid.")
    extension_state = models.CharField(max_length=16, choices=ExtensionState.choices, default=ExtensionState.NOT_REGISTERED,
                                       help_text="the appliance's registration as an extension of this vCenter")
    extension = models.JSONField(default=dict, blank=True,
                                 help_text="what is registered: key, version, url, thumbprint, checked_at, message")

    class Meta(Endpoint.Meta):
        verbose_name = "vCenter"
        constraints = [models.UniqueConstraint(fields=["host", "port"], name="unique_vcenter_address")]


class NsxManager(Endpoint):
    vcenter = models.ForeignKey(VCenter, on_delete=models.PROTECT, related_name="nsx_managers")
    version = models.CharField(max_length=32, blank=True)
    vds_contexts = models.JSONField(default=list, blank=True)
    fabric = models.JSONField(default=dict, blank=True, help_text="Per cluster moid: host preparation and VXLAN status.")
    registration = models.JSONField(default=dict, blank=True, help_text="The vCenter NSX Manager is registered with.")

    class Meta(Endpoint.Meta):
        verbose_name = "NSX Manager"
        constraints = [models.UniqueConstraint(fields=["host", "port"], name="unique_nsx_address")]


class SyncRecord(models.Model):
    """One inventory sync: when, how long, how many round trips, what it found or why it failed."""

    vcenter = models.ForeignKey(VCenter, null=True, blank=True, on_delete=models.CASCADE, related_name="sync_records")
    nsx_manager = models.ForeignKey(NsxManager, null=True, blank=True, on_delete=models.CASCADE, related_name="sync_records")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    round_trips = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["vcenter", "-started_at"]), models.Index(fields=["nsx_manager", "-started_at"])]

    @property
    def seconds(self) -> float | None:
        return (self.finished_at - self.started_at).total_seconds() if self.finished_at else None
