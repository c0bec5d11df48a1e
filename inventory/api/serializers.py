from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory import models as m
from inventory.api.responses import PresentedCertificateField
from inventory.choices import SyncState


class EndpointSerializer(serializers.ModelSerializer):
    """vCenter and NSX Manager connections. The password is write-only: never returned; an
    update without it keeps the stored one."""

    password = serializers.CharField(write_only=True, required=False, allow_blank=False, trim_whitespace=False,
                                     style={"input_type": "password"})
    pinned_certificate_sha256 = serializers.CharField(source="certificate_sha256", read_only=True)
    presented_certificate = PresentedCertificateField(read_only=True)
    is_stale = serializers.BooleanField(read_only=True)

    class Meta:
        fields = [
            "id", "url", "name", "host", "port", "username", "password", "pinned_certificate_sha256",
            "presented_certificate", "status", "status_code", "status_message", "checked_at", "sync_state",
            "last_synced_at", "last_sync_error", "is_stale", "created_at", "updated_at",
        ]
        read_only_fields = [
            "presented_certificate", "status", "status_code", "status_message", "checked_at", "sync_state",
            "last_synced_at", "last_sync_error", "created_at", "updated_at",
        ]

    def validate(self, attrs):
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": ["This field is required."]}, code="required")
        return attrs


class LivenessSerializer(serializers.Serializer):
    """Whether the stored picture is kept live by a watcher, and since when vCenter last confirmed it."""

    is_live = serializers.BooleanField(help_text="a watcher holds the lease and vCenter answered it lately")
    state = serializers.ChoiceField(m.WatchState.choices)
    live_since = serializers.DateTimeField(allow_null=True, help_text="the watcher's full picture stored, updates since")
    confirmed_at = serializers.DateTimeField(allow_null=True, help_text="vCenter's last answer to the watcher")
    last_full_sync_at = serializers.DateTimeField(allow_null=True)
    last_gap = serializers.CharField(allow_blank=True, help_text="why the last watch ended (a full sync followed)")
    last_synced_at = serializers.DateTimeField(allow_null=True)
    sync_state = serializers.ChoiceField(SyncState.choices)
    generation = serializers.IntegerField(help_text="rises with every change stored: poll it, reload on a change")


class ExtensionSerializer(serializers.Serializer):
    """The appliance's registration as an extension of this vCenter (ExtensionManager)."""

    state = serializers.ChoiceField(m.ExtensionState.choices)
    key = serializers.CharField(allow_blank=True)
    version = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True)
    thumbprint = serializers.CharField(allow_blank=True, help_text="SHA-1 of the appliance's certificate ('' over http)")
    checked_at = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)


