"""The one place that queues engine work. Services and the engine hand work on through here, by task
name and ids, once the current transaction commits (a worker must find what the caller wrote); only
deployments/tasks.py imports the engine, and nothing here imports the tasks."""

from celery import current_app
from django.db import transaction

from vio_manager.celery import TaskArgumentError, is_id

ADVANCE_RUN = "deployments.advance_run"
EXECUTE_STEP = "deployments.execute_step"
RECHECK_RUN = "deployments.recheck_run"


def _send(name: str, args: tuple, countdown: float | None = None, time_limit: int | None = None) -> None:
    if not all(is_id(value) for value in args):
        raise TaskArgumentError(f"{name} takes ids only")
    options = {"countdown": countdown} if countdown else {}
    if time_limit:
        options.update(time_limit=time_limit, soft_time_limit=time_limit - 30)
    transaction.on_commit(lambda: current_app.send_task(name, args, **options))


def advance(run_id: int) -> None:
    """Let a worker move the run: claim what is ready, finish it when all is done."""
    _send(ADVANCE_RUN, (run_id,))


def execute(step_id: int, attempt: int, countdown: float | None = None, time_limit: int | None = None) -> None:
    """Let a worker execute this attempt of a claimed step (a second message for it does nothing);
    time_limit: seconds, for the one kind whose work streams inside its task."""
    _send(EXECUTE_STEP, (step_id, attempt), countdown, time_limit)


def recheck(run_id: int) -> None:
    """Let a worker check, before a resumed run goes on, that what its done steps made still exists."""
    _send(RECHECK_RUN, (run_id,))
