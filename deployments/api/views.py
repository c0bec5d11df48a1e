"""REST API for deployments and templates: thin, the services validate and create."""

from django.http import JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse

from deployments.api import responses as r
from deployments.api import serializers as s
from deployments.api.health import HealthMixin
from deployments.api.issues import issues_response
from deployments.api.revisions import RevisionsMixin
from deployments.api.status_views import DeploymentStatusMixin
from deployments.models import Deployment, DeploymentTemplate
from deployments.services import launch, templates
from deployments.services.launch import warning_key
from vio_manager.access import audit
from vio_manager.api.downloads import attachment
from vio_manager.api.errors import error_body
from vio_manager.api.idempotency import idempotent
from vio_manager.api.schema import ErrorResponseSerializer

LOCATION = OpenApiParameter("Location", OpenApiTypes.URI, OpenApiParameter.HEADER, response=[201, 202],
                            description="the URL of what was created")


class DeploymentViewSet(DeploymentStatusMixin, RevisionsMixin, HealthMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        mixins.DestroyModelMixin, viewsets.GenericViewSet):
    queryset = Deployment.objects.select_related("vcenter").order_by("-created_at")
    serializer_class = s.DeploymentSerializer

    def get_serializer_class(self):
        if self.action == "create":
            return s.CreateDeploymentSerializer
        if self.action in ("validate", "plan"):
            return s.SpecRequestSerializer
        if self.action == "save_as_template":
            return s.SaveTemplateSerializer
        return s.DeploymentSerializer

    @extend_schema(request=s.CreateDeploymentSerializer, parameters=[LOCATION], responses={
        202: OpenApiResponse(s.DeploymentSerializer, description="created; its first run is queued"),
        400: OpenApiResponse(ErrorResponseSerializer, description="invalid spec (code \"invalid\") or advisory warnings "
                             "to acknowledge (code \"acknowledgement_required\"); errors[].field is the JSON path")})
    @idempotent
    def create(self, request):
        """Validate the spec again, create the deployment and start its first run (202)."""
        body = s.CreateDeploymentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            deployment = launch.create_deployment(body.validated_data["spec"], user=request.user,
                                                  acknowledged=set(body.validated_data["acknowledge"]))
        except launch.NeedsAcknowledgement as exc:
            return issues_response("acknowledgement_required",
                                   "Acknowledge these warnings (send their keys in 'acknowledge') to deploy.", exc.issues)
        except launch.SpecInvalid as exc:
            first = exc.issues[0]
            return issues_response("invalid", f"spec.{first.path}: {first.message}", exc.issues)
        audit.record(request, "deployment.create", deployment,
                     {"vcenter": deployment.vcenter.name, "acknowledged": deployment.acknowledged})
        data = s.DeploymentSerializer(deployment, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": str(data["url"])})

    @extend_schema(request=s.SpecRequestSerializer, responses={200: r.ValidationResultSerializer})
    @action(detail=False, methods=["post"])
    def validate(self, request):
        """Dry run: the same errors and warnings as the wizard, nothing created."""
        body = s.SpecRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        spec, blocking, advisory = launch.check(body.validated_data["spec"])
        return Response(r.ValidationResultSerializer({
            "valid": spec is not None and not blocking,
            "issues": [dict(i.as_dict(), field="spec." + i.path, key=warning_key(i)) for i in blocking + advisory],
        }).data)

    @extend_schema(request=s.SpecRequestSerializer, responses={200: r.PlanSerializer})
    @action(detail=False, methods=["post"])
    def plan(self, request):
        """The plan preview: every VM with its size, datastore and addresses, and the totals."""
        body = s.SpecRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            return Response(r.PlanSerializer(launch.preview(body.validated_data["spec"])).data)
        except launch.SpecInvalid as exc:
            return issues_response("invalid", "The spec is not valid; fix these first.", exc.issues)

    @extend_schema(responses={202: r.TeardownSerializer, 409: ErrorResponseSerializer})
    def destroy(self, request, pk=None):
        """Tear down everything the deployment made in vCenter, release its addresses, delete it (202)."""
        from deployments.services.run_actions import Refused, teardown

        deployment = self.get_object()
        try:
            teardown(deployment)
        except Refused as exc:
            return Response(error_body("run_active", str(exc)), status=status.HTTP_409_CONFLICT)
        audit.record(request, "deployment.teardown", deployment)
        return Response({"status": "tearing_down"}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: r.RunActionSerializer, 409: ErrorResponseSerializer})
    @action(detail=True, methods=["post"], serializer_class=serializers.Serializer)
    def retry(self, request, pk=None):
        """Resume the failed or stopped run from where it ended (202): its failed and stopped steps run
        again, after what the done steps made is checked against vCenter; 409 unless it failed or stopped."""
        from deployments.services.run_actions import Refused, resume

        deployment = self.get_object()
        try:
            run = resume(deployment)
        except Refused as exc:
            return Response(error_body("not_resumable", str(exc)), status=status.HTTP_409_CONFLICT)
        audit.record(request, "deployment.retry", deployment, {"run": run.number})
        return Response({"run": run.number, "status": "running"}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: r.RunActionSerializer, 409: ErrorResponseSerializer})
    @action(detail=True, methods=["post"], serializer_class=serializers.Serializer)
    def cancel(self, request, pk=None):
        """Stop the run, cooperatively (202): running steps finish, no new step starts."""
        from deployments.services.run_actions import Refused, cancel

        deployment = self.get_object()
        try:
            run = cancel(deployment)
        except Refused as exc:
            return Response(error_body("not_active", str(exc)), status=status.HTTP_409_CONFLICT)
        audit.record(request, "deployment.cancel", deployment, {"run": run.number})
        return Response({"run": run.number, "status": "cancelling"}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.SaveTemplateSerializer, responses={201: s.TemplateSerializer})
    @action(detail=True, methods=["post"], url_path="save-as-template")
    def save_as_template(self, request, pk=None):
        """Save the deployment's spec, without secrets, as a template to deploy again."""
        deployment = self.get_object()
        body = s.SaveTemplateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            template = templates.save_as_template(deployment.spec, user=request.user, deployment=deployment,
                                                  **body.validated_data)
        except templates.TemplateInvalid as exc:
            return issues_response("invalid", str(exc), exc.issues, prefix="template.")
        audit.record(request, "template.create", template, {"from_deployment": deployment.name})
        return Response(s.TemplateSerializer(template, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)


class TemplateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                      mixins.UpdateModelMixin, viewsets.GenericViewSet):
    queryset = DeploymentTemplate.objects.order_by("name")
    serializer_class = s.TemplateSerializer

    def get_serializer_class(self):
        return s.ImportTemplateSerializer if self.action == "create" else s.TemplateSerializer

    def perform_update(self, serializer):
        super().perform_update(serializer)
        audit.record(self.request, "template.update", serializer.instance, {"fields": sorted(serializer.validated_data)})

    def perform_destroy(self, instance):
        target = audit.Target.of(instance)
        super().perform_destroy(instance)
        audit.record(self.request, "template.delete", target)

    @extend_schema(request=s.ImportTemplateSerializer, responses={201: s.TemplateSerializer}, parameters=[LOCATION])
    @idempotent
    def create(self, request):
        """Import a template document; unknown or invalid fields are refused, each named."""
        body = s.ImportTemplateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        document = body.validated_data["template"]
        try:
            template = templates.import_template(document, name=body.validated_data.get("name", ""),
                                                 description=body.validated_data.get("description", ""), user=request.user)
        except templates.TemplateInvalid as exc:
            first = exc.issues[0]
            return issues_response("invalid", f"{first.path}: {first.message}", exc.issues, prefix="template.")
        audit.record(request, "template.import", template)
        data = s.TemplateSerializer(template, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": str(data["url"])})

    @extend_schema(responses={200: r.TemplateDocumentSerializer}, parameters=[OpenApiParameter(
        "Content-Disposition", str, OpenApiParameter.HEADER, response=[200],
        description="attachment; the file name (RFC 6266: filename*=utf-8'' when the name is not plain ASCII)")])
    @action(detail=True, methods=["get"], serializer_class=serializers.Serializer)
    def download(self, request, pk=None):
        """The template file (a JSON attachment), to import on another VIO Manager."""
        template = self.get_object()
        response = JsonResponse(templates.export_document(template.spec, template.name), json_dumps_params={"indent": 2})
        return attachment(response, template.name, ".vio-template.json", fallback="template")


def api_links(request, format=None) -> dict:
    return {
        "deployments": reverse("api-deployment-list", request=request, format=format),
        "templates": reverse("api-template-list", request=request, format=format),
    }
