"""What people do to a deployment's runs, beside launching one: stop it, resume it, tear the
deployment down. Views, the API and the commands call these; the engine does the work."""

from django.db import transaction
from django.utils import timezone

from deployments.choices import RUN_ACTIVE, RUN_CAN_CANCEL, DeploymentStatus, EventLevel, RunKind, RunStatus, StepStatus
from deployments.engine import dispatch
from deployments.models import Deployment, Run
from deployments.services.runs import RunAlreadyActive, log, start_run

RESUMABLE = frozenset({RunStatus.FAILED, RunStatus.CANCELLED})


class Refused(Exception):
    """The action does not apply now; the message says why and what to do instead."""


def cancel(deployment: Deployment) -> Run:
    """Stop the active run, cooperatively: running steps finish (a clone in progress is completed),
    waits end within seconds, no new step starts. Refused when nothing runs."""
    run = deployment.latest_run
    updated = run is not None and Run.objects.filter(pk=run.pk, status__in=sorted(RUN_CAN_CANCEL)).update(
        cancel_requested=True, status=RunStatus.CANCELLING)
    if not updated:
        raise Refused("Nothing is running: only a queued or running deployment can be stopped.")
    Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.CANCELLING, updated_at=timezone.now())
    log(run, "Stop requested: running steps finish, no new step starts.", level=EventLevel.WARNING)
    dispatch.advance(run.pk)
    return run


def resume(deployment: Deployment) -> Run:
    """Go on with a failed or stopped run from where it ended, with the same inputs: its failed and
    stopped steps, and those waiting on them, run again. Before anything starts, what the done steps
    made is checked against vCenter, and what is gone is made again."""
    run = deployment.latest_run
    if run is None:
        raise Refused("This deployment has no run to resume.")
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.status not in RESUMABLE:
            raise Refused("Only a failed or stopped run can be resumed"
                          + (": this one is still going." if locked.status in RUN_ACTIVE else "."))
        again = list(locked.steps.filter(status__in=[StepStatus.FAILED, StepStatus.CANCELLED])
                     .values_list("key", flat=True))
        locked.steps.filter(status__in=[StepStatus.FAILED, StepStatus.CANCELLED]).update(
            status=StepStatus.PENDING, error="", finished_at=None, ready_at=None)
        was = locked.status
        locked.status, locked.error, locked.finished_at, locked.cancel_requested = RunStatus.RUNNING, "", None, False
        locked.recheck_pending = locked.kind != RunKind.TEARDOWN
        locked.save(update_fields=["status", "error", "finished_at", "cancel_requested", "recheck_pending"])
        status = DeploymentStatus.TEARING_DOWN if locked.kind == RunKind.TEARDOWN else DeploymentStatus.RUNNING
        Deployment.objects.filter(pk=deployment.pk).update(status=status, updated_at=timezone.now())
        what = ", ".join(again) if again else "the remaining steps"
        check = " What the done steps made is checked against vCenter first." if locked.recheck_pending else ""
        log(locked, f"Resumed after it {'failed' if was == RunStatus.FAILED else 'was stopped'}: {what} "
                    f"and the steps after them run again.{check}", level=EventLevel.WARNING)
        dispatch.advance(locked.pk)
    return locked


def teardown(deployment: Deployment) -> Run:
    """Start a teardown run: everything the deployment made goes, then the deployment. Refused while
    a run is active (stop it first)."""
    if deployment.runs.filter(status__in=sorted(RUN_ACTIVE)).exists():
        raise Refused(f"{deployment.name} has a run in progress: stop it first, then tear down.")
    try:
        with transaction.atomic():
            run = start_run(deployment, None, kind=RunKind.TEARDOWN)
            Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.TEARING_DOWN,
                                                               updated_at=timezone.now())
            dispatch.advance(run.pk)
    except RunAlreadyActive:
        raise Refused(f"{deployment.name} has a run in progress: stop it first, then tear down.") from None
    return run
