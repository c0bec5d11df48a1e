"""The OpenAPI schema: the one error shape as a component, declared on every operation's error
responses, and DeploymentSpec's JSON Schema (from its pydantic model) wherever a spec is sent or
returned. Served at /api/schema/; its committed copy is vio_manager/api/openapi.yaml (`make openapi`)."""

import copy
import functools
import re

from django.conf import settings
from django.db import connection
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$"},
    OpenApiParameter.HEADER, required=False,
    description="Any unique string (a UUID, say). Repeating the request with the same key and the same body "
                "returns the first response (same status, same Location) and creates nothing; the same key with "
                "another body is refused (422). Keys are kept 24 hours.",
)


class ErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="JSON path of the input to fix, e.g. "
                                  "\"spec.management_network.ip_ranges.0\"; null when no one field is at fault")
    code = serializers.CharField(help_text="machine-readable reason, e.g. \"required\", \"gateway_in_range\"")
    message = serializers.CharField(help_text="what is wrong and how to fix it")
    severity = serializers.ChoiceField(["blocking", "advisory"], required=False,
                                       help_text="spec checks only: advisory warnings may be acknowledged")
    key = serializers.CharField(required=False, help_text="spec checks only: send it in 'acknowledge' to accept "
                                "this advisory warning")


class ErrorResponseSerializer(serializers.Serializer):
    """Every error the API answers (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500) has this shape."""

    code = serializers.CharField(help_text="machine-readable, e.g. \"invalid\", \"not_found\", \"not_authenticated\"")
    message = serializers.CharField(help_text="for a person: what went wrong and what to do")
    errors = ErrorItemSerializer(many=True, help_text="one entry per input at fault (may be empty)")


ERRORS = {
    400: "The request is not valid: each entry of errors names the field (a JSON path) and what to fix.",
    401: "No credentials, or they are not valid (an API token in the Authorization header, or a session).",
    403: "Not allowed: your role does not permit this (or, with a session, the CSRF token is missing).",
    404: "No such object.",
    413: "The request body is too large: JSON bodies of at most {limit} bytes are read (code request_too_large).",
    415: "The body must be JSON (Content-Type: application/json).",
    422: "The Idempotency-Key was used for another request body.",
    429: "Too many requests: wait the seconds Retry-After says.",
}


