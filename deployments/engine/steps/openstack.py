"""The OpenStack steps: render the kolla-ansible bundle, run it (kolla-ansible in a detached
process followed by short tasks), and validate the cloud through openstacksdk."""

import json
import secrets as random_secrets
from pathlib import Path

from django.conf import settings

from deployments.engine.executor import Again, Skipped, StepCancelled, StepContext, StepFailed


def bundle_root(deployment) -> Path:
    """Where a deployment's rendered bundles live (passwords.yml among them): removed by teardown."""
    return Path(settings.DATA_DIR) / "deployments" / deployment.name


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
    from vio_manager.private_files import private_directory, write_private

    directory = bundle_root(ctx.deployment) / f"run-{ctx.run.number}" / "kolla"
    for relative, content in bundle.items():
        # passwords.yml and the overrides hold secrets: directories 0700 and files 0600 from their creation
        path = directory / relative
        private_directory(path.parent, base=settings.DATA_DIR)
        write_private(path, content)
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
    handle = _kolla_run(ctx, Path(ctx.outputs["render_bundle"]["directory"]))
    if handle.get("nothing"):
        return Skipped("nothing to apply: the change adds no host and changes no service's configuration")
    return _follow_kolla(ctx, handle)


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
    change = ctx.run.change
    try:
        stages = (ansible.kolla_change_stages(kolla_share(), change.get("added", []), change.get("services", []))
                  if change else ansible.kolla_stages(kolla_share()))
        if not stages:
            return {"directory": "", "pid": 0, "stages": [], "nothing": True}
        handle = ansible.start(bundle, stages, inventory=bundle / "inventory" / "multinode",
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


KINDS = {"render_bundle": render_bundle, "configure": configure, "validate": validate}
