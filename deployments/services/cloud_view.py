"""OpenStack's own view of each running cloud, beside vCenter's: nova-compute up for every compute cluster,
its hypervisor present, Neutron agents alive, the public endpoints answering (engine.openstack_checks).
Asking a cloud takes seconds, so a periodic task asks (VIO_HEALTH_OPENSTACK_SECONDS) and stores the answer
on the deployment; health reads what is stored, and counts it only while it is fresh. On simulated hosts
there is no OpenStack to ask, and health says so."""

import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from deployments.choices import StepStatus
from deployments.models import Deployment, StepRun

CHECKED, FAILED, SKIPPED, STALE, PENDING = "checked", "failed", "skipped", "stale", "pending"
SIMULATED = ("Not asked: simulated hosts run no OpenStack. On real hosts health also reads OpenStack's own view: "
             "nova-compute for each compute cluster, its hypervisor, the Neutron agents and the public endpoints.")


def observe(deployment: Deployment) -> dict:
    """Ask the deployment's cloud now: what health stores ({"state", "checked_at", "reason", "summary",
    "findings"}). Where Keystone is comes from the bundle its last configuration was rendered into."""
    from deployments.engine.openstack_checks import CloudCheckFailed, keystone_endpoint, observe_cloud
    from deployments.services.launch import deployment_spec_with_secrets
    from inventory.models import Cluster

    now = timezone.now().isoformat()
    bundle = (StepRun.objects.filter(run__deployment=deployment, kind="render_bundle", status=StepStatus.SUCCEEDED)
              .order_by("-run__number").values_list("output", flat=True).first() or {}).get("directory")
    if not bundle:
        return {"state": PENDING, "checked_at": now, "reason": "No configuration has been rendered for this cloud yet."}
    if not (Path(bundle) / "globals.yml").exists():
        return {"state": PENDING, "checked_at": now,
                "reason": f"The cloud's configuration bundle is gone from {bundle}: change or repair the deployment to "
                          "render it again."}
    spec = deployment_spec_with_secrets(deployment)  # as stored: the cloud's own, whatever checks say today
    keystone = spec.get("keystone") or {}
    names = [c.get("cluster") for c in spec.get("compute_clusters") or []]
    clusters = dict(Cluster.objects.filter(vcenter_id=deployment.vcenter_id, name__in=names).values_list("name", "moid"))
    try:
        seen = observe_cloud(keystone_endpoint(bundle), username=keystone.get("admin_user", "admin"),
                             password=keystone.get("admin_password", ""),
                             project=keystone.get("admin_project", "admin"), clusters=clusters,
                             vcenter_uuid=(deployment.vcenter.about or {}).get("instanceUuid", ""),
                             timeout=settings.VIO_HEALTH_OPENSTACK_TIMEOUT)
    except CloudCheckFailed as exc:
        finding = {"id": "openstack_unreachable:keystone", "kind": "openstack_unreachable", "severity": "error",
                   "message": "OpenStack cannot be asked: no token from Keystone.", "advice": str(exc),
                   "objects": [{"type": "Endpoint", "name": "keystone", "moid": ""}]}
        return {"state": FAILED, "checked_at": now, "reason": str(exc), "findings": [finding]}
    return {"state": CHECKED, "checked_at": now, "reason": "", "summary": seen["summary"], "findings": seen["problems"]}


def running_clouds() -> list[int]:
    """The deployments whose cloud OpenStack can be asked about (none on simulated hosts)."""
    if settings.VIO_SIMULATED_HOSTS:
        return []
    return list(Deployment.objects.filter(current_revision__isnull=False).values_list("pk", flat=True))


def observe_and_store(deployment_id: int) -> str:
    """Ask one cloud and store the answer for health; its state."""
    deployment = Deployment.objects.select_related("vcenter").filter(pk=deployment_id).first()
    if deployment is None or settings.VIO_SIMULATED_HOSTS:
        return SKIPPED
    view = observe(deployment)
    Deployment.objects.filter(pk=deployment_id).update(openstack_view=view)
    return view["state"]


def current(deployment: Deployment) -> dict:
    """What health shows and counts of the stored view: its findings only while fresh."""
    if settings.VIO_SIMULATED_HOSTS:
        return {"state": SKIPPED, "checked_at": None, "reason": SIMULATED, "summary": {}, "findings": []}
    view = deployment.openstack_view or {}
    checked_at = parse_datetime(view["checked_at"]) if view.get("checked_at") else None
    if checked_at is None:
        return {"state": PENDING, "checked_at": None, "summary": {}, "findings": [],
                "reason": "OpenStack has not been asked yet: the first answer comes within "
                          f"{settings.VIO_HEALTH_OPENSTACK_SECONDS} s of the worker's schedule."}
    shown = {"state": view.get("state", CHECKED), "checked_at": checked_at, "reason": view.get("reason", ""),
             "summary": view.get("summary", {}), "findings": view.get("findings", [])}
    if timezone.now() - checked_at > datetime.timedelta(seconds=3 * settings.VIO_HEALTH_OPENSTACK_SECONDS):
        shown.update(state=STALE, findings=[],
                     reason="OpenStack's view is old and not counted (is the worker's schedule, celery beat, running?).")
    return shown
