"""The read side of deployments: the filtered list, run summaries with their weighted progress, the
steps, the event log paged by a since-cursor, and the VMs of a run with their addresses and power
state. The API, the deployment page and the command line all read through here.

Nothing here calls vCenter: a VM's state comes from what the run's steps recorded, so a page that
polls every second costs a few indexed queries and no vCenter round trip."""

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.utils import timezone

from deployments.choices import (
    ACTIVE, RUN_ACTIVE, RUN_CAN_CANCEL, RUN_TERMINAL, STEP_DONE, TERMINAL, DeploymentStatus, RunKind, RunStatus,
    StepStatus,
)
from deployments.models import Deployment, IpAllocation, Run, RunEvent, StepRun
from deployments.plan import describe, roles
from deployments.services import freshness
from deployments.services.run_actions import RESUMABLE

EVENT_LIMIT_DEFAULT = 100
EVENT_LIMIT_MAX = 1000
STATUS_GROUPS = {"active": ACTIVE, "terminal": TERMINAL}

ROLE_LABELS = {role.key: role.label for role in vars(roles).values() if isinstance(role, roles.Role)}
VM_STEP_KINDS = ("clone", "customize", "power_on", "wait_guest")  # the steps that act on one VM, in order
BUSY = {"clone": "cloning", "customize": "customizing", "power_on": "powering on", "wait_guest": "waiting for the guest"}


class RunNotFound(Exception):
    pass


# --- deployments ------------------------------------------------------------------------------


_STEPS_OF_RUN = StepRun.objects.filter(run=OuterRef("pk")).order_by().values("run")
# Built once (an expression is copied, never changed, by each queryset that uses it).
_WEIGHT_TOTAL = Subquery(_STEPS_OF_RUN.annotate(total=Sum("weight")).values("total"))
_WEIGHT_DONE = Subquery(_STEPS_OF_RUN.filter(status__in=sorted(STEP_DONE)).annotate(total=Sum("weight")).values("total"))


def _with_weights(runs: QuerySet) -> QuerySet:
    """Runs annotated with the sums progress needs, so a list of runs costs one query. A summing
    subquery per run, not a join: grouping a page's runs by every column sorted each run once per
    step (100 runs x 60 steps), most of a page's time."""
    return runs.annotate(weight_total=_WEIGHT_TOTAL, weight_done=_WEIGHT_DONE)


def deployments() -> QuerySet:
    """Deployments with their latest run (and its progress) prefetched: a page of them costs the
    same few queries however many rows it holds."""
    newest = Run.objects.filter(deployment=OuterRef("deployment")).order_by("-number").values("pk")[:1]
    latest = _with_weights(Run.objects.filter(pk=Subquery(newest)).defer("spec"))  # a summary needs no spec
    # Neither the vCenter row nor the secrets: the API shows the vCenter's id, and each of those
    # rows would cost a decryption (its password, the deployment's secrets) that nothing reads.
    return (Deployment.objects.select_related("created_by").defer("secrets")
            .prefetch_related(Prefetch("runs", queryset=latest, to_attr="latest_runs"))
            .order_by("-created_at"))


# A polled deployment, read from its latest run: the run (its progress sums and what its answers
# are made of: freshness) with the deployment (no secrets) and its creator joined, in one query.
_POLLED_RUNS = freshness.with_marks(_with_weights(
    Run.objects.select_related("deployment__created_by").defer("deployment__secrets").order_by("-number")))


