"""Idempotency-Key on creates: a client that repeats a POST (a timeout, a retried script) gets the
first answer back instead of a second deployment.

    @idempotent
    def create(self, request): ...

The record is inserted before the create runs and in the same transaction: PostgreSQL makes a
concurrent insert of the same (user, key, method, path) wait for that transaction, then fail on the
unique constraint, so of two identical POSTs racing, one creates and the other replays its answer.
Only successes are kept: a refused request may be corrected and sent again with the same key.
The body (which may hold passwords) is kept only as a keyed hash: HMAC-SHA256 with a key derived
from SECRET_KEY, so the record cannot be used to test guesses of what was sent.
"""

import functools
import json
import re
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework import status
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from vio_manager.api.errors import error_body

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
KEY = re.compile(r"[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?")  # printable ASCII, 1-255 characters


def _json(data) -> str:
    return json.dumps(data, cls=JSONEncoder, sort_keys=True, separators=(",", ":"))


def body_digest(data) -> str:
    """The request body's keyed hash (hex, 64 characters): equal for equal bodies, useless without SECRET_KEY."""
    return salted_hmac("vio_manager.api.idempotency.body", _json(data), algorithm="sha256").hexdigest()


def _replay(record, digest: str) -> Response:
    if record.request_hash != digest:
        return Response(error_body(
            "idempotency_key_reused",
            f"The {HEADER} {record.key!r} was used for another request body in the last 24 hours; "
            "send a new key with a new request."), status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    headers = {"Idempotent-Replayed": "true"}
    if record.location:
        headers["Location"] = record.location
    return Response(record.response_body, status=record.status_code, headers=headers)


def idempotent(handler):
    """Honour an Idempotency-Key header on this view method (POST); without the header, nothing changes."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        from vio_manager.models import IdempotencyRecord

        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not KEY.fullmatch(key):
            raise ValidationError({HEADER: [ErrorDetail(
                "Use 1 to 255 printable ASCII characters, e.g. a UUID.", code="invalid")]})
        digest = body_digest(request.data)
        scope = {"user": request.user, "key": key, "method": request.method, "path": request.path[:255]}
        with transaction.atomic():
            IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEEP).delete()  # expiry, lazily
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(**scope, request_hash=digest, status_code=0)
            except IntegrityError:  # answered before (or just now, by a request we waited for)
                return _replay(IdempotencyRecord.objects.get(**scope), digest)
            response = handler(view, request, *args, **kwargs)
            if status.is_success(response.status_code):
                record.status_code = response.status_code
                record.response_body = json.loads(_json(response.data))
                record.location = response.get("Location", "")
                record.save(update_fields=["status_code", "response_body", "location"])
            else:
                record.delete()
            return response

    wrapper.idempotent = True  # read by the OpenAPI schema (vio_manager.api.schema)
    return wrapper
