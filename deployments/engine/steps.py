"""What each kind of step does. Every step is idempotent: it looks before it creates, adopts what
carries this deployment's tag, and returns what it made (moids) as its output."""

import hashlib
import json
import os
import secrets as random_secrets
import tempfile
import time
from pathlib import Path

import requests
from django.conf import settings
from pyVmomi import vim

from deployments.engine.executor import Again, Skipped, StepCancelled, StepContext, StepFailed
from inventory.clients.vsphere import WaitStopped

APPLIANCE_CACHE = Path(settings.DATA_DIR) / "appliance-cache"


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


def _download(url: str) -> Path:
    """The OVA at url, kept in the data directory under a name derived from the URL."""
    APPLIANCE_CACHE.mkdir(parents=True, exist_ok=True)
    target = APPLIANCE_CACHE / (hashlib.sha256(url.encode()).hexdigest()[:16] + ".ova")
    if target.exists():
        return target
    # A file of this download's own, renamed into place: two deployments may fetch the same URL at once.
    with requests.get(url, stream=True, timeout=60) as response:
        if response.status_code != 200:
            raise StepFailed(f"Downloading the appliance OVA from {url} gave HTTP {response.status_code}.")
        with tempfile.NamedTemporaryFile(dir=APPLIANCE_CACHE, suffix=".part", delete=False) as out:
            try:
                for chunk in response.iter_content(1 << 20):
                    out.write(chunk)
            except BaseException:
                Path(out.name).unlink(missing_ok=True)
                raise
    os.replace(out.name, target)
    return target


def _appliance_file(appliance_ova) -> tuple[Path, str]:
    """(the OVA file, its SHA-256 when already known): an upload is hashed when stored, a URL is downloaded."""
    if not appliance_ova.upload:
        return _download(appliance_ova.url), ""
    from deployments.services.appliance import find

    upload = find(appliance_ova.upload)
    if upload is None or not upload.path.exists():
        raise StepFailed(f"The uploaded appliance OVA {appliance_ova.upload} is gone (deleted, or its file removed "
                         "from the appliance's disk): upload it again and start a new deployment with it.")
    return upload.path, upload.sha256


def import_ova(ctx: StepContext):
    from inventory.clients.tls import pinned_context
    from inventory.clients.vsphere_ova import find_imported_template, import_ova as do_import, ova_sha256

    path, digest = _appliance_file(ctx.spec.appliance_ova)
    digest = digest or ova_sha256(path)
    while True:
        found = find_imported_template(ctx.si, digest)
        if found:
            ctx.log(f"Appliance template {found} with checksum {digest[:12]}… is already imported: reused.")
            return {"template": found, "sha256": digest, "reused": True}
        if _my_turn_to_import(ctx, digest):
            break
    vcenter, inventory = ctx.deployment.vcenter, ctx.inventory
    cluster = inventory.clusters[ctx.spec.management_cluster]
    datastore = inventory.datastores[ctx.spec.management_datastores[0]]
    network = inventory.networks[ctx.spec.management_network.portgroup]
    stub = ctx.si._stub
    moid = do_import(
        ctx.si, path,
        datacenter=vim.Datacenter(inventory.datacenter.moid, stub),
        resource_pool=vim.ResourcePool(cluster.resource_pool_moid, stub),
        datastore=vim.Datastore(datastore.moid, stub),
        network_mapping={"VM Network": _network(network, stub)},
        name=f"vio-appliance-{digest[:12]}", tags={"vio-manager.ova-sha256": digest},
        progress=lambda percent: ctx.log(f"Uploading the appliance disk: {percent}%") if percent % 25 == 0 else None,
        context=pinned_context(vcenter.host, vcenter.port, vcenter.certificate_sha256),
    )
    return {"template": moid, "sha256": digest, "reused": False}


