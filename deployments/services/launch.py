"""Validate a spec, then create and launch its deployment."""

import json

from django.db import transaction

from deployments.choices import DeploymentStatus
from deployments.models import Deployment
from deployments.plan import build_plan
from deployments.services import revisions
from deployments.services.secrets import dump_with_secrets, split_secrets
from deployments.spec import Issue, validate
from inventory.models import VCenter


class SpecInvalid(Exception):
    def __init__(self, issues: list[Issue]):
        super().__init__("; ".join(f"{i.path}: {i.message}" for i in issues))
        self.issues = issues


class NeedsAcknowledgement(SpecInvalid):
    """Advisory warnings the administrator has not acknowledged yet."""


def warning_key(issue: Issue) -> str:
    return f"{issue.code}@{issue.path}"


def check(data: dict, *, live: bool = True, deployment=None):
    """(spec or None, blocking issues, advisory issues)."""
    spec, issues = validate(data, live=live, deployment=deployment)
    return spec, [i for i in issues if i.blocking], [i for i in issues if not i.blocking]


def preview(data: dict, *, live: bool = False, deployment: Deployment | None = None) -> dict:
    """The plan of a spec, for review: every VM, the totals, the anti-affinity groups, and the
    issues (with live=True, also the DNS check that creating the deployment will make). The
    addresses are those the deployment holds, or will hold (see planned)."""
    from dataclasses import asdict

    from deployments.spec.inventory_checks import GIB, InventoryContext

    spec, blocking, advisory = check(data, live=live, deployment=deployment)
    if spec is None:
        raise SpecInvalid(blocking)
    context = InventoryContext.for_spec_vcenter(spec.vcenter.host, spec.vcenter.port, spec.datacenter)
    free = {name: d.free_bytes / GIB for name, d in context.datastores.items()} if context.datacenter else None
    plan = planned(spec, context.vcenter, free, deployment)
    cluster = context.clusters.get(spec.management_cluster) if context.datacenter else None
    return {
        "vms": [asdict(vm) for vm in plan.vms],
        "internal_vip": plan.internal_vip,
        "public_vip": plan.public_vip,
        "anti_affinity": plan.anti_affinity,
        "totals": {"vcpu": plan.total_vcpu, "memory_gb": plan.total_memory_gb, "disk_gb": plan.total_disk_gb},
        "management_cluster_free": {
            "cpu_cores": cluster.cpu_cores if cluster else None,
            "memory_gb": round(cluster.memory_free_bytes / GIB) if cluster else None,
        },
        "datastore_free_gb": {name: round(free[name]) for name in spec.management_datastores if free and name in free},
        "addresses_needed": {"management": plan.management_addresses_needed, "external": plan.external_addresses_needed},
        "issues": [i.as_dict() for i in blocking + advisory],
    }


def planned(spec, vcenter, free: dict | None, deployment: Deployment | None = None):
    """The plan with the addresses its deployment holds or will hold: a deployment's own allocation
    as it is; for a spec not deployed yet, the first addresses no other deployment holds (what
    launching it will allocate, unless another takes them first). One source for the review, the
    plan preview, the deployment page and the API."""
    from deployments.models import IpAllocation, Run
    from deployments.plan import Plan
    from deployments.services.addresses import taken

    if deployment is not None:  # the plan its latest run works from is its allocation
        recorded = (Run.objects.filter(deployment=deployment).exclude(plan={}).order_by("-number")
                    .values_list("plan", flat=True).first())
        if recorded:
            return Plan.from_dict(recorded)
    if vcenter is None:
        return build_plan(spec, free)
    plan = build_plan(spec, free, taken_management=taken(vcenter, spec.management_network.portgroup, deployment),
                      taken_external=taken(vcenter, spec.external_network.portgroup, deployment))
    held = dict(IpAllocation.objects.filter(deployment=deployment).values_list("purpose", "address")) if deployment else {}
    if held:
        for vm in plan.vms:
            vm.management_ip = held.get(vm.name, vm.management_ip)
            vm.external_ip = held.get(f"{vm.name} (external)", vm.external_ip)
        plan.internal_vip = held.get("internal-vip", plan.internal_vip)
    return plan


@transaction.atomic
def create_deployment(data: dict, *, user=None, acknowledged: set[str] | frozenset = frozenset(), live: bool = True) -> Deployment:
    """Validate everything again (the spec may have been typed long ago), then create the
    deployment and launch it. Blocking issues refuse; advisory ones must be acknowledged."""
    spec, blocking, advisory = check(data, live=live)
    if spec is not None and Deployment.objects.filter(name=spec.name).exists():
        blocking.append(Issue("name", "duplicate_name", f"A deployment named {spec.name} exists; choose another name."))
    if blocking or spec is None:
        raise SpecInvalid(blocking)
    pending = [i for i in advisory if warning_key(i) not in acknowledged]
    if pending:
        raise NeedsAcknowledgement(pending)
    public, secrets = split_secrets(dump_with_secrets(spec))
    vcenter = VCenter.objects.get(host=spec.vcenter.host, port=spec.vcenter.port)
    deployment = Deployment.objects.create(
        name=spec.name, vcenter=vcenter, spec=public, secrets=json.dumps(secrets),
        acknowledged=sorted(warning_key(i) for i in advisory), created_by=user, status=DeploymentStatus.QUEUED,
    )
    revision = revisions.record(deployment, public, secrets, user=user, note="Created.")
    launch(deployment, spec, revision)
    return deployment


def launch(deployment: Deployment, spec, revision=None) -> None:
    """Start the deployment's first run: its addresses are allocated now, and the engine's worker
    advances it once this transaction commits."""
    from deployments.engine import dispatch
    from deployments.services.addresses import AddressesExhausted
    from deployments.services.runs import start_run

    try:
        run = start_run(deployment, spec, revision=revision)
    except AddressesExhausted as exc:  # another deployment took addresses since the checks ran
        raise SpecInvalid([Issue("management_network.ip_ranges", "addresses_in_use", str(exc))]) from None
    dispatch.advance(run.pk)


def deployment_spec_with_secrets(deployment: Deployment) -> dict:
    from deployments.services.secrets import merge_secrets

    return merge_secrets(deployment.spec, json.loads(deployment.secrets.reveal()))
