"""Thin Celery entry points for deployments: the only module that imports the engine to run it.
Work is queued through deployments/engine/dispatch.py, by these tasks' names."""

import logging
import time

from celery import shared_task
from celery.signals import worker_init
from django.conf import settings

from deployments.models import StepRun
from deployments.services import wizard_secrets


@shared_task(name="deployments.forget_wizard_secrets")
def forget_wizard_secrets() -> None:
    wizard_secrets.forget_abandoned()


@shared_task(name="deployments.advance_run")
def advance_run(run_id: int) -> None:
    from deployments.engine.runner import advance

    advance(run_id)


@shared_task(name="deployments.execute_step")
def execute_step(step_id: int, attempt: int) -> None:
    """Execute one attempt of a step, then advance its run; while this task is young the worker goes
    on with a step the advance claimed for it (tasks stay short), and the queue takes the others."""
    from deployments.engine import dispatch
    from deployments.engine.executor import execute
    from deployments.engine.runner import advance, runs_to_advance_after, task_time_limit
    from deployments.engine.steps import KINDS

    started = time.monotonic()
    while True:
        again_in = execute(step_id, attempt, KINDS)
        if again_in is not None:
            kind = StepRun.objects.filter(pk=step_id).values_list("kind", flat=True).first() or ""
            dispatch.execute(step_id, attempt, countdown=again_in, time_limit=task_time_limit(kind))
            return
        own, *others = runs_to_advance_after(step_id) or [None]
        for run_id in others:
            dispatch.advance(run_id)
        if own is None:
            return
        # it runs the next step itself only within a follow's time of its task's start; later, it queues it
        kept = advance(own, keep_one=time.monotonic() - started < settings.VIO_ENGINE_FOLLOW_SECONDS)
        if kept is None:
            return
        step_id, attempt = kept


@shared_task(name="deployments.recheck_run")
def recheck_run(run_id: int) -> None:
    from deployments.engine.recheck import recheck

    recheck(run_id)


@shared_task(name="deployments.check_health")
def check_health() -> None:
    from deployments.services.health import record_changes

    record_changes()


@shared_task(name="deployments.check_openstack")
def check_openstack() -> None:
    """One task per cloud: an unreachable cloud waits out its own timeouts, not the others'."""
    from deployments.services.cloud_view import running_clouds

    for deployment_id in running_clouds():
        observe_openstack.apply_async(args=[deployment_id], expires=float(settings.VIO_HEALTH_OPENSTACK_SECONDS))


@shared_task(name="deployments.observe_openstack")
def observe_openstack(deployment_id: int) -> None:
    from deployments.services.cloud_view import observe_and_store

    observe_and_store(deployment_id)


@shared_task(name="deployments.reap_runs")
def reap_runs() -> None:
    from deployments.engine.reaper import reap

    reap()


@worker_init.connect
def _warm_the_engine(**_) -> None:
    """Load the engine and read kolla-ansible's variable names once, in the worker's main process:
    the pool's children share it instead of each paying about 0.7 s on its first step."""
    try:
        from deployments.engine import steps  # noqa: F401
        from deployments.engine.kolla.check import known_passwords, known_variables

        known_variables(), known_passwords()
    except Exception:  # the first step pays instead; never keep a worker from starting
        logging.getLogger(__name__).warning("could not warm the engine", exc_info=True)
