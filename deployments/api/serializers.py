import copy

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deployments.api.status_serializers import RunSummarySerializer
from deployments.models import Deployment, DeploymentTemplate
from deployments.services.templates import MAX_DESCRIPTION
from deployments.spec import SCHEMA_VERSION, DeploymentSpec
from vio_manager.api.fields import PydanticJSONField

# A template file as import takes it: any known schema version (older ones are upgraded).
TEMPLATE_DOCUMENT = {
    "type": "object", "required": ["spec"],
    "properties": {
        "kind": {"type": "string", "example": "vio-manager/deployment-template"},
        "name": {"type": "string", "maxLength": 100, "description": "one line of text, no control characters"},
        "schema_version": {"type": "integer", "minimum": 0, "maximum": SCHEMA_VERSION},
        "spec": {"type": "object", "additionalProperties": True,
                 "description": "a DeploymentSpec of that schema version, without secrets"},
    },
}


@extend_schema_field(TEMPLATE_DOCUMENT)
class TemplateDocumentField(serializers.JSONField):
    """Checked by the templates service, which names each wrong field."""


class SpecRequestSerializer(serializers.Serializer):
    spec = PydanticJSONField(DeploymentSpec, help_text="a DeploymentSpec, secrets included (they are never returned)")


class CreateDeploymentSerializer(SpecRequestSerializer):
    acknowledge = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, default=list, max_length=200,
        help_text="keys (code@path) of the advisory warnings you accept, as listed by validate",
    )


# One for the process (it needs no context): a serializer made per row built its 12 fields again
# for each of a page's 100 rows, most of the page's time.
RUN_SUMMARY = RunSummarySerializer()


class DeploymentSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-deployment-detail")
    vcenter = serializers.PrimaryKeyRelatedField(read_only=True)
    spec = PydanticJSONField(DeploymentSpec, read_only=True, help_text="the spec, its secrets never returned")
    acknowledged = serializers.ListField(child=serializers.CharField(), read_only=True,
                                         help_text="keys of the advisory warnings accepted at creation")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    progress = serializers.SerializerMethodField(help_text="weighted share of the latest run's steps done, 0-100")
    latest_run = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = ["id", "url", "name", "status", "vcenter", "progress", "latest_run", "spec", "acknowledged",
                  "created_by", "created_at", "updated_at"]
        read_only_fields = fields

    def get_fields(self):
        # Every field is read-only and the same for every instance: built once for the class and
        # copied shallowly, where DRF would introspect the model and deep-copy each field for each
        # instance (a tenth of what polling a deployment costs).
        cls = type(self)
        if "_field_templates" not in cls.__dict__:
            cls._field_templates = super().get_fields()
        return {name: copy.copy(field) for name, field in cls._field_templates.items()}

    def _summary(self, deployment) -> dict | None:
        from deployments.services.status import latest_run, run_summary

        if not hasattr(deployment, "_run_summary"):  # once per row: both fields read it
            deployment._run_summary = run_summary(latest_run(deployment))
        return deployment._run_summary

    @extend_schema_field(serializers.FloatField())
    def get_progress(self, deployment) -> float:
        summary = self._summary(deployment)
        return summary["progress"] if summary else 0.0

    @extend_schema_field(RunSummarySerializer(allow_null=True))
    def get_latest_run(self, deployment) -> dict | None:
        summary = self._summary(deployment)
        return RUN_SUMMARY.to_representation(summary) if summary else None


class TemplateSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-template-detail")
    download = serializers.HyperlinkedIdentityField(view_name="api-template-download")
    spec = PydanticJSONField(DeploymentSpec, read_only=True, help_text="the spec, without secrets")

    class Meta:
        model = DeploymentTemplate
        fields = ["id", "url", "download", "name", "description", "schema_version", "spec", "source_deployment", "created_at"]
        read_only_fields = ["schema_version", "spec", "source_deployment", "created_at"]


class ImportTemplateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, max_length=MAX_DESCRIPTION)
    template = TemplateDocumentField(help_text="the template document, as download gives it")


class SaveTemplateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, max_length=MAX_DESCRIPTION)
