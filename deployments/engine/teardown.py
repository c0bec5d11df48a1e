"""Tear a deployment down: remove everything it made in vCenter (found by its tag and by the
outputs its runs recorded), idempotently, release its addresses, then delete it."""

import logging

from django.db import transaction

from deployments.choices import RUN_ACTIVE, DeploymentStatus
from deployments.models import Deployment, StepRun
from deployments.services.addresses import release

logger = logging.getLogger(__name__)


class TeardownRefused(Exception):
    pass


def request_teardown(deployment: Deployment) -> None:
    """Queue the teardown; refused while a run is active (cancel it first)."""
    from deployments import tasks

    if deployment.runs.filter(status__in=sorted(RUN_ACTIVE)).exists():
        raise TeardownRefused(f"{deployment.name} has a run in progress: cancel it first, then tear down.")
    Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.TEARING_DOWN)
    transaction.on_commit(lambda: tasks.teardown_deployment.delay(deployment.pk))


def teardown(deployment_id: int) -> dict:
    from inventory.clients import sessions
    from inventory.clients import vsphere_build as build
    from inventory.services.sync import credentials_for

    deployment = Deployment.objects.select_related("vcenter").get(pk=deployment_id)
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
