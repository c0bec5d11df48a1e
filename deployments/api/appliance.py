"""REST API for appliance OVAs uploaded to VIO Manager (thin: deployments.services.appliance does the work)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from deployments.models import ApplianceUpload
from deployments.services import appliance
from inventory.services.errors import ServiceError
from vio_manager.access import audit
from vio_manager.api.errors import conflict


class ApplianceUploadSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-appliance-upload-detail")
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ApplianceUpload
        fields = ["id", "url", "filename", "size", "sha256", "uploaded_by", "created_at"]
        read_only_fields = fields


class UploadRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="the .ova file (multipart/form-data), at most VIO_OVA_MAX_BYTES (20 GiB "
                                           "unless the administrator changed it); larger is refused (code too_large)")


class ApplianceUploadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Upload the appliance OVA once; a spec names it with appliance_ova.upload = its id."""

    queryset = ApplianceUpload.objects.select_related("uploaded_by").order_by("-created_at")
    serializer_class = ApplianceUploadSerializer
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": UploadRequestSerializer}, responses={
        201: ApplianceUploadSerializer,
        200: OpenApiResponse(ApplianceUploadSerializer, "the same file was uploaded before: that upload")})
    def create(self, request):
        body = UploadRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        given = body.validated_data["file"]
        try:
            upload, created = appliance.store_upload(given, given.name, user=request.user)
        except ServiceError as exc:
            raise ValidationError({exc.field or "non_field_errors": [ErrorDetail(exc.message, code=exc.code)]}) from None
        if created:
            audit.record(request, "appliance_upload.create", upload,
                         {"filename": upload.filename, "size": upload.size, "sha256": upload.sha256})
        data = self.get_serializer(upload).data
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
                        headers={"Location": str(data["url"])})

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="an active deployment uses it (code in_use)")})
    def destroy(self, request, pk=None):
        """Refused (409) while an active deployment uses it."""
        upload = self.get_object()
        target = audit.Target.of(upload)  # taken before the row (and its id) is gone
        try:
            appliance.delete_upload(upload)
        except ServiceError as exc:
            return conflict(exc.code, exc.message)
        audit.record(request, "appliance_upload.delete", target, {"filename": upload.filename, "sha256": upload.sha256})
        return Response(status=status.HTTP_204_NO_CONTENT)
