"""Appliance-level services: worker liveness."""

import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from vio_manager.models import WorkerPing


class WorkerUnavailable(Exception):
    pass


def send_ping() -> WorkerPing:
    from vio_manager.tasks import ping

    with transaction.atomic():
        probe = WorkerPing.objects.create()
        transaction.on_commit(lambda: ping.delay(probe.pk))
    return probe


def ping_worker(timeout: float = 10.0, interval: float = 0.1) -> WorkerPing:
    """Send a ping through the broker and wait for a worker to answer it in the database."""
    probe = send_ping()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe.refresh_from_db()
        if probe.answered_at:
            return probe
        time.sleep(interval)
    raise WorkerUnavailable(
        f"No Celery worker answered within {timeout:g} s. Is `celery -A vio_manager worker` running "
        "against the same CELERY_BROKER_URL and database?"
    )


def last_answered_ping(within: timedelta = timedelta(minutes=10)) -> WorkerPing | None:
    return (
        WorkerPing.objects.filter(answered_at__gte=timezone.now() - within).order_by("-answered_at").first()
    )
