"""A deployment's health and its repairs in the API: health with its findings (one deployment, or a
filtered list), and a repair of one finding started as a run. Thin: the health and repairs services."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse

from deployments.services import health, repairs
from vio_manager.access import audit
from vio_manager.api.errors import error_body
from vio_manager.api.schema import ErrorResponseSerializer

STATUSES = [health.HEALTHY, health.DEGRADED, health.FAILED, health.UNKNOWN, health.NOT_DEPLOYED]


class FindingObjectSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="VirtualMachine, HostSystem, Datastore, ClusterComputeResource; of "
                                           "OpenStack's view: NovaService, NeutronAgent, Endpoint")
    name = serializers.CharField()
    moid = serializers.CharField(allow_blank=True)


class FindingSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="stable while the problem lasts; POST it to repairs/")
    kind = serializers.CharField()
    severity = serializers.ChoiceField([health.ERROR, health.WARNING])
    message = serializers.CharField()
    advice = serializers.CharField()
    objects = FindingObjectSerializer(many=True)
    repair = serializers.CharField(allow_blank=True, help_text="what a repair does; empty when a person must act")
    repair_label = serializers.CharField(allow_blank=True)


class OpenStackViewSerializer(serializers.Serializer):
    state = serializers.ChoiceField(["checked", "failed", "skipped", "stale", "pending"],
                                    help_text="skipped on simulated hosts; stale when too old to count")
    checked_at = serializers.DateTimeField(allow_null=True, help_text="when OpenStack was last asked")
    reason = serializers.CharField(allow_blank=True)
    summary = serializers.DictField(child=serializers.IntegerField(), help_text="how many compute services, "
                                    "hypervisors, Neutron agents and public endpoints OpenStack listed")


class DeploymentHealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(STATUSES, help_text="unknown whenever the picture of vCenter is not live")
    label = serializers.CharField()
    live = serializers.BooleanField()
    confirmed_at = serializers.DateTimeField(allow_null=True, help_text="when vCenter last confirmed the picture")
    reason = serializers.CharField(allow_blank=True)
    findings = FindingSerializer(many=True)
    openstack = OpenStackViewSerializer(help_text="OpenStack's own view (its findings are among findings)")


class DeploymentHealthRowSerializer(DeploymentHealthSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class HealthQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(STATUSES, required=False)
    vcenter = serializers.IntegerField(required=False, min_value=1)


class RepairRequestSerializer(serializers.Serializer):
    finding = serializers.CharField(max_length=300, help_text="the finding's id, as health gives it")


class RepairRunSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    url = serializers.URLField()


class HealthMixin:
    """Mixed into DeploymentViewSet."""

    @extend_schema(responses={200: DeploymentHealthSerializer})
    @action(detail=True, methods=["get"], url_path="health", serializer_class=DeploymentHealthSerializer)
    def health(self, request, pk=None):
        """Health from the live picture of vCenter: what should exist against what does, with a finding
        per problem (its objects, what to do, and which repair fixes it)."""
        return Response(DeploymentHealthSerializer(health.evaluate(self.get_object()).as_dict()).data)

    @extend_schema(parameters=[HealthQuerySerializer], responses={200: DeploymentHealthRowSerializer(many=True)})
    @action(detail=False, methods=["get"], url_path="health", url_name="health-list", serializer_class=DeploymentHealthRowSerializer)
    def health_list(self, request):
        """Health of every deployment (filters: status, vcenter)."""
        query = HealthQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        deployments = self.filter_queryset(self.get_queryset()).defer("secrets")
        if query.validated_data.get("vcenter"):
            deployments = deployments.filter(vcenter_id=query.validated_data["vcenter"])
        deployments = list(deployments)
        judged = health.evaluate_many(deployments)
        rows = [dict(judged[d.pk].as_dict(), id=d.pk, name=d.name) for d in deployments]
        if query.validated_data.get("status"):
            rows = [row for row in rows if row["status"] == query.validated_data["status"]]
        page = self.paginate_queryset(rows)  # pages like every list (health is judged for all: a status filter needs it)
        return self.get_paginated_response(DeploymentHealthRowSerializer(page, many=True).data)

    @extend_schema(request=RepairRequestSerializer, responses={
        202: RepairRunSerializer,
        409: OpenApiResponse(ErrorResponseSerializer, description="no such finding now, no automatic repair, "
                                                                  "a run active, or health unknown")})
    @action(detail=True, methods=["post"], url_path="repairs", serializer_class=RepairRequestSerializer)
    def repairs(self, request, pk=None):
        """Repair one finding through the engine (202, Location of the repair run)."""
        deployment = self.get_object()
        body = RepairRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            run = repairs.repair(deployment, body.validated_data["finding"], user=request.user)
        except repairs.RepairRefused as exc:
            return Response(error_body("repair_refused", str(exc)), status=status.HTTP_409_CONFLICT)
        audit.record(request, "deployment.repair", deployment, {"finding": body.validated_data["finding"], "run": run.number})
        url = reverse("api-deployment-run", kwargs={"pk": deployment.pk, "number": run.number}, request=request)
        return Response(RepairRunSerializer({"run": run.number, "url": url}).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": url})

