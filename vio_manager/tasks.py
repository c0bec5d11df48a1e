from celery import shared_task
from django.utils import timezone

from vio_manager.models import WorkerPing


@shared_task(name="vio_manager.ping")
def ping(ping_id: int) -> None:
    WorkerPing.objects.filter(pk=ping_id, answered_at__isnull=True).update(
        answered_at=timezone.now(), worker=ping.request.hostname or ""
    )
