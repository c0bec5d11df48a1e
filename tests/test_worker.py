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
