from django.utils import timezone
from rest_framework import serializers

from vio_manager.access.models import ApiToken, AuditEvent


class TokenSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-token-detail")
    state = serializers.CharField(read_only=True, help_text="active, expired or revoked")

    class Meta:
        model = ApiToken
        fields = ["id", "url", "name", "prefix", "state", "created_at", "last_used_at", "expires_at", "revoked_at"]
        read_only_fields = fields


class CreateTokenSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="What the token is for, e.g. 'CI pipeline'.")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Optional; never expires if omitted.")

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Choose a moment in the future.", code="in_the_past")
        return value


class CreatedTokenSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The token's value: shown in this response only.")

    class Meta(TokenSerializer.Meta):
        fields = TokenSerializer.Meta.fields + ["token"]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "user", "username", "ip_address", "via", "action",
                  "target_type", "target_id", "target_label", "detail"]
        read_only_fields = fields
