"""The step runner. The database is the truth of a run: advance() locks the run (and its
vCenter, so concurrency limits hold across workers), claims the steps whose dependencies are
done, and leaves their execution to short Celery tasks that each report back and advance again.
A claim is one attempt of a step: the step row holds its number, and the worker that takes it
writes its name there atomically, so one attempt executes in exactly one place."""

import logging
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from deployments.choices import RUN_ACTIVE, RUN_TERMINAL, STEP_DONE, DeploymentStatus, EventLevel, RunKind, RunStatus, StepStatus
from deployments.engine import dispatch
from deployments.models import Deployment, Run, StepAttempt, StepRun
from deployments.services.runs import log
from inventory.models import VCenter

logger = logging.getLogger(__name__)


def advance(run_id: int, keep_one: bool = False) -> tuple[int, int] | None:
    """One move of a run: claim the ready steps that fit, most of the run still behind them first,
    and hand each claim to exactly one executor. With keep_one, the caller (a worker that just
    finished a step) gets the first claim back to execute itself, saving a round trip through the
    broker on the run's critical path; every other claim is dispatched, and none is both."""
    with transaction.atomic():
        vcenter_id = Run.objects.filter(pk=run_id).values_list("deployment__vcenter_id", flat=True).first()
        if vcenter_id is None:
            return None  # the deployment is gone (torn down)
        VCenter.objects.select_for_update().filter(pk=vcenter_id).first()
        run = Run.objects.select_for_update().select_related("deployment").get(pk=run_id)
        if run.status in RUN_TERMINAL:
            return None
        now = timezone.now()
        if run.status == RunStatus.PENDING:
            run.status, run.started_at = RunStatus.RUNNING, now
            Deployment.objects.filter(pk=run.deployment_id).update(status=deployment_status(run))
        run.heartbeat_at = now
        if run.recheck_pending and not run.cancel_requested:
            run.save(update_fields=RUN_MOVES)
            dispatch.recheck(run.pk)  # nothing starts before the done steps are checked
            return None
        steps = list(run.steps.select_for_update())
        by_key = {step.key: step for step in steps}
        running = [s for s in steps if s.status == StepStatus.RUNNING]
        failed = [s for s in steps if s.status == StepStatus.FAILED]

        if run.cancel_requested:
            StepRun.objects.filter(run=run, status=StepStatus.PENDING).update(status=StepStatus.CANCELLED, finished_at=now)
            if not running:
                _finish(run, RunStatus.CANCELLED, "Stopped by request.")
            run.save(update_fields=RUN_MOVES)
            return None

        claimed: list[StepRun] = []
        if not failed:
            ready = [s for s in steps if s.status == StepStatus.PENDING
                     and all(by_key[d].status in STEP_DONE for d in s.depends_on)]
            newly_ready = [s for s in ready if s.ready_at is None]
            for step in newly_ready:
                step.ready_at = now
            StepRun.objects.bulk_update(newly_ready, ["ready_at"])
            behind = _work_behind(steps)
            ready.sort(key=lambda step: -behind[step.key])
            for step in _within_limits(vcenter_id, ready):
                step.status, step.started_at, step.finished_at, step.error = StepStatus.RUNNING, now, None, ""
                step.attempt, step.worker, step.heartbeat_at = step.attempt + 1, "", None
                step.waiting_for, step.waiting_since = "", None
                # What belonged to the previous attempt only (a turn held, a hand-on); vCenter task ids stay.
                step.checkpoint = {k: v for k, v in step.checkpoint.items() if k not in ATTEMPT_ONLY}
                claimed.append(step)
            StepRun.objects.bulk_update(claimed, ["status", "started_at", "finished_at", "error", "attempt", "worker",
                                                  "heartbeat_at", "waiting_for", "waiting_since", "checkpoint"])
            StepAttempt.objects.bulk_create([StepAttempt(step=step, number=step.attempt, claimed_at=now)
                                             for step in claimed], ignore_conflicts=True)

        if not claimed and not running:
            if all(s.status in STEP_DONE for s in steps):
                if _finish(run, RunStatus.SUCCEEDED, "") == GONE:
                    return None
            elif failed:
                _finish(run, RunStatus.FAILED, f"{step_label(failed[0])} failed: {failed[0].error}")
        run.save(update_fields=RUN_MOVES)
        kept = claimed[0] if keep_one and claimed and claimed[0].kind not in LONG_IN_TASK else None
        for step in claimed:
            if step is not kept:
                dispatch.execute(step.pk, step.attempt, time_limit=task_time_limit(step.kind))
    return (kept.pk, kept.attempt) if kept else None


# Kinds whose work streams inside the worker (the OVA upload): always a task of their own, never
# carried on by a worker that just finished another step, with a Celery time limit of its kind.
LONG_IN_TASK = frozenset({"import_ova"})
ATTEMPT_ONLY = ("again", "importing", "unreachable_since")


