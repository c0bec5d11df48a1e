"""spec (+ inventory) -> the concrete plan: VMs per role, sizes, datastores, addresses, rules."""

from deployments.plan.layout import Plan, PlannedVm, address_needs, build_plan, roles_for

__all__ = ["Plan", "PlannedVm", "address_needs", "build_plan", "roles_for"]
