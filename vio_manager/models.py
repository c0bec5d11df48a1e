from django.conf import settings
from django.db import models


class WorkerPing(models.Model):
    """A round trip through the broker to a worker process: proof that the worker path is alive."""

    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True, help_text="hostname of the worker that answered")

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"ping {self.pk} ({'answered by ' + self.worker if self.answered_at else 'waiting'})"

    @property
    def round_trip_seconds(self) -> float | None:
        if self.answered_at is None:
            return None
        return (self.answered_at - self.created_at).total_seconds()


class IdempotencyRecord(models.Model):
    """The first answer to a create sent with an Idempotency-Key, replayed when the same request
    comes again (vio_manager.api.idempotency). Kept 24 hours."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the request body, canonical JSON")
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    location = models.CharField(max_length=2048, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key", "method", "path"], name="unique_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} key {self.key}"
