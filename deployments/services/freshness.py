"""What the polled answers about a deployment (its detail, its status snapshot, its event log) are
made of, read in one indexed query: their ETag, so a poll that finds nothing new is answered
304 Not Modified without reading the steps, the VMs or the events, or building the answer.

Every write that changes one of those answers moves one of these: the deployment's status or
updated_at; the run's id, status or cancel request, or its heartbeat (advance() writes it with
every move: steps claimed, pending steps cancelled, the run started or ended); the run's last event
(a step started, finished, lost, resumed or stalled, a stop requested, a retry: each writes one;
a step's result is recorded a moment before its event); the latest time a step of the run began
to wait (what a running step waits for, shown on the page, is written without an event). A
running step's duration counts on from its start: a client shows it from the answer it has."""

from django.db.models import Max, OuterRef, QuerySet, Subquery

from deployments.models import Deployment, Run, RunEvent, StepRun

# Built once: each request only adds its deployment's id (and run number) to the outer query.
_STEP_STAMP = Subquery(
    StepRun.objects.filter(run=OuterRef("pk")).order_by().values("run").annotate(stamp=Max("waiting_since"))
    .values("stamp"))
_LAST_EVENT = Subquery(RunEvent.objects.filter(run=OuterRef("pk")).order_by("-sequence").values("sequence")[:1])


def with_marks(runs: QuerySet) -> QuerySet:
    """Runs annotated with what mark() needs besides their own columns (two indexed subqueries)."""
    return runs.annotate(step_stamp=_STEP_STAMP, last_event=_LAST_EVENT)


def mark(deployment: Deployment, run: Run | None) -> str:
    """What the polled answers about `deployment` and its `run` (read by with_marks) are made of."""
    parts = [deployment.status, deployment.updated_at.isoformat()]
    if run is not None:
        parts += [run.pk, run.status, run.cancel_requested, run.heartbeat_at and run.heartbeat_at.isoformat(),
                  run.step_stamp and run.step_stamp.isoformat(), run.last_event]
    return "|".join(str(part) for part in parts)


_RUNS = with_marks(Run.objects.select_related("deployment").order_by("-number").only(
    "pk", "status", "cancel_requested", "heartbeat_at", "deployment__name", "deployment__status",
    "deployment__updated_at", "deployment__vcenter_id", "deployment__created_by_id"))


def marked(pk: int, run_number: int | None = None) -> Deployment | None:
    """The deployment (the columns a permission check could want) with `.mark` (see mark()) for
    run `run_number`, else for its latest run. None when there is no such deployment."""
    runs = _RUNS.filter(deployment_id=pk)
    run = (runs.filter(number=run_number) if run_number is not None else runs).first()
    if run is None:  # no such run (yet): the deployment alone
        deployment = (Deployment.objects.only("pk", "name", "status", "updated_at", "vcenter_id", "created_by_id")
                      .filter(pk=pk).first())
    else:
        deployment = run.deployment
    if deployment is not None:
        deployment.mark = mark(deployment, run)
    return deployment
