from django.utils import timezone
from rest_framework import serializers

from vio_manager.access import audit
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


class AuditFilterSerializer(serializers.Serializer):
    """The audit log's query parameters. CharField refuses NUL (PostgreSQL stores none): a 400 naming
    the parameter, never a database error."""

    action = serializers.CharField(required=False, allow_blank=True, max_length=AuditEvent._meta.get_field("action").max_length,
                                   help_text="one action (vcenter.update), or a noun for all of its actions (vcenter)")
    user = serializers.CharField(required=False, allow_blank=True, max_length=AuditEvent._meta.get_field("username").max_length,
                                 help_text="the user name")
    since = serializers.CharField(required=False, allow_blank=True, max_length=40,
                                  help_text="ISO 8601 date or date-time (UTC unless it has an offset), included")
    until = serializers.CharField(required=False, allow_blank=True, max_length=40,
                                  help_text="ISO 8601 date (the whole day included) or date-time (excluded)")

    def _moment(self, value: str, end: bool):
        try:
            return audit.parse_moment(value, end=end)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from None

    def validate_since(self, value):
        return self._moment(value, end=False)

    def validate_until(self, value):
        return self._moment(value, end=True)

    def filters(self) -> dict:
        data = self.validated_data
        return {"action": data.get("action", "").strip(), "username": data.get("user", "").strip(),
                "since": data.get("since"), "until": data.get("until")}
