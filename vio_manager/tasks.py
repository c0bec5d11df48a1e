from celery import shared_task
from django.utils import timezone

from vio_manager.models import WorkerPing

KEEP_PINGS = 100


@shared_task(name="vio_manager.ping")
def ping(ping_id: int) -> None:
    """Answer a ping that a web process or command is waiting for."""
    WorkerPing.objects.filter(pk=ping_id, answered_at__isnull=True).update(
        answered_at=timezone.now(), worker=ping.request.hostname or ""
    )


@shared_task(name="vio_manager.heartbeat")
def heartbeat() -> None:
    """Sent by beat every minute: the overview and the health endpoint show the last one answered."""
    now = timezone.now()
    WorkerPing.objects.create(answered_at=now, worker=heartbeat.request.hostname or "")
    stale = WorkerPing.objects.values_list("pk", flat=True)[KEEP_PINGS:]
    WorkerPing.objects.filter(pk__in=list(stale)).delete()
