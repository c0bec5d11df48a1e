"""The API token scheme in the OpenAPI document (drf-spectacular registers it on import)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "vio_manager.access.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        # `Authorization: Bearer <value>` (what OpenAPI clients send); `Token <value>` works too.
        return {"type": "http", "scheme": "bearer",
                "description": "An API token made on the API tokens page or POST /api/v1/tokens/."}
