"""Addresses held in the database: the plan takes the first free ones of the ranges, and the
unique constraint settles a race between two deployments planned at the same moment."""

from django.db import IntegrityError, transaction

from deployments.models import IpAllocation
from deployments.plan import build_plan


class AddressesExhausted(Exception):
    pass


def taken(vcenter, portgroup: str, exclude_deployment=None) -> frozenset[str]:
    rows = IpAllocation.objects.filter(vcenter=vcenter, portgroup=portgroup)
    if exclude_deployment is not None:
        rows = rows.exclude(deployment=exclude_deployment)
    return frozenset(rows.values_list("address", flat=True))


def plan_with_addresses(deployment, spec, datastore_free_gb=None, attempts: int = 3, keep=None):
    """The deployment's plan, its addresses allocated (or its existing allocation reused). keep: the
    plan it runs now, for a change (see build_plan): its VMs keep their addresses."""
    vip = str(spec.load_balancer.public_vip)
    holder = (IpAllocation.objects.filter(vcenter=deployment.vcenter, portgroup=spec.external_network.portgroup, address=vip)
              .exclude(deployment=deployment).select_related("deployment").first())
    if holder is not None:
        raise AddressesExhausted(f"The public VIP {vip} is held by deployment {holder.deployment.name}; choose another.")
    held = list(IpAllocation.objects.filter(deployment=deployment))
    for _ in range(attempts):
        plan = build_plan(
            spec, datastore_free_gb,
            taken_management=taken(deployment.vcenter, spec.management_network.portgroup, deployment),
            taken_external=taken(deployment.vcenter, spec.external_network.portgroup, deployment),
            keep=keep,
        )
        wanted = _wanted(spec, plan)
        if any(not address for _, address, _ in wanted):
            raise AddressesExhausted(
                "The IP ranges have no free address left for every VM: other deployments hold some. "
                "Widen the ranges or tear down a deployment.")
        if held and {(a.portgroup, a.address, a.purpose) for a in held} == set(wanted):
            return plan
        try:
            with transaction.atomic():
                IpAllocation.objects.filter(deployment=deployment).delete()
                IpAllocation.objects.bulk_create([
                    IpAllocation(deployment=deployment, vcenter=deployment.vcenter, portgroup=portgroup,
                                 address=address, purpose=purpose)
                    for portgroup, address, purpose in wanted
                ])
            return plan
        except IntegrityError:
            continue  # another deployment took one of them between our read and our insert
    raise AddressesExhausted("Could not reserve addresses: other deployments keep taking them; try again.")


def _wanted(spec, plan) -> list[tuple[str, str, str]]:
    management, external = spec.management_network.portgroup, spec.external_network.portgroup
    wanted = [(external, plan.public_vip, "public-vip")]
    if plan.internal_vip:
        wanted.append((management, plan.internal_vip, "internal-vip"))
    for vm in plan.vms:
        wanted.append((management, vm.management_ip, vm.name))
        if vm.role in ("lb", "control"):
            wanted.append((external, vm.external_ip, f"{vm.name} (external)"))
    return wanted


def release(deployment) -> int:
    deleted, _ = IpAllocation.objects.filter(deployment=deployment).delete()
    return deleted