def _my_turn_to_import(ctx: StepContext, digest: str) -> bool:
    """True when this step may import the OVA; otherwise waits until the other deployment's import
    of the same OVA into this vCenter has ended (then the caller looks for its template again).
    The check and the claim happen under the vCenter row's lock, so only one importer wins."""
    from django.db import transaction

    from deployments.choices import StepStatus
    from deployments.models import StepRun
    from inventory.models import VCenter

    others = (StepRun.objects.filter(kind="import_ova", status=StepStatus.RUNNING, checkpoint__importing=digest,
                                     run__deployment__vcenter_id=ctx.deployment.vcenter_id).exclude(pk=ctx.step.pk))
    with transaction.atomic():
        VCenter.objects.select_for_update().filter(pk=ctx.deployment.vcenter_id).first()
        importer = others.select_related("run__deployment").first()
        if importer is None:
            ctx.save_checkpoint(importing=digest)
            return True
    ctx.log(f"Deployment {importer.run.deployment.name} is importing the same appliance OVA into this vCenter: waiting for it.")
    deadline = time.monotonic() + settings.VIO_ENGINE_STEP_TIMEOUT
    while others.exists():
        if ctx.cancelled.is_set():
            raise StepCancelled("Stopped waiting for another deployment's appliance import: the run is being cancelled.")
        if time.monotonic() > deadline:
            raise StepFailed(f"Deployment {importer.run.deployment.name}'s import of the appliance OVA did not end within "
                             f"{settings.VIO_ENGINE_STEP_TIMEOUT} s; retry when it has.")
        time.sleep(1)
    return False


def _network(network, stub):
    if network.kind == "distributed":
        return vim.dvs.DistributedVirtualPortgroup(network.moid, stub)
    return vim.Network(network.moid, stub)


def folders(ctx: StepContext):
    from inventory.clients import vsphere_build as build

    name = f"vio-{ctx.deployment.name}"
    cluster = ctx.inventory.clusters[ctx.spec.management_cluster]
    return {
        "folder": build.ensure_folder(ctx.si, ctx.inventory.datacenter.moid, name),
        "pool": build.ensure_resource_pool(ctx.si, cluster.moid, name),
    }


def clone(ctx: StepContext):
    from inventory.clients import vsphere_build as build

    from inventory.models import Datastore, Network

    vm = ctx.vm(ctx.step.target)
    moid = build.clone_vm(
        ctx.si, template_moid=ctx.outputs["import_ova"]["template"], name=vm.name,
        folder_moid=ctx.outputs["folders"]["folder"], pool_moid=ctx.outputs["folders"]["pool"],
        datastore_moid=ctx.inventory.moid(Datastore, vm.datastore), deployment_id=str(ctx.deployment.pk), role=vm.role,
        network_moid=ctx.inventory.moid(Network, ctx.spec.management_network.portgroup),
        simulated_tools=settings.VIO_SIMULATED_HOSTS, timeout=settings.VIO_ENGINE_STEP_TIMEOUT,
        host_moid=ctx.step.host or None, earlier_task=ctx.step.checkpoint.get("clone_task"),
        on_task=lambda task: ctx.save_checkpoint(clone_task=task),
    )
    return {"vm": moid, **({"host": ctx.step.host} if ctx.step.host else {})}


def customize(ctx: StepContext):
    from inventory.clients import vsphere_build as build

    vm, network = ctx.vm(ctx.step.target), ctx.spec.management_network
    build.customize_vm(ctx.si, ctx.outputs[f"clone:{vm.name}"]["vm"], hostname=vm.name, ip=vm.management_ip,
                       netmask=str(network.netmask), gateway=str(network.gateway),
                       dns_servers=[str(d) for d in network.dns_servers], domain="")
    return {"ip": vm.management_ip}


def anti_affinity(ctx: StepContext):
    from inventory.clients import vsphere_build as build

    cluster = ctx.inventory.clusters[ctx.spec.management_cluster]
    rules = {}
    for rule, names in ctx.plan.anti_affinity.items():
        build.ensure_anti_affinity(ctx.si, cluster.moid, rule, [ctx.outputs[f"clone:{n}"]["vm"] for n in names])
        rules[rule] = names
    return {"rules": rules}


