"""The reaper: beat runs it every VIO_ENGINE_REAP_SECONDS so that no run stays stuck. A running
step whose worker went silent is run again (its checkpoint lets it adopt what the lost attempt
set going), or failed with the reason after too many attempts; a step past its time limit is
failed as stalled; a run nobody advanced lately (a lost message, a broker restart) is advanced.
Teardowns are runs too, so the same holds for them."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deployments.choices import RUN_ACTIVE, AttemptOutcome, EventLevel, StepStatus
from deployments.engine import dispatch
from deployments.engine.executor import time_limit
from deployments.models import Run, StepAttempt, StepRun
from deployments.services.runs import log

logger = logging.getLogger(__name__)


STALL_MARGIN_SECONDS = 120


def step_time_limit(kind: str) -> int:
    """Seconds a step of this kind may run before it counts as stalled: the step checks its own limit
    first (with a better message), so the reaper adds a margin."""
    return time_limit(kind) + STALL_MARGIN_SECONDS


def reap(now=None) -> dict:
    """One pass; returns what it did, by step id and run id, for tests and the log."""
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
                waiting = f" It was waiting for {step.waiting_for}." if step.waiting_for else ""
                StepRun.objects.filter(pk=step.pk).update(
                    status=StepStatus.FAILED, finished_at=now,
                    error=f"Stalled: still running after {limit // 60} minutes, past the limit for this kind of step."
                          f"{waiting} Check its vCenter tasks in the vSphere Client, then retry.")
                _end_attempt(step, AttemptOutcome.STALLED, now)
                log(step.run, f"{step.key} stalled after {limit // 60} minutes and was failed.", level=EventLevel.ERROR,
                    step_key=step.key)
                done["stalled"].append(step.pk)
        quiet = Run.objects.filter(status__in=RUN_ACTIVE).filter(
            Q(heartbeat_at__lt=lost_before) | Q(heartbeat_at__isnull=True, created_at__lt=lost_before))
        touched = set(StepRun.objects.filter(pk__in=done["resumed"] + done["failed"] + done["stalled"])
                      .values_list("run_id", flat=True))
        done["advanced"] = sorted(touched | set(quiet.values_list("pk", flat=True)))
        for run_id in done["advanced"]:
            dispatch.advance(run_id)
    if any(done.values()):
        logger.info("reaper: %s", done)
    return done


def _lost(step: StepRun, now, done: dict) -> None:
    since = step.heartbeat_at or step.started_at
    who = f" on {step.worker}" if step.worker else " (no worker took it: its message was lost)"
    silence = int((now - since).total_seconds())
    lost = _lost_in_a_row(step)
    if lost >= settings.VIO_ENGINE_MAX_ATTEMPTS:
        error = (f"Its worker was lost{who}, {silence} s without a sign of life, {lost} attempts in a row. "
                 "Check that the workers stay up (memory, restarts), then retry.")
        StepRun.objects.filter(pk=step.pk).update(status=StepStatus.FAILED, finished_at=now, error=error)
        _end_attempt(step, AttemptOutcome.LOST, now)
        log(step.run, f"{step.key} failed: {error}", level=EventLevel.ERROR, step_key=step.key)
        done["failed"].append(step.pk)
        return
    StepRun.objects.filter(pk=step.pk).update(status=StepStatus.PENDING, worker="", heartbeat_at=None,
                                              waiting_for="", waiting_since=None)
    _end_attempt(step, AttemptOutcome.LOST, now)
    log(step.run, f"{step.key}: its worker was lost{who} ({silence} s without a sign of life); it runs again "
                  "and adopts what the lost attempt made.", level=EventLevel.WARNING, step_key=step.key)
    done["resumed"].append(step.pk)


def _end_attempt(step: StepRun, outcome: str, now) -> None:
    StepAttempt.objects.filter(step=step, number=step.attempt, finished_at__isnull=True).update(
        finished_at=now, outcome=outcome)


def _lost_in_a_row(step: StepRun) -> int:
    """Attempts of this step whose worker was lost, counting back from this one (a person's retry
    after a failure starts the count again)."""
    count = 1  # this one
    for outcome in (StepAttempt.objects.filter(step=step, number__lt=step.attempt).order_by("-number")
                    .values_list("outcome", flat=True)):
        if outcome != AttemptOutcome.LOST:
            break
        count += 1
    return count
