"""One JSON error shape for the whole API: {"code", "message", "errors": [{"field", "code", "message"}]}.

`field` is the JSON path of the input to fix (e.g. "host", "management_network.ip_ranges.0").
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(detail, path: str = "") -> list[dict]:
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            sub = key if key != "non_field_errors" else ""
            out += _flatten(value, f"{path}.{sub}" if path and sub else (sub or path))
        return out
    if isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) or isinstance(item, str) for item in detail):
            return [{"field": path or None, "code": getattr(item, "code", "invalid"), "message": str(item)} for item in detail]
        out = []
        for index, item in enumerate(detail):
            out += _flatten(item, f"{path}.{index}" if path else str(index))
        return out
    return [{"field": path or None, "code": getattr(detail, "code", "invalid"), "message": str(detail)}]


def error_body(code: str, message: str, errors: list[dict] | None = None, **extra) -> dict:
    return {"code": code, "message": message, "errors": errors or [], **extra}


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):  # a model's own check: still the caller's input
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        message = errors[0]["message"] if errors else "The request is not valid."
        if errors and errors[0]["field"]:
            message = f"{errors[0]['field']}: {message}"
        response.data = error_body("invalid", message, errors)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = detail.code if isinstance(detail, exceptions.ErrorDetail) else getattr(exc, "default_code", "error")
        response.data = error_body(code, str(detail))
    return response


def conflict(code: str, message: str, **extra) -> Response:
    return Response(error_body(code, message, **extra), status=status.HTTP_409_CONFLICT)


# --- Django's own error views: JSON in the same shape under /api/, the usual pages elsewhere ----
# (for what never reaches a DRF view: an unmatched URL, a refused Host header, a crash)


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def page_not_found(request, exception):
    if _is_api(request):
        return JsonResponse(error_body("not_found", f"Nothing at {request.path_info}: see /api/schema/ for the API's URLs."),
                            status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception):
    if _is_api(request):
        return JsonResponse(error_body("bad_request", "The request is malformed."), status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if _is_api(request):
        return JsonResponse(error_body("permission_denied", "You do not have permission to perform this action."),
                            status=403)
    return defaults.permission_denied(request, exception)


def server_error(request):
    if _is_api(request):  # never the exception's text: it may hold anything
        return JsonResponse(error_body("server_error", "Something went wrong on the server; it has been logged."),
                            status=500)
    return defaults.server_error(request)
