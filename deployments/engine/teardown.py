"""Tear a deployment down: remove everything it made in vCenter (found by its tag and by the
outputs its runs recorded), idempotently, release its addresses, then delete it."""

import logging

from django.db import transaction
from django.utils import timezone

from deployments.choices import RUN_ACTIVE, DeploymentStatus, EventLevel
from deployments.models import Deployment, StepRun
from deployments.services.addresses import release
from deployments.services.runs import log

logger = logging.getLogger(__name__)


class TeardownRefused(Exception):
    pass


def request_teardown(deployment: Deployment) -> None:
    """Queue the teardown; refused while a run is active (cancel it first)."""
    from deployments import tasks

    if deployment.runs.filter(status__in=sorted(RUN_ACTIVE)).exists():
        raise TeardownRefused(f"{deployment.name} has a run in progress: cancel it first, then tear down.")
    Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.TEARING_DOWN, updated_at=timezone.now())
    transaction.on_commit(lambda: tasks.teardown_deployment.delay(deployment.pk))


def teardown(deployment_id: int) -> dict | None:
    """Tear down; on failure the deployment goes back to failed with the reason in its latest run's
    log, and deleting it again retries (every removal is idempotent)."""
    deployment = Deployment.objects.select_related("vcenter").filter(pk=deployment_id).first()
    if deployment is None or deployment.status != DeploymentStatus.TEARING_DOWN:
        return None  # already gone, or a stale message
    try:
        return _remove_everything(deployment)
    except Exception as exc:
        logger.exception("teardown of deployment %s failed", deployment.name)
        Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.FAILED, updated_at=timezone.now())
        run = deployment.latest_run
        if run is not None:
            log(run, f"Teardown failed: {exc}. Nothing is lost: delete the deployment again to retry.", level=EventLevel.ERROR)
        return None


def _remove_everything(deployment: Deployment) -> dict:
    from inventory.clients import sessions
    from inventory.clients import vsphere_build as build
    from inventory.services.sync import credentials_for

    si = sessions.session_for(credentials_for(deployment.vcenter))
    outputs = StepRun.objects.filter(run__deployment=deployment, status="succeeded")
    removed = {"vms": build.destroy_deployment_vms(si, str(deployment.pk)), "rules": [], "folders": []}
    for step in outputs.filter(kind="anti_affinity"):
        cluster = step.run.spec["management_cluster"]
        cluster_moid = _cluster_moid(deployment, cluster)
        for rule in step.output.get("rules", {}):
            if cluster_moid and build.remove_rule(si, cluster_moid, rule):
                removed["rules"].append(rule)
    for folder in {step.output.get("folder") for step in outputs.filter(kind="folders")} - {None}:
        if build.remove_folder_if_empty(si, folder):
            removed["folders"].append(folder)
    removed["addresses"] = release(deployment)
    logger.info("deployment %s torn down: %s", deployment.name, removed)
    deployment.delete()
    return removed


def _cluster_moid(deployment, name: str) -> str | None:
    from inventory.models import Cluster

    return Cluster.objects.filter(vcenter=deployment.vcenter, name=name).values_list("moid", flat=True).first()