def task_time_limit(kind: str) -> int | None:
    """The Celery time limit for a task executing this kind of step: the default (tasks are short)
    unless its work streams inside the task."""
    from deployments.engine.executor import time_limit

    return time_limit(kind) + 60 if kind in LONG_IN_TASK else None
GONE = "gone"  # what _finish returns when a finished teardown deleted the deployment


RUN_MOVES = ["status", "started_at", "finished_at", "error", "heartbeat_at"]  # what advance changes on a run


def _work_behind(steps: list[StepRun]) -> dict[str, int]:
    """For each step, the weight of the heaviest chain from it to the end of the run (itself
    included): starting the step with the most behind it first shortens the run (critical path)."""
    after: dict[str, list[str]] = {step.key: [] for step in steps}
    for step in steps:
        for dependency in step.depends_on:
            after.setdefault(dependency, []).append(step.key)
    weight = {step.key: step.weight for step in steps}
    behind: dict[str, int] = {}
    for step in reversed(steps):  # the graph lists a step after the steps it depends on
        behind[step.key] = weight[step.key] + max((behind.get(k, 0) for k in after[step.key]), default=0)
    return behind


def runs_to_advance_after(step_id: int) -> list[int]:
    """A finished step frees a slot: its own run moves first, then the other active runs on the same
    vCenter, which may have steps waiting for room (they are not woken otherwise)."""
    row = StepRun.objects.filter(pk=step_id).values("run_id", "run__deployment__vcenter_id").first()
    if row is None:
        return []
    others = (Run.objects.filter(status__in=RUN_ACTIVE, deployment__vcenter_id=row["run__deployment__vcenter_id"])
              .exclude(pk=row["run_id"]).values_list("pk", flat=True))
    return [row["run_id"], *others]


def _within_limits(vcenter_id: int, ready: list[StepRun]) -> list[StepRun]:
    """The ready steps that fit under the per-vCenter limit and, for clones, the per-host limit,
    counting what runs now for every deployment on this vCenter (its row is locked by the caller,
    so two workers cannot both take the last slot)."""
    running = StepRun.objects.filter(run__deployment__vcenter_id=vcenter_id, status=StepStatus.RUNNING)
    room = settings.VIO_ENGINE_PARALLEL_PER_VCENTER - running.count()
    per_host = Counter(running.exclude(host="").values_list("host", flat=True))
    chosen = []
    for step in ready:
        if len(chosen) >= room:
            break
        if step.host:
            if per_host[step.host] >= settings.VIO_ENGINE_PARALLEL_PER_HOST:
                continue
            per_host[step.host] += 1
        chosen.append(step)
    return chosen


def deployment_status(run: Run) -> str:
    """What a deployment's status is while, and after, this run of it."""
    if run.kind == RunKind.TEARDOWN:
        return {RunStatus.SUCCEEDED: DeploymentStatus.TEARING_DOWN, RunStatus.FAILED: DeploymentStatus.FAILED,
                RunStatus.CANCELLED: DeploymentStatus.CANCELLED}.get(run.status, DeploymentStatus.TEARING_DOWN)
    return {RunStatus.PENDING: DeploymentStatus.QUEUED, RunStatus.RUNNING: DeploymentStatus.RUNNING,
            RunStatus.CANCELLING: DeploymentStatus.CANCELLING, RunStatus.SUCCEEDED: DeploymentStatus.SUCCEEDED,
            RunStatus.FAILED: DeploymentStatus.FAILED, RunStatus.CANCELLED: DeploymentStatus.CANCELLED}[run.status]


def step_label(step: StepRun) -> str:
    """A step as people name it: "Clone cloud1-lb-01", "Import the appliance OVA"."""
    from deployments.plan.steps import describe

    return describe(step.kind, step.target)


def _finish(run: Run, status: str, error: str) -> str:
    run.status, run.finished_at, run.error = status, timezone.now(), error
    if status == RunStatus.SUCCEEDED and run.revision_id and run.kind != RunKind.TEARDOWN:
        from deployments.services.revisions import apply

        apply(run.revision)  # the revision this run applied is the deployment's current one now
    if run.kind == RunKind.TEARDOWN and status == RunStatus.SUCCEEDED:
        deployment = run.deployment
        logger.info("deployment %s torn down; deleting it", deployment.name)
        deployment.delete()  # its runs, steps, events and addresses go with it
        return GONE
    Deployment.objects.filter(pk=run.deployment_id).update(status=deployment_status(run))
    what = "Teardown" if run.kind == RunKind.TEARDOWN else f"Run {run.number}"
    log(run, f"{what} {RunStatus(status).label.lower()}." + (f" {error}" if error else ""),
        level=EventLevel.ERROR if status == RunStatus.FAILED else EventLevel.INFO)
    return status
