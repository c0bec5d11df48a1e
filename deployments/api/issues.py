"""The API's answer for a spec's issues: the error shape, one entry per issue on its field."""

from rest_framework import status
from rest_framework.response import Response

from deployments.services.launch import warning_key
from vio_manager.api.errors import error_body


def issues_response(code: str, message: str, issues, http_status=status.HTTP_400_BAD_REQUEST, prefix="spec.") -> Response:
    errors = [{"field": prefix + i.path, "code": i.code, "message": i.message, "severity": i.severity,
               "key": warning_key(i)} for i in issues]
    return Response(error_body(code, message, errors), status=http_status)