def power_on(ctx: StepContext):
    from inventory.clients import vsphere_build as build

    moid = ctx.outputs[f"clone:{ctx.step.target}"]["vm"]
    build.power_on(ctx.si, moid)
    return {"vm": moid, "power_state": "poweredOn"}  # what the page shows, without asking vCenter


def wait_guest(ctx: StepContext):
    from inventory.clients import vsphere_build as build

    vm = ctx.vm(ctx.step.target)
    try:
        return build.wait_for_guest(ctx.si, ctx.outputs[f"clone:{vm.name}"]["vm"], vm.management_ip,
                                    timeout=settings.VIO_ENGINE_STEP_TIMEOUT, stop=ctx.cancelled)
    except WaitStopped:
        raise StepCancelled(f"Stopped waiting for {vm.name}'s guest: the run is being cancelled.") from None


def render_bundle(ctx: StepContext):
    from deployments.engine.kolla import check_bundle, facts_from_inventory, render_bundle as render
    from inventory.clients.tls import pinned_certificate
    from inventory.models import NsxManager

    vcenter = ctx.deployment.vcenter
    stored = json.loads(ctx.deployment.secrets.reveal())
    if "engine.kolla_master_key" not in stored:  # kept, so a retry renders the same passwords
        stored["engine.kolla_master_key"] = random_secrets.token_urlsafe(32)
        ctx.deployment.secrets = json.dumps(stored)
        ctx.deployment.save(update_fields=["secrets", "updated_at"])
    nsx_id = None
    if ctx.spec.neutron.mode == "nsx":
        nsx = ctx.spec.neutron.nsx
        nsx_id = NsxManager.objects.get(host=nsx.manager.host, port=nsx.manager.port).pk
    certificate = pinned_certificate(vcenter.host, vcenter.port, vcenter.certificate_sha256)  # CertificateChanged if not
    facts = facts_from_inventory(ctx.spec, vcenter.pk, nsx_manager_id=nsx_id, vcenter_ca_pem=certificate.pem)
    bundle = render(ctx.spec, ctx.plan, facts, {
        "master_key": stored["engine.kolla_master_key"],
        "vmware_vcenter_host_password": vcenter.password.reveal(),
        **({"vmware_nsxv_password": NsxManager.objects.get(pk=nsx_id).password.reveal()} if nsx_id else {}),
    })
    problems = check_bundle(bundle)
    if problems:
        raise StepFailed("The kolla-ansible bundle uses what kolla-ansible 2025.1 does not define: " + "; ".join(problems))
    directory = Path(settings.DATA_DIR) / "deployments" / ctx.deployment.name / f"run-{ctx.run.number}" / "kolla"
    for relative, content in bundle.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(0o600)  # passwords.yml and the overrides hold secrets
    return {"directory": str(directory), "files": len(bundle)}


KOLLA_DEPLOY_TIMEOUT = 4 * 3600  # seconds the detached kolla-ansible run may take, all three stages
KOLLA_POLL_SECONDS = 2.0
KOLLA_FOLLOW_SECONDS = 30  # how long one worker task follows the detached run before a new task takes over


def configure(ctx: StepContext):
    """kolla-ansible bootstrap-servers, prechecks and deploy, run by ansible-runner in a detached process
    (engine/ansible.py). Each worker task follows it for KOLLA_FOLLOW_SECONDS and hands on to the next
    (Again), so no task runs long; a new attempt after a lost worker adopts the same run."""
    if settings.VIO_SIMULATED_HOSTS:
        return Skipped("not executed: simulated hosts (the bundle was rendered and checked)")
    return _follow_kolla(ctx, _kolla_run(ctx, Path(ctx.outputs["render_bundle"]["directory"])))


