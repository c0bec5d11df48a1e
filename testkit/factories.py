"""Rows for tests and benchmarks that read deployments without running the engine: a vCenter row
(pinned, nothing listening behind it) and a deployment with one run and its steps as the engine
leaves them mid-way. Django must be set up before these are called."""

STEP_SHAPE = ((5, "succeeded"), (3, "running"), (2, "pending"))  # (weight, step status) of each step


def run_status_for(status: str) -> str:
    """The status of the run that leaves a deployment in `status`."""
    from deployments.choices import DeploymentStatus, RunStatus

    special = {DeploymentStatus.QUEUED: RunStatus.PENDING, DeploymentStatus.TEARING_DOWN: RunStatus.RUNNING}
    return special[status] if status in special else RunStatus(status)


def vcenter_row(name: str = "vc", port: int | None = None):
    """A registered, pinned, connected vCenter row on a loopback port nothing listens on."""
    from django.utils import timezone

    from inventory.models import VCenter
    from testkit.net import free_port

    return VCenter.objects.create(name=name, host="127.0.0.1", port=port or free_port(),
                                  username="administrator@vsphere.local", password="vc-password",
                                  certificate_sha256=":".join(["AB"] * 32), status="connected", checked_at=timezone.now())


def deployment_with_run(vcenter, name: str, status: str = "running", user=None, steps=STEP_SHAPE, started=None):
    """A deployment in `status` with run 1 (the matching run status) and its steps, each (weight,
    status); a running step started `started` (a datetime, default now)."""
    from django.utils import timezone

    from deployments.choices import StepStatus
    from deployments.models import Deployment, Run, StepRun

    deployment = Deployment.objects.create(name=name, vcenter=vcenter, spec={"name": name}, secrets="{}",
                                           status=status, created_by=user)
    run = Run.objects.create(deployment=deployment, number=1, spec={"name": name}, status=run_status_for(status))
    when = started or timezone.now()
    StepRun.objects.bulk_create([
        StepRun(run=run, key=f"step-{i}", kind="preflight", weight=weight, status=step_status,
                started_at=when if step_status == StepStatus.RUNNING else None,
                attempt=1 if step_status == StepStatus.RUNNING else 0)
        for i, (weight, step_status) in enumerate(steps)])
    return deployment
