"""The teardown steps: remove everything a deployment made, whatever state its runs ended in. Objects
are found by the deployment's tag (VMs) and by their deterministic names (folder, pool, rules), as
well as by what earlier runs recorded; each removal is idempotent and follows its vCenter task like
the bring-up does. The last vCenter step lists what is still there: the list must be empty."""

import shutil

from deployments.choices import EventLevel, StepStatus
from deployments.engine.executor import StepContext, StepFailed
from deployments.engine.steps.bringup import folder_name, template_name
from deployments.engine.steps.openstack import bundle_root
from deployments.engine.steps.vcenter import follow
from deployments.models import StepRun
from deployments.plan.layout import anti_affinity_rule_names
from inventory.clients import vsphere_build as build


def _recorded(ctx: StepContext, kind: str) -> list[dict]:
    """What this deployment's runs recorded for steps of this kind (outputs of those that succeeded)."""
    return list(StepRun.objects.filter(run__deployment=ctx.deployment, kind=kind, status=StepStatus.SUCCEEDED)
                .values_list("output", flat=True))


def _cluster_moid(ctx: StepContext) -> str | None:
    cluster = ctx.inventory.clusters.get(ctx.spec.management_cluster)
    if cluster is not None:
        return cluster.moid
    return next((o["cluster"] for o in _recorded(ctx, "anti_affinity") if o.get("cluster")), None)


def _rule_names(ctx: StepContext) -> list[str]:
    recorded = {name for output in _recorded(ctx, "anti_affinity") for name in output.get("rules", {})}
    return sorted(recorded | set(anti_affinity_rule_names(ctx.deployment.name)))


def remove_rules(ctx: StepContext):
    cluster = _cluster_moid(ctx)
    removed = []
    if cluster is None:
        return {"rules": removed, "note": "the management cluster is not in the inventory"}
    for name in _rule_names(ctx):
        outcome = follow(ctx, f"rule:{name}", lambda: build.start_rule_removal(ctx.si, cluster, name), f"Remove rule {name}")
        if outcome is not None:
            if not outcome.ok and name in build.rules(ctx.si, cluster):
                raise StepFailed(f"The rule {name} could not be removed from the management cluster: {outcome.error}")
            removed.append(name)
    return {"rules": removed}


def _remove_vm(ctx: StepContext, moid: str, name: str) -> None:
    """Power off and delete one VM, following both vCenter tasks (recorded: a next attempt adopts them)."""
    off = follow(ctx, f"off:{moid}", lambda: build.start_power_off(ctx.si, moid), f"Power off {name}")
    if off is not None and not off.ok and build.exists(ctx.si, "VirtualMachine", moid) \
            and build.power_state(ctx.si, moid) != build.POWERED_OFF:
        raise StepFailed(f"{name} could not be powered off: {off.error}")
    gone = follow(ctx, f"destroy:{moid}", lambda: build.start_destroy_vm(ctx.si, moid), f"Delete {name}")
    if gone is not None and not gone.ok and build.exists(ctx.si, "VirtualMachine", moid):
        raise StepFailed(f"{name} could not be deleted: {gone.error}")


def remove_vms(ctx: StepContext):
    """Power off and delete every VM tagged with this deployment, wherever it is."""
    removed = list(ctx.step.checkpoint.get("removed", []))
    for row in build.deployment_vms(ctx.si, str(ctx.deployment.pk)):
        moid, name = row["_obj"]._moId, row.get("name", "")
        _remove_vm(ctx, moid, name)
        removed.append(name)
        ctx.save_checkpoint(removed=removed)
    return {"vms": removed}


def remove_vm(ctx: StepContext):
    """A change removes one VM (a compute cluster taken out): this deployment's VM of that name."""
    removed = []
    for row in build.deployment_vms(ctx.si, str(ctx.deployment.pk)):
        if row.get("name") == ctx.step.target:
            _remove_vm(ctx, row["_obj"]._moId, ctx.step.target)
            removed.append(row["_obj"]._moId)
    return {"vm": ctx.step.target, "removed": removed}


