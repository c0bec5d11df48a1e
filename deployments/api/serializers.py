from rest_framework import serializers

from deployments.models import Deployment, DeploymentTemplate


class SpecRequestSerializer(serializers.Serializer):
    spec = serializers.JSONField(help_text="a DeploymentSpec, secrets included (they are never returned)")


class CreateDeploymentSerializer(SpecRequestSerializer):
    acknowledge = serializers.ListField(
        child=serializers.CharField(), required=False, default=list,
        help_text="keys (code@path) of the advisory warnings you accept, as listed by validate",
    )


class DeploymentSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-deployment-detail")
    vcenter = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Deployment
        fields = ["id", "url", "name", "status", "vcenter", "spec", "acknowledged", "created_at", "updated_at"]
        read_only_fields = fields


class TemplateSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-template-detail")
    download = serializers.HyperlinkedIdentityField(view_name="api-template-download")

    class Meta:
        model = DeploymentTemplate
        fields = ["id", "url", "download", "name", "description", "schema_version", "spec", "source_deployment", "created_at"]
        read_only_fields = ["schema_version", "spec", "source_deployment", "created_at"]


class ImportTemplateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)
    template = serializers.JSONField(help_text="the template document: {kind, schema_version, spec}")


class SaveTemplateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)
