"""The vCenter bring-up steps. Every step is idempotent: it looks before it creates, adopts what
carries this deployment's tag or deterministic name, follows a vCenter task an earlier attempt
started, and returns what it made (moids) as its output. vCenter is reached through inventory/clients
only."""

from pathlib import Path

from django.conf import settings

from deployments.choices import EventLevel
from deployments.engine.executor import Again, StepCancelled, StepContext, StepFailed
from deployments.engine.steps.vcenter import FollowLater, follow, moid_of
from inventory.clients import vsphere_build as build
from inventory.clients.vsphere import WaitStopped

APPLIANCE_CACHE = Path(settings.DATA_DIR) / "appliance-cache"
IMPORT_TURN_SECONDS = 5  # how often a deployment waiting for another's import of the same OVA looks again


def preflight(ctx: StepContext):
    from deployments.services.launch import check

    _, blocking, _ = check(ctx.spec_data, live=True, deployment=ctx.deployment)
    if blocking:
        raise StepFailed("The spec no longer passes its checks: " + "; ".join(f"{i.path}: {i.message}" for i in blocking))
    ctx.log(f"Pre-flight passed: {len(ctx.plan.vms)} VMs, {ctx.plan.total_vcpu} vCPU, {ctx.plan.total_memory_gb} GB.")
    return {"vms": len(ctx.plan.vms)}


def nsx_checks(ctx: StepContext):
    from inventory.models import NsxManager
    from inventory.services import sync

    nsx = ctx.spec.neutron.nsx
    manager = NsxManager.objects.get(host=nsx.manager.host, port=nsx.manager.port)
    record = sync.sync_nsx_manager(manager.pk)
    if record is not None and not record.ok:
        raise StepFailed(f"NSX Manager {manager.name} could not be read: {record.error}")
    issues = [i for i in ctx.inventory.check_nsx(nsx, ctx.spec.compute_clusters) if i.blocking]
    if issues:
        raise StepFailed("; ".join(i.message for i in issues))
    return {"nsx_manager": manager.pk}


# --- the appliance OVA ----------------------------------------------------------------------------


def _download(url: str) -> tuple[Path, str]:
    """(the OVA at url, its SHA-256): downloaded into the data directory once, kept by content hash.
    Refusals and failures are step errors that never show the URL's user name or password."""
    from inventory.clients.download import DownloadError, fetch_cached, ova_limits

    try:
        fetched = fetch_cached(url, APPLIANCE_CACHE, ova_limits(), suffix=".ova", what="the appliance OVA")
    except DownloadError as exc:
        raise StepFailed(exc.message) from None
    return fetched.path, fetched.sha256


def _appliance_file(appliance_ova) -> tuple[Path, str]:
    """(the OVA file, its SHA-256 when already known): an upload is hashed when stored, a URL while downloaded."""
    if not appliance_ova.upload:
        return _download(appliance_ova.url)
    from deployments.services.appliance import find

    upload = find(appliance_ova.upload)
    if upload is None or not upload.path.exists():
        raise StepFailed(f"The uploaded appliance OVA {appliance_ova.upload} is gone (deleted, or its file removed "
                         "from the appliance's disk): upload it again and start a new deployment with it.")
    return upload.path, upload.sha256


def template_name(digest: str) -> str:
    """The imported template's deterministic name: one per OVA build and vCenter."""
    return f"vio-appliance-{digest[:12]}"


def import_ova(ctx: StepContext):
    """Import the appliance OVA once per vCenter (reused by checksum). One importer at a time per OVA
    and vCenter; the others wait their turn in short tasks. What an interrupted import left (a VM
    tagged as importing, or with the template's name and no tag) is removed before importing again."""
    from inventory.clients.tls import pinned_context
    from inventory.clients.vsphere_ova import find_half_imports, find_imported_template, import_into, ova_sha256

    path, digest = _appliance_file(ctx.spec.appliance_ova)
    digest = digest or ova_sha256(path)
    found = find_imported_template(ctx.si, digest)
    if found:
        ctx.log(f"Appliance template {found} with checksum {digest[:12]}… is already imported: reused.")
        return {"template": found, "sha256": digest, "reused": True}
    importer = _importer_ahead(ctx, digest)
    if importer is not None:
        ctx.waiting(f"deployment {importer}'s import of the same appliance OVA into this vCenter")
        if ctx.cancelled.is_set():
            raise StepCancelled("Stopped waiting for another deployment's appliance import: the run is being cancelled.")
        return Again(IMPORT_TURN_SECONDS)
    name = template_name(digest)
    for leftover in find_half_imports(ctx.si, digest, name):
        ctx.log(f"Removing VM {leftover}, left by an interrupted import of this appliance OVA.", EventLevel.WARNING)
        build.destroy_vm(ctx.si, leftover)
    vcenter, inventory = ctx.deployment.vcenter, ctx.inventory
    ctx.waiting(f"the upload of the appliance OVA ({path.stat().st_size // 2**20} MiB) to vCenter")
    moid = import_into(
        ctx.si, path,
        datacenter_moid=inventory.datacenter.moid,
        pool_moid=inventory.clusters[ctx.spec.management_cluster].resource_pool_moid,
        datastore_moid=inventory.datastores[ctx.spec.management_datastores[0]].moid,
        networks={"VM Network": inventory.networks[ctx.spec.management_network.portgroup].moid},
        name=name, tags={"vio-manager.ova-sha256": digest},
        progress=lambda percent: ctx.log(f"Uploading the appliance disk: {percent}%") if percent % 25 == 0 else None,
        context=pinned_context(vcenter.host, vcenter.port, vcenter.certificate_sha256),
    )
    return {"template": moid, "sha256": digest, "reused": False}