def _remove_container(ctx: StepContext, kind: str, key: str, found) -> dict:
    """Remove the folder or pool: the ones runs recorded and the one with the deterministic name."""
    moids = {o[key] for o in _recorded(ctx, "folders") if o.get(key)}
    if found:
        moids.add(found)
    removed = []
    for moid in sorted(moids):
        outcome = follow(ctx, f"remove:{moid}", lambda: build.start_remove_if_empty(ctx.si, kind, moid), f"Remove {moid}")
        if outcome is not None and not outcome.ok and build.exists(ctx.si, kind, moid):
            raise StepFailed(f"{moid} could not be removed: {outcome.error}")
        removed.append(moid)
    return {key + "s": removed}


def remove_pool(ctx: StepContext):
    cluster = _cluster_moid(ctx)
    found = build.find_pool(ctx.si, cluster, folder_name(ctx.deployment)) if cluster else None
    return _remove_container(ctx, "ResourcePool", "pool", found)


def remove_folder(ctx: StepContext):
    datacenter = ctx.inventory.datacenter
    found = build.find_folder(ctx.si, datacenter.moid, folder_name(ctx.deployment)) if datacenter else None
    return _remove_container(ctx, "Folder", "folder", found)


def remove_template(ctx: StepContext):
    """The appliance template this deployment imported (and what an interrupted import of it left),
    unless another deployment uses the same OVA."""
    from inventory.clients.vsphere_ova import find_half_imports, find_imported_template

    steps = StepRun.objects.filter(run__deployment=ctx.deployment, kind="import_ova")
    digests = {d for output, checkpoint in steps.values_list("output", "checkpoint")
               for d in (output.get("sha256"), checkpoint.get("importing")) if d}
    removed, kept = [], []
    for digest in sorted(digests):
        users = (StepRun.objects.filter(kind="import_ova", run__deployment__vcenter=ctx.deployment.vcenter_id)
                 .exclude(run__deployment=ctx.deployment))
        users = {*users.filter(output__sha256=digest).values_list("run__deployment__name", flat=True),
                 *users.filter(checkpoint__importing=digest).values_list("run__deployment__name", flat=True)}
        if users:
            kept.append(digest)
            ctx.log(f"The appliance template of OVA {digest[:12]}… is kept: {', '.join(sorted(users))} use it too.")
            continue
        template = find_imported_template(ctx.si, digest)
        for moid in [*([template] if template else []), *find_half_imports(ctx.si, digest, template_name(digest))]:
            outcome = follow(ctx, f"destroy:{moid}", lambda: build.start_destroy_vm(ctx.si, moid), f"Delete template {moid}")
            if outcome is not None and not outcome.ok and build.exists(ctx.si, "VirtualMachine", moid):
                raise StepFailed(f"The appliance template {moid} could not be deleted: {outcome.error}")
            removed.append(moid)
    return {"templates": removed, "kept": kept}


def remove_files(ctx: StepContext):
    """The rendered bundles: passwords.yml and the overrides hold every secret of the cloud."""
    root = bundle_root(ctx.deployment)
    existed = root.exists()
    shutil.rmtree(root, ignore_errors=True)
    if root.exists():
        raise StepFailed(f"{root} could not be deleted: check its permissions on the appliance, then retry.")
    return {"removed": str(root) if existed else ""}


def verify_removed(ctx: StepContext):
    datacenter = ctx.inventory.datacenter
    left = build.leftovers(ctx.si, str(ctx.deployment.pk), datacenter_moid=datacenter.moid if datacenter else None,
                           cluster_moid=_cluster_moid(ctx), folder_name=folder_name(ctx.deployment),
                           pool_name=folder_name(ctx.deployment), rule_names=_rule_names(ctx))
    if left:
        raise StepFailed("Still in vCenter after the teardown: " + "; ".join(left)
                         + ". Remove them in the vSphere Client or retry the teardown.")
    ctx.log("vCenter holds nothing of this deployment any more.", EventLevel.INFO)
    return {"left": []}


def release_addresses(ctx: StepContext):
    from deployments.services.addresses import release

    return {"released": release(ctx.deployment)}


KINDS = {
    "remove_rules": remove_rules, "remove_vms": remove_vms, "remove_vm": remove_vm, "remove_pool": remove_pool, "remove_folder": remove_folder,
    "remove_template": remove_template, "remove_files": remove_files, "verify_removed": verify_removed,
    "release_addresses": release_addresses,
}
