"""spec (+ inventory) -> the concrete plan: VMs per role, sizes, datastores, addresses, rules,
and the step graph the engine runs."""

from deployments.plan.layout import Plan, PlannedVm, address_needs, build_plan, roles_for
from deployments.plan.steps import StepDef, change_graph, describe, repair_graph, step_graph, teardown_graph

__all__ = ["Plan", "PlannedVm", "StepDef", "address_needs", "build_plan", "change_graph", "describe", "repair_graph",
           "roles_for", "step_graph", "teardown_graph"]
