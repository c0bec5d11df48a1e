"""The wizard in edit mode over HTTP: "Change configuration" of a deployed cloud opens the wizard on the
current revision, every step reachable, what cannot change read only with the reason, passwords kept
when left empty; the last step shows the same reviewed difference as the API, and Apply records the
revision and starts the change run (no worker: the run and the revision are asserted), audited."""

import json

import pytest

from deployments.choices import RunKind, RunStatus
from deployments.models import Deployment
from deployments.services import launch, revisions
from testkit.spec import ACKNOWLEDGED, registered_vcenter, valid_spec
from testkit.wizard import Wizard, acknowledgements
from vio_manager.access.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployed(vcsim):
    """cloud1, its first run recorded as succeeded (no worker), revision 1 current."""
    registered_vcenter(vcsim)
    deployment = launch.create_deployment(valid_spec(vcsim), acknowledged={ACKNOWLEDGED})
    run = deployment.runs.get()
    run.status = RunStatus.SUCCEEDED
    run.save(update_fields=["status"])
    revisions.apply(run.revision)
    return Deployment.objects.get(pk=deployment.pk)


def test_it_opens_on_the_current_revision_with_what_cannot_change_read_only(admin_client, deployed):
    wizard = Wizard(admin_client, changing=deployed)
    review = wizard.get("review")
    assert review.context["change"]["changes"] == [] and "Nothing differs from revision 1" in review.content.decode()
    assert all(item["reachable"] for item in review.context["step_list"] if item["name"] != "review")
    refused = wizard.post("review", acknowledgements(review))
    assert refused.status_code == 200 and "Nothing to apply" in refused.content.decode()

    datacenter = wizard.get("datacenter")
    form = datacenter.context["form"]
    for name in ("datacenter", "topology", "management_cluster"):
        assert form.fields[name].disabled and form.fields[name].help_text.startswith("Cannot change on a running cloud:")
    assert not form.fields["management_datastores"].disabled
    assert form["management_cluster"].value() == "Management"
    assert 'disabled' in str(form["topology"]) and "HA and compact clouds are built differently" in datacenter.content.decode()
    assert wizard.get("management_network").context["form"].fields["portgroup"].disabled
    assert wizard.get("neutron").context["form"].fields["mode"].disabled
    assert wizard.get("start").context["form"].fields["name"].disabled
    keystone = wizard.get("keystone").content.decode()
    assert "Leave empty to keep the current password." in keystone and "Secret-Admin-1" not in keystone
    # A read-only field posted otherwise keeps its value.
    wizard.next("datacenter", {"datacenter": "VIO-Datacenter", "topology": "compact", "management_cluster": "Compute-A",
                               "management_datastores": ["vio-shared-nfs"]})
    fragment = admin_client.session[f"wizard_deploy_{wizard.id}"]["extra_data"]["fragments"]["datacenter"]
    assert fragment["topology"] == "ha" and fragment["management_cluster"] == "Management"


