"""Shapes of the connection actions' answers that are not a model (the views render these, so the
OpenAPI schema and the answers cannot drift apart)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.choices import NetworkKind, SyncState
from vio_manager.api.schema import ErrorResponseSerializer

PRESENTED_CERTIFICATE = {
    "type": "object",
    "description": "the certificate the server presented last, for review before accepting it",
    "properties": {
        "sha256": {"type": "string", "description": "SHA-256 fingerprint, AA:BB:…"},
        "subject": {"type": "string"},
        "issuer": {"type": "string"},
        "not_before": {"type": "string", "format": "date-time"},
        "not_after": {"type": "string", "format": "date-time"},
        "fetched_at": {"type": "string", "format": "date-time"},
    },
}


@extend_schema_field(PRESENTED_CERTIFICATE)
class PresentedCertificateField(serializers.JSONField):
    pass


class CertificateConflictSerializer(ErrorResponseSerializer):
    """The server presents another certificate than the one reviewed: review this one."""

    presented_certificate = PresentedCertificateField()


class SyncRequestedSerializer(serializers.Serializer):
    sync_state = serializers.ChoiceField(SyncState.choices)
    requested_at = serializers.DateTimeField(allow_null=True)


class KindSummarySerializer(serializers.Serializer):
    count = serializers.IntegerField()
    url = serializers.URLField()


class InventorySummarySerializer(serializers.Serializer):
    """What the picture holds: when synced, whether it is live, and per kind a count and the URL of the list."""

    last_synced_at = serializers.DateTimeField(allow_null=True)
    is_stale = serializers.BooleanField(help_text="not live, and no successful sync in two sync periods")
    sync_state = serializers.ChoiceField(SyncState.choices)
    is_live = serializers.BooleanField(help_text="a watcher keeps the picture live (see live/)")
    confirmed_at = serializers.DateTimeField(allow_null=True, help_text="vCenter's last answer to the watcher")
    live = serializers.URLField(help_text="the liveness of the picture: cheap to poll")

    KINDS: tuple[str, ...] = ()  # set by the views: the inventory kinds, e.g. "resource-pools"

    def get_fields(self):
        fields = super().get_fields()
        for kind in self.KINDS:  # the kinds are keys with hyphens: not attribute names
            fields[kind] = KindSummarySerializer()
        return fields


class InventoryFilterSerializer(serializers.Serializer):
    """The list filters; each applies to the kinds it names and is ignored by the others."""

    datacenter = serializers.CharField(required=False, max_length=512, help_text="a datacenter's moid (all kinds that have one)")
    cluster = serializers.CharField(required=False, max_length=512, help_text="a cluster's moid: hosts and resource pools "
                                    "in it, datastores and networks usable from every host of it")
    kind = serializers.ChoiceField(NetworkKind.choices, required=False, help_text="networks only")
    name = serializers.CharField(required=False, max_length=255, help_text="the name contains this (any case)")


class VmFilterSerializer(serializers.Serializer):
    """The VM list's filters (all optional, combined with AND)."""

    name = serializers.CharField(required=False, max_length=255, help_text="the name contains this (any case)")
    power_state = serializers.ChoiceField(["poweredOn", "poweredOff", "suspended"], required=False)
    host = serializers.CharField(required=False, max_length=255, help_text="a host's moid")
    cluster = serializers.CharField(required=False, max_length=255, help_text="a cluster's moid")
    deployment = serializers.CharField(required=False, max_length=64, help_text="a deployment's id (its VMs' tag)")
    template = serializers.BooleanField(required=False, allow_null=True, default=None,
                                        help_text="true: templates only; false: VMs only")
