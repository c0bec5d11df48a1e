"""Running one claimed step: build its context, call its kind's function, record the outcome."""

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from deployments.choices import EventLevel, StepStatus
from deployments.models import Run, StepRun
from deployments.services.runs import log

logger = logging.getLogger(__name__)
CANCEL_CHECK_SECONDS = 2  # how soon a wait inside a step hears of a cancel request
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
    """The step's work goes on outside the worker (kolla-ansible in its own process): keep the step
    running and call its function again after `seconds`, in a new short task."""
    seconds: float


@dataclass
class StepContext:
    step: StepRun
    outputs: dict = field(default_factory=dict)  # key -> output of the run's succeeded steps
    cancelled: threading.Event = field(default_factory=threading.Event)  # set when the run is cancelled

    @property
    def run(self):
        return self.step.run

    @property
    def deployment(self):
        return self.step.run.deployment

    @cached_property
    def spec_data(self) -> dict:
        from deployments.services.secrets import merge_secrets

        return merge_secrets(self.run.spec, json.loads(self.deployment.secrets.reveal()))

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
        """The run's plan: fixed for the run (its addresses are held), so a worker builds it once."""
        from deployments.services.addresses import plan_with_addresses

        plan = _PLANS.get(self.run.pk)
        if plan is None:
            plan = _PLANS[self.run.pk] = plan_with_addresses(self.deployment, self.spec)
            while len(_PLANS) > 32:
                _PLANS.pop(next(iter(_PLANS)))
        return plan

    @cached_property
    def si(self):
        from inventory.clients import sessions
        from inventory.services.sync import credentials_for

        return sessions.session_for(credentials_for(self.deployment.vcenter))

    def vm(self, name: str):
        return next(vm for vm in self.plan.vms if vm.name == name)

    def log(self, message: str, level: str = EventLevel.INFO) -> None:
        log(self.run, message, level=level, step_key=self.step.key)

    def save_checkpoint(self, **values) -> None:
        """Record, at once, what this attempt has set going (a vCenter task id), for the next one."""
        self.step.checkpoint = {**self.step.checkpoint, **values}
        _owned(self.step).update(checkpoint=self.step.checkpoint)


def _owned(step: StepRun):
    """The step's row while this attempt still owns it (a reaper may have handed it on)."""
    return StepRun.objects.filter(pk=step.pk, status=StepStatus.RUNNING, attempt=step.attempt)


class Heartbeat(threading.Thread):
    """Touches the step every few seconds while its function runs, so the reaper can tell a dead
    worker from a slow step, and notices a cancel request so waits can end early."""

    def __init__(self, context: StepContext):
        super().__init__(name=f"heartbeat-{context.step.pk}", daemon=True)
        self.context, self.done = context, threading.Event()

    def run(self) -> None:
        try:
            beat_every = settings.VIO_ENGINE_HEARTBEAT_SECONDS
            check_every = min(CANCEL_CHECK_SECONDS, beat_every)
            last_beat = time.monotonic()
            while not self.done.wait(check_every):
                if time.monotonic() - last_beat >= beat_every:
                    _owned(self.context.step).update(heartbeat_at=timezone.now())
                    last_beat = time.monotonic()
                if not self.context.cancelled.is_set() and Run.objects.filter(
                        pk=self.context.step.run_id, cancel_requested=True).exists():
                    self.context.cancelled.set()
        except Exception:  # a heartbeat must never take the step down; the reaper will judge
            logger.exception("heartbeat of step %s failed", self.context.step.pk)
        finally:
            connection.close()  # this thread's own connection

    def stop(self) -> None:
        self.done.set()
        self.join()


def execute(step_id: int, attempt: int | None = None) -> float | None:
    """Run the step's function once and record the outcome; returns None when the step has ended
    (or was not ours to run), or the seconds after which to call it again (Again)."""
    from deployments.engine.steps import KINDS

    step = StepRun.objects.select_related("run__deployment__vcenter").get(pk=step_id)
    if step.status != StepStatus.RUNNING or (attempt is not None and step.attempt != attempt):
        return None  # a message from an earlier attempt (redelivered after a worker died), or cancelled
    if not _owned(step).update(worker=f"{socket.gethostname()}:{os.getpid()}", heartbeat_at=timezone.now()):
        return None
    outputs = dict(StepRun.objects.filter(run=step.run, status=StepStatus.SUCCEEDED).values_list("key", "output"))
    context = StepContext(step=step, outputs=outputs)
    if not step.checkpoint.get("again"):
        context.log(f"{step.key} started (attempt {step.attempt}).")
    heartbeat = Heartbeat(context)
    heartbeat.start()
    status, output, error = StepStatus.SUCCEEDED, {}, ""
    try:
        result = KINDS[step.kind](context)
        if isinstance(result, Again):
            context.save_checkpoint(again=True)
            return result.seconds
        if isinstance(result, Skipped):
            status, output = StepStatus.SKIPPED, {"skipped": result.reason}
        else:
            output = result or {}
    except StepCancelled as exc:
        status, error = StepStatus.CANCELLED, str(exc)
    except Exception as exc:  # every failure is recorded on the step; unexpected ones also logged in full
        from inventory.clients.errors import ConnectionProblem
        from inventory.clients.vsphere_build import BuildError
        from inventory.clients.vsphere_ova import OvaImportError

        status = StepStatus.FAILED
        explained = isinstance(exc, (StepFailed, ConnectionProblem, BuildError, OvaImportError)) and str(exc)
        error = str(exc) if explained else f"{exc.__class__.__name__}: {exc}"
        if not explained:
            logger.exception("step %s of run %s failed", step.key, step.run_id)
    finally:
        heartbeat.stop()
    with transaction.atomic():
        updated = _owned(step).update(status=status, output=output, error=error, finished_at=timezone.now())
    if updated:
        level = EventLevel.ERROR if status == StepStatus.FAILED else EventLevel.INFO
        context.log(f"{step.key} {status}." + (f" {error}" if error else "")
                    + (f" ({output['skipped']})" if status == StepStatus.SKIPPED else ""), level)
    return None