def test_add_a_compute_cluster_preview_as_the_api_then_apply(admin_client, deployed, vcsim):
    wizard = Wizard(admin_client, changing=deployed)
    a, b = wizard.compute_row("Compute-A"), wizard.compute_row("Compute-B")
    wizard.goto("review", "compute", {})
    assert wizard.next("compute", {f"use_{a}": "on", f"datastores_{a}": ["vio-compute-nfs"],
                                   f"use_{b}": "on", f"datastores_{b}": ["vio-compute-nfs"]}) == "glance"
    wizard.goto("glance", "review")
    review = wizard.get("review")
    change = review.context["change"]
    assert [vm["name"] for vm in change["vms_added"]] == ["cloud1-compute-02"] and change["vms_removed"] == []
    assert change["vms_added"][0]["cluster"] == "Compute-B"
    files = {f["path"]: f["diff"] for f in change["files"]}
    assert "config/nova/cloud1-compute-02/nova.conf" in files and "nova" in change["services"]
    assert {"compute_clusters[Compute-B]", "compute_clusters[Compute-B].datastores"} <= {c["path"] for c in change["changes"]}
    assert {c["step"] for c in change["changes"]} == {"compute"}
    page = review.content.decode()
    assert 'id="change-preview"' in page and "cloud1-compute-02" in page and "Secret-Admin-1" not in page
    assert "config/nova/cloud1-compute-02/nova.conf" in page

    # The API, given the same spec, previews the same difference.
    data = valid_spec(vcsim)
    data["compute_clusters"].append({"cluster": "Compute-B", "datastores": ["vio-compute-nfs"]})
    del data["keystone"]["admin_password"]  # left out: kept, as the wizard leaves it
    api = admin_client.post(f"/api/v1/deployments/{deployed.pk}/change-preview/", json.dumps({"spec": data}),
                            content_type="application/json").json()
    for key in ("changes", "vms_added", "vms_removed", "files", "services", "addresses", "steps"):
        shown = [{k: v for k, v in item.items() if k not in ("step", "lines")} for item in change[key]] \
            if isinstance(change[key], list) and change[key] and isinstance(change[key][0], dict) else change[key]
        assert shown == api[key], key

    response = wizard.post("review", {**acknowledgements(review), "note": "Compute-B for the new project"})
    assert response["Location"] == wizard.url("done")
    done = admin_client.get(response["Location"])
    assert done["Location"] == f"/deployments/{deployed.pk}/"
    run = deployed.runs.get(kind=RunKind.CHANGE)
    assert run.status == RunStatus.PENDING and run.revision.number == 2 and run.revision.note == "Compute-B for the new project"
    assert run.revision.spec["compute_clusters"][1]["cluster"] == "Compute-B"
    assert revisions.secrets_of(run.revision) == {"keystone.admin_password": "Secret-Admin-1"}  # kept
    event = AuditEvent.objects.get(action="deployment.change")
    assert event.detail["revision"] == 2 and event.detail["run"] == run.number
    assert admin_client.get(wizard.url("review"))["Location"] == f"/deployments/{deployed.pk}/change/"


def test_a_change_refused_while_a_run_is_active_says_so(admin_client, deployed):
    wizard = Wizard(admin_client, changing=deployed)
    wizard.goto("review", "syslog", {})
    wizard.next("syslog", {"host": "127.0.0.1", "port": 1514, "protocol": "tcp"})
    wizard.goto("appliance", "review")
    review = wizard.get("review")
    assert [c["path"] for c in review.context["change"]["changes"]] == ["syslog.host", "syslog.port", "syslog.protocol"]
    deployed.runs.filter(number=1).update(status=RunStatus.RUNNING)  # a retry started meanwhile
    refused = wizard.post("review", acknowledgements(review))
    page = refused.content.decode()
    assert refused.status_code == 200 and "cloud1 has a run in progress: wait for it, or stop it, then change." in page
    assert not deployed.runs.filter(kind=RunKind.CHANGE).exists()
    entry = admin_client.get(f"/deployments/{deployed.pk}/change/")
    assert entry["Location"] == f"/deployments/{deployed.pk}/"
    assert "has a run in progress" in admin_client.get(entry["Location"]).content.decode()


def test_a_deployment_never_deployed_has_no_configuration_to_change(admin_client, vcsim):
    registered_vcenter(vcsim)
    deployment = launch.create_deployment(valid_spec(vcsim), acknowledged={ACKNOWLEDGED})
    entry = admin_client.get(f"/deployments/{deployment.pk}/change/")
    assert entry["Location"] == f"/deployments/{deployment.pk}/"
    # Another deployment's wizard is not reachable through this one's address.
    other = Wizard(admin_client)
    assert admin_client.get(f"/deployments/{deployment.pk}/change/{other.id}/start/")["Location"] == \
        f"/deployments/{deployment.pk}/change/"
