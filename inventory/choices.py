"""Statuses of vCenter and NSX Manager connections and of their inventory syncs, with named groups."""

from django.db import models


class ConnectionStatus(models.TextChoices):
    CERTIFICATE_PENDING = "certificate_pending", "Certificate to review"
    CONNECTED = "connected", "Connected"
    CERTIFICATE_CHANGED = "certificate_changed", "Certificate changed"
    ERROR = "error", "Connection error"


NEEDS_CERTIFICATE = frozenset({ConnectionStatus.CERTIFICATE_PENDING, ConnectionStatus.CERTIFICATE_CHANGED})


class SyncState(models.TextChoices):
    IDLE = "idle", "Idle"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"


SYNC_ACTIVE = frozenset({SyncState.QUEUED, SyncState.RUNNING})


class NetworkKind(models.TextChoices):
    STANDARD = "standard", "Standard port group"
    DISTRIBUTED = "distributed", "Distributed port group"
    OPAQUE = "opaque", "Opaque network"
