"""Thin Celery entry points for deployments."""

import time

from celery import shared_task

from deployments.services import wizard_secrets

# A worker executes the next step of a run itself only within this many seconds of its task's start.
CONTINUE_WITHIN_SECONDS = 20


@shared_task(name="deployments.forget_wizard_secrets")
def forget_wizard_secrets() -> None:
    wizard_secrets.forget_abandoned()


@shared_task(name="deployments.advance_run")
def advance_run(run_id: int) -> None:
    from deployments.engine.runner import advance

    advance(run_id)


@shared_task(name="deployments.execute_step")
def execute_step(step_id: int, attempt: int | None = None) -> None:
    """Execute a step, then advance its run; the worker goes on with the next step of the run
    itself while this task is young (tasks stay short), and leaves the others to the queue."""
    from deployments.engine.executor import execute
    from deployments.engine.runner import advance, runs_to_advance_after

    started = time.monotonic()
    while True:
        again_in = execute(step_id, attempt)
        if again_in is not None:
            execute_step.apply_async((step_id, attempt), countdown=again_in)
            return
        own, *others = runs_to_advance_after(step_id) or [None]
        for run_id in others:
            advance_run.delay(run_id)
        if own is None:
            return
        kept = advance(own, keep_one=time.monotonic() - started < CONTINUE_WITHIN_SECONDS)
        if not kept:
            return
        step_id, attempt = kept[0]


@shared_task(name="deployments.teardown_deployment")
def teardown_deployment(deployment_id: int) -> None:
    from deployments.engine.teardown import teardown

    teardown(deployment_id)


@shared_task(name="deployments.reap_runs")
def reap_runs() -> None:
    from deployments.engine.reaper import reap

    reap()
