"""Before a resumed run goes on: what its done steps recorded must still exist in vCenter. A step
whose objects are gone (a VM deleted in vCenter, a folder removed, a rule dropped) is made pending
again, with every done step that depends on it, so the run makes them again instead of failing on
moids that no longer exist."""

import logging

from django.db import transaction

from deployments.choices import STEP_DONE, EventLevel, RunStatus, StepStatus
from deployments.engine import dispatch
from deployments.models import Run, StepRun
from deployments.plan.steps import describe
from deployments.services.runs import log

logger = logging.getLogger(__name__)


def recorded_objects(step: StepRun) -> list[tuple[str, str]]:
    """(vCenter type, moid) of what the step's output says it made or uses."""
    output = step.output or {}
    if step.kind == "import_ova" and output.get("template"):
        return [("VirtualMachine", output["template"])]
    if step.kind == "folders":
        return [("Folder", output["folder"]), ("ResourcePool", output["pool"])]
    if step.kind == "clone" and output.get("vm"):
        return [("VirtualMachine", output["vm"])]
    return []


def recheck(run_id: int) -> dict:
    """Check the done steps of a resumed run against vCenter, reset what is gone, then let it go on."""
    from inventory.clients import sessions
    from inventory.clients import vsphere_build as build
    from inventory.clients.vsphere import VCenterCredentials

    run = Run.objects.select_related("deployment__vcenter").filter(pk=run_id, recheck_pending=True).first()
    if run is None or run.status not in (RunStatus.RUNNING, RunStatus.PENDING):
        return {}
    steps = list(run.steps.all())
    done = [s for s in steps if s.status in STEP_DONE]
    gone: dict[str, str] = {}
    si = sessions.session_for(VCenterCredentials.of(run.deployment.vcenter))
    present = build.existing(si, {kind for s in done for kind, _ in recorded_objects(s)})
    for step in done:
        missing = [f"{kind} {moid}" for kind, moid in recorded_objects(step) if moid not in present.get(kind, set())]
        if missing:
            gone[step.key] = ", ".join(missing)
    rules = next((s for s in done if s.kind == "anti_affinity"), None)
    if rules is not None and rules.key not in gone and rules.output.get("cluster"):
        existing = build.rules(si, rules.output["cluster"])
        lost = [name for name in rules.output.get("rules", {}) if name not in existing]
        if lost:
            gone[rules.key] = "rule " + ", ".join(lost)
    again = _with_dependents(steps, set(gone))
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if not locked.recheck_pending:
            return {}  # another worker did it
        StepRun.objects.filter(run=run, key__in=again, status__in=sorted(STEP_DONE)).update(
            status=StepStatus.PENDING, output={}, checkpoint={}, error="", finished_at=None, ready_at=None)
        locked.recheck_pending = False
        locked.save(update_fields=["recheck_pending"])
        for key, what in gone.items():
            step = next(s for s in steps if s.key == key)
            log(run, f"{describe(step.kind, step.target)}: {what} is gone from vCenter; it is made again.",
                level=EventLevel.WARNING, step_key=key)
        if not gone:
            log(run, f"Checked {len(done)} done steps against vCenter: everything they made is there.")
        dispatch.advance(run.pk)
    return {"gone": sorted(gone), "again": sorted(again)}


def _with_dependents(steps: list[StepRun], keys: set[str]) -> set[str]:
    """The keys and every step that depends on them, directly or not."""
    result, changed = set(keys), True
    while changed:
        changed = False
        for step in steps:
            if step.key not in result and result & set(step.depends_on):
                result.add(step.key)
                changed = True
    return result

