"""The repair steps besides those a deployment already has (power on, clone, rules): moving a VM to
the host its anti-affinity group allows, chosen when the repair was asked for (StepRun.host)."""

from deployments.engine.executor import StepContext, StepFailed
from deployments.engine.steps.bringup import vm_moid
from deployments.engine.steps.vcenter import follow
from inventory.clients import vsphere_build as build


def relocate(ctx: StepContext):
    name, host = ctx.step.target, ctx.step.host
    if not host:
        raise StepFailed(f"No host was chosen to move {name} to: no usable host of the management cluster keeps it "
                         "apart from its group. Bring a host back (out of maintenance, connected), then repair again.")
    moid = vm_moid(ctx, name)
    outcome = follow(ctx, "relocate_task", lambda: build.start_relocate(ctx.si, moid, host), f"Move {name} to {host}")
    if outcome is not None and not outcome.ok:
        raise StepFailed(f"Moving {name} to host {host} failed: {outcome.error}")
    return {"vm": moid, "host": host}


KINDS = {"relocate": relocate}