def _importer_ahead(ctx: StepContext, digest: str) -> str | None:
    """The name of the deployment importing the same OVA into this vCenter now, or None when this
    step takes the turn: the look and the claim happen under the vCenter row's lock, so one wins."""
    from django.db import transaction

    from deployments.choices import StepStatus
    from deployments.models import StepRun
    from inventory.models import VCenter

    others = (StepRun.objects.filter(kind="import_ova", status=StepStatus.RUNNING, checkpoint__importing=digest,
                                     run__deployment__vcenter_id=ctx.deployment.vcenter_id).exclude(pk=ctx.step.pk))
    with transaction.atomic():
        VCenter.objects.select_for_update().filter(pk=ctx.deployment.vcenter_id).first()
        importer = others.values_list("run__deployment__name", flat=True).first()
        if importer is None:
            ctx.save_checkpoint(importing=digest)
    return importer


# --- folder, pool, VMs -------------------------------------------------------------------------------


def folder_name(deployment) -> str:
    """The deployment's VM folder and resource pool: deterministic, so teardown finds them whatever
    state the folders step ended in."""
    return f"vio-{deployment.name}"


def folders(ctx: StepContext):
    name = folder_name(ctx.deployment)
    cluster = ctx.inventory.clusters[ctx.spec.management_cluster]
    made = {
        "folder": build.ensure_folder(ctx.si, ctx.inventory.datacenter.moid, name),
        "pool": build.ensure_resource_pool(ctx.si, cluster.moid, name),
    }
    _mark(ctx, "Folder", made["folder"])
    _mark(ctx, "ResourcePool", made["pool"])
    return made


def deployment_attribute(deployment) -> str:
    """The value of the "VIO Manager deployment" custom attribute on everything a deployment makes."""
    return f"{deployment.name} (id {deployment.pk})"


def _mark(ctx: StepContext, kind: str, moid: str) -> None:
    """The custom attribute naming the deployment, set again when missing (vSphere Client users see it)."""
    build.set_deployment_attribute(ctx.si, kind, moid, deployment_attribute(ctx.deployment))


def clone(ctx: StepContext):
    from inventory.models import Datastore, Network

    vm = ctx.vm(ctx.step.target)
    folder, deployment_id = ctx.outputs["folders"]["folder"], str(ctx.deployment.pk)
    if not ctx.step.checkpoint.get("clone_task"):
        existing = build.find_vm(ctx.si, deployment_id, vm.name, within=folder)
        if existing:
            ctx.log(f"VM {vm.name} ({existing}) exists already: adopted.")
            return _cloned(ctx, existing)
    outcome = follow(ctx, "clone_task", lambda: build.start_clone(
        ctx.si, template_moid=ctx.outputs["import_ova"]["template"], name=vm.name, folder_moid=folder,
        pool_moid=ctx.outputs["folders"]["pool"], datastore_moid=ctx.inventory.moid(Datastore, vm.datastore),
        deployment_id=deployment_id, role=vm.role, host_moid=ctx.step.host or None,
        network_moid=ctx.inventory.moid(Network, ctx.spec.management_network.portgroup),
        num_cpus=vm.vcpu, memory_mb=vm.memory_gb * 1024, disk_gb=vm.disk_gb,
        simulated_tools=settings.VIO_SIMULATED_HOSTS,
    ), f"Clone {vm.name}")
    if not outcome.ok:
        build.remove_half_made(ctx.si, deployment_id, vm.name, folder)
        raise StepFailed(f"Cloning {vm.name} failed: {outcome.error}")
    moid = moid_of(outcome)
    if moid is None:
        raise StepFailed(f"vCenter reported the clone of {vm.name} done but named no VM: retry.")
    return _cloned(ctx, moid)


def _cloned(ctx: StepContext, moid: str) -> dict:
    _mark(ctx, "VirtualMachine", moid)  # right after the clone, and on an adopted VM that lacks it
    return {"vm": moid, **({"host": ctx.step.host} if ctx.step.host else {})}