def deployment_with_latest_run(pk) -> Deployment | None:
    """One deployment as deployments() gives it (creator, latest run with its progress sums, no
    secrets), its latest run also carrying what freshness.mark() needs: what a client polling a
    deployment costs, one indexed query (two for a deployment without a run)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:  # beyond the id column: no such deployment
        return None
    run = _POLLED_RUNS.filter(deployment_id=pk).first()
    if run is None:
        deployment = Deployment.objects.select_related("created_by").defer("secrets").filter(pk=pk).first()
        if deployment is not None:
            deployment.latest_runs = []
        return deployment
    deployment = run.deployment
    deployment.latest_runs = [run]
    return deployment


def filter_deployments(queryset: QuerySet, *, status=(), group: str = "", vcenter: int | None = None,
                       name: str = "", created_by: str = "") -> QuerySet:
    """status: any of these; group: "active" or "terminal"; name: contains (any case);
    created_by: a username."""
    if status:
        queryset = queryset.filter(status__in=list(status))
    if group:
        queryset = queryset.filter(status__in=sorted(STATUS_GROUPS[group]))
    if vcenter is not None:
        queryset = queryset.filter(vcenter_id=vcenter)
    if name:
        queryset = queryset.filter(name__icontains=name)
    if created_by:
        queryset = queryset.filter(created_by__username=created_by)
    return queryset


def latest_run(deployment: Deployment) -> Run | None:
    if hasattr(deployment, "latest_runs"):  # prefetched by deployments()
        return deployment.latest_runs[0] if deployment.latest_runs else None
    return _with_weights(deployment.runs.all()).order_by("-number").first()


def find_deployment(reference: str) -> Deployment:
    """By id or by name (what an operator types on the command line)."""
    reference = str(reference).strip()
    found = Deployment.objects.select_related("vcenter")
    deployment = found.filter(name=reference).first()  # a name made of digits wins over an id
    if deployment is None and reference.isdigit():
        deployment = found.filter(pk=int(reference)).first()
    if deployment is None:
        raise Deployment.DoesNotExist(f"No deployment with the id or name {reference!r}.")
    return deployment


def get_run(deployment: Deployment, number: int | None = None) -> Run | None:
    """The run with this number (RunNotFound if it has none), or the latest run (None if no run yet)."""
    if number is None:
        return latest_run(deployment)
    run = _with_weights(deployment.runs.filter(number=number)).first()
    if run is None:
        raise RunNotFound(f"Deployment {deployment.name} has no run {number}.")
    return run


def runs_of(deployment: Deployment) -> list[dict]:
    return [run_summary(run) for run in _with_weights(deployment.runs.all()).order_by("-number")]


# --- runs and steps ---------------------------------------------------------------------------


def _percent(total: int | None, done: int | None) -> float:
    return round(100.0 * (done or 0) / total, 1) if total else 0.0


def run_summary(run: Run | None, steps: list | None = None) -> dict | None:
    """A run's state and weighted progress (from the steps given, else from the annotations)."""
    if run is None:
        return None
    if steps is not None:
        progress = _percent(sum(s.weight for s in steps), sum(s.weight for s in steps if s.status in STEP_DONE))
    elif hasattr(run, "weight_total"):
        progress = _percent(run.weight_total, run.weight_done)
    else:
        from deployments.services.runs import progress as run_progress

        progress = round(run_progress(run), 1)
    return {
        "number": run.number, "status": run.status, "status_label": RunStatus(run.status).label,
        "progress": progress, "error": run.error, "cancel_requested": run.cancel_requested,
        "created_at": run.created_at, "started_at": run.started_at, "finished_at": run.finished_at,
        "active": run.status in RUN_ACTIVE, "can_retry": run.status in RESUMABLE,
        "can_cancel": run.status in RUN_CAN_CANCEL, "kind": run.kind, "kind_label": RunKind(run.kind).label,
    }


def _seconds(started, finished, now) -> float | None:
    if started is None:
        return None
    return round(((finished or now) - started).total_seconds(), 1)


def step_row(step, now=None) -> dict:
    """A step; a running step's duration counts up to now."""
    now = now or timezone.now()
    running = step.status == StepStatus.RUNNING
    return {
        "key": step.key, "kind": step.kind, "target": step.target, "label": describe(step.kind, step.target),
        "status": step.status, "attempt": step.attempt,
        "weight": step.weight, "depends_on": step.depends_on, "started_at": step.started_at,
        "finished_at": step.finished_at, "duration": _seconds(step.started_at, step.finished_at, now),
        "error": step.error, "output": step.output,
        "waiting_for": step.waiting_for if running else "",
        "waiting_since": step.waiting_since if running else None,
    }


def run_detail(run: Run) -> dict:
    steps = list(run.steps.order_by("id"))
    now = timezone.now()
    return dict(run_summary(run, steps), steps=[step_row(step, now) for step in steps])


# --- events -----------------------------------------------------------------------------------


def event_row(event) -> dict:
    return {"sequence": event.sequence, "created_at": event.created_at, "level": event.level,
            "step_key": event.step_key, "message": event.message}


