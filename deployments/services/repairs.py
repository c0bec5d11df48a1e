"""Repairing what health found, one finding at a time, through the engine: a run of kind "repair"
(crash-safe, audited, stoppable, on the timeline like any run) whose steps do just that repair."""

from django.db import transaction

from deployments.choices import RUN_ACTIVE, DeploymentStatus, RunKind
from deployments.models import Deployment, Run
from deployments.plan import repair_graph
from deployments.services import health, revisions


class RepairRefused(Exception):
    """The finding has no automatic repair, is gone, or another run is active; the message says why."""


def repair(deployment: Deployment, finding_id: str, *, user=None) -> Run:
    """Start the repair of one finding of the deployment's health (as it is now)."""
    from deployments.engine import dispatch
    from deployments.services.runs import log, start_run

    found = health.evaluate(deployment)
    if found.status == health.UNKNOWN:
        raise RepairRefused(f"Health is unknown ({found.reason}): nothing is repaired on stale data.")
    finding = next((f for f in found.findings if f.id == finding_id), None)
    if finding is None:
        raise RepairRefused(f"{deployment.name} has no finding {finding_id} now (it may have gone by itself).")
    if not finding.repair:
        raise RepairRefused(f"This needs a person: {finding.advice}")
    plan = _current_plan(deployment)
    vm, rule = target(plan, finding)
    graph = repair_graph(finding.repair, vm=vm, rule=rule, in_group=bool(rule))
    with transaction.atomic():
        locked = Deployment.objects.select_for_update().get(pk=deployment.pk)
        if locked.runs.filter(status__in=sorted(RUN_ACTIVE)).exists():
            raise RepairRefused(f"{deployment.name} has a run in progress: wait for it, then repair.")
        revision = revisions.current(locked)
        from deployments.spec import DeploymentSpec

        spec = DeploymentSpec.model_construct(**revision.spec) if revision else None
        hosts = {f"relocate:{vm.name}": _host_for(locked, plan, vm, rule)} if finding.repair == "move_vm" else {}
        run = start_run(locked, spec, RunKind.REPAIR, revision, plan=plan, graph=graph,
                        change={"repair": finding.repair, "finding": finding.id,
                                **({"added": [vm.name]} if finding.repair == "recreate_vm" else {})},
                        hosts=hosts)
        log(run, f"Repair of {finding.message} ({finding.id}): {health.REPAIRS[finding.repair].lower()}.")
        Deployment.objects.filter(pk=locked.pk).update(status=DeploymentStatus.QUEUED)
        dispatch.advance(run.pk)
    return run


def target(plan, finding) -> tuple:
    """The planned VM a repair of this finding acts on (the first the finding names, or None) and the
    anti-affinity rule concerned: the finding's own for a rule, else the VM's group ("" for none)."""
    vm = next((v for v in plan.vms if any(o["name"] == v.name for o in finding.objects)), None) if plan else None
    rule = next((name for name, members in plan.anti_affinity.items() if vm is not None and vm.name in members),
                "") if plan else ""
    if finding.repair == "restore_rule" and ":" in finding.id:
        rule = finding.id.split(":", 1)[1]
    return vm, rule


def _current_plan(deployment: Deployment):
    from deployments.services.changes import ChangeRefused, current_plan

    try:
        return current_plan(deployment)
    except ChangeRefused as exc:
        raise RepairRefused(str(exc)) from None


def _host_for(deployment: Deployment, plan, vm, rule: str) -> str:
    """A usable host of the management cluster where none of the VM's group runs, the least busy
    with this deployment's VMs; "" when there is none (the step then says so)."""
    from inventory.models import Host, VirtualMachine

    cluster = deployment.spec.get("management_cluster", "")
    usable = [h for h in Host.objects.filter(vcenter=deployment.vcenter, cluster__name=cluster) if h.usable]
    ours = list(VirtualMachine.objects.filter(vcenter=deployment.vcenter, deployment_id=str(deployment.pk))
                .values_list("name", "host_moid"))
    group = set(plan.anti_affinity.get(rule, [])) - {vm.name}
    taken = {host for name, host in ours if name in group}
    load = {}
    for _, host in ours:
        load[host] = load.get(host, 0) + 1
    here = next((host for name, host in ours if name == vm.name), "")
    choices = [h.moid for h in usable if h.moid not in taken and h.moid != here]
    return min(choices, key=lambda moid: (load.get(moid, 0), moid), default="")
