from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

from vio_manager import json_limits


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = "The request body is too large."


class JSONParser(BaseParser):
    """JSON within bounds (vio_manager/json_limits.py): at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes, a nesting
    depth, digits per number; no NaN, no NUL (PostgreSQL stores none in text or JSON) and no lone surrogate
    anywhere. What crosses a bound is a 413 or a 400 with its reason, before any view code runs.

    Not a subclass of DRF's JSONParser on purpose: for those DRF reads request.body first, and Django's own
    size check there answers a bare "malformed request"; this parser reads the stream itself, and stops
    reading at the limit."""

    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        meta = getattr(request, "META", {}) if request is not None else {}
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except (TypeError, ValueError):
            declared = 0
        if limit is not None and declared > limit:
            raise RequestTooLarge(f"The request body is {declared} bytes; at most {limit} are accepted.")
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes, the most accepted.")
        try:
            return json_limits.loads(raw)
        except json_limits.JsonRefused as exc:
            raise ParseError(f"JSON parse error - {exc}.") from None
