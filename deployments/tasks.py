"""Thin Celery entry points for deployments."""

from celery import shared_task

from deployments.services import wizard_secrets


@shared_task(name="deployments.forget_wizard_secrets")
def forget_wizard_secrets() -> None:
    wizard_secrets.forget_abandoned()


@shared_task(name="deployments.advance_run")
def advance_run(run_id: int) -> None:
    from deployments.engine.runner import advance

    advance(run_id)


@shared_task(name="deployments.execute_step")
def execute_step(step_id: int, attempt: int | None = None) -> None:
    from deployments.engine.executor import execute
    from deployments.engine.runner import runs_to_advance_after

    again_in = execute(step_id, attempt)
    if again_in is not None:
        execute_step.apply_async((step_id, attempt), countdown=again_in)
        return
    for run_id in runs_to_advance_after(step_id):
        advance_run.delay(run_id)


@shared_task(name="deployments.teardown_deployment")
def teardown_deployment(deployment_id: int) -> None:
    from deployments.engine.teardown import teardown

    teardown(deployment_id)


@shared_task(name="deployments.reap_runs")
def reap_runs() -> None:
    from deployments.engine.reaper import reap

    reap()
