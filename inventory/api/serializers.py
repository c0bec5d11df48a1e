from rest_framework import serializers

from inventory import models as m
from inventory.api.responses import PresentedCertificateField


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


class VCenterSerializer(EndpointSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-vcenter-detail")
    inventory = serializers.HyperlinkedIdentityField(view_name="api-vcenter-inventory", lookup_url_kwarg="vcenter_pk")

    class Meta(EndpointSerializer.Meta):
        model = m.VCenter
        fields = EndpointSerializer.Meta.fields + ["about", "inventory"]
        read_only_fields = EndpointSerializer.Meta.read_only_fields + ["about"]


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
    fingerprint = serializers.CharField(help_text="The SHA-256 fingerprint you reviewed, e.g. 4F:1A:…")


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
