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


def recorded_objects(step: StepRun) -> list[tuple[str, str, str]]:
    """(vCenter type, moid, the name it must have, "" when any) of what the step's output says it made
    or uses. The template's name is not ours: it is checked by its checksum tag (_template_gone)."""
    from deployments.engine.steps.bringup import folder_name

    output = step.output or {}
    if step.kind == "import_ova" and output.get("template"):
        return [("VirtualMachine", output["template"], "")]
    if step.kind == "folders":
        name = folder_name(step.run.deployment)
        return [("Folder", output["folder"], name), ("ResourcePool", output["pool"], name)]
    if step.kind == "clone" and output.get("vm"):
        return [("VirtualMachine", output["vm"], step.target)]
    return []


def _missing(step: StepRun, present: dict[str, dict[str, str]]) -> list[str]:
    """What the step recorded that vCenter no longer has under that id and name."""
    missing = []
    for kind, moid, name in recorded_objects(step):
        found = present.get(kind, {})
        if moid not in found or (name and found[moid] != name):
            missing.append(f"{kind} {moid}" + (f" ({name})" if name else ""))
    return missing


def _template_gone(si, step: StepRun) -> bool:
    """The imported template is gone, or its id now names another VM (not tagged with the OVA's checksum)."""
    from inventory.clients.vsphere_ova import find_imported_template

    digest = (step.output or {}).get("sha256")
    return bool(digest) and find_imported_template(si, digest) != step.output.get("template")


def recheck(run_id: int) -> dict:
    """Check the done steps of a resumed run against vCenter, reset what is gone, then let it go on."""
    from inventory.clients import sessions
    from inventory.clients import vsphere_build as build
    from inventory.clients.vsphere import VCenterCredentials

    run = Run.objects.select_related("deployment__vcenter").filter(pk=run_id, recheck_pending=True).first()
    if run is None or run.status not in (RunStatus.RUNNING, RunStatus.PENDING):
        return {}
    steps = list(run.steps.select_related("run__deployment"))
    done = [s for s in steps if s.status in STEP_DONE]
    gone: dict[str, str] = {}
    si = sessions.session_for(VCenterCredentials.of(run.deployment.vcenter))
    present = build.existing(si, {kind for s in done for kind, _, _ in recorded_objects(s)})
    for step in done:
        missing = _missing(step, present)
        if step.kind == "import_ova" and not missing and _template_gone(si, step):
            missing = [f"the template {step.output.get('template')}"]
        if missing:
            gone[step.key] = ", ".join(missing)
    rules = next((s for s in done if s.kind == "anti_affinity"), None)
    if rules is not None and rules.key not in gone and rules.output.get("cluster"):
        existing = build.rules(si, rules.output["cluster"])
        lost = [name for name in rules.output.get("rules", {}) if name not in existing]
        if lost:
            gone[rules.key] = "rule " + ", ".join(lost)
    if gone:
        _resync(run)
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


def _resync(run: Run) -> None:
    """vCenter lost what the run made: it may have lost or renumbered more (a rebuilt vCenter gives its
    datacenter, clusters and datastores new ids). Read its inventory again before the steps go on, so they
    use the ids vCenter has now (a vCenter a watcher keeps live is re-read by its watcher)."""
    from inventory.services.sync import sync_vcenter

    try:
        record = sync_vcenter(run.deployment.vcenter_id)
    except Exception:  # the steps will say what is wrong; the resume is not held up by the sync
        logger.warning("run %s: the inventory could not be read again before resuming", run.pk, exc_info=True)
        return
    if record is not None and record.ok:
        log(run, "vCenter lost objects this run made: its inventory was read again before going on.")


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

