"""Running one claimed attempt of a step: take it (exactly once), build its context, call its kind's
function, record the outcome in words a vSphere administrator can act on."""

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from deployments.choices import AttemptOutcome, EventLevel, StepStatus
from deployments.models import Run, StepAttempt, StepRun
from deployments.services.runs import log

logger = logging.getLogger(__name__)
CANCEL_CHECK_SECONDS = 2  # how soon a wait inside a step hears of a cancel request
UNREACHABLE_RETRY_SECONDS = 15  # how often a step tries an unreachable vCenter again
DATABASE_PATIENCE_SECONDS = 120  # how long a step's bookkeeping waits for the database to come back
_PLANS: dict = {}  # run id -> plan, in this worker process


class StepFailed(Exception):
    """The step cannot succeed as things are; the message says why and what to do."""


class StepCancelled(Exception):
    """The step stopped early because its run is being cancelled (it left nothing half made)."""


@dataclass
class Skipped:
    reason: str


@dataclass
class Again:
    """The step's work goes on outside the worker (a vCenter task, kolla-ansible in its own process):
    keep the step running and call its function again after `seconds`, in a new short task."""
    seconds: float


class FollowLater(Exception):
    """Raised inside a step when a vCenter task it follows is still running at the end of this
    task's share of the wait: the step goes on in a new task, which follows the same vCenter task."""


def time_limit(kind: str) -> int:
    """Seconds a step of this kind may take in all (settings; real-world defaults)."""
    return settings.VIO_ENGINE_TIME_LIMITS.get(kind, settings.VIO_ENGINE_TIME_LIMIT_DEFAULT)


def with_database(action, *, patience: float = DATABASE_PATIENCE_SECONDS):
    """Run a small database action, waiting out a database restart: on a lost connection, close it,
    wait, try again. Outside transactions only (each action is its own)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return action()
        except DatabaseError:
            if connection.in_atomic_block or time.monotonic() > deadline:
                raise
            logger.warning("database unavailable; trying again", exc_info=True)
            connection.close()
            time.sleep(1)


@dataclass
class StepContext:
    step: StepRun
    outputs: dict = field(default_factory=dict)  # key -> output of the run's succeeded steps
    cancelled: threading.Event = field(default_factory=threading.Event)  # set when the run is cancelled
    task_started: float = field(default_factory=time.monotonic)

    @property
    def run(self):
        return self.step.run

    @property
    def deployment(self):
        return self.step.run.deployment

    @cached_property
    def spec_data(self) -> dict:
        """The run's spec with its secrets: those of the revision it applies (a change may rotate a
        password), else the deployment's."""
        from deployments.services.secrets import merge_secrets

        holder = self.run.revision if self.run.revision_id else self.deployment
        return merge_secrets(self.run.spec, json.loads(holder.secrets.reveal()))

    @cached_property
    def spec(self):
        from deployments.spec import DeploymentSpec

        return DeploymentSpec.model_validate(self.spec_data)

    @cached_property
    def inventory(self):
        from deployments.spec.inventory_checks import InventoryContext

        return InventoryContext(self.deployment.vcenter, self.spec.datacenter)

    @cached_property
    def plan(self):
        """The run's plan, fixed when the run was created (its addresses are held); runs made before
        plans were recorded build it again, once per worker."""
        from deployments.plan import Plan
        from deployments.services.addresses import plan_with_addresses

        if self.run.plan:
            return Plan.from_dict(self.run.plan)
        plan = _PLANS.get(self.run.pk)
        if plan is None:
            plan = _PLANS[self.run.pk] = plan_with_addresses(self.deployment, self.spec)
            while len(_PLANS) > 32:
                _PLANS.pop(next(iter(_PLANS)))
        return plan

    @cached_property
    def si(self):
        from inventory.clients import sessions
        from inventory.clients.vsphere import VCenterCredentials

        return sessions.session_for(VCenterCredentials.of(self.deployment.vcenter))

    def vm(self, name: str):
        return next(vm for vm in self.plan.vms if vm.name == name)

    @property
    def limit(self) -> int:
        return time_limit(self.step.kind)

    def seconds_left(self) -> float:
        """What is left of this step's time limit (its attempt started when it was claimed)."""
        return self.limit - (timezone.now() - self.step.started_at).total_seconds()

    def follow_budget(self) -> float:
        """How long this Celery task may still wait on vCenter before it hands the step on."""
        return max(1.0, settings.VIO_ENGINE_FOLLOW_SECONDS - (time.monotonic() - self.task_started))

    def log(self, message: str, level: str = EventLevel.INFO) -> None:
        with_database(lambda: log(self.run, message, level=level, step_key=self.step.key))

    def save_checkpoint(self, **values) -> None:
        """Record, at once, what this attempt has set going (a vCenter task id), for the next one."""
        self.step.checkpoint = {**self.step.checkpoint, **values}
        with_database(lambda: _owned(self.step).update(checkpoint=self.step.checkpoint))

    def waiting(self, what: str, since=None) -> None:
        """Say what the step waits for now, and since when (shown on the deployment page)."""
        if what == self.step.waiting_for:
            return
        self.step.waiting_for, self.step.waiting_since = what[:255], since or timezone.now()
        with_database(lambda: _owned(self.step).update(waiting_for=self.step.waiting_for,
                                                       waiting_since=self.step.waiting_since))


