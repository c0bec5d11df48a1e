"""Shapes of the deployment and template actions' answers that are not a model: validate, plan,
retry, cancel, teardown and the template document. The views render these, so the OpenAPI schema
and the answers cannot drift apart."""

from rest_framework import serializers

from deployments.choices import DeploymentStatus, RunStatus
from deployments.spec import ADVISORY, BLOCKING, DeploymentSpec
from vio_manager.api.fields import PydanticJSONField


class IssueSerializer(serializers.Serializer):
    path = serializers.CharField(allow_blank=True, help_text="JSON path inside the spec, e.g. \"management_network.gateway\"")
    code = serializers.CharField()
    message = serializers.CharField()
    severity = serializers.ChoiceField([BLOCKING, ADVISORY], help_text="advisory warnings must be acknowledged to deploy")


class CheckedIssueSerializer(IssueSerializer):
    field = serializers.CharField(help_text="JSON path in the request, e.g. \"spec.management_network.gateway\"")
    key = serializers.CharField(help_text="send the keys of the advisory warnings you accept in 'acknowledge'")


class ValidationResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField(help_text="no blocking issue: the spec can be deployed (once its warnings are acknowledged)")
    issues = CheckedIssueSerializer(many=True)


class PlannedVmSerializer(serializers.Serializer):
    role = serializers.CharField()
    role_label = serializers.CharField()
    name = serializers.CharField()
    vcpu = serializers.IntegerField()
    memory_gb = serializers.IntegerField()
    disk_gb = serializers.IntegerField()
    datastore = serializers.CharField(allow_blank=True)
    management_ip = serializers.CharField(allow_blank=True)
    external_ip = serializers.CharField(allow_blank=True)


class TotalsSerializer(serializers.Serializer):
    vcpu = serializers.IntegerField()
    memory_gb = serializers.IntegerField()
    disk_gb = serializers.IntegerField()


class ClusterFreeSerializer(serializers.Serializer):
    cpu_cores = serializers.IntegerField(allow_null=True)
    memory_gb = serializers.IntegerField(allow_null=True)


class AddressesNeededSerializer(serializers.Serializer):
    management = serializers.IntegerField()
    external = serializers.IntegerField()


class PlanSerializer(serializers.Serializer):
    vms = PlannedVmSerializer(many=True)
    internal_vip = serializers.CharField(allow_blank=True)
    public_vip = serializers.CharField(allow_blank=True)
    anti_affinity = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                          help_text="rule name: the VMs kept on different hosts")
    totals = TotalsSerializer()
    management_cluster_free = ClusterFreeSerializer(help_text="null when the cluster is not in the synced inventory")
    datastore_free_gb = serializers.DictField(child=serializers.IntegerField(), help_text="datastore name: free GB")
    addresses_needed = AddressesNeededSerializer()
    issues = IssueSerializer(many=True)


class RunActionSerializer(serializers.Serializer):
    run = serializers.IntegerField(help_text="the run's number")
    status = serializers.ChoiceField([RunStatus.RUNNING, RunStatus.CANCELLING])


class TeardownSerializer(serializers.Serializer):
    status = serializers.ChoiceField([DeploymentStatus.TEARING_DOWN])


class TemplateDocumentSerializer(serializers.Serializer):
    """A template file: what download gives and import takes (secrets never in it)."""

    kind = serializers.CharField(help_text="vio-manager/deployment-template")
    name = serializers.CharField(allow_blank=True)
    schema_version = serializers.IntegerField()
    spec = PydanticJSONField(DeploymentSpec, help_text="the spec without its secrets")
