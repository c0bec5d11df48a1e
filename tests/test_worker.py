"""Celery: a real worker process over Redis, ids only in messages."""

import pytest
from django.conf import settings

from vio_manager.celery import TaskArgumentError, app
from vio_manager.models import WorkerPing
from vio_manager.services import ping_worker
from vio_manager.tasks import ping

pytestmark = pytest.mark.worker


@pytest.mark.django_db(transaction=True)
def test_a_task_round_trip_through_a_real_worker_over_redis(celery_worker):
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    probe = ping_worker(timeout=30)
    assert probe.worker == celery_worker.hostname
    assert WorkerPing.objects.get(pk=probe.pk).answered_at is not None


@pytest.mark.parametrize("argument", ["VMware1!", {"password": "x"}, 1.5, True])
def test_tasks_refuse_anything_but_ids(argument):
    with pytest.raises(TaskArgumentError, match="takes ids only"):
        ping.delay(argument)


def test_celery_configuration_keeps_tasks_short_and_messages_safe():
    conf = app.conf
    assert conf.task_acks_late and conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json" and list(conf.accept_content) == ["json"]
    assert conf.task_ignore_result
    visibility = conf.broker_transport_options.get("visibility_timeout", settings.CELERY_VISIBILITY_TIMEOUT)
    assert visibility >= 10 * conf.task_time_limit > conf.task_soft_time_limit


@pytest.mark.django_db(transaction=True)
def test_beat_heartbeat_shows_the_worker_live_on_the_overview(celery_worker, admin_client):
    import time

    from vio_manager.services import last_answered_ping
    from vio_manager.tasks import heartbeat

    assert "not seen" in admin_client.get("/").content.decode()
    heartbeat.delay()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not last_answered_ping():
        time.sleep(0.1)
    page = admin_client.get("/").content.decode()
    assert "live" in page and celery_worker.hostname in page
    assert admin_client.get("/api/v1/health/").json()["worker"]["hostname"] == celery_worker.hostname