def events_page(run: Run | None, since: int = 0, limit: int = EVENT_LIMIT_DEFAULT, *, fresh: bool = False) -> dict:
    """The run's events after `since`, oldest first, at most `limit`. A client tails the log by
    asking again with next_since; `done` says the run has ended and nothing is left to read.
    fresh: `run` was read just now (in this request), so its status is read again only otherwise."""
    if run is None:
        return {"run": None, "run_status": None, "events": [], "next_since": since, "has_more": False, "done": True}
    limit = max(1, min(limit, EVENT_LIMIT_MAX))
    # The status is read before the events: a run seen ended has all its events committed (the
    # engine writes the last event in the transaction that ends the run).
    status = run.status if fresh else Run.objects.filter(pk=run.pk).values_list("status", flat=True).first()
    if status is None:
        raise RunNotFound(f"Run {run.number} no longer exists (its deployment was deleted).")
    after = min(since, 2**63 - 1)  # no sequence number is beyond the column's range
    rows = list(RunEvent.objects.filter(run=run, sequence__gt=after).order_by("sequence")[:limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return {
        "run": run.number, "run_status": status, "events": [event_row(e) for e in rows],
        "next_since": rows[-1].sequence if rows else since, "has_more": has_more,
        "done": status in RUN_TERMINAL and not has_more,
    }


def recent_events(run: Run | None, limit: int = 50) -> tuple[list[dict], int]:
    """The last `limit` events, oldest first, and the cursor to tail from."""
    if run is None:
        return [], 0
    rows = list(run.events.order_by("-sequence")[:limit])[::-1]
    return [event_row(e) for e in rows], rows[-1].sequence if rows else 0


# --- VMs --------------------------------------------------------------------------------------


def _role(deployment_name: str, vm_name: str) -> str:
    """VM names are <deployment>-<role>-<NN> (deployments.plan.layout)."""
    middle = vm_name.removeprefix(deployment_name + "-")
    return middle.rsplit("-", 1)[0] if "-" in middle else middle


def vms(deployment: Deployment, run: Run | None, steps: list | None = None) -> list[dict]:
    """The run's VMs in plan order: addresses held for them, the moid the clone recorded, the power
    state and guest address the later steps recorded, and where each stands."""
    if run is None:
        return []
    steps = steps if steps is not None else list(run.steps.order_by("id"))
    by_vm: dict[str, dict] = {}
    for step in steps:
        if step.kind in VM_STEP_KINDS and step.target:
            by_vm.setdefault(step.target, {})[step.kind] = step
    addresses = {purpose: address for purpose, address in
                 IpAllocation.objects.filter(deployment=deployment).values_list("purpose", "address")}
    spec_name = run.spec.get("name", deployment.name)
    tearing_down = deployment.status == DeploymentStatus.TEARING_DOWN
    rows = []
    for name, kinds in by_vm.items():
        role = _role(spec_name, name)
        done = {kind: step for kind, step in kinds.items() if step.status == StepStatus.SUCCEEDED}
        clone, powered, guest = done.get("clone"), done.get("power_on"), done.get("wait_guest")
        power_state = None
        if powered or guest:
            power_state = (powered.output if powered else {}).get("power_state", "poweredOn")
        elif clone:
            power_state = "poweredOff"  # a fresh clone of the powered-off appliance template
        failed = next((kinds[k] for k in VM_STEP_KINDS if k in kinds and kinds[k].status == StepStatus.FAILED), None)
        running = next((k for k in VM_STEP_KINDS if k in kinds and kinds[k].status == StepStatus.RUNNING), None)
        if tearing_down and clone:
            status = "removing"
        elif failed:
            status = "failed"
        elif running:
            status = BUSY[running]
        elif guest:
            status = "ready"
        elif powered:
            status = "powered on"
        elif clone:
            status = "created"
        else:
            status = "not created" if run.status in RUN_TERMINAL else "planned"
        rows.append({
            "name": name, "role": role, "role_label": ROLE_LABELS.get(role, role),
            "management_ip": addresses.get(name) or (done.get("customize").output.get("ip") if "customize" in done else None),
            "external_ip": addresses.get(f"{name} (external)"),
            "moid": (clone.output.get("vm") if clone else None),
            "power_state": power_state,
            "guest_ip": guest.output.get("ip") if guest else None,
            "hostname": guest.output.get("hostname") if guest else None,
            "status": status,
            "error": failed.error if failed else "",
        })
    return rows


# --- everything the live page shows -----------------------------------------------------------


def status_snapshot(deployment: Deployment, since: int | None = None, run_number: int | None = None,
                    limit: int = EVENT_LIMIT_DEFAULT) -> dict:
    """One read of everything the deployment page shows: the deployment, its run and progress,
    every step, the VMs and the events after `since` (with since=None, the last `limit` events).
    `live` says whether it is still changing, i.e. whether a client should ask again. `deployment`
    is read for this call (a latest run it brings along counts as read now)."""
    run = get_run(deployment, run_number)
    steps = list(run.steps.order_by("id")) if run else []
    # A teardown run has no VM steps: the VMs shown are those of the last run that made them.
    vm_run, vm_steps = run, steps
    if run is not None and run.kind != RunKind.DEPLOY:
        vm_run = deployment.runs.filter(kind=RunKind.DEPLOY).order_by("-number").first()
        vm_steps = list(vm_run.steps.order_by("id")) if vm_run else []
    now = timezone.now()
    if since is None:
        events, next_since = recent_events(run, limit)
        page = {"events": events, "next_since": next_since, "has_more": False}
    else:
        page = events_page(run, since, limit, fresh=True)  # run: just read, by get_run or with the deployment
    summary = run_summary(run, steps)
    live = deployment.status in ACTIVE or bool(summary and summary["active"])
    return {
        "deployment": {
            "id": deployment.pk, "name": deployment.name, "status": deployment.status,
            "status_label": DeploymentStatus(deployment.status).label,
            "can_tear_down": not (summary and summary["active"]) and deployment.status != DeploymentStatus.TEARING_DOWN,
        },
        "run": summary,
        "steps": [step_row(step, now) for step in steps],
        "vms": vms(deployment, vm_run, vm_steps),
        "events": page["events"], "next_since": page["next_since"], "has_more": page["has_more"],
        "live": live,
    }
