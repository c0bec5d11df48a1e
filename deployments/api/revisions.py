"""A deployment's spec revisions and changes in the API: the list, one revision, the difference
between two; a change previewed, then applied as a change run (rollback: an earlier revision applied
the same way); a revision saved as a template. Thin: the revisions and changes services do the work."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse

from deployments.api.issues import issues_response
from deployments.services import changes, launch, revisions, templates
from vio_manager.access import audit
from vio_manager.api.errors import error_body
from vio_manager.api.idempotency import idempotent
from vio_manager.api.schema import ErrorResponseSerializer

A = OpenApiParameter("a", int, OpenApiParameter.PATH, description="a revision's number")
B = OpenApiParameter("b", int, OpenApiParameter.PATH, description="another revision's number")
NUMBER = OpenApiParameter("revision", int, OpenApiParameter.PATH, description="the revision's number (1, 2, ...)")


class RevisionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    current = serializers.BooleanField(help_text="the revision the cloud runs now")
    note = serializers.CharField(allow_blank=True)
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    applied_at = serializers.DateTimeField(allow_null=True, help_text="when the run applying it succeeded")
    runs = serializers.ListField(child=serializers.IntegerField(), help_text="numbers of the runs that applied it")


class RevisionDetailSerializer(RevisionSerializer):
    spec = serializers.JSONField(help_text="the spec of this revision, without secrets")


class FieldChangeSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="the field's JSON path; compute clusters are keyed by name")
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True, help_text="a secret shows only as changed")


class RevisionDiffSerializer(serializers.Serializer):
    a = serializers.IntegerField()
    b = serializers.IntegerField()
    changes = FieldChangeSerializer(many=True)


class ChangeRequestSerializer(serializers.Serializer):
    spec = serializers.JSONField(required=False, help_text="the whole new spec; a secret left out keeps its value")
    revision = serializers.IntegerField(required=False, min_value=1,
                                        help_text="instead of spec: an earlier revision to go back to (rollback)")
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="",
                                 help_text="why, for the revision's history")
    acknowledge = serializers.ListField(child=serializers.CharField(max_length=255), required=False, default=list,
                                        max_length=100, help_text="keys of the advisory issues you accept")

    def validate(self, attrs):
        if ("spec" in attrs) == ("revision" in attrs):
            raise serializers.ValidationError({"spec": ["Send either spec (a new spec) or revision (a rollback)."]})
        return attrs


class ChangeVmSerializer(serializers.Serializer):
    name = serializers.CharField()
    role = serializers.CharField()
    cluster = serializers.CharField(allow_blank=True)
    management_ip = serializers.CharField(allow_blank=True)


class ChangeFileSerializer(serializers.Serializer):
    path = serializers.CharField()
    diff = serializers.CharField(help_text="unified diff, secrets masked")


class ChangePreviewSerializer(serializers.Serializer):
    changes = FieldChangeSerializer(many=True)
    vms_added = ChangeVmSerializer(many=True)
    vms_removed = ChangeVmSerializer(many=True)
    files = ChangeFileSerializer(many=True)
    services = serializers.ListField(child=serializers.CharField(), help_text="kolla-ansible services reconfigured")
    addresses = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                      help_text="taken and released")
    steps = serializers.ListField(child=serializers.DictField(), help_text="what the change run will do")
    issues = serializers.ListField(child=serializers.DictField())


class RevisionTemplateSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="the template's id")
    name = serializers.CharField(help_text="<deployment>-r<revision>")


class ChangeRunSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    revision = serializers.IntegerField()
    url = serializers.URLField()


def _row(deployment, revision, detail: bool = False) -> dict:
    row = {"number": revision.number, "current": revision.number == deployment.current_revision, "note": revision.note,
           "created_by": revision.created_by.get_username() if revision.created_by else None,
           "created_at": revision.created_at, "applied_at": revision.applied_at,
           "runs": sorted(revision.runs.values_list("number", flat=True))}
    if detail:
        row["spec"] = revision.spec
    return row


class RevisionsMixin:
    """Mixed into DeploymentViewSet."""

    def _revision(self, deployment, number):
        revision = deployment.revisions.select_related("created_by").filter(number=number).first()
        if revision is None:
            raise exceptions.NotFound(f"Deployment {deployment.name} has no revision {number}.")
        return revision

    @extend_schema(responses={200: RevisionSerializer(many=True)})
    @action(detail=True, methods=["get"], url_path="revisions", serializer_class=RevisionSerializer,
            pagination_class=None)
    def revisions(self, request, pk=None):
        """Every spec the deployment was given, oldest first; `current` marks the one it runs."""
        deployment = self.get_object()
        rows = [_row(deployment, r) for r in deployment.revisions.select_related("created_by").order_by("number")]
        return Response(RevisionSerializer(rows, many=True).data)

    @extend_schema(parameters=[NUMBER], responses={200: RevisionDetailSerializer})
    @action(detail=True, methods=["get"], url_path=r"revisions/(?P<revision>\d+)", serializer_class=RevisionDetailSerializer)
    def revision(self, request, pk=None, revision=None):
        """One revision with its spec (secrets never returned)."""
        deployment = self.get_object()
        return Response(RevisionDetailSerializer(_row(deployment, self._revision(deployment, revision), detail=True)).data)

    @extend_schema(parameters=[A, B], responses={200: RevisionDiffSerializer})
    @action(detail=True, methods=["get"], url_path=r"revisions/(?P<a>\d+)/diff/(?P<b>\d+)",
            serializer_class=RevisionDiffSerializer)
    def revision_diff(self, request, pk=None, a=None, b=None):
        """What differs from revision a to revision b, field by field; a secret shows only as changed."""
        deployment = self.get_object()
        first, second = self._revision(deployment, a), self._revision(deployment, b)
        return Response(RevisionDiffSerializer({"a": first.number, "b": second.number,
                                                "changes": revisions.diff_revisions(first, second)}).data)

    def _change_data(self, deployment, body) -> dict:
        if "revision" in body:
            return changes.rollback_data(deployment, body["revision"])
        return body["spec"]

    def _refused(self, exc):
        return Response(error_body("run_active" if "in progress" in str(exc) else "not_deployed", str(exc)),
                        status=status.HTTP_409_CONFLICT)

    @extend_schema(request=ChangeRequestSerializer, responses={
        200: ChangePreviewSerializer, 400: ErrorResponseSerializer,
        409: OpenApiResponse(ErrorResponseSerializer, description="a run is active, or it was never deployed")})
    @action(detail=True, methods=["post"], url_path="change-preview", serializer_class=ChangeRequestSerializer)
    def change_preview(self, request, pk=None):
        """What a change would do, nothing changed: the field diff, the VMs added and removed, the
        configuration files and services changed, the addresses taken and released, the checks."""
        deployment = self.get_object()
        body = ChangeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            proposal = changes.propose(deployment, self._change_data(deployment, body.validated_data))
        except changes.ChangeRefused as exc:
            return self._refused(exc)
        except launch.SpecInvalid as exc:
            return issues_response("invalid", "The spec is not valid; fix these first.", exc.issues)
        return Response(ChangePreviewSerializer(proposal.as_dict()).data)

    @extend_schema(request=ChangeRequestSerializer, responses={
        202: ChangeRunSerializer, 400: ErrorResponseSerializer,
        409: OpenApiResponse(ErrorResponseSerializer, description="a run is active, or it was never deployed")})
    @action(detail=True, methods=["post"], url_path="changes", serializer_class=ChangeRequestSerializer)
    @idempotent
    def change(self, request, pk=None):
        """Apply a change (or roll back to a revision): a new revision and a change run that does only
        the difference (202, Location of the run); the revision becomes current when the run succeeds."""
        deployment = self.get_object()
        body = ChangeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            run = changes.apply(deployment, self._change_data(deployment, data), user=request.user, note=data["note"],
                                acknowledged=set(data["acknowledge"]))
        except changes.ChangeRefused as exc:
            return self._refused(exc)
        except launch.NeedsAcknowledgement as exc:
            return issues_response("acknowledgement_required",
                                   "Acknowledge these warnings (send their keys in 'acknowledge') to apply.", exc.issues)
        except launch.SpecInvalid as exc:
            return issues_response("invalid", f"spec.{exc.issues[0].path}: {exc.issues[0].message}", exc.issues)
        audit.record(request, "deployment.change", deployment,
                     {"revision": run.revision.number, "run": run.number, "rollback_to": data.get("revision")})
        url = reverse("api-deployment-run", kwargs={"pk": deployment.pk, "number": run.number}, request=request)
        return Response(ChangeRunSerializer({"run": run.number, "revision": run.revision.number, "url": url}).data,
                        status=status.HTTP_202_ACCEPTED, headers={"Location": url})

    @extend_schema(parameters=[NUMBER], request=None, responses={
        201: OpenApiResponse(RevisionTemplateSerializer, description="the template"),
        400: OpenApiResponse(ErrorResponseSerializer, description="the revision's spec is not a valid template (code invalid)")})
    @action(detail=True, methods=["post"], url_path=r"revisions/(?P<revision>\d+)/save-as-template",
            serializer_class=serializers.Serializer)
    def revision_template(self, request, pk=None, revision=None):
        """Save this revision's spec, without secrets, as a template (its name: <deployment>-r<n>)."""
        deployment = self.get_object()
        found = self._revision(deployment, revision)
        try:
            template = templates.save_as_template(found.spec, user=request.user, deployment=deployment,
                                                  name=f"{deployment.name}-r{found.number}",
                                                  description=f"Revision {found.number} of {deployment.name}")
        except templates.TemplateInvalid as exc:
            return Response(error_body("invalid", str(exc)), status=status.HTTP_400_BAD_REQUEST)
        audit.record(request, "template.create", template, {"from_deployment": deployment.name, "revision": found.number})
        return Response(RevisionTemplateSerializer({"id": template.pk, "name": template.name}).data,
                        status=status.HTTP_201_CREATED)