class VCenterSerializer(EndpointSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-vcenter-detail")
    inventory = serializers.HyperlinkedIdentityField(view_name="api-vcenter-inventory", lookup_url_kwarg="vcenter_pk")
    live = serializers.SerializerMethodField()
    extension = serializers.SerializerMethodField()

    class Meta(EndpointSerializer.Meta):
        model = m.VCenter
        fields = EndpointSerializer.Meta.fields + ["about", "inventory", "live", "extension"]
        read_only_fields = EndpointSerializer.Meta.read_only_fields + ["about"]

    @extend_schema_field(LivenessSerializer)
    def get_live(self, vcenter) -> dict:
        from inventory.services.live import liveness

        return LivenessSerializer(liveness(vcenter)).data

    @extend_schema_field(ExtensionSerializer)
    def get_extension(self, vcenter) -> dict:
        details = vcenter.extension or {}
        return ExtensionSerializer({"state": vcenter.extension_state, **{
            name: str(details.get(name) or "") for name in ("key", "version", "url", "thumbprint", "checked_at", "message")}}).data


class NsxManagerSerializer(EndpointSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-nsx-manager-detail")
    vcenter = serializers.PrimaryKeyRelatedField(queryset=m.VCenter.objects.all())
    meets_minimum_version = serializers.SerializerMethodField()

    class Meta(EndpointSerializer.Meta):
        model = m.NsxManager
        fields = EndpointSerializer.Meta.fields + [
            "vcenter", "version", "meets_minimum_version", "vds_contexts", "fabric", "registration"]
        read_only_fields = EndpointSerializer.Meta.read_only_fields + ["version", "vds_contexts", "fabric", "registration"]

    def get_meets_minimum_version(self, manager) -> bool | None:
        from inventory.services.nsx_checks import meets_minimum_version

        return meets_minimum_version(manager.version) if manager.version else None


class AcceptCertificateSerializer(serializers.Serializer):
    fingerprint = serializers.CharField(max_length=200, help_text="The SHA-256 fingerprint you reviewed, e.g. 4F:1A:…")


class SyncRecordSerializer(serializers.ModelSerializer):
    seconds = serializers.FloatField(read_only=True, allow_null=True, help_text="null while it runs")

    class Meta:
        model = m.SyncRecord
        fields = ["id", "started_at", "finished_at", "seconds", "ok", "error", "round_trips", "counts"]


class ClusterSerializer(serializers.ModelSerializer):
    datacenter = serializers.CharField(source="datacenter.moid")

    class Meta:
        model = m.Cluster
        fields = ["moid", "name", "datacenter", "host_count", "cpu_cores", "cpu_mhz", "cpu_used_mhz", "memory_bytes",
                  "memory_used_bytes", "drs_enabled", "ha_enabled", "resource_pool_moid"]


class HostSerializer(serializers.ModelSerializer):
    datacenter = serializers.CharField(source="datacenter.moid")
    cluster = serializers.CharField(source="cluster.moid", allow_null=True, default=None)

    class Meta:
        model = m.Host
        fields = ["moid", "name", "datacenter", "cluster", "connection_state", "power_state", "in_maintenance_mode",
                  "cpu_cores", "cpu_mhz", "cpu_used_mhz", "memory_bytes", "memory_used_bytes", "version"]


class DatastoreSerializer(serializers.ModelSerializer):
    datacenter = serializers.CharField(source="datacenter.moid")
    clusters = serializers.SlugRelatedField(many=True, read_only=True, slug_field="moid")
    shared = serializers.BooleanField(read_only=True)

    class Meta:
        model = m.Datastore
        fields = ["moid", "name", "datacenter", "type", "url", "capacity_bytes", "free_bytes", "accessible",
                  "maintenance_mode", "shared", "host_moids", "clusters"]


class NetworkSerializer(serializers.ModelSerializer):
    datacenter = serializers.CharField(source="datacenter.moid")
    switch = serializers.CharField(source="switch.moid", allow_null=True, default=None)
    clusters = serializers.SlugRelatedField(many=True, read_only=True, slug_field="moid")

    class Meta:
        model = m.Network
        fields = ["moid", "name", "datacenter", "kind", "switch", "vlan_id", "vlan_trunk", "uplink", "host_moids", "clusters"]


class SwitchSerializer(serializers.ModelSerializer):
    datacenter = serializers.CharField(source="datacenter.moid")

    class Meta:
        model = m.DistributedSwitch
        fields = ["moid", "name", "datacenter", "uuid", "version", "mtu", "host_moids"]


class DatacenterSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.Datacenter
        fields = ["moid", "name"]


class ResourcePoolSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.moid", allow_null=True, default=None)

    class Meta:
        model = m.ResourcePool
        fields = ["moid", "name", "cluster", "parent_moid"]


class FolderSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.Folder
        fields = ["moid", "name", "parent_moid", "child_types"]


class VmTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.VmTemplate
        fields = ["moid", "name"]


class VirtualMachineSerializer(serializers.ModelSerializer):
    datacenter = serializers.CharField(source="datacenter.moid", allow_null=True, default=None)
    host = serializers.CharField(source="host_moid")
    cluster = serializers.CharField(source="cluster_moid")
    resource_pool = serializers.CharField(source="resource_pool_moid")
    folder = serializers.CharField(source="folder_moid")
    deployment = serializers.CharField(source="deployment_id", help_text="the VIO Manager deployment that made it ('' if none)")

    class Meta:
        model = m.VirtualMachine
        fields = ["moid", "name", "datacenter", "host", "cluster", "resource_pool", "folder", "power_state",
                  "connection_state", "tools_running_status", "ip_address", "ip_addresses", "deployment", "role",
                  "custom_values", "template", "cpu_count", "memory_mb"]


class TransportZoneSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.NsxTransportZone
        fields = ["object_id", "name", "control_plane_mode", "cluster_moids"]


class EdgeSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.NsxEdge
        fields = ["object_id", "name", "edge_type", "state", "status", "datacenter_moid", "appliance_version"]


class ControllerSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.NsxController
        fields = ["object_id", "name", "ip_address", "status"]
