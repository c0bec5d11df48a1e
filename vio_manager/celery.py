"""The Celery app. Tasks are thin entry points that take ids; everything else is in the database."""

import os
import uuid

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vio_manager.settings")


class TaskArgumentError(TypeError):
    """A task was sent something other than ids: data (and secrets) must stay in the database."""


def is_id(value) -> bool:
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


class IdsOnlyTask(Task):
    """Refuses to send a message whose arguments are not ids (ints or UUID strings).

    This keeps secrets out of the broker and makes every task re-read the truth from the database.
    """

    def apply_async(self, args=None, kwargs=None, *rest, **options):
        values = list(args or ()) + list((kwargs or {}).values())
        bad = [type(value).__name__ for value in values if not is_id(value)]
        if bad:
            raise TaskArgumentError(f"{self.name} takes ids only; got {', '.join(bad)}")
        return super().apply_async(args, kwargs, *rest, **options)


app = Celery("vio_manager", task_cls=IdsOnlyTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