def _owned(step: StepRun):
    """The step's row while this attempt, in this worker, still owns it (a reaper may have handed it on)."""
    return StepRun.objects.filter(pk=step.pk, status=StepStatus.RUNNING, attempt=step.attempt, worker=step.worker)


class Heartbeat(threading.Thread):
    """Touches the step every few seconds while its function runs, so the reaper can tell a dead
    worker from a slow step, and notices a cancel request so waits can end early. A database error
    (a restart, a lost connection) is waited out: the thread reconnects on its next beat."""

    def __init__(self, context: StepContext):
        super().__init__(name=f"heartbeat-{context.step.pk}", daemon=True)
        self.context, self.done = context, threading.Event()

    def run(self) -> None:
        beat_every = settings.VIO_ENGINE_HEARTBEAT_SECONDS
        check_every = min(CANCEL_CHECK_SECONDS, beat_every)
        last_beat = time.monotonic()
        try:
            while not self.done.wait(check_every):
                try:
                    if time.monotonic() - last_beat >= beat_every:
                        _owned(self.context.step).update(heartbeat_at=timezone.now())
                        last_beat = time.monotonic()
                    if not self.context.cancelled.is_set() and Run.objects.filter(
                            pk=self.context.step.run_id, cancel_requested=True).exists():
                        self.context.cancelled.set()
                except Exception:  # never let the beat stop: the reaper would take a live step for lost
                    logger.warning("heartbeat of step %s: the database did not answer; trying again",
                                   self.context.step.pk, exc_info=True)
                    connection.close()
        finally:
            connection.close()  # this thread's own connection

    def stop(self) -> None:
        self.done.set()
        self.join()


def _take(step_id: int, attempt: int) -> StepRun | None:
    """This attempt of the step, taken by this worker; None when another worker took it, or the
    message is stale (an earlier attempt, a cancelled step): the one place a step starts executing."""
    me = f"{socket.gethostname()}:{os.getpid()}"
    now = timezone.now()
    taken = StepRun.objects.filter(pk=step_id, status=StepStatus.RUNNING, attempt=attempt, worker="").update(
        worker=me, heartbeat_at=now)
    if not taken:
        return None
    StepAttempt.objects.filter(step_id=step_id, number=attempt, started_at__isnull=True).update(started_at=now, worker=me)
    return StepRun.objects.select_related("run__deployment__vcenter").get(pk=step_id)


def execute(step_id: int, attempt: int, kinds: dict) -> float | None:
    """Run the step's function (kinds: {kind: function}) once and record the outcome; returns None
    when the step has ended (or was not this message's to run), or the seconds after which to call
    it again (Again)."""
    step = with_database(lambda: _take(step_id, attempt))
    if step is None:
        return None
    outputs = dict(StepRun.objects.filter(run=step.run, status=StepStatus.SUCCEEDED).values_list("key", "output"))
    context = StepContext(step=step, outputs=outputs)
    if not step.checkpoint.get("again"):
        context.log(f"{_label(step)} started (attempt {step.attempt}).")
    heartbeat = Heartbeat(context)
    heartbeat.start()
    status, output, error = StepStatus.SUCCEEDED, {}, ""
    try:
        if context.seconds_left() <= 0:
            raise StepFailed(over_time(step))
        result = kinds[step.kind](context)
        if isinstance(result, Again):
            return _hand_on(context, result.seconds, reached=True)
        if isinstance(result, Skipped):
            status, output = StepStatus.SKIPPED, {"skipped": result.reason}
        else:
            output = result or {}
    except FollowLater:
        return _hand_on(context, 0.5, reached=True)
    except StepCancelled as exc:
        status, error = StepStatus.CANCELLED, str(exc)
    except Exception as exc:  # every failure is recorded on the step in words; unexpected ones logged in full
        unreachable = _unreachable(exc, step)
        retry_in = _retry_in(context, unreachable) if unreachable else None
        if retry_in is not None:
            return _hand_on(context, retry_in)
        status, error = StepStatus.FAILED, unreachable or _explain(exc, step)
    finally:
        heartbeat.stop()
    _record(context, status, output, error)
    return None


