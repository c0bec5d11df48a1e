"""API: one's own API tokens (/api/v1/tokens/) and the audit log (/api/v1/audit-events/, admins)."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from vio_manager.access import audit, tokens
from vio_manager.access.api import serializers as s
from vio_manager.access.models import ApiToken, AuditEvent
from vio_manager.access.roles import ADMIN, VIEWER


class TokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your own API tokens: every role may make and revoke them; another user's token is a 404.
    Create answers the value once; DELETE revokes (the token stays listed, as revoked)."""

    read_role = write_role = VIEWER
    queryset = ApiToken.objects.none()  # for the schema; get_queryset gives the user's own
    serializer_class = s.TokenSerializer

    def get_queryset(self):
        return self.request.user.api_tokens.order_by("-created_at")

    def get_serializer_class(self):
        return s.CreateTokenSerializer if self.action == "create" else s.TokenSerializer

    # Never @idempotent: a replayed response would keep the token's value in the database.
    @extend_schema(request=s.CreateTokenSerializer, responses={201: s.CreatedTokenSerializer})
    def create(self, request):
        """Create a token; its value is in this response only (`token`)."""
        body = s.CreateTokenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token, value = tokens.create_token(request.user, **body.validated_data)
        audit.record(request, "token.create", token, {"name": token.name, "prefix": token.prefix})
        token.token = value
        data = s.CreatedTokenSerializer(token, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": str(data["url"])})

    def perform_destroy(self, instance):
        if tokens.revoke(instance):
            audit.record(self.request, "token.revoke", instance, {"prefix": instance.prefix})


@extend_schema_view(list=extend_schema(parameters=[s.AuditFilterSerializer]))
class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log, newest first. Filters: ?action=vcenter.update (or a noun: ?action=vcenter),
    ?user=<user name>, ?since= and ?until= (ISO date or date-time, UTC)."""

    read_role = ADMIN
    queryset = AuditEvent.objects.none()  # for the schema; get_queryset filters
    serializer_class = s.AuditEventSerializer

    def get_queryset(self):
        if self.action != "list":
            return audit.events()
        params = s.AuditFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return audit.events(**params.filters())
