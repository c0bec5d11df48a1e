"""The step runner. The database is the truth of a run: advance() locks the run (and its
vCenter, so concurrency limits hold across workers), claims the steps whose dependencies are
done, and leaves their execution to short Celery tasks that each report back and advance again."""

import logging
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from deployments.choices import RUN_ACTIVE, RUN_CAN_CANCEL, RUN_TERMINAL, STEP_DONE, DeploymentStatus, EventLevel, RunStatus, StepStatus
from deployments.models import Deployment, Run, StepRun
from deployments.services.runs import log
from inventory.models import VCenter

logger = logging.getLogger(__name__)


def advance(run_id: int, keep_one: bool = False) -> list[tuple[int, int]]:
    """One move of a run: claim the ready steps that fit, most of the run still behind them first.
    Returns the (step id, attempt) pairs claimed; all are dispatched as Celery tasks after commit,
    except, with keep_one, the first, which the caller (a worker that just finished a step)
    executes itself, saving a round trip through the broker on the run's critical path."""
    from deployments import tasks

    with transaction.atomic():
        vcenter_id = Run.objects.filter(pk=run_id).values_list("deployment__vcenter_id", flat=True).get()
        VCenter.objects.select_for_update().filter(pk=vcenter_id).first()
        run = Run.objects.select_for_update().select_related("deployment").get(pk=run_id)
        if run.status in RUN_TERMINAL:
            return []
        now = timezone.now()
        if run.status == RunStatus.PENDING:
            run.status, run.started_at = RunStatus.RUNNING, now
            Deployment.objects.filter(pk=run.deployment_id).update(status=DeploymentStatus.RUNNING)
        run.heartbeat_at = now
        steps = list(run.steps.select_for_update())
        by_key = {step.key: step for step in steps}
        running = [s for s in steps if s.status == StepStatus.RUNNING]
        failed = [s for s in steps if s.status == StepStatus.FAILED]

        if run.cancel_requested:
            StepRun.objects.filter(run=run, status=StepStatus.PENDING).update(status=StepStatus.CANCELLED, finished_at=now)
            if not running:
                _finish(run, RunStatus.CANCELLED, DeploymentStatus.CANCELLED, "Cancelled by request.")
            run.save(update_fields=RUN_MOVES)
            return []

        claimed: list[StepRun] = []
        if not failed:
            ready = [s for s in steps if s.status == StepStatus.PENDING
                     and all(by_key[d].status in STEP_DONE for d in s.depends_on)]
            behind = _work_behind(steps)
            ready.sort(key=lambda step: -behind[step.key])
            for step in _within_limits(vcenter_id, ready):
                step.status, step.started_at, step.finished_at, step.error = StepStatus.RUNNING, now, None, ""
                step.attempt, step.worker, step.heartbeat_at = step.attempt + 1, "", None
                claimed.append(step)
            StepRun.objects.bulk_update(claimed, ["status", "started_at", "finished_at", "error", "attempt",
                                                  "worker", "heartbeat_at"])

        if not claimed and not running:
            if all(s.status in STEP_DONE for s in steps):
                _finish(run, RunStatus.SUCCEEDED, DeploymentStatus.SUCCEEDED, "")
            elif failed:
                _finish(run, RunStatus.FAILED, DeploymentStatus.FAILED, f"Step {failed[0].key} failed: {failed[0].error}")
        run.save(update_fields=RUN_MOVES)
        claims = [(step.pk, step.attempt) for step in claimed]
        kept, sent = (claims[:1], claims[1:]) if keep_one else ([], claims)
        transaction.on_commit(lambda: [tasks.execute_step.delay(*message) for message in sent])
    return kept + sent


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


def _finish(run: Run, status: str, deployment_status: str, error: str) -> None:
    run.status, run.finished_at, run.error = status, timezone.now(), error
    Deployment.objects.filter(pk=run.deployment_id).update(status=deployment_status)
    log(run, f"Run {run.number} {status}." + (f" {error}" if error else ""),
        level=EventLevel.ERROR if status == RunStatus.FAILED else EventLevel.INFO)


def request_cancel(run: Run | None) -> bool:
    """Cooperative: the flag is honoured between steps; steps running now finish first.
    False when there is no run in a state that can be cancelled."""
    from deployments import tasks

    if run is None:
        return False
    updated = Run.objects.filter(pk=run.pk, status__in=RUN_CAN_CANCEL).update(
        cancel_requested=True, status=RunStatus.CANCELLING)
    if updated:
        log(run, "Cancel requested: running steps finish, no new step starts.", level=EventLevel.WARNING)
        transaction.on_commit(lambda: tasks.advance_run.delay(run.pk))
    return bool(updated)


def retry(run: Run | None) -> bool:
    """Resume a failed run from its failed steps: they, and the steps waiting on them, run again
    with the same inputs; what succeeded is kept. False unless the run failed."""
    from deployments import tasks

    if run is None:
        return False
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.status != RunStatus.FAILED:
            return False
        failed = list(locked.steps.filter(status=StepStatus.FAILED).values_list("key", flat=True))
        locked.steps.filter(status__in=[StepStatus.FAILED, StepStatus.CANCELLED]).update(
            status=StepStatus.PENDING, error="", finished_at=None)
        locked.status, locked.error, locked.finished_at = RunStatus.RUNNING, "", None
        locked.save(update_fields=["status", "error", "finished_at"])
        Deployment.objects.filter(pk=locked.deployment_id).update(status=DeploymentStatus.RUNNING)
        log(locked, f"Retry requested: {', '.join(failed)} and the steps after them run again.", level=EventLevel.WARNING)
        transaction.on_commit(lambda: tasks.advance_run.delay(locked.pk))
    return True