def _hand_on(context: StepContext, seconds: float, reached: bool = False) -> float | None:
    """Release the attempt (same number) for the next task, which takes it again after `seconds`.
    reached: vCenter answered this time (an outage, if there was one, is over)."""
    step = context.step
    step.checkpoint = {**step.checkpoint, "again": True}
    if reached:
        step.checkpoint.pop("unreachable_since", None)
    released = with_database(lambda: _owned(step).update(worker="", heartbeat_at=timezone.now(),
                                                         checkpoint=step.checkpoint))
    return seconds if released else None


def _record(context: StepContext, status: str, output: dict, error: str) -> None:
    step = context.step
    now = timezone.now()

    def write():
        with transaction.atomic():
            updated = _owned(step).update(status=status, output=output, error=error, finished_at=now,
                                          waiting_for="", waiting_since=None)
            if updated:
                StepAttempt.objects.filter(step=step, number=step.attempt).update(finished_at=now, outcome=status)
            return updated

    if with_database(write):
        level = EventLevel.ERROR if status == StepStatus.FAILED else EventLevel.INFO
        context.log(f"{_label(step)}: {StepStatus(status).label.lower()}." + (f" {error}" if error else "")
                    + (f" ({output['skipped']})" if status == StepStatus.SKIPPED else ""), level)


def _label(step: StepRun) -> str:
    from deployments.plan.steps import describe

    return describe(step.kind, step.target)


def over_time(step: StepRun) -> str:
    minutes = time_limit(step.kind) / 60
    waited = f" It was waiting for {step.waiting_for}." if step.waiting_for else ""
    return (f"{_label(step)} did not finish within {minutes:g} minutes, the limit for this kind of step.{waited} "
            "Check the task in the vSphere Client; retry when it has ended, or raise the limit "
            f"(VIO_ENGINE_TIME_LIMITS={step.kind}=<seconds>).")


def _unreachable(exc: Exception, step: StepRun) -> str:
    """Words for a vCenter that cannot be reached now (a restart, a network problem), or ""."""
    from inventory.clients.vsphere import unreachable_reason

    vcenter = step.run.deployment.vcenter
    return unreachable_reason(exc, f"vCenter {vcenter.host}:{vcenter.port}")


def _retry_in(context: StepContext, reason: str) -> float | None:
    """Record when vCenter stopped answering; the seconds until the next try while the run may still
    wait for it (the last try falls at the end of the patience, not after it), else None."""
    step = context.step
    since = step.checkpoint.get("unreachable_since")
    now = time.time()
    if since is None:
        since = now
        context.save_checkpoint(unreachable_since=since)
    waited = now - since
    patience = settings.VIO_ENGINE_UNREACHABLE_SECONDS
    if waited >= patience or context.seconds_left() <= UNREACHABLE_RETRY_SECONDS:
        return None
    every = min(UNREACHABLE_RETRY_SECONDS, patience)
    first = waited < 1
    if first or int(waited) % 60 < every:  # a line a minute, not one per try
        context.log(f"{reason} Trying again every {every} s for up to {_duration(patience)}.", EventLevel.WARNING)
    context.waiting(reason.rstrip("."), since=timezone.now() - timedelta(seconds=waited))
    return max(1.0, min(every, patience - waited))


def _duration(seconds: int) -> str:
    """"15 minutes", "90 s": a patience or a limit in words."""
    return f"{seconds // 60} minutes" if seconds >= 120 and seconds % 60 == 0 else f"{seconds} s"


def _explain(exc: Exception, step: StepRun) -> str:
    """The step's error in words: ours and vCenter's messages as they are; anything unexpected gets a
    reference to the worker's log instead of a Python exception."""
    from inventory.clients.errors import ConnectionProblem
    from inventory.clients.vsphere import explain_fault
    from inventory.clients.vsphere_build import BuildError
    from inventory.clients.vsphere_ova import OvaImportError

    if isinstance(exc, (StepFailed, ConnectionProblem, BuildError, OvaImportError)) and str(exc):
        return str(exc)
    words = explain_fault(exc)
    if words:
        return words
    reference = uuid.uuid4().hex[:8]
    logger.exception("step %s of run %s failed unexpectedly (reference %s)", step.key, step.run_id, reference)
    return (f"An unexpected error stopped this step (reference {reference} in the worker's log). "
            "Retry; if it happens again, report the reference with the worker's log.")
