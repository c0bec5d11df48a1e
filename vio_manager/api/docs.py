"""The schema view and the two documentation pages (Swagger UI, Redoc), served from the
appliance's own files: appliances are often offline, and the docs must not call out anyway."""

from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.renderers import JSONRenderer

from vio_manager.access.permissions import RolePermission

# Everything from here; Redoc's sidebar links a logo on a CDN that this stops the browser fetching.
# Inline styles: both UIs set them at run time; blob: workers: Redoc's search.
DOCS_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
               "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")


class _ForARole:
    """For users with a role (viewer and up), like the API itself: anonymous 401, a signed-in account
    without a role 403. A refusal answers in the API's JSON error shape, not the view's media type."""

    permission_classes = [RolePermission]

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return response


class SchemaView(_ForARole, SpectacularAPIView):
    """The OpenAPI schema, YAML (or JSON with ?format=json)."""


class _OnlyFromHere(_ForARole):
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_POLICY
        return response


class SwaggerView(_OnlyFromHere, SpectacularSwaggerSplitView):
    """Swagger UI; its start-up script is a file of its own (?script), so no inline script runs."""


class RedocView(_OnlyFromHere, SpectacularRedocView):
    template_name = "api/redoc.html"