def _error_description(status: int) -> str:
    return ERRORS[status].format(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def _integer_range(internal_type: str) -> tuple[int, int]:
    """The column's range on the database the schema is generated for (PostgreSQL: `make openapi`)."""
    return connection.ops.integer_field_range(internal_type)


@functools.cache
def _operations() -> frozenset[tuple[str, str]]:
    """(path as the schema writes it, method) of every API operation: links point at these."""
    from drf_spectacular.generators import EndpointEnumerator

    return frozenset((path.replace("{pk}", "{id}"), method.lower())
                     for path, _, method, _ in EndpointEnumerator().get_api_endpoints())


def _pointer(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


def _link_name(method: str, rest: str) -> str:
    """get_download for GET .../{id}/download/, get_runs_number for GET .../{id}/runs/{number}/."""
    words = [w.strip("{}").replace("-", "_") for w in rest.split("/") if w]
    return "_".join([method, *words])


def _is_idempotent(view, method_name: str) -> bool:
    return getattr(getattr(view, method_name, None), "idempotent", False)


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's, plus the error responses (ErrorResponse) each operation can give, read
    from what it takes, and the Idempotency-Key header on the operations that honour it."""

    def _method_name(self) -> str:
        return getattr(self.view, "action", None) or self.method.lower()

    def _error_statuses(self, operation: dict) -> list[int]:
        # Anyone may be refused (401/403); a body may be invalid (400) or of another media type
        # (415); query parameters may be invalid (400); an object in the path may not exist (404).
        statuses = {401, 403}
        where = {parameter["in"] for parameter in operation.get("parameters", [])}
        if "requestBody" in operation or self.method in ("POST", "PUT", "PATCH"):
            statuses |= {400, 415}
            if "application/json" in operation.get("requestBody", {}).get("content", {"application/json": None}):
                statuses.add(413)  # the JSON parser reads at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes
        if "query" in where:
            statuses.add(400)
        if "path" in where:
            statuses.add(404)
        if _is_idempotent(self.view, self._method_name()):
            statuses.add(422)
        if self.view.get_throttles():
            statuses.add(429)
        return sorted(statuses)

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        self._bound_path_parameters(operation)
        responses = operation["responses"]
        for status in self._error_statuses(operation):
            error = OpenApiResponse(ErrorResponseSerializer, description=_error_description(status))
            responses.setdefault(str(status), self._get_response_for_code(error, str(status)))
        self._link_created(operation)
        for status, response in responses.items():  # an error declared by its description alone
            if status.startswith(("4", "5")) and "content" not in response:
                error = OpenApiResponse(ErrorResponseSerializer, description=response.get("description", ""))
                responses[status] = self._get_response_for_code(error, status)
        return operation

    def _bound_path_parameters(self, operation: dict) -> None:
        """Ids and numbers in paths are positive and fit their columns (beyond: 404, documented)."""
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            if parameter["in"] != "path" or schema.get("type") != "integer":
                continue
            name = parameter["name"]
            column = "BigAutoField" if name == "id" or name.endswith("_pk") else "PositiveIntegerField"
            schema.setdefault("minimum", 1)
            schema.setdefault("maximum", _integer_range(column)[1])

    def _link_created(self, operation: dict) -> None:
        """OpenAPI links from a create (POST on a collection) to every operation on what it made:
        POST /templates/ -> GET /templates/{id}/download/, DELETE /templates/{id}/ ...; the id is
        the response's `id`. Clients (and schemathesis' stateful tests) follow them."""
        if self.method != "POST" or "{" in self.path:
            return
        targets = sorted((path, method) for path, method in _operations()
                         if re.match(re.escape(self.path) + r"\{[^}/]+\}/", path))
        if not targets:
            return
        for status, response in operation["responses"].items():
            if status not in ("201", "202"):
                continue
            links = {}
            for path, method in targets:
                parameter = re.match(re.escape(self.path) + r"\{([^}/]+)\}/", path).group(1)
                rest = path[len(self.path):].split("/", 1)[1]
                links[_link_name(method, rest)] = {
                    "operationRef": f"#/paths/{_pointer(path)}/{method}",
                    "parameters": {parameter: "$response.body#/id"},
                    "description": f"{method.upper()} {path} on what was created",
                }
            response["links"] = links

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if _is_idempotent(self.view, self._method_name()):
            parameters.append(IDEMPOTENCY_KEY)
        return parameters


# --- DeploymentSpec: pydantic's JSON Schema, in OpenAPI 3.0 terms ---------------------------


def _to_openapi_30(node):
    """pydantic writes JSON Schema 2020-12; OpenAPI 3.0 says `nullable` for `anyOf [X, null]`
    and has no `const`. Titles pydantic derives from field names are noise in the docs."""
    if isinstance(node, list):
        return [_to_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _to_openapi_30(value) for key, value in node.items() if key != "secret"}
    any_of = node.get("anyOf")
    if isinstance(any_of, list) and {"type": "null"} in any_of and len(any_of) == 2:
        (other,) = [item for item in any_of if item != {"type": "null"}]
        del node["anyOf"]
        node.update({"allOf": [other]} if "$ref" in other else other)
        node["nullable"] = True
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if isinstance(node.get("properties"), dict):
        for prop in node["properties"].values():
            if isinstance(prop, dict) and "title" in prop:
                del prop["title"]
    return node


def spec_components(model) -> tuple[str, dict]:
    """(name, {component name: schema}) for a pydantic model and every model it nests."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
    components = {name: _to_openapi_30(sub) for name, sub in schema.pop("$defs", {}).items()}
    components[model.__name__] = _to_openapi_30(schema)
    return model.__name__, components


class PydanticJSONFieldExtension(OpenApiSerializerFieldExtension):
    """A JSON field that holds a pydantic model (vio_manager.api.fields.PydanticJSONField) is
    documented with that model's schema, as components."""

    target_class = "vio_manager.api.fields.PydanticJSONField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        name, components = spec_components(self.target.schema_model)
        for component_name, schema in components.items():
            auto_schema.registry.register_on_missing(ResolvedComponent(
                name=component_name, type=ResolvedComponent.SCHEMA, object=component_name, schema=copy.deepcopy(schema)))
        return {"$ref": f"#/components/schemas/{name}"}
