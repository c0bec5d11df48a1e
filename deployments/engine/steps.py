"""What each kind of step does. Every step is idempotent: it looks before it creates, adopts what
carries this deployment's tag, and returns what it made (moids) as its output."""

import hashlib
import json
import secrets as random_secrets
from pathlib import Path

import requests
from django.conf import settings
from pyVmomi import vim

from deployments.engine.executor import Skipped, StepCancelled, StepContext, StepFailed
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
    partial = target.with_suffix(".part")
    with requests.get(url, stream=True, timeout=60) as response:
        if response.status_code != 200:
            raise StepFailed(f"Downloading the appliance OVA from {url} gave HTTP {response.status_code}.")
        with partial.open("wb") as out:
            for chunk in response.iter_content(1 << 20):
                out.write(chunk)
    partial.rename(target)
    return target


def import_ova(ctx: StepContext):
    from inventory.clients.tls import pinned_context
    from inventory.clients.vsphere_ova import find_imported_template, import_ova as do_import, ova_sha256

    path = _download(ctx.spec.appliance_ova.url)
    digest = ova_sha256(path)
    found = find_imported_template(ctx.si, digest)
    if found:
        ctx.log(f"Appliance template {found} with checksum {digest[:12]}… is already imported: reused.")
        return {"template": found, "sha256": digest, "reused": True}
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

    vm = ctx.vm(ctx.step.target)
    datastore = ctx.inventory.datastores[vm.datastore]
    moid = build.clone_vm(
        ctx.si, template_moid=ctx.outputs["import_ova"]["template"], name=vm.name,
        folder_moid=ctx.outputs["folders"]["folder"], pool_moid=ctx.outputs["folders"]["pool"],
        datastore_moid=datastore.moid, deployment_id=str(ctx.deployment.pk), role=vm.role,
        network_moid=ctx.inventory.networks[ctx.spec.management_network.portgroup].moid,
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

    build.power_on(ctx.si, ctx.outputs[f"clone:{ctx.step.target}"]["vm"])
    return {}


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


def configure(ctx: StepContext):
    if settings.VIO_SIMULATED_HOSTS:
        return Skipped("not executed: simulated hosts (the bundle was rendered and checked)")
    raise StepFailed("Running kolla-ansible through ansible-runner on real hosts is not built yet.")


def validate(ctx: StepContext):
    if settings.VIO_SIMULATED_HOSTS:
        return Skipped("not executed: simulated hosts have no OpenStack to ask for a token")
    raise StepFailed("Validation through openstacksdk is not built yet.")


# Seconds each kind may take before the reaper calls it stalled (plus a margin); the bounded waits
# inside the steps use VIO_ENGINE_STEP_TIMEOUT and end first with vCenter's own words.
TIME_LIMITS = {"preflight": 120, "nsx_checks": 120, "render_bundle": 120}

KINDS = {
    "preflight": preflight, "nsx_checks": nsx_checks, "import_ova": import_ova, "folders": folders, "clone": clone,
    "customize": customize, "anti_affinity": anti_affinity, "power_on": power_on, "wait_guest": wait_guest,
    "render_bundle": render_bundle, "configure": configure, "validate": validate,
}