def customize(ctx: StepContext):
    """Customize once per IP (the VM is marked afterwards). A customization this VM already has
    pending, set by an earlier attempt whose worker died, is the same one: adopted."""
    vm, network = ctx.vm(ctx.step.target), ctx.spec.management_network
    moid = vm_moid(ctx, vm.name)
    started = ctx.step.checkpoint.get("customize_task") or ctx.step.checkpoint.get("mark_task")
    if not started and not build.needs_customization(ctx.si, moid, vm.management_ip):
        return {"ip": vm.management_ip}
    outcome = follow(ctx, "customize_task", lambda: build.start_customize(
        ctx.si, moid, hostname=vm.name, ip=vm.management_ip, netmask=str(network.netmask),
        gateway=str(network.gateway), dns_servers=[str(d) for d in network.dns_servers], domain="",
    ), f"Customize {vm.name}")
    if outcome is not None and not outcome.ok:
        if outcome.fault != "CustomizationPending":
            raise StepFailed(f"Customizing {vm.name} as {vm.management_ip} failed: {outcome.error}")
        ctx.log(f"{vm.name} already has a customization pending, set by an earlier attempt: adopted.")
    marked = follow(ctx, "mark_task", lambda: build.start_mark_customized(ctx.si, moid, vm.management_ip),
                    f"Record {vm.name} as customized")
    if marked is not None and not marked.ok:
        raise StepFailed(f"Recording {vm.name} as customized failed: {marked.error}")
    return {"ip": vm.management_ip}


def anti_affinity(ctx: StepContext):
    """One rule per group of VMs that must not share a host, found by its deterministic name."""
    cluster = ctx.inventory.clusters[ctx.spec.management_cluster]
    made = {}
    everyone = sorted({n for names in ctx.plan.anti_affinity.values() for n in names})
    moid_of = dict(zip(everyone, vm_moids(ctx, everyone)))  # one look at vCenter for every group
    for rule, names in ctx.plan.anti_affinity.items():
        moids = [moid_of[n] for n in names]
        outcome = follow(ctx, f"rule:{rule}", lambda: build.start_anti_affinity(ctx.si, cluster.moid, rule, moids),
                         f"Anti-affinity rule {rule}")
        if outcome is not None and not outcome.ok:
            raise StepFailed(f"The anti-affinity rule {rule} on cluster {cluster.name} could not be made: {outcome.error}")
        made[rule] = names
    return {"rules": made, "cluster": cluster.moid}


def vm_moid(ctx: StepContext, name: str) -> str:
    """The VM this run cloned, or (a change or repair run) the one an earlier run made, found by tag and name."""
    return vm_moids(ctx, [name])[0]


def vm_moids(ctx: StepContext, names: list[str]) -> list[str]:
    """vm_moid for several VMs with one look at vCenter: in the deployment's folder when this run
    knows it (reading every VM of a large vCenter costs a second or so), then everywhere by tag for
    any VM someone moved out of it."""
    found = {n: ctx.outputs[f"clone:{n}"]["vm"] for n in names if ctx.outputs.get(f"clone:{n}")}
    folder = (ctx.outputs.get("folders") or {}).get("folder")
    for within in ([folder] if folder else []) + [None]:
        if len(found) == len(set(names)):
            break
        for row in build.deployment_vms(ctx.si, str(ctx.deployment.pk), within=within):
            if row.get("name") in names:
                found.setdefault(row["name"], row["_obj"]._moId)
    missing = [n for n in names if n not in found]
    if missing:
        raise StepFailed(f"VM {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not in vCenter any more: "
                         "resume the run to make it again.")
    return [found[n] for n in names]


def power_on(ctx: StepContext):
    vm = ctx.step.target
    moid = vm_moid(ctx, vm)
    outcome = follow(ctx, "power_task", lambda: build.start_power_on(ctx.si, moid), f"Power on {vm}")
    if outcome is not None and not outcome.ok and build.power_state(ctx.si, moid) != build.POWERED_ON:
        raise StepFailed(f"Powering on {vm} failed: {outcome.error}")
    return {"vm": moid, "power_state": "poweredOn"}  # what the page shows, without asking vCenter


def wait_guest(ctx: StepContext):
    """Wait for the guest's IP and VMware Tools, in short tasks, up to this kind's time limit."""
    vm = ctx.vm(ctx.step.target)
    moid = vm_moid(ctx, vm.name)
    ctx.waiting(f"the guest of {vm.name} to report {vm.management_ip} with VMware Tools running")
    try:
        guest = build.guest_ready(ctx.si, moid, vm.management_ip, min(ctx.follow_budget(), max(1.0, ctx.seconds_left())),
                                  stop=ctx.cancelled)
    except WaitStopped:
        raise StepCancelled(f"Stopped waiting for {vm.name}'s guest: the run is being cancelled.") from None
    if guest.pop("ready"):
        return guest
    if ctx.seconds_left() <= 0:
        raise StepFailed(f"{vm.name} did not come up within {ctx.limit // 60} minutes: it reports IP "
                         f"{guest['ip'] or 'none'} (expected {vm.management_ip}) and VMware Tools {guest['tools']}. "
                         "Open its console in the vSphere Client to see why, then retry.")
    raise FollowLater


KINDS = {
    "preflight": preflight, "nsx_checks": nsx_checks, "import_ova": import_ova, "folders": folders, "clone": clone,
    "customize": customize, "anti_affinity": anti_affinity, "power_on": power_on, "wait_guest": wait_guest,
}
