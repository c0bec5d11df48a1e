"""The Celery app. Tasks are thin entry points that take ids; everything else is in the database."""

import os
import uuid

from celery import Celery
from celery.signals import before_task_publish

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vio_manager.settings")

app = Celery("vio_manager")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _is_id(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, str):
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True
    return False


class TaskArgumentError(TypeError):
    """A task was sent something other than ids: data (and secrets) must stay in the database."""


@before_task_publish.connect
def only_ids_in_messages(sender=None, body=None, **_):
    """Refuse to publish a task whose arguments are not ids (ints or UUID strings).

    This keeps secrets out of the broker and makes every task re-read the truth from the database.
    """
    if not sender or not sender.startswith(("vio_manager.", "inventory.", "deployments.")):
        return
    args, kwargs = (body[0], body[1]) if isinstance(body, (tuple, list)) else (body.get("args", ()), body.get("kwargs", {}))
    bad = [repr(type(a).__name__) for a in list(args) + list(kwargs.values()) if not _is_id(a)]
    if bad:
        raise TaskArgumentError(f"{sender} takes ids only; got {', '.join(bad)}")
