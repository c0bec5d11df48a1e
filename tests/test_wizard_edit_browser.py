"""Change configuration in Chromium: a deployed cloud's wizard opens on its current revision; a compute
cluster added on its step; the review shows the new VM and the nova configuration file's diff; Apply
records revision 2 and starts the change run (no worker: the run and the revision are asserted); what
a running cloud cannot change is read only, with the reason."""

import re

import pytest

from deployments.choices import RunKind, RunStatus
from deployments.models import Deployment
from deployments.services import launch, revisions
from testkit.spec import ACKNOWLEDGED, registered_vcenter, valid_spec

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def step_of(page) -> str:
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def test_change_configuration_add_a_compute_cluster_preview_and_apply(signed_in, live_server, vcsim):
    registered_vcenter(vcsim)
    deployment = launch.create_deployment(valid_spec(vcsim), acknowledged={ACKNOWLEDGED})
    run = deployment.runs.get()
    Deployment.objects.filter(pk=deployment.pk).update(status="succeeded")
    run.status = RunStatus.SUCCEEDED
    run.save(update_fields=["status"])
    revisions.apply(run.revision)
    page = signed_in

    page.goto(f"{live_server.url}/deployments/{deployment.pk}/change/")
    page.wait_for_url(re.compile(rf".*/deployments/{deployment.pk}/change/[0-9a-f]+/review/$"))
    assert "Nothing differs from revision 1" in page.inner_text("#change-preview")
    assert "Management cluster" in page.inner_text("#review-summary")

    submit(page, ".wizard-steps button:has-text('Management cluster')")  # every step is reachable
    assert page.locator("#id_datacenter-management_cluster").is_disabled()
    assert page.locator("#id_datacenter-topology_0").is_disabled()
    assert "Cannot change on a running cloud: the control plane's VMs run on this cluster." in page.inner_text(
        "#field-datacenter-management_cluster")

    submit(page, ".wizard-steps button:has-text('Compute clusters')")
    page.get_by_label("Use Compute-B for Nova").check()
    page.check("fieldset.compute-row:has(legend:text-is('Compute-B')) input[value='vio-compute-nfs']")
    submit(page, "#wizard-next")
    assert step_of(page) == "glance"
    submit(page, "#wizard-to-review")
    added = page.inner_text("#vms-added")
    assert "cloud1-compute-02" in added and "Compute-B" in added
    files = page.inner_text("#change-files")
    assert "config/nova/cloud1-compute-02/nova.conf" in files
    assert page.locator("#change-files pre.diff .add").count() > 0
    assert "compute_clusters[Compute-B]" in page.inner_text("#change-fields")
    assert "Secret-Admin-1" not in page.content()
    page.screenshot(path="/tmp/wizard-change-preview.png", full_page=True)

    for box in page.locator(".issues.advisory input[type=checkbox]").all():
        box.check()
    page.fill("#id_review-note", "Compute-B for the new project")
    submit(page, "#wizard-next")
    page.wait_for_url(re.compile(rf".*/deployments/{deployment.pk}/$"))
    assert "Revision 2 of cloud1 is recorded" in page.inner_text("main")
    change = deployment.runs.get(kind=RunKind.CHANGE)
    assert change.revision.number == 2 and change.revision.note == "Compute-B for the new project"
    assert [c["cluster"] for c in change.revision.spec["compute_clusters"]] == ["Compute-A", "Compute-B"]
