"""Runs and their append-only event log."""

from django.db import IntegrityError, transaction
from django.db.models import Max

from deployments.choices import RUN_ACTIVE, EventLevel, RunKind
from deployments.models import Run, RunEvent, StepRun
from deployments.plan import step_graph, teardown_graph
from deployments.plan.placement import place
from deployments.services.addresses import plan_with_addresses
from deployments.spec import DeploymentSpec


class RunAlreadyActive(Exception):
    """A deployment has at most one active run (the database enforces it)."""


def start_run(deployment, spec: DeploymentSpec | None, kind: str = RunKind.DEPLOY, revision=None, *,
              plan=None, graph=None, change: dict | None = None, hosts: dict | None = None) -> Run:
    """Create the next run of a deployment with its steps: a deploy run has its addresses allocated
    and its clones placed on hosts; a teardown run (spec None) removes everything; a change run
    comes with its plan and step graph (deployments.services.changes), and a repair run also with
    the host of a move (hosts: {step key: host moid}). The engine advances it."""
    if kind == RunKind.TEARDOWN:
        graph, placed, vms = teardown_graph(), {}, None
    else:
        plan = plan or plan_with_addresses(deployment, spec)
        graph, vms = graph or step_graph(spec, plan), len(plan.vms)
        placed = place([vm.name for vm in plan.vms], usable_hosts(deployment.vcenter, spec.datacenter, spec.management_cluster))
    try:
        with transaction.atomic():
            number = (deployment.runs.aggregate(last=Max("number"))["last"] or 0) + 1
            run = Run.objects.create(deployment=deployment, number=number, kind=kind, revision=revision,
                                     spec=revision.spec if revision else deployment.spec,
                                     plan=plan.as_dict() if plan is not None else {}, change=change or {})
            StepRun.objects.bulk_create([
                StepRun(run=run, key=step.key, kind=step.kind, target=step.target,
                        depends_on=list(step.depends_on), weight=step.weight,
                        host=(hosts or {}).get(step.key) or (placed.get(step.target, "") if step.kind == "clone" else ""))
                for step in graph
            ])
    except IntegrityError as exc:
        if deployment.runs.filter(status__in=sorted(RUN_ACTIVE)).exists():
            raise RunAlreadyActive(f"{deployment.name} already has an active run.") from exc
        raise
    if kind == RunKind.TEARDOWN:
        log(run, f"Teardown requested: run {run.number} removes everything {deployment.name} made in vCenter.")
    else:
        log(run, f"Run {run.number} created: {run.steps.count()} steps for {vms} VMs.")
    return run


def usable_hosts(vcenter, datacenter: str | None, cluster: str) -> list[str]:
    """Moids of the cluster's connected, powered-on hosts outside maintenance, by name."""
    from inventory.models import Host

    rows = Host.objects.filter(vcenter=vcenter, cluster__name=cluster).order_by("name")
    if datacenter:
        rows = rows.filter(datacenter__name=datacenter)
    return [host.moid for host in rows if host.usable]


def log(run: Run, message: str, *, level: str = EventLevel.INFO, step_key: str = "") -> RunEvent:
    """Append an event, committed at once (its own transaction when called outside one), so the
    log is visible while the run goes on and survives a worker that dies."""
    with transaction.atomic():
        Run.objects.select_for_update().filter(pk=run.pk).only("pk").get()  # serialises sequence numbers
        sequence = (RunEvent.objects.filter(run=run).aggregate(last=Max("sequence"))["last"] or 0) + 1
        return RunEvent.objects.create(run=run, sequence=sequence, level=level, step_key=step_key, message=message)


def progress(run: Run) -> float:
    """Weighted share of the run's steps that are done, 0-100."""
    from deployments.choices import STEP_DONE

    total = done = 0
    for status, weight in run.steps.values_list("status", "weight"):
        total += weight
        done += weight if status in STEP_DONE else 0
    return 100.0 * done / total if total else 0.0
