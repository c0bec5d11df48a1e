"""The reaper: beat runs it every VIO_ENGINE_REAP_SECONDS so that no run stays stuck. A running
step whose worker went silent is run again (its checkpoint lets it adopt what the lost attempt
set going), or failed with the reason after too many attempts; a step past its time limit is
failed as stalled; a run nobody advanced lately (a lost message, a broker restart) is advanced;
a teardown whose worker died is started again."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deployments.choices import RUN_ACTIVE, DeploymentStatus, EventLevel, StepStatus
from deployments.models import Deployment, Run, StepRun
from deployments.services.runs import log

logger = logging.getLogger(__name__)


def step_time_limit(kind: str) -> int:
    """Seconds a step of this kind may run before it counts as stalled: its own bounded waits end
    first (with a better message), so the limit adds a margin to them."""
    from deployments.engine.steps import TIME_LIMITS

    return TIME_LIMITS.get(kind, settings.VIO_ENGINE_STEP_TIMEOUT) + 60


def reap(now=None) -> dict:
    """One pass; returns what it did, by step id and run id, for tests and the log."""
    from deployments import tasks

    now = now or timezone.now()
    lost_before = now - timedelta(seconds=settings.VIO_ENGINE_LOST_AFTER_SECONDS)
    done = {"resumed": [], "failed": [], "stalled": [], "advanced": []}
    with transaction.atomic():
        silent = (StepRun.objects.select_for_update(skip_locked=True)
                  .filter(status=StepStatus.RUNNING)
                  .filter(Q(heartbeat_at__lt=lost_before) | Q(heartbeat_at__isnull=True, started_at__lt=lost_before))
                  .select_related("run"))
        for step in silent:
            _lost(step, now, done)
        for step in StepRun.objects.select_for_update(skip_locked=True).filter(status=StepStatus.RUNNING).select_related("run"):
            limit = step_time_limit(step.kind)
            if step.started_at and step.started_at < now - timedelta(seconds=limit):
                StepRun.objects.filter(pk=step.pk).update(
                    status=StepStatus.FAILED, finished_at=now,
                    error=f"Stalled: still running after {limit} s, the limit for a {step.kind} step. "
                          "Check the vCenter tasks of this VM, then retry.")
                log(step.run, f"{step.key} stalled after {limit} s and was failed.", level=EventLevel.ERROR, step_key=step.key)
                done["stalled"].append(step.pk)
        quiet = Run.objects.filter(status__in=RUN_ACTIVE).filter(
            Q(heartbeat_at__lt=lost_before) | Q(heartbeat_at__isnull=True, created_at__lt=lost_before))
        touched = set(StepRun.objects.filter(pk__in=done["resumed"] + done["failed"] + done["stalled"])
                      .values_list("run_id", flat=True))
        done["advanced"] = sorted(touched | set(quiet.values_list("pk", flat=True)))
        transaction.on_commit(lambda: [tasks.advance_run.delay(run_id) for run_id in done["advanced"]])
        # A teardown task lives at most the Celery hard limit: one tearing down for longer died with its worker.
        dead_teardowns = Deployment.objects.filter(
            status=DeploymentStatus.TEARING_DOWN,
            updated_at__lt=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 30))
        done["teardowns"] = list(dead_teardowns.values_list("pk", flat=True))
        dead_teardowns.update(updated_at=now)
        transaction.on_commit(lambda: [tasks.teardown_deployment.delay(pk) for pk in done["teardowns"]])
    if any(done.values()):
        logger.info("reaper: %s", done)
    return done


def _lost(step: StepRun, now, done: dict) -> None:
    since = step.heartbeat_at or step.started_at
    who = f" on {step.worker}" if step.worker else " (no worker took it: its message was lost)"
    silence = int((now - since).total_seconds())
    if step.attempt >= settings.VIO_ENGINE_MAX_ATTEMPTS:
        error = (f"Its worker was lost{who}, {silence} s without a sign of life, on attempt {step.attempt} of "
                 f"{settings.VIO_ENGINE_MAX_ATTEMPTS}. Check that the workers stay up (memory, restarts), then retry.")
        StepRun.objects.filter(pk=step.pk).update(status=StepStatus.FAILED, finished_at=now, error=error)
        log(step.run, f"{step.key} failed: {error}", level=EventLevel.ERROR, step_key=step.key)
        done["failed"].append(step.pk)
        return
    StepRun.objects.filter(pk=step.pk).update(status=StepStatus.PENDING, worker="", heartbeat_at=None)
    log(step.run, f"{step.key}: its worker was lost{who} ({silence} s without a sign of life); it runs again "
                  "and adopts what the lost attempt made.", level=EventLevel.WARNING, step_key=step.key)
    done["resumed"].append(step.pk)
