"""Running one claimed step: build its context, call its kind's function, record the outcome."""

import json
import logging
from dataclasses import dataclass, field
from functools import cached_property

from django.db import transaction
from django.utils import timezone

from deployments.choices import EventLevel, StepStatus
from deployments.models import StepRun
from deployments.services.runs import log

logger = logging.getLogger(__name__)


class StepFailed(Exception):
    """The step cannot succeed as things are; the message says why and what to do."""


@dataclass
class Skipped:
    reason: str


@dataclass
class StepContext:
    step: StepRun
    outputs: dict = field(default_factory=dict)  # key -> output of the run's succeeded steps

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
        from deployments.services.addresses import plan_with_addresses

        return plan_with_addresses(self.deployment, self.spec)

    @cached_property
    def si(self):
        from inventory.clients import sessions
        from inventory.services.sync import credentials_for

        return sessions.session_for(credentials_for(self.deployment.vcenter))

    def vm(self, name: str):
        return next(vm for vm in self.plan.vms if vm.name == name)

    def log(self, message: str, level: str = EventLevel.INFO) -> None:
        log(self.run, message, level=level, step_key=self.step.key)


def execute(step_id: int) -> None:
    from deployments.engine.steps import KINDS

    step = StepRun.objects.select_related("run__deployment__vcenter").get(pk=step_id)
    if step.status != StepStatus.RUNNING:
        return  # claimed again by a reaper, or cancelled: someone else owns it now
    outputs = dict(StepRun.objects.filter(run=step.run, status=StepStatus.SUCCEEDED).values_list("key", "output"))
    context = StepContext(step=step, outputs=outputs)
    context.log(f"{step.key} started (attempt {step.attempt}).")
    status, output, error = StepStatus.SUCCEEDED, {}, ""
    try:
        result = KINDS[step.kind](context)
        if isinstance(result, Skipped):
            status, output = StepStatus.SKIPPED, {"skipped": result.reason}
        else:
            output = result or {}
    except Exception as exc:  # every failure is recorded on the step; unexpected ones also logged in full
        from inventory.clients.errors import ConnectionProblem
        from inventory.clients.vsphere_build import BuildError
        from inventory.clients.vsphere_ova import OvaImportError

        status = StepStatus.FAILED
        explained = isinstance(exc, (StepFailed, ConnectionProblem, BuildError, OvaImportError)) and str(exc)
        error = str(exc) if explained else f"{exc.__class__.__name__}: {exc}"
        if not explained:
            logger.exception("step %s of run %s failed", step.key, step.run_id)
    with transaction.atomic():
        updated = StepRun.objects.filter(pk=step.pk, status=StepStatus.RUNNING).update(
            status=status, output=output, error=error, finished_at=timezone.now())
    if updated:
        level = EventLevel.ERROR if status == StepStatus.FAILED else EventLevel.INFO
        context.log(f"{step.key} {status}." + (f" {error}" if error else "")
                    + (f" ({output['skipped']})" if status == StepStatus.SKIPPED else ""), level)