def _kolla_run(ctx: StepContext, bundle: Path) -> dict:
    """The handle of this bundle's kolla-ansible run: the one an earlier attempt started if it still runs
    (or succeeded), else a new one."""
    from deployments.engine import ansible
    from deployments.engine.kolla.check import KollaAnsibleMissing, kolla_share

    earlier = ctx.step.checkpoint.get("ansible")
    if earlier and Path(earlier["directory"]).parent.parent == bundle:
        state, _, _ = ansible.poll(dict(earlier))
        if state in (ansible.RUNNING, ansible.SUCCEEDED):
            ctx.log(f"Following the kolla-ansible run an earlier attempt started (process {earlier['pid']}).")
            return earlier
    try:
        handle = ansible.start(bundle, ansible.kolla_stages(kolla_share()), inventory=bundle / "inventory" / "multinode",
                               arguments=ansible.kolla_arguments(bundle), timeout=KOLLA_DEPLOY_TIMEOUT,
                               secrets_file=bundle / "passwords.yml")
    except (KollaAnsibleMissing, RuntimeError, OSError) as exc:
        raise StepFailed(f"kolla-ansible could not be started: {exc}") from None
    ctx.save_checkpoint(ansible=handle, digest={})
    ctx.log(f"kolla-ansible {', '.join(handle['stages'])} started in the background (process {handle['pid']}, "
            f"its output in {handle['directory']}/output.log).")
    return handle


def _follow_kolla(ctx: StepContext, handle: dict) -> dict:
    import time

    from deployments.engine import ansible

    # One worker task follows it this long, then hands on to a new task (Again): tasks stay short.
    budget = KOLLA_FOLLOW_SECONDS
    deadline, digest, cancel_sent = time.monotonic() + budget, dict(ctx.step.checkpoint.get("digest") or {}), False
    while True:
        state, events, error = ansible.poll(handle)
        for level, text in ansible.describe(events, digest, label="kolla-ansible"):
            ctx.log(text, level)
        if events or state in ansible.TERMINAL:
            ctx.save_checkpoint(ansible=handle, digest=digest)
        if state == ansible.SUCCEEDED:
            return {"runner": handle["directory"], "stages": handle["stages"]}
        if state == ansible.FAILED:
            raise StepFailed(f"kolla-ansible failed: {error}")
        if state == ansible.CANCELLED:
            raise StepCancelled("kolla-ansible was stopped: the run is being cancelled.")
        if ctx.cancelled.is_set() and not cancel_sent:
            ansible.cancel(handle)
            cancel_sent = True
        if time.monotonic() > deadline:
            return Again(KOLLA_POLL_SECONDS)
        time.sleep(KOLLA_POLL_SECONDS)


def validate(ctx: StepContext):
    """A Keystone token for the admin and Nova's hypervisor list, through openstacksdk at the public endpoint."""
    if settings.VIO_SIMULATED_HOSTS:
        return Skipped("not executed: simulated hosts have no OpenStack to ask for a token")
    from deployments.engine.openstack_checks import CloudCheckFailed, check_cloud, keystone_endpoint

    keystone, known = ctx.spec.keystone, ctx.inventory.clusters
    clusters = {c.cluster: known[c.cluster].moid for c in ctx.spec.compute_clusters if c.cluster in known}
    try:
        return check_cloud(keystone_endpoint(Path(ctx.outputs["render_bundle"]["directory"])),
                           username=keystone.admin_user, password=keystone.admin_password.get_secret_value(),
                           project=keystone.admin_project, clusters=clusters,
                           vcenter_uuid=(ctx.deployment.vcenter.about or {}).get("instanceUuid", ""))
    except CloudCheckFailed as exc:
        raise StepFailed(str(exc)) from None


# Seconds each kind may take before the reaper calls it stalled (plus a margin); the bounded waits
# inside the steps use VIO_ENGINE_STEP_TIMEOUT and end first with vCenter's own words.
TIME_LIMITS = {"preflight": 120, "nsx_checks": 120, "render_bundle": 120, "configure": KOLLA_DEPLOY_TIMEOUT}

KINDS = {
    "preflight": preflight, "nsx_checks": nsx_checks, "import_ova": import_ova, "folders": folders, "clone": clone,
    "customize": customize, "anti_affinity": anti_affinity, "power_on": power_on, "wait_guest": wait_guest,
    "render_bundle": render_bundle, "configure": configure, "validate": validate,
}
